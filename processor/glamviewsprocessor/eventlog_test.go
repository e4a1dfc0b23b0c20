package glamviewsprocessor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

func pos(seq int64) usage.LogPosition { return usage.LogPosition{XID: 100, Seq: seq} }

// logPayload is what the event-log consumer sends: measurements covering
// (from, to] of the log, each received at its event time plus a second.
func logPayload(t *testing.T, from, to usage.LogPosition, rewound bool, ms ...m) pmetric.Metrics {
	t.Helper()
	md := pmetric.NewMetrics()
	w := usage.NewMeasurementWriter(md)
	for _, x := range ms {
		tags := pcommon.NewMap()
		require.NoError(t, tags.FromRaw(x.tags))
		w.Record(usage.Measure{Name: x.measure}, x.at, x.value, tags)
	}
	setObserved(md, time.Second)
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	res.PutStr(usage.AttrLogConsumer, "views")
	res.PutStr(usage.AttrLogFrom, from.String())
	res.PutStr(usage.AttrLogTo, to.String())
	if rewound {
		res.PutBool(usage.AttrLogRewound, true)
	}
	return md
}

// setObserved sets every measurement's receive time (its start timestamp)
// to its event time plus after.
func setObserved(md pmetric.Metrics, after time.Duration) {
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		dps := ms.At(i).Gauge().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			dp.SetStartTimestamp(dp.Timestamp() + pcommon.Timestamp(after))
		}
	}
}

// logRangeOf reads the log range a flushed batch carries.
func logRangeOf(t *testing.T, md pmetric.Metrics) string {
	t.Helper()
	attrs := md.ResourceMetrics().At(0).Resource().Attributes()
	c, _ := attrs.Get(usage.AttrLogConsumer)
	from, _ := attrs.Get(usage.AttrLogFrom)
	to, _ := attrs.Get(usage.AttrLogTo)
	return fmt.Sprintf("%s %s..%s", c.AsString(), from.AsString(), to.AsString())
}

func (h *harness) consumeLog(md pmetric.Metrics) error {
	return h.proc.ConsumeMetrics(context.Background(), md)
}

// Batches are cut along the log: each starts where the previous ended,
// whatever the flushes in between, so the exporter can merge each with the
// consumer's offset.
func TestBatchesCarryTheLogRangeTheyCover(t *testing.T) {
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount)))
	at := t0.Add(10 * time.Minute)
	h.clock.set(at)
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(3), true, m{measureViews, at, 1, nil}, m{measureViews, at, 1, nil})))
	require.NoError(t, h.consumeLog(logPayload(t, pos(3), pos(5), false, m{measureViews, at, 1, nil})))
	h.flushAt(at.Add(time.Second))
	require.NoError(t, h.consumeLog(logPayload(t, pos(5), pos(9), false, m{measureViews, at, 1, nil})))
	h.flushAt(at.Add(2 * time.Second))
	h.flushAt(at.Add(3 * time.Second))

	batches := h.sink.AllMetrics()
	require.Len(t, batches, 2, "an idle flush sends nothing")
	assert.Equal(t, "views 100/0..100/5", logRangeOf(t, batches[0]))
	assert.Equal(t, "views 100/5..100/9", logRangeOf(t, batches[1]))
	assert.Equal(t, []out{{view: "hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}, count: 3}}, withoutBatch(parse(t, batches[0])))
	assert.Equal(t, []out{{view: "hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}, count: 1}}, withoutBatch(parse(t, batches[1])))
}

// Events no view uses still move the offset: a batch without points.
func TestBatchWithoutPointsMovesTheOffset(t *testing.T) {
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount)))
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(4), true, m{"unused.measure", t0, 1, nil})))
	h.flushAt(t0.Add(time.Second))
	batches := h.sink.AllMetrics()
	require.Len(t, batches, 1)
	assert.Equal(t, "views 100/0..100/4", logRangeOf(t, batches[0]))
	assert.Zero(t, batches[0].DataPointCount())
}

