package glamviewcountersprocessor

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor/internal/metadatatest"
)

var day0 = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type harness struct {
	t     *testing.T
	clock *fakeClock
	sink  *consumertest.MetricsSink
	tel   *componenttest.Telemetry
	proc  processor.Metrics
}

func newHarness(t *testing.T, cfg *Config, next ...consumer.Metrics) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	h := &harness{t: t, clock: &fakeClock{now: day0.Add(10 * time.Hour)}, sink: new(consumertest.MetricsSink), tel: componenttest.NewTelemetry()}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	var to consumer.Metrics = h.sink
	if len(next) > 0 {
		to = next[0]
	}
	set := metadatatest.NewSettings(h.tel)
	p, err := newCountersProcessor(set, cfg, h.clock)
	require.NoError(t, err)
	h.proc, err = newMetricsProcessor(context.Background(), set, cfg, to, p)
	require.NoError(t, err)
	require.NoError(t, h.proc.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, h.proc.Shutdown(context.Background())) })
	return h
}

// consume feeds one batch, a second of the fake clock after the previous.
func (h *harness) consume(md pmetric.Metrics) {
	h.t.Helper()
	h.clock.advance(time.Second)
	require.NoError(h.t, h.proc.ConsumeMetrics(context.Background(), md))
}

// vp is one view data point as glam_views flushes it: a count view's delta
// for a window and tag set.
type vp struct {
	view       string
	start, end time.Time
	tags       map[string]string
	n          int64
}

// viewBatch is a flush of glam_views: one resource with the batch id (and
// a log range, as from the event log), the view scope, a delta Sum per view.
func viewBatch(id string, pts ...vp) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	if id != "" {
		rm.Resource().Attributes().PutStr(usage.AttrBatchID, id)
	}
	rm.Resource().Attributes().PutStr(usage.AttrLogConsumer, "default")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(usage.ViewScope)
	byView := map[string]pmetric.Metric{}
	for _, p := range pts {
		m, ok := byView[p.view]
		if !ok {
			m = sm.Metrics().AppendEmpty()
			m.SetName(p.view)
			m.SetUnit("{measurement}")
			m.SetDescription("view " + p.view)
			m.SetEmptySum().SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
			m.Sum().SetIsMonotonic(true)
			byView[p.view] = m
		}
		dp := m.Sum().DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(p.start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(p.end))
		dp.SetIntValue(p.n)
		for k, v := range p.tags {
			dp.Attributes().PutStr(k, v)
		}
	}
	return md
}

// stream is what the processor emitted for one series, in order.
type stream struct {
	total  float64
	starts []pcommon.Timestamp
	ends   []pcommon.Timestamp
}

// streams reads everything emitted, by metric name and sorted tags.
func (h *harness) streams() map[string]*stream {
	h.t.Helper()
	out := map[string]*stream{}
	for _, md := range h.sink.AllMetrics() {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			assert.Equal(h.t, 0, rms.At(i).Resource().Attributes().Len(), "no batch id or log range on the counters' resource")
			sms := rms.At(i).ScopeMetrics()
			for j := 0; j < sms.Len(); j++ {
				assert.Equal(h.t, usage.CounterScope, sms.At(j).Scope().Name())
				ms := sms.At(j).Metrics()
				for k := 0; k < ms.Len(); k++ {
					m := ms.At(k)
					require.Equal(h.t, pmetric.MetricTypeSum, m.Type())
					assert.Equal(h.t, pmetric.AggregationTemporalityDelta, m.Sum().AggregationTemporality())
					assert.True(h.t, m.Sum().IsMonotonic())
					dps := m.Sum().DataPoints()
					for d := 0; d < dps.Len(); d++ {
						dp := dps.At(d)
						key := m.Name() + tagString(dp.Attributes())
						s := out[key]
						if s == nil {
							s = &stream{}
							out[key] = s
						}
						if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
							s.total += float64(dp.IntValue())
						} else {
							s.total += dp.DoubleValue()
						}
						s.starts = append(s.starts, dp.StartTimestamp())
						s.ends = append(s.ends, dp.Timestamp())
					}
				}
			}
		}
	}
	return out
}

func tagString(attrs pcommon.Map) string {
	var parts []string
	attrs.Range(func(k string, v pcommon.Value) bool {
		parts = append(parts, k+"="+v.AsString())
		return true
	})
	sort.Strings(parts)
	return "{" + strings.Join(parts, ",") + "}"
}

func totals(s map[string]*stream) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		out[k] = v.total
	}
	return out
}

func config(counters ...CounterConfig) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Counters = counters
	return cfg
}

const (
	viewProbesDaily = "glam.probe_views.daily"
	viewSearches    = "glam.searches.daily"
	viewSessions    = "glam.sessions"
)

