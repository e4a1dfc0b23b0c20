package glamviewsprocessor

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadatatest"
)

func sessionView(name, measure string, agg Aggregation, tagKeys ...string) ViewConfig {
	return ViewConfig{
		Name: name, Measure: measure, Aggregation: agg, TagKeys: tagKeys,
		Window: WindowConfig{SessionGap: 30 * time.Minute, MaxDuration: 2 * time.Hour},
	}
}

func session(id string, tags ...string) map[string]any {
	res := map[string]any{usage.AttrSessionID: id}
	for i := 0; i+1 < len(tags); i += 2 {
		res[tags[i]] = tags[i+1]
	}
	return res
}

func TestSessionWindowsSplitOnGap(t *testing.T) {
	// Ids as Glean.js makes them (UUIDs, kept in 16 bytes) and any other
	// (kept as strings); a UUID in capitals is another session.
	uuidA := "8f3c2a1e-5b7d-4e9f-a0c1-00000000000a"
	for _, ids := range [][2]string{{"a", "b"}, {uuidA, "8f3c2a1e-5b7d-4e9f-a0c1-00000000000b"}, {uuidA, strings.ToUpper(uuidA)}} {
		a, b := ids[0], ids[1]
		h := newHarness(t, testConfig(sessionView("sessions", usage.MeasureEvents, AggregationCount)))
		h.consumeLive(
			m{usage.MeasureEvents, t0, 1, session(a)},
			m{usage.MeasureEvents, t0.Add(10 * time.Minute), 1, session(a)},
			// 25 minutes after the previous event: the same session.
			m{usage.MeasureEvents, t0.Add(35 * time.Minute), 1, session(a)},
			// 35 minutes of silence: a new session, though the id is the same.
			m{usage.MeasureEvents, t0.Add(70 * time.Minute), 1, session(a)},
			m{usage.MeasureEvents, t0.Add(5 * time.Minute), 1, session(b)},
		)
		h.flushAt(t0.Add(71 * time.Minute))

		assert.Equal(t, []out{
			{view: "sessions", start: t0, end: t0.Add(35 * time.Minute), tags: map[string]string{usage.AttrSessionID: a}, count: 3},
			{view: "sessions", start: t0.Add(5 * time.Minute), end: t0.Add(5 * time.Minute), tags: map[string]string{usage.AttrSessionID: b}, count: 1},
			{view: "sessions", start: t0.Add(70 * time.Minute), end: t0.Add(70 * time.Minute), tags: map[string]string{usage.AttrSessionID: a}, count: 1},
		}, withoutBatch(h.points()), "session ids %q, %q", a, b)
	}
}

func TestSessionWindowsSplitOnMaxDuration(t *testing.T) {
	h := newHarness(t, testConfig(sessionView("sessions", usage.MeasureEvents, AggregationCount)))
	var ms []m
	// An event every 20 minutes for 3 hours: never idle, but a session
	// lasts at most 2 hours.
	for i := 0; i <= 9; i++ {
		ms = append(ms, m{usage.MeasureEvents, t0.Add(time.Duration(i) * 20 * time.Minute), 1, session("a")})
	}
	h.consumeLive(ms...)
	h.flushAt(t0.Add(3 * time.Hour))

	tags := map[string]string{usage.AttrSessionID: "a"}
	assert.Equal(t, []out{
		{view: "sessions", start: t0, end: t0.Add(2 * time.Hour), tags: tags, count: 7},
		{view: "sessions", start: t0.Add(140 * time.Minute), end: t0.Add(3 * time.Hour), tags: tags, count: 3},
	}, withoutBatch(h.points()))
}

// A growing session keeps its start and moves its end, so downstream rows
// keyed by (view, start, tags) grow instead of multiplying.
func TestSessionGrowsAcrossFlushes(t *testing.T) {
	v := sessionView("probes", usage.MeasureProbeViews, AggregationCount, usage.AttrProbeName)
	h := newHarness(t, testConfig(v))
	h.consume(
		m{usage.MeasureProbeViews, t0.Add(10 * time.Minute), 1, session("a", usage.AttrProbeName, "gc_ms")},
		// Earlier, but it arrives before the first flush: the start moves.
		m{usage.MeasureProbeViews, t0.Add(5 * time.Minute), 1, session("a", usage.AttrProbeName, "gc_ms")},
	)
	h.flushAt(t0.Add(11 * time.Minute))
	h.consume(
		m{usage.MeasureProbeViews, t0.Add(20 * time.Minute), 1, session("a", usage.AttrProbeName, "cc_ms")},
		// Earlier again, after the start was flushed: counted in the
		// session, whose start stays put.
		m{usage.MeasureProbeViews, t0.Add(2 * time.Minute), 1, session("a", usage.AttrProbeName, "gc_ms")},
	)
	h.flushAt(t0.Add(21 * time.Minute))

	start := t0.Add(5 * time.Minute)
	gc := map[string]string{usage.AttrSessionID: "a", usage.AttrProbeName: "gc_ms"}
	cc := map[string]string{usage.AttrSessionID: "a", usage.AttrProbeName: "cc_ms"}
	points := h.points()
	require.Len(t, points, 3)
	assert.Equal(t, []out{{view: "probes", start: start, end: t0.Add(10 * time.Minute), tags: gc, count: 2}}, withoutBatch(points[:1]))
	assert.ElementsMatch(t, []out{
		{view: "probes", start: start, end: t0.Add(20 * time.Minute), tags: cc, count: 1},
		{view: "probes", start: start, end: t0.Add(20 * time.Minute), tags: gc, count: 1},
	}, withoutBatch(points[1:]))
}

