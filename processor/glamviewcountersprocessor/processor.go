package glamviewcountersprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor"

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor/internal/metadata"
)

// attrOverflow marks a counter's overflow series, as the OpenTelemetry SDKs
// (and glam_views) mark theirs.
const attrOverflow = "otel.metric.overflow"

// rememberedBatches is how many batch ids are kept to recognise a batch
// sent again. glam_views resends only its one refused batch, before anything
// newer, so a few would do; more cost nothing worth counting.
const rememberedBatches = 1024

type clock interface{ Now() time.Time }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

type countersProcessor struct {
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	clock     clock
	cfg       Config
	// started is the start of every series' first delta: the counters
	// count from the processor's start.
	started pcommon.Timestamp

	mu       sync.Mutex
	counters []*counter
	byView   map[string]*counter
	// seen and ring remember the last batch ids counted, oldest first out.
	seen      map[string]struct{}
	ring      []string
	ringNext  int
	lastSweep time.Time
}

// counter is one view's running counter: its series and, for
// `count: sessions`, the session windows already counted.
type counter struct {
	cfg         CounterConfig
	tagKeys     []string // sorted: the series key's order
	description string
	unit        string
	double      bool
	series      map[string]*series
	overflow    *series
	sessions    map[sessionKey]time.Time
}

// sessionKey identifies a session window: glam_views keeps a window's
// start once a flush carried it, so later deltas of it carry the same.
type sessionKey struct {
	id       string
	overflow bool // no session.id: glam_views' overflow series
	start    pcommon.Timestamp
}

// series is one tag set of a counter: where its last delta ended and what
// it gained in the batch being processed.
type series struct {
	attrs      pcommon.Map
	lastEnd    pcommon.Timestamp
	gainInt    int64
	gainDouble float64
	gained     bool
}

func newCountersProcessor(set processor.Settings, cfg *Config, clk clock) (*countersProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &countersProcessor{
		logger:    set.Logger,
		telemetry: tb,
		clock:     clk,
		cfg:       *cfg,
		started:   pcommon.NewTimestampFromTime(clk.Now()),
		byView:    map[string]*counter{},
		seen:      map[string]struct{}{},
		ring:      make([]string, rememberedBatches),
		lastSweep: clk.Now(),
	}
	for _, c := range cfg.Counters {
		ctr := &counter{cfg: c, description: c.Description, series: map[string]*series{}}
		ctr.tagKeys = append([]string(nil), c.TagKeys...)
		sort.Strings(ctr.tagKeys)
		if c.countSessions() {
			ctr.sessions = map[sessionKey]time.Time{}
			ctr.unit = "{session}"
		}
		p.counters = append(p.counters, ctr)
		p.byView[c.View] = ctr
	}
	return p, nil
}

func (p *countersProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

// neverRefuse wraps the next consumer so that its refusals stop here. This
// processor is fed by glam_views through a fan-out that also feeds the
// glam_postgres exporter, and glam_views acts on the fan-out's joined error:
// a retryable one makes it resend the batch (harmless to Postgres, which
// recognises it, and recognised here by its batch id), but a permanent one
// makes it drop the batch as lost — also when Postgres refused it only for
// now. So a refusal after this point is logged, counted and dropped: the
// counters miss that batch, the view rows miss nothing.
func (p *countersProcessor) neverRefuse(next consumer.Metrics) consumer.Metrics {
	return refusalSink{next: next, p: p}
}

type refusalSink struct {
	next consumer.Metrics
	p    *countersProcessor
}

func (s refusalSink) Capabilities() consumer.Capabilities { return s.next.Capabilities() }

func (s refusalSink) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if err := s.next.ConsumeMetrics(ctx, md); err != nil {
		s.p.logger.Warn("Counter batch refused by the next consumer; dropped, not retried", zap.Int("data_points", md.DataPointCount()), zap.Error(err))
		s.p.telemetry.ProcessorGlamViewcountersRefusedBatches.Add(ctx, 1)
	}
	return nil
}

// processMetrics adds the selected views' deltas of each batch not yet
// counted to their counters' series, and emits what each series gained as
// one delta point from its previous point's end to now.
func (p *countersProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	// Before counting: a window idle for longer than forget_sessions_after
	// is forgotten even when this very batch brings it back.
	p.sweepSessions(now)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		id, hasID := rm.Resource().Attributes().Get(usage.AttrBatchID)
		if hasID {
			if _, dup := p.seen[id.Str()]; dup {
				p.telemetry.ProcessorGlamViewcountersReplayedBatches.Add(ctx, 1)
				continue
			}
		}
		counted := false
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			if sms.At(j).Scope().Name() != usage.ViewScope {
				continue
			}
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if c := p.byView[ms.At(k).Name()]; c != nil {
					p.add(ctx, c, ms.At(k), now)
					counted = true
				}
			}
		}
		if hasID && counted {
			p.remember(id.Str())
		}
	}
	out := p.emit(now)
	if out.DataPointCount() == 0 {
		return out, processorhelper.ErrSkipProcessingData
	}
	return out, nil
}

// remember records a counted batch id, forgetting the oldest.
func (p *countersProcessor) remember(id string) {
	if old := p.ring[p.ringNext]; old != "" {
		delete(p.seen, old)
	}
	p.ring[p.ringNext] = id
	p.ringNext = (p.ringNext + 1) % len(p.ring)
	p.seen[id] = struct{}{}
}