// Measurements that do not continue the log where the views stand are
// refused whole (the consumer then reads again from its offset); a rewound
// payload restarts the views at its start.
func TestMeasurementsMustContinueTheLog(t *testing.T) {
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount)))
	h.clock.set(t0.Add(time.Minute))
	err := h.consumeLog(logPayload(t, pos(0), pos(2), false, m{measureViews, t0, 1, nil}))
	require.ErrorIs(t, err, errRewind, "before a consumer said where it starts")
	assert.False(t, consumererror.IsPermanent(err), "the consumer retries after reading again")

	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{measureViews, t0, 1, nil})))
	require.ErrorIs(t, h.consumeLog(logPayload(t, pos(1), pos(3), false, m{measureViews, t0, 1, nil})), errRewind, "a gap or an overlap")
	// The consumer reads again from its offset (still 0: nothing merged).
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(3), true, m{measureViews, t0, 1, nil}, m{measureViews, t0, 1, nil})))
	h.flushAt(t0.Add(2 * time.Minute))

	batches := h.sink.AllMetrics()
	require.Len(t, batches, 1)
	assert.Equal(t, "views 100/0..100/3", logRangeOf(t, batches[0]))
	assert.Equal(t, []out{{view: "hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}, count: 2}}, withoutBatch(parse(t, batches[0])),
		"what was recorded before the rewind is read again, not counted twice")
}

// A batch the exporter refuses as not starting at the offset (another
// consumer moved it) is not lost and not retried: the views drop what they
// hold and wait for the consumer to read again from the offset.
func TestConflictResetsTheViews(t *testing.T) {
	conflict := consumererror.NewPermanent(fmt.Errorf("offset is 100/7: %w", usage.ErrLogPositionConflict))
	h, rc := newRefusing(t, testConfig(hourly("hourly", measureViews, AggregationCount)), conflict)
	h.clock.set(t0.Add(time.Minute))
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{measureViews, t0, 1, nil})))
	h.flushAt(t0.Add(2 * time.Minute))
	require.Len(t, rc.attempts, 1)
	assert.Empty(t, h.sink.AllMetrics())

	err := h.consumeLog(logPayload(t, pos(2), pos(4), false, m{measureViews, t0, 1, nil}))
	require.ErrorIs(t, err, errRewind, "the views wait for the consumer to read again")
	h.flushAt(t0.Add(3 * time.Minute))
	assert.Len(t, rc.attempts, 1, "nothing is sent while waiting: the refused batch is not retried")

	require.NoError(t, h.consumeLog(logPayload(t, pos(7), pos(9), true, m{measureViews, t0, 1, nil})))
	h.flushAt(t0.Add(4 * time.Minute))
	batches := h.sink.AllMetrics()
	require.Len(t, batches, 1)
	assert.Equal(t, "views 100/7..100/9", logRangeOf(t, batches[0]))
	assert.Equal(t, int64(1), parse(t, batches[0])[0].count)
	_, err = h.tel.GetMetric("otelcol_processor_glam_views_points_lost")
	assert.Error(t, err, "a conflict loses nothing")
}

// Measurements fed while a batch is on its way are dropped with the views
// when that batch is refused as not at the offset. No batch may then claim
// their log range without them: it would move the offset past events no
// view counted (found by TestPropertyViewsEqualRawGroupBy).
func TestNoBatchClaimsWhatAConflictDropped(t *testing.T) {
	conflict := consumererror.NewPermanent(fmt.Errorf("offset is 100/2: %w", usage.ErrLogPositionConflict))
	h, rc := newRefusing(t, testConfig(hourly("hourly", measureViews, AggregationCount)), conflict)
	h.clock.set(t0.Add(time.Minute))
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{measureViews, t0, 1, nil})))
	rc.during = func() {
		require.NoError(t, h.consumeLog(logPayload(t, pos(2), pos(4), false, m{measureViews, t0, 1, nil})))
	}
	h.flushAt(t0.Add(2 * time.Minute))
	require.Len(t, rc.attempts, 1)

	h.flushAt(t0.Add(3 * time.Minute))
	assert.Len(t, rc.attempts, 1, "nothing is sent for 100/2..100/4: its measurement went with the reset")
	assert.Empty(t, h.sink.AllMetrics())

	require.NoError(t, h.consumeLog(logPayload(t, pos(2), pos(4), true, m{measureViews, t0, 1, nil})))
	h.flushAt(t0.Add(4 * time.Minute))
	batches := h.sink.AllMetrics()
	require.Len(t, batches, 1)
	assert.Equal(t, "views 100/2..100/4", logRangeOf(t, batches[0]))
	assert.Equal(t, int64(1), parse(t, batches[0])[0].count)
}

