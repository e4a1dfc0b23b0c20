package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/views"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadata"
)

// errShutDown refuses measurements that arrive after the final flush, so
// that the sender knows they were not counted.
var errShutDown = errors.New("glam_views processor is shut down; measurements refused")

// clock is the processor's view of time, replaced in tests so that they
// neither sleep nor depend on when they run.
type clock interface {
	Now() time.Time
	// NewTicker returns a channel ticking every d, and its stop function.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// viewsProcessor aggregates measurements into views and flushes them.
type viewsProcessor struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	next      consumer.Metrics
	clock     clock
	version   string

	// mu guards the view sets (but their pending batches), keyBuf and
	// closed.
	mu sync.Mutex
	// config is the set of the config's views; runtime holds one set per
	// runtime view, by the consumer that reads it (eventlog.go).
	config  *viewSet
	runtime map[string]*viewSet
	keyBuf  []byte
	closed  bool

	// flushMu makes flushes one at a time, in order, and guards the sets'
	// pending batches.
	flushMu sync.Mutex
	// instance and seq make batch ids: unique per flush, and never reused
	// by another processor instance or a restart.
	instance string
	seq      uint64

	// flushNow asks the flush loop for a flush before the tick
	// (flush_size); earlyRefused is set while such a flush was refused.
	flushNow     chan struct{}
	earlyRefused atomic.Bool
	// finalLogWait is finalFlushLogWait (shorter in tests).
	finalLogWait time.Duration

	stop    chan struct{}
	stopped sync.WaitGroup
	// cancelLoop cancels the flush loop's send in progress at shutdown:
	// with the exporter retrying a batch (PostgreSQL down or too slow), the
	// loop would otherwise hold shutdown as long as the retries go on, past
	// finalFlush's bound. The batch stays pending for finalFlush.
	cancelLoop context.CancelFunc
	started    bool
}

// viewSet is the views one log consumer feeds, with where that consumer
// stands: the config's views, or one view created at runtime.
type viewSet struct {
	views     []*view
	byMeasure map[string][]*view
	byName    map[string]*view
	log       logState
	// definition is a runtime view's definition as its reader sent it; ""
	// for the config's views.
	definition string
	// pending is the batch the next consumer refused, sent again before
	// anything newer (guarded by flushMu).
	pending *batch
}

func newViewSet(defs []ViewConfig, lateness time.Duration) *viewSet {
	s := &viewSet{byMeasure: map[string][]*view{}, byName: map[string]*view{}}
	for _, vc := range defs {
		v := newView(vc, int64(lateness))
		s.views = append(s.views, v)
		s.byMeasure[vc.Measure] = append(s.byMeasure[vc.Measure], v)
		s.byName[vc.Name] = v
	}
	return s
}

// sets is every view set, the config's first; the caller holds mu.
func (p *viewsProcessor) sets() []*viewSet {
	out := make([]*viewSet, 0, 1+len(p.runtime))
	out = append(out, p.config)
	consumers := make([]string, 0, len(p.runtime))
	for c := range p.runtime {
		consumers = append(consumers, c)
	}
	slices.Sort(consumers)
	for _, c := range consumers {
		out = append(out, p.runtime[c])
	}
	return out
}

func newViewsProcessor(set processor.Settings, cfg *Config, next consumer.Metrics, clk clock) (*viewsProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	p := &viewsProcessor{
		cfg:       cfg,
		logger:    set.Logger,
		telemetry: tb,
		next:      next,
		clock:     clk,
		version:   set.BuildInfo.Version,
		config:    newViewSet(cfg.Views, cfg.AllowedLateness),
		runtime:   map[string]*viewSet{},
		instance:  hex.EncodeToString(id[:]),
		stop:      make(chan struct{}),
		flushNow:  make(chan struct{}, 1),

		finalLogWait: finalFlushLogWait,
	}
	err = tb.RegisterProcessorGlamViewsSeriesCallback(func(_ context.Context, o metric.Int64Observer) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, s := range p.sets() {
			for _, v := range s.views {
				o.Observe(int64(v.seriesCount()), v.attrs)
			}
		}
		return nil
	})
	return p, err
}