func (p *countersProcessor) add(ctx context.Context, c *counter, m pmetric.Metric, now time.Time) {
	if m.Type() != pmetric.MetricTypeSum || m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityDelta {
		n := 0
		switch m.Type() {
		case pmetric.MetricTypeSum:
			n = m.Sum().DataPoints().Len()
		case pmetric.MetricTypeGauge:
			n = m.Gauge().DataPoints().Len()
		case pmetric.MetricTypeHistogram:
			n = m.Histogram().DataPoints().Len()
		}
		p.telemetry.ProcessorGlamViewcountersUnsupportedPoints.Add(ctx, int64(n), metric.WithAttributes(attribute.String("view", c.cfg.View)))
		return
	}
	if c.description == "" {
		c.description = m.Description()
	}
	if c.unit == "" {
		c.unit = m.Unit()
	}
	dps := m.Sum().DataPoints()
	for i := 0; i < dps.Len(); i++ {
		dp := dps.At(i)
		s := p.seriesFor(c, dp.Attributes())
		if c.cfg.countSessions() {
			// glam_views' overflow series, beyond the view's max_series,
			// is a pseudo-session without session.id: each of its
			// windows counts once, as the view's rows have it.
			sid, has := dp.Attributes().Get(usage.AttrSessionID)
			key := sessionKey{overflow: !has, start: dp.StartTimestamp()}
			if has {
				key.id = sid.AsString()
			}
			_, known := c.sessions[key]
			c.sessions[key] = now
			if !known {
				s.gainInt++
				s.gainDouble++
				s.gained = true
			}
			continue
		}
		switch dp.ValueType() {
		case pmetric.NumberDataPointValueTypeInt:
			s.gainInt += dp.IntValue()
			s.gainDouble += float64(dp.IntValue())
		case pmetric.NumberDataPointValueTypeDouble:
			// A sum view: the counter stays double from its first double on.
			c.double = true
			s.gainDouble += dp.DoubleValue()
		default:
			continue
		}
		s.gained = true
	}
}

// seriesFor is the series of the counter's tag keys' values in attrs, or
// the overflow series once the counter holds max_series.
func (p *countersProcessor) seriesFor(c *counter, attrs pcommon.Map) *series {
	var b strings.Builder
	kept := pcommon.NewMap()
	for _, k := range c.tagKeys {
		v, ok := attrs.Get(k)
		if !ok {
			// Absent and empty are different tag sets, as in glam_views.
			b.WriteString("\x00-")
			continue
		}
		s := v.AsString()
		kept.PutStr(k, s)
		b.WriteString("\x00+")
		b.WriteString(s)
	}
	key := b.String()
	if s := c.series[key]; s != nil {
		return s
	}
	if len(c.series) >= p.cfg.MaxSeries {
		if c.overflow == nil {
			c.overflow = &series{attrs: pcommon.NewMap(), lastEnd: p.started}
			c.overflow.attrs.PutBool(attrOverflow, true)
		}
		return c.overflow
	}
	s := &series{attrs: kept, lastEnd: p.started}
	c.series[key] = s
	return s
}

// sweepSessions forgets session windows without a delta for
// forget_sessions_after, at most a few times per that period.
func (p *countersProcessor) sweepSessions(now time.Time) {
	if now.Sub(p.lastSweep) < p.cfg.ForgetSessionsAfter/4 {
		return
	}
	p.lastSweep = now
	cutoff := now.Add(-p.cfg.ForgetSessionsAfter)
	for _, c := range p.counters {
		for k, seen := range c.sessions {
			if seen.Before(cutoff) {
				delete(c.sessions, k)
			}
		}
	}
}

// emit renders every series that gained as one delta point covering
// (its previous point's end, now], so each series is one contiguous delta
// stream whatever windows its deltas came from.
func (p *countersProcessor) emit(now time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(usage.CounterScope)
	ts := pcommon.NewTimestampFromTime(now)
	for _, c := range p.counters {
		var m pmetric.Metric
		begun := false
		for _, s := range c.all() {
			if !s.gained {
				continue
			}
			if !begun {
				begun = true
				m = sm.Metrics().AppendEmpty()
				m.SetName(c.cfg.metricName())
				m.SetDescription(c.description)
				m.SetUnit(c.unit)
				sum := m.SetEmptySum()
				sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
				sum.SetIsMonotonic(true)
			}
			end := ts
			if end <= s.lastEnd {
				end = s.lastEnd + 1
			}
			dp := m.Sum().DataPoints().AppendEmpty()
			s.attrs.CopyTo(dp.Attributes())
			dp.SetStartTimestamp(s.lastEnd)
			dp.SetTimestamp(end)
			if c.double {
				dp.SetDoubleValue(s.gainDouble)
			} else {
				dp.SetIntValue(s.gainInt)
			}
			s.lastEnd = end
			s.gainInt, s.gainDouble, s.gained = 0, 0, false
		}
	}
	return md
}

// all is the counter's series in a stable order, overflow last.
func (c *counter) all() []*series {
	keys := make([]string, 0, len(c.series))
	for k := range c.series {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*series, 0, len(keys)+1)
	for _, k := range keys {
		out = append(out, c.series[k])
	}
	if c.overflow != nil {
		out = append(out, c.overflow)
	}
	return out
}