// A retryable refusal keeps the batch; the next one starts where it ends.
func TestRefusedLogBatchKeepsTheChain(t *testing.T) {
	h, rc := newRefusing(t, testConfig(hourly("hourly", measureViews, AggregationCount)), errQueueFull)
	h.clock.set(t0.Add(time.Minute))
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{measureViews, t0, 1, nil})))
	h.clock.set(t0.Add(2 * time.Minute))
	require.ErrorIs(t, h.vp.flush(context.Background()), errQueueFull)
	require.NoError(t, h.consumeLog(logPayload(t, pos(2), pos(6), false, m{measureViews, t0, 1, nil})))
	h.flushAt(t0.Add(3 * time.Minute))
	require.Len(t, rc.attempts, 3, "the refused batch, again, then the next")
	batches := h.sink.AllMetrics()
	require.Len(t, batches, 2)
	assert.Equal(t, "views 100/0..100/2", logRangeOf(t, batches[0]))
	assert.Equal(t, "views 100/2..100/6", logRangeOf(t, batches[1]))
}

// Session context: the session rows already merged come back as windows,
// so a session's next events (after a restart, a hand-over) extend its row
// instead of opening another one.
func TestSessionContextKeepsASessionOneRow(t *testing.T) {
	h := newHarness(t, testConfig(sessionView("sessions", usage.MeasureEvents, AggregationCount),
		sessionView("session_probes", measureViews, AggregationCount, usage.AttrProbeName)))
	start, end := t0.Add(10*time.Minute), t0.Add(20*time.Minute)
	md := logPayload(t, pos(5), pos(5), true)
	sm := md.ResourceMetrics().At(0).ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(usage.SessionContextScope)
	for _, row := range []struct {
		view string
		tags map[string]any
	}{
		{"sessions", map[string]any{usage.AttrSessionID: "s1"}},
		{"session_probes", map[string]any{usage.AttrSessionID: "s1", usage.AttrProbeName: "gc_ms"}},
	} {
		g := sm.Metrics().AppendEmpty()
		g.SetName(row.view)
		dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
		dp.SetTimestamp(pcommon.NewTimestampFromTime(end))
		require.NoError(t, dp.Attributes().FromRaw(row.tags))
	}
	h.clock.set(end.Add(time.Hour))
	require.NoError(t, h.consumeLog(md))
	next := end.Add(15 * time.Minute)
	require.NoError(t, h.consumeLog(logPayload(t, pos(5), pos(7), false,
		m{usage.MeasureEvents, next, 1, map[string]any{usage.AttrSessionID: "s1"}},
		m{measureViews, next, 1, map[string]any{usage.AttrSessionID: "s1", usage.AttrProbeName: "gc_ms"}},
		m{measureViews, next, 1, map[string]any{usage.AttrSessionID: "s1", usage.AttrProbeName: "a11y"}},
	)))
	h.flushAt(end.Add(time.Hour))

	assert.Equal(t, []out{
		{view: "session_probes", start: start, end: next, tags: map[string]string{usage.AttrSessionID: "s1", usage.AttrProbeName: "a11y"}, count: 1},
		{view: "session_probes", start: start, end: next, tags: map[string]string{usage.AttrSessionID: "s1", usage.AttrProbeName: "gc_ms"}, count: 1},
		{view: "sessions", start: start, end: next, tags: map[string]string{usage.AttrSessionID: "s1"}, count: 1},
	}, withoutBatch(h.points()), "the restored rows' start, extended to the new event; read an hour later (its receive time, not the clock, says it is on time)")
}