// start tells the usage API in this collector (if any) which views the
// config has, then flushes every flush_interval.
func (p *viewsProcessor) start(_ context.Context, host component.Host) error {
	for _, c := range views.Catalogs(host) {
		c.AddConfigViews(p.cfg.Views)
	}
	tick, stopTicker := p.clock.NewTicker(p.cfg.FlushInterval)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancelLoop = cancel
	p.started = true
	p.stopped.Add(1)
	go func() {
		defer p.stopped.Done()
		defer stopTicker()
		for {
			select {
			case <-p.stop:
				return
			case <-tick:
				err := p.flush(ctx)
				p.earlyRefused.Store(err != nil)
				if err != nil && ctx.Err() == nil {
					p.logger.Warn("Next consumer refused a views batch; it is kept and sent again at the next flush",
						zap.Error(err))
				}
			case <-p.flushNow:
				if err := p.flush(ctx); err != nil && ctx.Err() == nil {
					p.earlyRefused.Store(true)
					p.logger.Warn("Next consumer refused a views batch flushed at flush_size; it is kept and sent again at the next flush_interval",
						zap.Error(err))
				}
			}
		}
	}()
	return nil
}

// shutdown stops the flush loop and flushes everything held, open windows
// included: downstream rows merge additively, so a clean stop loses nothing.
func (p *viewsProcessor) shutdown(ctx context.Context) error {
	if p.started {
		close(p.stop)
		p.cancelLoop()
		p.stopped.Wait()
		p.started = false
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.finalFlush(ctx)
	p.telemetry.Shutdown()
	return err
}

// processMetrics takes the measurement scopes (and session context) out of
// md into the views and passes the rest on. Measurements read from the event
// log are taken only where they continue it (admitLog); otherwise the whole
// request is refused and the consumer reads again from its offset.
func (p *viewsProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	now := p.clock.Now().UnixNano()
	var unused, invalid int64
	var refused error
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return md, errShutDown
	}
	md.ResourceMetrics().RemoveIf(func(rm pmetric.ResourceMetrics) bool {
		if refused != nil {
			return false
		}
		r, fromLog, err := readLogRange(rm.Resource())
		set := p.config
		if err == nil && fromLog {
			set, err = p.admitLog(r)
		}
		if err != nil {
			refused = err
			return false
		}
		if set == nil {
			// A retirement: nothing to record.
			return true
		}
		removed := false
		rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
			switch {
			case usage.IsMeasurementScope(sm.Scope()):
				u, inv := p.recordMetrics(set, sm.Metrics(), now, fromLog)
				unused, invalid = unused+u, invalid+inv
			case fromLog && sm.Scope().Name() == usage.SessionContextScope:
				p.recordContext(set, sm.Metrics(), now)
			default:
				return false
			}
			removed = true
			return true
		})
		return removed && rm.ScopeMetrics().Len() == 0
	})
	reports := p.takeTallies()
	p.mu.Unlock()

	p.report(ctx, unused, invalid, reports)
	if refused != nil {
		return md, refused
	}
	if md.ResourceMetrics().Len() == 0 {
		return md, processorhelper.ErrSkipProcessingData
	}
	return md, nil
}

// recordMetrics folds one scope's measurements into the views and returns
// how many no view used and how many were invalid.
func (p *viewsProcessor) recordMetrics(set *viewSet, metrics pmetric.MetricSlice, now int64, fromLog bool) (unused, invalid int64) {
	for i := 0; i < metrics.Len(); i++ {
		m := metrics.At(i)
		vs := set.byMeasure[m.Name()]
		if len(vs) == 0 || m.Type() != pmetric.MetricTypeGauge {
			unused += int64(usage.DataPointCount(m))
			continue
		}
		for _, v := range vs {
			if v.unit == "" {
				v.unit = viewUnit(v.agg.kind, m.Unit())
			}
		}
		dps := m.Gauge().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			at := now
			// Read from the log, an event is late or early by when it was
			// received, not by when the log was read: a backlog (after an
			// outage, a restart) is counted as it was sent.
			if observed := observedTime(dp); fromLog && observed > 0 {
				at = observed
				set.log.watermark = max(set.log.watermark, observed)
			}
			u, inv := p.recordPoint(vs, dp, at)
			unused, invalid = unused+u, invalid+inv
		}
	}
	p.flushIfFull(set)
	return unused, invalid
}