func probeTags(product, probe string) map[string]string {
	return map[string]string{usage.AttrProduct: product, usage.AttrProbeName: probe}
}

// Deltas of several windows (today's, a late one for yesterday) and probes
// add up per kept tag set: the counter is the view summed over windows and
// over the tags it drops.
func TestCountersSumWindowsAndDroppedTags(t *testing.T) {
	h := newHarness(t, config(
		CounterConfig{View: viewProbesDaily, Name: "glam.probe_views", TagKeys: []string{usage.AttrProduct}},
		CounterConfig{View: viewSearches, Name: "glam.searches"},
	))
	today, yesterday := day0, day0.Add(-24*time.Hour)
	h.consume(viewBatch("a-1",
		vp{viewProbesDaily, today, today.Add(24 * time.Hour), probeTags("firefox", "gc_ms"), 3},
		vp{viewProbesDaily, today, today.Add(24 * time.Hour), probeTags("firefox", "a11y"), 2},
		vp{viewProbesDaily, today, today.Add(24 * time.Hour), probeTags("fenix", "gc_ms"), 1},
		vp{viewSearches, today, today.Add(24 * time.Hour), map[string]string{usage.AttrProduct: "firefox"}, 4},
	))
	h.consume(viewBatch("a-2",
		vp{viewProbesDaily, today, today.Add(24 * time.Hour), probeTags("firefox", "gc_ms"), 5},
		vp{viewProbesDaily, yesterday, today, probeTags("firefox", "late_probe"), 7},
		// A view not listed goes nowhere.
		vp{"glam.actions.daily", today, today.Add(24 * time.Hour), map[string]string{usage.AttrAction: "x"}, 9},
	))

	got := h.streams()
	assert.Equal(t, map[string]float64{
		"glam.probe_views{glam.product=firefox}": 3 + 2 + 5 + 7,
		"glam.probe_views{glam.product=fenix}":   1,
		"glam.searches{}":                        4,
	}, totals(got))
	// Each series is one contiguous delta stream from the processor's start.
	ff := got["glam.probe_views{glam.product=firefox}"]
	require.Len(t, ff.starts, 2)
	start := pcommon.NewTimestampFromTime(day0.Add(10 * time.Hour))
	assert.Equal(t, []pcommon.Timestamp{start, ff.ends[0]}, ff.starts)
	assert.Equal(t, []pcommon.Timestamp{
		pcommon.NewTimestampFromTime(day0.Add(10*time.Hour + time.Second)),
		pcommon.NewTimestampFromTime(day0.Add(10*time.Hour + 2*time.Second)),
	}, ff.ends)
}

