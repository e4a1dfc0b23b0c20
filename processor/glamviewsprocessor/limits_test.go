package glamviewsprocessor

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadatatest"
)

var ignoreTime = []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}

func viewAttr(name string) attribute.Set { return attribute.NewSet(attribute.String("view", name)) }

// No measurement is too late for a fixed window: one whose window was
// flushed and forgotten makes it again, carrying only what it gains, which
// downstream adds to that window's row (late events from the log: an
// offline client, a queued ping).
func TestLateMeasurementsReachFixedWindows(t *testing.T) {
	daily := hourly("daily", measureViews, AggregationCount)
	daily.Window.Size = 24 * time.Hour
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount), daily))
	h.clock.set(t0.Add(12*time.Hour + 30*time.Minute))
	h.consume(
		// Its hour closed 30 minutes ago, within the allowed hour.
		m{measureViews, t0.Add(11*time.Hour + 10*time.Minute), 1, nil},
		// Its hour closed 90 minutes ago, beyond allowed_lateness.
		m{measureViews, t0.Add(10*time.Hour + 20*time.Minute), 1, nil},
	)
	h.flushAt(t0.Add(12*time.Hour + 31*time.Minute))
	// Three days late, after its windows were forgotten.
	h.consume(m{measureViews, t0.Add(-72*time.Hour + 5*time.Minute), 1, nil})
	h.flushAt(t0.Add(12*time.Hour + 32*time.Minute))

	assert.Equal(t, []out{
		{view: "daily", start: t0.Add(-72 * time.Hour), end: t0.Add(-48 * time.Hour), tags: map[string]string{}, count: 1},
		{view: "daily", start: t0, end: t0.Add(24 * time.Hour), tags: map[string]string{}, count: 2},
		{view: "hourly", start: t0.Add(-72 * time.Hour), end: t0.Add(-71 * time.Hour), tags: map[string]string{}, count: 1},
		{view: "hourly", start: t0.Add(10 * time.Hour), end: t0.Add(11 * time.Hour), tags: map[string]string{}, count: 1},
		{view: "hourly", start: t0.Add(11 * time.Hour), end: t0.Add(12 * time.Hour), tags: map[string]string{}, count: 1},
	}, withoutBatch(h.points()))
	_, err := h.tel.GetMetric("otelcol_processor_glam_views_measurements_late")
	assert.Error(t, err, "nothing is counted late for fixed windows")
	_, err = h.tel.GetMetric("otelcol_processor_glam_views_measurements_unused")
	assert.Error(t, err, "a measurement one view took is not unused")
}

func TestFutureMeasurements(t *testing.T) {
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount)))
	h.clock.set(t0)
	h.consume(
		m{measureViews, t0.Add(59 * time.Minute), 1, nil},
		m{measureViews, t0.Add(61 * time.Minute), 1, nil},
	)
	h.flushAt(t0.Add(time.Minute))

	assert.Equal(t, []out{{view: "hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}, count: 1}}, withoutBatch(h.points()))
	metadatatest.AssertEqualProcessorGlamViewsMeasurementsFuture(t, h.tel,
		[]metricdata.DataPoint[int64]{{Attributes: viewAttr("hourly"), Value: 1}}, ignoreTime...)
}

func TestUnusedAndInvalidMeasurements(t *testing.T) {
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationSum)))
	h.consume(
		m{"glam.nobody_reads_this", t0, 1, nil},
		m{"glam.nobody_reads_this", t0, 1, nil},
		m{measureViews, t0, nan(), nil},
		m{measureViews, t0, 1, nil},
	)
	h.flushAt(t0.Add(time.Minute))

	points := h.points()
	require.Len(t, points, 1)
	assert.InDelta(t, 1.0, points[0].sum, 0)
	metadatatest.AssertEqualProcessorGlamViewsMeasurementsUnused(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, ignoreTime...)
	metadatatest.AssertEqualProcessorGlamViewsMeasurementsInvalid(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, ignoreTime...)
}