// flushIfFull asks the flush loop for a flush now when set has flush_size
// series to flush; the caller holds mu. After an early flush the next
// consumer refused, only the ticker flushes: a refused batch is sent again
// on the interval, not at every read of the log.
func (p *viewsProcessor) flushIfFull(set *viewSet) {
	if p.cfg.FlushSize == 0 || p.earlyRefused.Load() {
		return
	}
	n := 0
	for _, v := range set.views {
		n += v.changed
	}
	if n < p.cfg.FlushSize {
		return
	}
	select {
	case p.flushNow <- struct{}{}:
	default: // one is asked for already
	}
}

func (p *viewsProcessor) recordPoint(views []*view, dp pmetric.NumberDataPoint, now int64) (unused, invalid int64) {
	var value float64
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeDouble:
		value = dp.DoubleValue()
	case pmetric.NumberDataPointValueTypeInt:
		value = float64(dp.IntValue())
	default:
		return 0, 1
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return 0, 1
	}
	t := int64(dp.Timestamp())
	if t == 0 {
		// Without an event time the arrival time is the best there is.
		t = now
	}
	used := false
	for _, v := range views {
		var out outcome
		out, p.keyBuf = v.record(t, now, value, dp.Attributes(), p.keyBuf)
		used = used || out != notApplicable
	}
	if !used {
		return 1, 0
	}
	return 0, 0
}

// viewUnit is the unit of a view's values: measurements for count, the
// measure's own unit otherwise.
func viewUnit(kind Aggregation, measureUnit string) string {
	if kind == AggregationCount {
		return "{measurement}"
	}
	return measureUnit
}

// tally is one view's counts to report.
type tally struct {
	attrs                metric.MeasurementOption
	late, early, overflw int64
}

// takeTallies collects and resets the views' counts; the caller holds mu.
func (p *viewsProcessor) takeTallies() []tally {
	var out []tally
	for _, s := range p.sets() {
		for _, v := range s.views {
			if v.nLate|v.nEarly|v.nOverflowed != 0 {
				out = append(out, tally{attrs: v.attrs, late: v.nLate, early: v.nEarly, overflw: v.nOverflowed})
				v.nLate, v.nEarly, v.nOverflowed = 0, 0, 0
			}
		}
	}
	return out
}

func (p *viewsProcessor) report(ctx context.Context, unused, invalid int64, tallies []tally) {
	tb := p.telemetry
	addIf(ctx, tb.ProcessorGlamViewsMeasurementsUnused, unused)
	addIf(ctx, tb.ProcessorGlamViewsMeasurementsInvalid, invalid)
	for _, t := range tallies {
		addIf(ctx, tb.ProcessorGlamViewsMeasurementsLate, t.late, t.attrs)
		addIf(ctx, tb.ProcessorGlamViewsMeasurementsFuture, t.early, t.attrs)
		addIf(ctx, tb.ProcessorGlamViewsMeasurementsOverflowed, t.overflw, t.attrs)
	}
}

func addIf(ctx context.Context, c metric.Int64Counter, n int64, opts ...metric.AddOption) {
	if n != 0 {
		c.Add(ctx, n, opts...)
	}
}

// take moves the gain of every view of set since the last flush into a new
// batch, or returns nil when there is none.
func (p *viewsProcessor) take(set *viewSet) *batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now().UnixNano()
	l := &set.log
	if l.known && l.watermark > 0 {
		now = l.watermark
	}
	if l.mustRewind {
		// The views were reset after a refusal and hold nothing: a batch
		// now would claim the log range cut..fed with none of its events,
		// and move the offset past them. The consumer reads it again.
		return nil
	}
	b := &batch{scopeVersion: p.version, set: set, gen: l.gen}
	if l.known {
		b.log = logRange{consumer: l.consumer, from: l.cut, to: l.fed}
		b.fromLog = true
	}
	for _, v := range set.views {
		if points := v.take(now); len(points) > 0 {
			b.views = append(b.views, v)
			b.units = append(b.units, v.unit)
			b.points = append(b.points, points)
		}
	}
	if len(b.views) == 0 && (!b.fromLog || b.log.from == b.log.to) {
		return nil
	}
	// A batch of the log with no points still moves the offset past the
	// events that made none.
	l.cut = l.fed
	p.seq++
	b.id = p.instance + "-" + strconv.FormatUint(p.seq, 10)
	return b
}