// Read from the log, a session event is on time or late by when it was
// received: a backlog read hours later (after an outage) is counted.
func TestBacklogIsJudgedByReceiveTime(t *testing.T) {
	h := newHarness(t, testConfig(sessionView("sessions", usage.MeasureEvents, AggregationCount)))
	h.clock.set(t0.Add(5 * time.Hour))
	s1 := map[string]any{usage.AttrSessionID: "s1"}
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{usage.MeasureEvents, t0, 1, s1}, m{usage.MeasureEvents, t0.Add(20 * time.Minute), 1, s1})))
	h.flushAt(t0.Add(5 * time.Hour))
	require.NoError(t, h.consumeLog(logPayload(t, pos(2), pos(3), false, m{usage.MeasureEvents, t0.Add(40 * time.Minute), 1, s1})))
	h.flushAt(t0.Add(5*time.Hour + time.Second))
	assert.Equal(t, []out{
		{view: "sessions", start: t0, end: t0.Add(20 * time.Minute), tags: map[string]string{usage.AttrSessionID: "s1"}, count: 2},
		{view: "sessions", start: t0, end: t0.Add(40 * time.Minute), tags: map[string]string{usage.AttrSessionID: "s1"}, count: 1},
	}, withoutBatch(h.points()), "one session across the two flushes of the backlog")
}

// runtimePayload is logPayload for the consumer of a runtime view, its
// definition on the rewound payload.
func runtimePayload(t *testing.T, consumer, def string, from, to usage.LogPosition, rewound bool, ms ...m) pmetric.Metrics {
	md := logPayload(t, from, to, rewound, ms...)
	res := md.ResourceMetrics().At(0).Resource().Attributes()
	res.PutStr(usage.AttrLogConsumer, consumer)
	if rewound {
		res.PutStr(usage.AttrLogView, def)
	}
	return md
}

// A runtime view's consumer feeds that view alone, with its own place in
// the log and its own batches; the config's views do not see its
// measurements, and a retirement forgets it.
func TestRuntimeViewsAreSetsOfTheirOwn(t *testing.T) {
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount)))
	at := t0.Add(10 * time.Minute)
	h.clock.set(at)
	def := `{"name":"rt","measure":"` + measureViews + `","aggregation":"sum","window":{"size":"24h"}}`
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{measureViews, at, 1, nil})))
	require.NoError(t, h.consumeLog(runtimePayload(t, "view:rt:1", def, pos(0), pos(3), true, m{measureViews, at, 5, nil}, m{measureViews, at, 2, nil})))
	// Each consumer continues where it stands, not where the other does.
	require.ErrorIs(t, h.consumeLog(runtimePayload(t, "view:rt:1", def, pos(2), pos(4), false, m{measureViews, at, 1, nil})), errRewind)
	require.NoError(t, h.consumeLog(logPayload(t, pos(2), pos(4), false, m{measureViews, at, 1, nil})))
	h.flushAt(at.Add(time.Second))

	batches := h.sink.AllMetrics()
	require.Len(t, batches, 2)
	assert.Equal(t, "views 100/0..100/4", logRangeOf(t, batches[0]))
	assert.Equal(t, []out{{view: "hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}, count: 2}}, withoutBatch(parse(t, batches[0])))
	assert.Equal(t, "view:rt:1 100/0..100/3", logRangeOf(t, batches[1]))
	assert.Equal(t, []out{{view: "rt", start: t0, end: t0.Add(24 * time.Hour), tags: map[string]string{}, sum: 7}}, withoutBatch(parse(t, batches[1])))

	// Retired, the view is forgotten: its consumer's next payload must
	// start again with a definition.
	retire := pmetric.NewMetrics()
	res := retire.ResourceMetrics().AppendEmpty().Resource().Attributes()
	res.PutStr(usage.AttrLogConsumer, "view:rt:1")
	res.PutBool(usage.AttrLogRetired, true)
	require.NoError(t, h.consumeLog(retire))
	require.ErrorIs(t, h.consumeLog(runtimePayload(t, "view:rt:1", def, pos(3), pos(5), false, m{measureViews, at, 1, nil})), errRewind)

	// A definition that is not a valid view is refused for good.
	bad := runtimePayload(t, "view:bad:1", `{"name":"bad","measure":"m","aggregation":"median","window":{"size":"1h"}}`, pos(0), pos(1), true)
	err := h.consumeLog(bad)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.Contains(t, err.Error(), "median")
}

// A runtime view's max_series bounds it as a config view's does.
func TestRuntimeViewsKeepTheirSeriesLimit(t *testing.T) {
	h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount)))
	at := t0.Add(10 * time.Minute)
	h.clock.set(at)
	def := `{"name":"rt","measure":"` + measureViews + `","aggregation":"count","tag_keys":["` + usage.AttrProbeName + `"],"window":{"size":"1h"},"max_series":1}`
	require.NoError(t, h.consumeLog(runtimePayload(t, "view:rt:1", def, pos(0), pos(3), true,
		m{measureViews, at, 1, probe("a")}, m{measureViews, at, 1, probe("b")}, m{measureViews, at, 1, probe("c")})))
	h.flushAt(at.Add(time.Second))
	batches := h.sink.AllMetrics()
	require.Len(t, batches, 1)
	assert.Equal(t, []out{
		{view: "rt", start: t0, end: t0.Add(time.Hour), tags: map[string]string{usage.AttrProbeName: "a"}, count: 1},
		{view: "rt", start: t0, end: t0.Add(time.Hour), tags: map[string]string{attrOverflow: "true"}, count: 2},
	}, withoutBatch(parse(t, batches[0])))
}

