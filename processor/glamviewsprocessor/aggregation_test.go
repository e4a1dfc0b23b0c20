package glamviewsprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

const (
	measureViews = usage.MeasureProbeViews
	measureLoad  = "glam.page_load_time"
)

func hourly(name, measure string, agg Aggregation, tagKeys ...string) ViewConfig {
	return ViewConfig{Name: name, Measure: measure, Aggregation: agg, TagKeys: tagKeys, Window: WindowConfig{Size: time.Hour}}
}

func probe(name string) map[string]any {
	return map[string]any{usage.AttrProduct: "fog", usage.AttrProbeName: name, usage.AttrSessionID: "s1"}
}

func TestCountFixedWindows(t *testing.T) {
	h := newHarness(t, testConfig(hourly("views", measureViews, AggregationCount, usage.AttrProbeName)))
	h.consume(
		m{measureViews, t0.Add(5 * time.Minute), 1, probe("gc_ms")},
		m{measureViews, t0.Add(59*time.Minute + 59*time.Second), 1, probe("gc_ms")},
		m{measureViews, t0.Add(20 * time.Minute), 1, probe("cycle_collector")},
		// The value does not matter to a count.
		m{measureViews, t0.Add(60 * time.Minute), 7, probe("gc_ms")},
	)
	h.flushAt(t0.Add(61 * time.Minute))

	assert.Equal(t, []out{
		{view: "views", start: t0, end: t0.Add(time.Hour), tags: map[string]string{usage.AttrProbeName: "cycle_collector"}, count: 1},
		{view: "views", start: t0, end: t0.Add(time.Hour), tags: map[string]string{usage.AttrProbeName: "gc_ms"}, count: 2},
		{view: "views", start: t0.Add(time.Hour), end: t0.Add(2 * time.Hour), tags: map[string]string{usage.AttrProbeName: "gc_ms"}, count: 1},
	}, withoutBatch(h.points()))

	md := h.sink.AllMetrics()[0]
	metric := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	assert.Equal(t, "{measurement}", metric.Unit())
}

func TestSumFixedWindows(t *testing.T) {
	h := newHarness(t, testConfig(hourly("load", measureLoad, AggregationSum)))
	h.consume(
		m{measureLoad, t0.Add(time.Minute), 120.5, nil},
		m{measureLoad, t0.Add(2 * time.Minute), 80.25, nil},
		m{measureLoad, t0.Add(3 * time.Minute), -0.75, nil},
	)
	h.flushAt(t0.Add(4 * time.Minute))

	assert.Equal(t, []out{{view: "load", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}, sum: 200}}, withoutBatch(h.points()))
	metric := h.sink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	assert.Equal(t, "ms", metric.Unit(), "a sum keeps the measure's unit")
}

func TestDistributionFixedWindows(t *testing.T) {
	v := hourly("load", measureLoad, AggregationDistribution, usage.AttrProduct)
	v.Buckets = []float64{100, 250, 500}
	h := newHarness(t, testConfig(v))
	fog := map[string]any{usage.AttrProduct: "fog"}
	h.consume(
		m{measureLoad, t0.Add(time.Minute), 50, fog},
		// A value equal to a bound falls in the bucket that bound closes.
		m{measureLoad, t0.Add(time.Minute), 100, fog},
		m{measureLoad, t0.Add(time.Minute), 100.5, fog},
		m{measureLoad, t0.Add(time.Minute), 499, fog},
		m{measureLoad, t0.Add(time.Minute), 9000, fog},
	)
	h.flushAt(t0.Add(2 * time.Minute))
	h.consume(m{measureLoad, t0.Add(3 * time.Minute), 300, fog})
	h.flushAt(t0.Add(4 * time.Minute))

	points := h.points()
	require.Len(t, points, 2)
	tags := map[string]string{usage.AttrProduct: "fog"}
	assert.Equal(t, out{
		view: "load", start: t0, end: t0.Add(time.Hour), tags: tags,
		count: 5, sum: 9749.5, min: 50, max: 9000, buckets: []uint64{2, 1, 1, 1},
	}, withoutBatch(points[:1])[0])
	// The second delta's min and max are its own, which is what makes them
	// right to combine downstream.
	assert.Equal(t, out{
		view: "load", start: t0, end: t0.Add(time.Hour), tags: tags,
		count: 1, sum: 300, min: 300, max: 300, buckets: []uint64{0, 0, 1, 0},
	}, withoutBatch(points[1:])[0])

	dp := h.sink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Histogram().DataPoints().At(0)
	assert.Equal(t, []float64{100, 250, 500}, dp.ExplicitBounds().AsRaw())
}