// setsNow is every view set, taken under mu for a flush.
func (p *viewsProcessor) setsNow() []*viewSet {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sets()
}

// flush sends each set's refused batch, if any, then everything it gained
// since the last flush. While the next consumer refuses a set's batch, its
// new gains wait in its views rather than piling up as batches; no window
// is forgotten meanwhile, since take, which evicts, does not run. One set
// refused does not hold the others back.
func (p *viewsProcessor) flush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	var errs []error
	for _, set := range p.setsNow() {
		errs = append(errs, p.flushSet(ctx, set))
	}
	return errors.Join(errs...)
}

func (p *viewsProcessor) flushSet(ctx context.Context, set *viewSet) error {
	if set.pending != nil && p.stale(set.pending) {
		set.pending = nil
	}
	if set.pending != nil {
		if err := p.send(ctx, set.pending); err != nil {
			return err
		}
		set.pending = nil
	}
	b := p.take(set)
	if b == nil {
		return nil
	}
	if err := p.send(ctx, b); err != nil {
		set.pending = b
		return err
	}
	return nil
}

// finalFlush sends everything, giving up on what is refused: nothing comes
// after it to send it again.
func (p *viewsProcessor) finalFlush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	var errs []error
	for _, set := range p.setsNow() {
		for _, b := range []*batch{set.pending, p.take(set)} {
			if b == nil || p.stale(b) {
				continue
			}
			if !b.fromLog {
				if err := p.send(ctx, b); err != nil {
					p.lose(ctx, b, err)
					errs = append(errs, err)
				}
				continue
			}
			// A batch of the event log is not lost when refused: its
			// events are read again from the offset at the next start.
			// So it is not waited for longer than finalLogWait, however
			// long the exporter would retry (max_elapsed_time: 0 is
			// forever, and the collector would never stop).
			sendCtx, cancel := context.WithTimeout(ctx, p.finalLogWait)
			err := p.send(sendCtx, b)
			cancel()
			if err != nil {
				p.logger.Warn("Views batch refused at shutdown; not lost: its events are read again from the log offset at the next start",
					zap.String("batch_id", b.id), zap.String("consumer", b.log.consumer), zap.Stringer("from", b.log.from), zap.Error(err))
			}
		}
		set.pending = nil
	}
	return errors.Join(errs...)
}

// finalFlushLogWait bounds how long the final flush waits for a batch of
// the event log (a couple of the exporter's default retries).
const finalFlushLogWait = 15 * time.Second

// send hands a batch to the next consumer. A permanent refusal is final:
// the batch is logged, counted and dropped so it cannot block the views.
func (p *viewsProcessor) send(ctx context.Context, b *batch) error {
	err := p.next.ConsumeMetrics(ctx, b.metrics())
	if b.fromLog && errors.Is(err, usage.ErrLogPositionConflict) {
		// Not lost: the events it covers are read again from the offset.
		p.logger.Warn("Views batch refused as not starting at the log offset; the views start again from it",
			zap.String("batch_id", b.id), zap.String("consumer", b.log.consumer), zap.Stringer("from", b.log.from), zap.Error(err))
		p.conflict(b)
		return nil
	}
	if err != nil && consumererror.IsPermanent(err) {
		p.lose(ctx, b, err)
		return nil
	}
	return err
}

// stale reports whether b was taken before its views were last reset, or
// its runtime view was deleted since: what it covers will be read from the
// log again, or is not wanted.
func (p *viewsProcessor) stale(b *batch) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.set != p.config && p.runtime[b.log.consumer] != b.set {
		return true
	}
	return b.fromLog && b.gen != b.set.log.gen
}

func (p *viewsProcessor) lose(ctx context.Context, b *batch, err error) {
	n := b.pointCount()
	p.logger.Error("Views batch lost: the next consumer refused it",
		zap.String("batch_id", b.id), zap.Int("data_points", n), zap.Error(err))
	p.telemetry.ProcessorGlamViewsPointsLost.Add(ctx, int64(n))
}
