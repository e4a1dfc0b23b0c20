package glamviewsprocessor

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadatatest"
)

// t0 is a UTC midnight, so hourly and daily windows start on it.
var t0 = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)

// fakeClock is a clock tests set by hand, with a ticker they drive.
type fakeClock struct {
	mu   sync.Mutex
	now  time.Time
	tick chan time.Time
	// every is the period the processor asked its ticker for.
	every time.Duration
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, tick: make(chan time.Time)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.every = d
	return c.tick, func() {}
}

func (c *fakeClock) set(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = now
}

// harness runs one processor against a real sink, on a fake clock.
type harness struct {
	t     *testing.T
	clock *fakeClock
	sink  *consumertest.MetricsSink
	tel   *componenttest.Telemetry
	vp    *viewsProcessor
	proc  processor.Metrics
}

func newHarness(t *testing.T, cfg *Config) *harness {
	return newHarnessTo(t, cfg, new(consumertest.MetricsSink))
}

// newHarnessTo builds the processor with next as its next consumer; sink is
// where tests read what was accepted (next may wrap it).
func newHarnessTo(t *testing.T, cfg *Config, sink *consumertest.MetricsSink, next ...consumer.Metrics) *harness {
	t.Helper()
	require.NoError(t, cfg.Validate())
	h := &harness{t: t, clock: newFakeClock(t0), sink: sink, tel: componenttest.NewTelemetry()}
	t.Cleanup(func() { require.NoError(t, h.tel.Shutdown(context.Background())) })
	var to consumer.Metrics = sink
	if len(next) > 0 {
		to = next[0]
	}
	set := metadatatest.NewSettings(h.tel)
	var err error
	h.vp, err = newViewsProcessor(set, cfg, to, h.clock)
	require.NoError(t, err)
	h.proc, err = wrapProcessor(context.Background(), set, cfg, to, h.vp)
	require.NoError(t, err)
	return h
}

// testConfig is a configuration with the given views and a one-hour
// allowed lateness.
func testConfig(views ...ViewConfig) *Config {
	return &Config{FlushInterval: time.Second, AllowedLateness: time.Hour, Views: views}
}

// m is one measurement to feed in.
type m struct {
	measure string
	at      time.Time
	value   float64
	tags    map[string]any
}

func (h *harness) consume(ms ...m) {
	h.t.Helper()
	md := pmetric.NewMetrics()
	w := usage.NewMeasurementWriter(md)
	for _, x := range ms {
		tags := pcommon.NewMap()
		require.NoError(h.t, tags.FromRaw(x.tags))
		w.Record(usage.Measure{Name: x.measure, Unit: "ms"}, x.at, x.value, tags)
	}
	require.NoError(h.t, h.proc.ConsumeMetrics(context.Background(), md))
}

// consumeLive feeds measurements one by one as they would arrive live:
// the clock follows their event times.
func (h *harness) consumeLive(ms ...m) {
	h.t.Helper()
	for _, x := range ms {
		if x.at.After(h.clock.Now()) {
			h.clock.set(x.at)
		}
		h.consume(x)
	}
}

// flushAt sets the clock and flushes, as the ticker would.
func (h *harness) flushAt(now time.Time) {
	h.t.Helper()
	h.clock.set(now)
	require.NoError(h.t, h.vp.flush(context.Background()))
}

// out is one output data point, flattened for comparison.
type out struct {
	batch      string
	view       string
	start, end time.Time
	tags       map[string]string
	// count: a count view's value, or a distribution's count.
	count int64
	// sum: a sum view's value, or a distribution's sum.
	sum      float64
	min, max float64
	buckets  []uint64
	// value: a last_value view's value.
	value float64
}

// points returns every data point the sink received, in order, checking
// the shape every batch must have on the way.
func (h *harness) points() []out {
	h.t.Helper()
	var res []out
	for _, md := range h.sink.AllMetrics() {
		res = append(res, parse(h.t, md)...)
	}
	return res
}

func parse(t *testing.T, md pmetric.Metrics) []out {
	t.Helper()
	require.Equal(t, 1, md.ResourceMetrics().Len())
	rm := md.ResourceMetrics().At(0)
	batchID, ok := rm.Resource().Attributes().Get(usage.AttrBatchID)
	require.True(t, ok, "every batch carries %s", usage.AttrBatchID)
	require.Equal(t, 1, rm.ScopeMetrics().Len())
	sm := rm.ScopeMetrics().At(0)
	require.Equal(t, usage.ViewScope, sm.Scope().Name())
	var res []out
	for i := 0; i < sm.Metrics().Len(); i++ {
		metric := sm.Metrics().At(i)
		add := func(dp dataPoint, o out) {
			o.batch, o.view = batchID.Str(), metric.Name()
			o.tags = map[string]string{}
			dp.Attributes().Range(func(k string, v pcommon.Value) bool {
				o.tags[k] = v.AsString()
				return true
			})
			res = append(res, o)
		}
		switch metric.Type() {
		case pmetric.MetricTypeSum:
			require.Equal(t, pmetric.AggregationTemporalityDelta, metric.Sum().AggregationTemporality())
			require.True(t, metric.Sum().IsMonotonic())
			dps := metric.Sum().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				add(dp, out{start: dp.StartTimestamp().AsTime(), end: dp.Timestamp().AsTime(), count: dp.IntValue(), sum: dp.DoubleValue()})
			}
		case pmetric.MetricTypeHistogram:
			require.Equal(t, pmetric.AggregationTemporalityDelta, metric.Histogram().AggregationTemporality())
			dps := metric.Histogram().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				require.True(t, dp.HasMin() && dp.HasMax())
				add(dp, out{
					start: dp.StartTimestamp().AsTime(), end: dp.Timestamp().AsTime(),
					count: int64(dp.Count()), sum: dp.Sum(), min: dp.Min(), max: dp.Max(),
					buckets: dp.BucketCounts().AsRaw(),
				})
			}
		case pmetric.MetricTypeGauge:
			dps := metric.Gauge().DataPoints()
			for j := 0; j < dps.Len(); j++ {
				dp := dps.At(j)
				add(dp, out{start: dp.StartTimestamp().AsTime(), end: dp.Timestamp().AsTime(), value: dp.DoubleValue()})
			}
		default:
			t.Fatalf("unexpected metric type %s", metric.Type())
		}
	}
	return res
}

// withoutBatch drops the batch ids and sorts, for comparing contents only.
func withoutBatch(points []out) []out {
	res := make([]out, len(points))
	for i, p := range points {
		p.batch = ""
		res[i] = p
	}
	sort.SliceStable(res, func(i, j int) bool {
		a, b := res[i], res[j]
		if a.view != b.view {
			return a.view < b.view
		}
		if !a.start.Equal(b.start) {
			return a.start.Before(b.start)
		}
		return tagString(a.tags) < tagString(b.tags)
	})
	return res
}

func tagString(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += k + "=" + tags[k] + ";"
	}
	return s
}