// waitingConsumer holds every batch until its context ends, as an exporter
// retrying while PostgreSQL is down does.
type waitingConsumer struct{ consumertest.MetricsSink }

func (w *waitingConsumer) ConsumeMetrics(ctx context.Context, _ pmetric.Metrics) error {
	<-ctx.Done()
	return ctx.Err()
}

// At shutdown a batch of the event log is not waited for without end: its
// events are read again from the offset at the next start, so nothing is
// lost when the collector stops while PostgreSQL is down.
func TestShutdownDoesNotWaitForeverOnALogBatch(t *testing.T) {
	wc := &waitingConsumer{}
	h := newHarnessTo(t, testConfig(hourly("hourly", measureViews, AggregationCount)), &wc.MetricsSink, wc)
	h.vp.finalLogWait = 50 * time.Millisecond
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{measureViews, t0, 1, nil})))
	shutdownLosingNothing(t, h)
}

// shutdownLosingNothing stops h's processor within 10 s, none of its points
// counted as lost.
func shutdownLosingNothing(t *testing.T, h *harness) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.proc.Shutdown(context.Background()) }()
	select {
	case err := <-done:
		require.NoError(t, err, "nothing is lost")
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown still waits")
	}
	_, err := h.tel.GetMetric("otelcol_processor_glam_views_points_lost")
	assert.Error(t, err, "no point counted as lost")
}

// Nor is a flush of the flush loop that the next consumer holds (the
// exporter retrying a merge that times out, seen in the shared bench on a
// slow machine): shutdown cancels it and the batch goes to the final
// flush, which gives up on it after finalLogWait, losing nothing.
func TestShutdownDoesNotWaitForeverOnTheFlushLoop(t *testing.T) {
	wc := &waitingConsumer{}
	h := newHarnessTo(t, testConfig(hourly("hourly", measureViews, AggregationCount)), &wc.MetricsSink, wc)
	h.vp.finalLogWait = 50 * time.Millisecond
	require.NoError(t, h.proc.Start(context.Background(), componenttest.NewNopHost()))
	require.NoError(t, h.consumeLog(logPayload(t, pos(0), pos(2), true, m{measureViews, t0, 1, nil})))
	h.clock.tick <- t0 // the loop takes the batch and waits on the consumer
	shutdownLosingNothing(t, h)
}

// Measurements of the log that lack one end of their range are refused
// with what is wrong, not read as an empty position (that panicked).
func TestLogRangeWithoutAnEndRefused(t *testing.T) {
	for _, key := range []string{usage.AttrLogFrom, usage.AttrLogTo} {
		h := newHarness(t, testConfig(hourly("hourly", measureViews, AggregationCount)))
		at := t0.Add(10 * time.Minute)
		h.clock.set(at)
		md := logPayload(t, pos(0), pos(1), true, m{measureViews, at, 1, nil})
		md.ResourceMetrics().At(0).Resource().Attributes().Remove(key)
		err := h.consumeLog(md)
		require.Error(t, err, key)
		assert.Contains(t, err.Error(), `log position "" is not xid/seq`, key)
	}
}