func TestOverflowFixedWindow(t *testing.T) {
	v := hourly("hourly", measureViews, AggregationCount, usage.AttrProbeName)
	v.MaxSeries = 2
	h := newHarness(t, testConfig(v))
	h.consume(
		m{measureViews, t0, 1, probe("a")},
		m{measureViews, t0, 1, probe("b")},
		m{measureViews, t0, 1, probe("c")},
		m{measureViews, t0, 1, probe("d")},
		// Known series still take their own measurements.
		m{measureViews, t0, 1, probe("a")},
		m{measureViews, t0, 1, probe("c")},
		// The next window has its own max_series.
		m{measureViews, t0.Add(time.Hour), 1, probe("c")},
	)
	h.flushAt(t0.Add(61 * time.Minute))

	first, second := t0, t0.Add(time.Hour)
	assert.Equal(t, []out{
		{view: "hourly", start: first, end: second, tags: map[string]string{usage.AttrProbeName: "a"}, count: 2},
		{view: "hourly", start: first, end: second, tags: map[string]string{usage.AttrProbeName: "b"}, count: 1},
		{view: "hourly", start: first, end: second, tags: map[string]string{attrOverflow: "true"}, count: 3},
		{view: "hourly", start: second, end: second.Add(time.Hour), tags: map[string]string{usage.AttrProbeName: "c"}, count: 1},
	}, withoutBatch(h.points()))
	metadatatest.AssertEqualProcessorGlamViewsMeasurementsOverflowed(t, h.tel,
		[]metricdata.DataPoint[int64]{{Attributes: viewAttr("hourly"), Value: 3}}, ignoreTime...)

	overflow := h.sink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints().At(2)
	flag, ok := overflow.Attributes().Get(attrOverflow)
	require.True(t, ok)
	assert.True(t, flag.Bool(), "the overflow marker is a boolean, as in the OpenTelemetry SDKs")
}

func TestOverflowSessionView(t *testing.T) {
	v := sessionView("sessions", usage.MeasureEvents, AggregationCount)
	v.MaxSeries = 1
	h := newHarness(t, testConfig(v))
	h.consume(
		m{usage.MeasureEvents, t0, 1, session("a")},
		m{usage.MeasureEvents, t0.Add(time.Minute), 1, session("b")},
		m{usage.MeasureEvents, t0.Add(2 * time.Minute), 1, session("c")},
		m{usage.MeasureEvents, t0.Add(3 * time.Minute), 1, session("a")},
	)
	h.flushAt(t0.Add(4 * time.Minute))

	assert.Equal(t, []out{
		{view: "sessions", start: t0, end: t0.Add(3 * time.Minute), tags: map[string]string{usage.AttrSessionID: "a"}, count: 2},
		{view: "sessions", start: t0.Add(time.Minute), end: t0.Add(2 * time.Minute), tags: map[string]string{attrOverflow: "true"}, count: 2},
	}, withoutBatch(h.points()))
	metadatatest.AssertEqualProcessorGlamViewsMeasurementsOverflowed(t, h.tel,
		[]metricdata.DataPoint[int64]{{Attributes: viewAttr("sessions"), Value: 2}}, ignoreTime...)
}

// Memory holds only live windows: once a window is past allowed_lateness
// and flushed, its series are gone.
func TestClosedWindowsAreForgotten(t *testing.T) {
	v := hourly("hourly", measureViews, AggregationCount, usage.AttrProbeName)
	v.MaxSeries = 2
	h := newHarness(t, testConfig(v))
	h.consume(m{measureViews, t0, 1, probe("a")}, m{measureViews, t0, 1, probe("b")}, m{measureViews, t0, 1, probe("c")})
	h.flushAt(t0.Add(time.Minute))
	metadatatest.AssertEqualProcessorGlamViewsSeries(t, h.tel,
		[]metricdata.DataPoint[int64]{{Attributes: viewAttr("hourly"), Value: 3}}, ignoreTime...)

	h.flushAt(t0.Add(2 * time.Hour))
	assert.Equal(t, 3, h.vp.config.views[0].seriesCount(), "an hour after closing, the window is still reachable")
	h.flushAt(t0.Add(2*time.Hour + time.Nanosecond))
	metadatatest.AssertEqualProcessorGlamViewsSeries(t, h.tel,
		[]metricdata.DataPoint[int64]{{Attributes: viewAttr("hourly"), Value: 0}}, ignoreTime...)
	assert.Empty(t, h.vp.config.views[0].fixed.byStart)
}

func nan() float64 { return math.NaN() }