// A batch glam_views sends again (the same batch id: Postgres refused it
// for now, the fan-out already gave it here) is counted once.
func TestReplayedBatchCountedOnce(t *testing.T) {
	h := newHarness(t, config(CounterConfig{View: viewSearches}))
	b := func() pmetric.Metrics {
		return viewBatch("a-7", vp{viewSearches, day0, day0.Add(24 * time.Hour), nil, 6})
	}
	h.consume(b())
	h.consume(b())
	h.consume(viewBatch("a-8", vp{viewSearches, day0, day0.Add(24 * time.Hour), nil, 1}))
	h.consume(b())

	assert.Equal(t, map[string]float64{viewSearches + "{}": 7}, totals(h.streams()))
	assert.Len(t, h.sink.AllMetrics(), 2, "a replayed batch emits nothing")
	metadatatest.AssertEqualProcessorGlamViewcountersReplayedBatches(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

// `count: sessions` counts each session window once however many deltas
// carry it; a later window of the same session.id (a new start) is another
// session; a window forgotten after forget_sessions_after counts again.
func TestSessionsCountedOncePerWindow(t *testing.T) {
	cfg := config(CounterConfig{View: viewSessions, Count: CountSessions})
	cfg.ForgetSessionsAfter = time.Hour
	h := newHarness(t, cfg)
	s := func(id string, start time.Time, n int64) vp {
		return vp{viewSessions, start, start.Add(time.Minute), map[string]string{usage.AttrSessionID: id}, n}
	}
	t1, t2 := day0.Add(9*time.Hour), day0.Add(9*time.Hour+45*time.Minute)
	h.consume(viewBatch("s-1", s("A", t1, 3), s("B", t1, 1)))
	h.consume(viewBatch("s-2", s("A", t1, 2)))                // A grows: not a new session
	h.consume(viewBatch("s-3", s("A", t2, 1), s("C", t2, 4))) // A again after the gap, and C
	assert.Equal(t, map[string]float64{viewSessions + "{}": 4}, totals(h.streams()))

	// Windows without a delta for longer than forget_sessions_after are
	// forgotten: A's second window and B count again.
	h.clock.advance(2 * time.Hour)
	h.consume(viewBatch("s-4", s("A", t2, 1)))
	h.consume(viewBatch("s-5", s("B", t1, 1)))
	assert.Equal(t, map[string]float64{viewSessions + "{}": 6}, totals(h.streams()))
}

// Beyond its max_series glam_views puts sessions into its overflow series,
// a pseudo-session without session.id: each of its windows is one session
// window to count (absent and empty session.id apart), and counting it
// must not take the collector down (it once dereferenced the absent id).
func TestSessionOverflowWindowsCounted(t *testing.T) {
	h := newHarness(t, config(CounterConfig{View: viewSessions, Count: CountSessions}))
	t1, t2 := day0.Add(9*time.Hour), day0.Add(11*time.Hour)
	overflow := map[string]string{"otel.metric.overflow": "true"}
	h.consume(viewBatch("of-1",
		vp{viewSessions, t1, t1.Add(time.Minute), map[string]string{usage.AttrSessionID: "A"}, 2},
		vp{viewSessions, t1, t1.Add(time.Minute), overflow, 5}))
	// The same overflow window grows, another opens, and a session whose
	// id is empty is not the overflow's.
	h.consume(viewBatch("of-2",
		vp{viewSessions, t1, t1.Add(2 * time.Minute), overflow, 3},
		vp{viewSessions, t2, t2.Add(time.Minute), overflow, 1},
		vp{viewSessions, t1, t1.Add(time.Minute), map[string]string{usage.AttrSessionID: ""}, 1}))
	// A, the overflow's two windows, the empty id.
	assert.Equal(t, map[string]float64{viewSessions + "{}": 4}, totals(h.streams()))
}

// The counter's series are bounded; what is beyond goes to the overflow
// series, and the total stays exact.
func TestMaxSeriesOverflow(t *testing.T) {
	cfg := config(CounterConfig{View: viewProbesDaily, TagKeys: []string{usage.AttrProbeName}})
	cfg.MaxSeries = 2
	h := newHarness(t, cfg)
	var pts []vp
	for i := 0; i < 5; i++ {
		pts = append(pts, vp{viewProbesDaily, day0, day0.Add(24 * time.Hour), probeTags("firefox", fmt.Sprintf("p%d", i)), int64(i + 1)})
	}
	h.consume(viewBatch("o-1", pts...))
	got := totals(h.streams())
	assert.Len(t, got, 3)
	assert.Equal(t, float64(3+4+5), got[viewProbesDaily+"{otel.metric.overflow=true}"])
	var sum float64
	for _, v := range got {
		sum += v
	}
	assert.Equal(t, float64(1+2+3+4+5), sum)
}

// A view that is not a Sum is counted as unsupported, and nothing is sent
// for a batch with nothing to count.
func TestUnsupportedAndNothingToSend(t *testing.T) {
	h := newHarness(t, config(CounterConfig{View: "glam.load_time"}))
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(usage.ViewScope)
	hist := sm.Metrics().AppendEmpty()
	hist.SetName("glam.load_time")
	hist.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(3)
	h.consume(md)
	// Not a view: another scope with the same metric name.
	other := viewBatch("", vp{"glam.load_time", day0, day0.Add(time.Hour), nil, 1})
	other.ResourceMetrics().At(0).ScopeMetrics().At(0).Scope().SetName("something.else")
	h.consume(other)

	assert.Empty(t, h.sink.AllMetrics())
	metadatatest.AssertEqualProcessorGlamViewcountersUnsupportedPoints(t, h.tel,
		[]metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(attribute.String("view", "glam.load_time")), Value: 1}},
		metricdatatest.IgnoreTimestamp())
}

// refusing is a next consumer that refuses with err.
type refusing struct{ err error }

func (refusing) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (r refusing) ConsumeMetrics(context.Context, pmetric.Metrics) error {
	return r.err
}

// Whatever the next consumer answers, the processor accepts: glam_views
// would drop a batch (Postgres's part too) on a permanent error in the
// fan-out's joined error, and resend it on a retryable one.
func TestNeverRefuses(t *testing.T) {
	for name, err := range map[string]error{
		"permanent": consumererror.NewPermanent(errors.New("bad data")),
		"retryable": errors.New("exporter queue is full"),
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, config(CounterConfig{View: viewSearches}), refusing{err: err})
			require.NoError(t, h.proc.ConsumeMetrics(context.Background(),
				viewBatch("r-1", vp{viewSearches, day0, day0.Add(24 * time.Hour), nil, 1})))
			metadatatest.AssertEqualProcessorGlamViewcountersRefusedBatches(t, h.tel,
				[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
		})
	}
}