func TestSessionViewAggregations(t *testing.T) {
	dist := sessionView("dist", measureLoad, AggregationDistribution)
	dist.Buckets = []float64{10, 100}
	h := newHarness(t, testConfig(
		sessionView("sum", measureLoad, AggregationSum),
		sessionView("last", measureLoad, AggregationLastValue),
		dist,
	))
	h.consume(
		m{measureLoad, t0.Add(time.Minute), 5, session("a")},
		m{measureLoad, t0.Add(3 * time.Minute), 500, session("a")},
		m{measureLoad, t0.Add(2 * time.Minute), 50, session("a")},
	)
	h.flushAt(t0.Add(4 * time.Minute))

	tags := map[string]string{usage.AttrSessionID: "a"}
	start, end := t0.Add(time.Minute), t0.Add(3*time.Minute)
	assert.Equal(t, []out{
		{view: "dist", start: start, end: end, tags: tags, count: 3, sum: 555, min: 5, max: 500, buckets: []uint64{1, 1, 1}},
		{view: "last", start: start, end: end, tags: tags, value: 500},
		{view: "sum", start: start, end: end, tags: tags, sum: 555},
	}, withoutBatch(h.points()))
}

func TestSessionViewIgnoresMeasurementsWithoutSession(t *testing.T) {
	h := newHarness(t, testConfig(sessionView("sessions", usage.MeasureEvents, AggregationCount)))
	h.consume(
		m{usage.MeasureEvents, t0, 1, nil},
		m{usage.MeasureEvents, t0, 1, map[string]any{usage.AttrSessionID: ""}},
		m{usage.MeasureEvents, t0, 1, session("a")},
	)
	h.flushAt(t0.Add(time.Minute))

	points := h.points()
	require.Len(t, points, 1)
	assert.Equal(t, int64(1), points[0].count)
	metadatatest.AssertEqualProcessorGlamViewsMeasurementsUnused(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, ignoreTime...)
}

// Sessions are kept until session_gap + allowed_lateness after they close,
// and as long after they last took a measurement (a session sent late stays
// one window); an event for a forgotten session opens a window of its own
// and is counted late.
func TestSessionLatenessAndEviction(t *testing.T) {
	h := newHarness(t, testConfig(sessionView("sessions", usage.MeasureEvents, AggregationCount)))
	h.consume(m{usage.MeasureEvents, t0, 1, session("a")})
	h.flushAt(t0.Add(time.Minute))
	// Closed at 00:30, still reachable until 00:30 + 30m + 1h.
	h.flushAt(t0.Add(2 * time.Hour))
	assert.Equal(t, 1, h.vp.config.views[0].seriesCount())
	h.clock.set(t0.Add(2 * time.Hour))
	h.consume(m{usage.MeasureEvents, t0.Add(20 * time.Minute), 1, session("a")})
	h.flushAt(t0.Add(2*time.Hour + time.Second))
	h.flushAt(t0.Add(2*time.Hour + 20*time.Minute + time.Second))
	assert.Equal(t, 1, h.vp.config.views[0].seriesCount(), "kept 30m + 1h after it last took a measurement, at 02:00")
	h.flushAt(t0.Add(3*time.Hour + 30*time.Minute + time.Second))
	assert.Equal(t, 0, h.vp.config.views[0].seriesCount(), "the session is forgotten")
	h.consume(m{usage.MeasureEvents, t0.Add(30 * time.Minute), 1, session("a")})
	h.flushAt(t0.Add(3*time.Hour + 40*time.Minute))

	tags := map[string]string{usage.AttrSessionID: "a"}
	assert.Equal(t, []out{
		{view: "sessions", start: t0, end: t0, tags: tags, count: 1},
		{view: "sessions", start: t0, end: t0.Add(20 * time.Minute), tags: tags, count: 1},
		{view: "sessions", start: t0.Add(30 * time.Minute), end: t0.Add(30 * time.Minute), tags: tags, count: 1},
	}, withoutBatch(h.points()), "the late event opens a window of its own: counted, not left out")
	metadatatest.AssertEqualProcessorGlamViewsMeasurementsLate(t, h.tel,
		[]metricdata.DataPoint[int64]{{Attributes: viewAttr("sessions"), Value: 1}}, ignoreTime...)
}