func TestLastValueFollowsEventTime(t *testing.T) {
	h := newHarness(t, testConfig(hourly("last", measureLoad, AggregationLastValue)))
	h.consume(
		m{measureLoad, t0.Add(10 * time.Minute), 1, nil},
		m{measureLoad, t0.Add(30 * time.Minute), 3, nil},
		// Arrives last but happened earlier: not the last value.
		m{measureLoad, t0.Add(20 * time.Minute), 2, nil},
	)
	h.flushAt(t0.Add(31 * time.Minute))
	// Older than what was flushed: must not overwrite it downstream.
	h.consume(m{measureLoad, t0.Add(25 * time.Minute), 4, nil})
	h.flushAt(t0.Add(32 * time.Minute))
	h.consume(m{measureLoad, t0.Add(40 * time.Minute), 5, nil})
	h.flushAt(t0.Add(41 * time.Minute))

	window := out{view: "last", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}}
	first, second := window, window
	first.value, second.value = 3, 5
	assert.Equal(t, []out{first, second}, withoutBatch(h.points()))
}

func TestFlushSendsOnlyTheGain(t *testing.T) {
	h := newHarness(t, testConfig(hourly("views", measureViews, AggregationCount)))
	h.consume(m{measureViews, t0.Add(time.Minute), 1, nil}, m{measureViews, t0.Add(2 * time.Minute), 1, nil})
	h.flushAt(t0.Add(3 * time.Minute))
	h.consume(m{measureViews, t0.Add(4 * time.Minute), 1, nil})
	h.flushAt(t0.Add(5 * time.Minute))
	h.flushAt(t0.Add(6 * time.Minute))

	points := h.points()
	require.Len(t, points, 2, "a flush with nothing gained sends nothing")
	assert.Equal(t, int64(2), points[0].count)
	assert.Equal(t, int64(1), points[1].count)
	assert.Equal(t, points[0].start, points[1].start, "both deltas are for the same, still open, window")
	assert.NotEqual(t, points[0].batch, points[1].batch)
	assert.Len(t, h.sink.AllMetrics(), 2)
}

func TestTagValues(t *testing.T) {
	h := newHarness(t, testConfig(hourly("views", measureViews, AggregationCount, usage.AttrProduct, usage.AttrChannel, "glam.version")))
	h.consume(
		// No channel: the attribute is omitted, not an empty string.
		m{measureViews, t0, 1, map[string]any{usage.AttrProduct: "fog", "glam.version": 128, "other": "ignored"}},
		// An empty channel is a value of its own.
		m{measureViews, t0, 1, map[string]any{usage.AttrProduct: "fog", usage.AttrChannel: "", "glam.version": "128"}},
		// A number and its string form are one tag value.
		m{measureViews, t0, 1, map[string]any{usage.AttrProduct: "fog", "glam.version": "128"}},
	)
	h.flushAt(t0.Add(time.Minute))

	window := out{view: "views", start: t0, end: t0.Add(time.Hour)}
	noChannel, emptyChannel := window, window
	noChannel.tags = map[string]string{usage.AttrProduct: "fog", "glam.version": "128"}
	noChannel.count = 2
	emptyChannel.tags = map[string]string{usage.AttrProduct: "fog", usage.AttrChannel: "", "glam.version": "128"}
	emptyChannel.count = 1
	assert.ElementsMatch(t, []out{noChannel, emptyChannel}, withoutBatch(h.points()))
}

func TestDailyWindowsAlignToUTCMidnight(t *testing.T) {
	v := hourly("daily", measureViews, AggregationCount)
	v.Window.Size = 24 * time.Hour
	h := newHarness(t, testConfig(v))
	berlin := time.FixedZone("CET", 3600)
	// 00:30 in Berlin is still the previous UTC day.
	h.consume(m{measureViews, time.Date(2026, 3, 10, 0, 30, 0, 0, berlin), 1, nil})
	h.flushAt(t0.Add(time.Minute))

	points := h.points()
	require.Len(t, points, 1)
	assert.Equal(t, t0.Add(-24*time.Hour), points[0].start.UTC())
	assert.Equal(t, t0, points[0].end.UTC())
}

func TestMeasurementWithoutTimestampCountsAtArrival(t *testing.T) {
	h := newHarness(t, testConfig(hourly("views", measureViews, AggregationCount)))
	h.clock.set(t0.Add(90 * time.Minute))
	h.consume(m{measureViews, time.Unix(0, 0), 1, nil})
	h.flushAt(t0.Add(91 * time.Minute))

	points := h.points()
	require.Len(t, points, 1)
	assert.Equal(t, t0.Add(time.Hour), points[0].start.UTC())
}
