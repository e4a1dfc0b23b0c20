package glampostgresexporter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// fromLog marks every resource of the batch as covering the event log
// from..to for consumer, as the glam_views processor does with the
// measurements a log consumer sent it.
func (b *viewBatchBuilder) fromLog(consumer string, from, to usage.LogPosition) *viewBatchBuilder {
	for i := 0; i < b.md.ResourceMetrics().Len(); i++ {
		putLogRange(b.md.ResourceMetrics().At(i), consumer, from, to)
	}
	return b
}

func putLogRange(rm pmetric.ResourceMetrics, consumer string, from, to usage.LogPosition) {
	a := rm.Resource().Attributes()
	a.PutStr(usage.AttrLogConsumer, consumer)
	a.PutStr(usage.AttrLogFrom, from.String())
	a.PutStr(usage.AttrLogTo, to.String())
}

func pos(xid uint64, seq int64) usage.LogPosition { return usage.LogPosition{XID: xid, Seq: seq} }

// offset is the consumer's stored log offset, and whether it has one.
func offset(t testing.TB, db poolT, consumer string) (usage.LogPosition, bool) {
	t.Helper()
	var p usage.LogPosition
	err := db.QueryRow(context.Background(), "SELECT log_xid, log_seq FROM "+pgschema.LogOffsetsTable+" WHERE consumer = $1",
		consumer).Scan(&p.XID, &p.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, false
	}
	require.NoError(t, err)
	return p, true
}

func listen(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	_, err = conn.Exec(context.Background(), "LISTEN "+pgx.Identifier{pgschema.EventsChannel}.Sanitize())
	require.NoError(t, err)
	return conn
}

// notified waits up to d for a notification on conn.
func notified(t *testing.T, conn *pgx.Conn, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	n, err := conn.WaitForNotification(ctx)
	if err != nil {
		require.ErrorIs(t, err, context.DeadlineExceeded)
		return false
	}
	assert.Equal(t, pgschema.EventsChannel, n.Channel)
	assert.Empty(t, n.Payload)
	return true
}

func TestStoringNewEventsNotifiesLogConsumers(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), fixedNow)
	conn := listen(t, dsn)
	ctx := context.Background()

	ld, records := newLogs()
	probeView(records, "ev-1", "s", "gc_ms", fixedNow())
	probeView(records, "ev-2", "s", "gc_ms", fixedNow())
	require.NoError(t, e.logs.ConsumeLogs(ctx, ld))
	require.True(t, notified(t, conn, 5*time.Second), "no notification after new events were stored")
	// Delivered at commit: what woke the consumer is there to read, each
	// event with its place in the log, one transaction's id for the batch.
	assert.Equal(t, 2, count(t, db, "SELECT count(*) FROM glam_usage_events"))
	assert.Equal(t, 1, count(t, db, "SELECT count(DISTINCT log_xid) FROM glam_usage_events"))
	assert.Equal(t, 2, count(t, db, "SELECT count(DISTINCT log_seq) FROM glam_usage_events"))
	// One per transaction, however many events it stored.
	assert.False(t, notified(t, conn, 300*time.Millisecond), "a second notification for one transaction")

	// Only duplicates: nothing new to read, no notification.
	require.NoError(t, e.logs.ConsumeLogs(ctx, ld))
	assert.False(t, notified(t, conn, 500*time.Millisecond), "a notification for a batch of only duplicates")

	// One new event among duplicates wakes the consumers once.
	probeView(records, "ev-3", "s", "gc_ms", fixedNow())
	require.NoError(t, e.logs.ConsumeLogs(ctx, ld))
	assert.True(t, notified(t, conn, 5*time.Second), "no notification after a new event among duplicates")
	assert.False(t, notified(t, conn, 300*time.Millisecond))
	assert.Equal(t, 3, count(t, db, "SELECT count(*) FROM glam_usage_events"))
}

func TestLogBatchMovesItsConsumersOffsetWithTheRows(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	// Past 2^63: xid8 is unsigned, and pgx carries it as uint64.
	const xid = 1<<63 + 41
	first := newViewMetrics("flush-1").
		count("probe_views_hourly", hour0, hour1, fogGC, 3).
		histogram("session_length", hour0, hour1, nil, bounds, []uint64{1, 1, 0}, 4, 0.5, 3.5).
		fromLog("views", usage.LogPosition{}, pos(xid, 7))

	require.NoError(t, e.metrics.ConsumeMetrics(ctx, first.md))
	want := []viewRow{
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsGC, Type: "sum", Count: 3, Sum: 3},
		{View: "session_length", Start: hour0, End: hour1, Tags: `{}`, Type: "histogram",
			Count: 2, Sum: 4, Bounds: bounds, Buckets: []int64{1, 1, 0}, Min: f64(0.5), Max: f64(3.5)},
	}
	assert.Equal(t, want, viewRows(t, db))
	got, ok := offset(t, db, "views")
	require.True(t, ok)
	assert.Equal(t, pos(xid, 7), got)
	// The offset is the dedupe of log batches: no batch records.
	assert.Equal(t, 0, count(t, db, "SELECT count(*) FROM glam_usage_applied_batches"))

	// A retry after a commit whose acknowledgement was lost: nothing
	// merged, no error, both points counted as replayed.
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, first.md))
	assert.Equal(t, want, viewRows(t, db))
	got, _ = offset(t, db, "views")
	assert.Equal(t, pos(xid, 7), got)
	assert.Equal(t, int64(2), e.counter(t, "exporter_glam_postgres_replayed_data_points"))

	// The next batch starts where the first ended.
	next := newViewMetrics("flush-2").
		count("probe_views_hourly", hour0, hour1, fogGC, 2).
		count("probe_views_hourly", hour0, hour1, fogCC, 1).
		fromLog("views", pos(xid, 7), pos(xid+3, 2))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, next.md))
	want = []viewRow{
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsCC, Type: "sum", Count: 1, Sum: 1},
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsGC, Type: "sum", Count: 5, Sum: 5},
		want[1],
	}
	assert.Equal(t, want, viewRows(t, db))
	got, _ = offset(t, db, "views")
	assert.Equal(t, pos(xid+3, 2), got)

	// The first batch once more, now behind the offset: still a replay.
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, first.md))
	assert.Equal(t, int64(4), e.counter(t, "exporter_glam_postgres_replayed_data_points"))

	// Batches that do not start at the offset and reach past it: one
	// from inside the merged range, one leaving a gap, one overlapping
	// it from the start. Nothing of them is merged.
	for _, r := range []struct{ from, to usage.LogPosition }{
		{pos(xid, 9), pos(xid+5, 0)},
		{pos(xid+4, 0), pos(xid+5, 0)},
		{usage.LogPosition{}, pos(xid+3, 3)},
	} {
		b := newViewMetrics("flush-x").count("probe_views_hourly", hour0, hour1, fogGC, 100).fromLog("views", r.from, r.to)
		err := e.metrics.ConsumeMetrics(ctx, b.md)
		require.Error(t, err)
		assert.ErrorIs(t, err, usage.ErrLogPositionConflict)
		assert.True(t, consumererror.IsPermanent(err))
		assert.EqualError(t, err, fmt.Sprintf(`Permanent error: glam_postgres: log consumer "views": the view batch does not start at its consumer's log offset: `+
			`the batch covers %s to %s, the offset is at %d/2; nothing of the batch was merged (read again from the offset)`, r.from, r.to, uint64(xid+3)))
	}
	assert.Equal(t, want, viewRows(t, db))
	got, _ = offset(t, db, "views")
	assert.Equal(t, pos(xid+3, 2), got)
	assert.Equal(t, int64(3), e.counter(t, "exporter_glam_postgres_log_position_conflicts"))
	assert.Equal(t, int64(4), e.counter(t, "exporter_glam_postgres_replayed_data_points"))

	// Another consumer (another view set) has an offset of its own.
	other := newViewMetrics("").count("other_view", hour0, hour1, nil, 1).fromLog("other", usage.LogPosition{}, pos(5, 1))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, other.md))
	got, _ = offset(t, db, "other")
	assert.Equal(t, pos(5, 1), got)
	got, _ = offset(t, db, "views")
	assert.Equal(t, pos(xid+3, 2), got)
}

func TestLogBatchWithoutPointsMovesTheOffset(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()

	// Events no view counts: the batch has resources and no points.
	empty := pmetric.NewMetrics()
	putLogRange(empty.ResourceMetrics().AppendEmpty(), "views", usage.LogPosition{}, pos(10, 4))
	require.Zero(t, empty.DataPointCount())
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, empty))
	got, ok := offset(t, db, "views")
	require.True(t, ok)
	assert.Equal(t, pos(10, 4), got)
	assert.Empty(t, viewRows(t, db))

	// A scope without metrics, then points: each from where the last ended.
	scopeOnly := newViewMetrics("").fromLog("views", pos(10, 4), pos(12, 1))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, scopeOnly.md))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("").count("v", hour0, hour1, nil, 6).fromLog("views", pos(12, 1), pos(12, 9)).md))
	got, _ = offset(t, db, "views")
	assert.Equal(t, pos(12, 9), got)
	rows := viewRows(t, db)
	require.Len(t, rows, 1)
	assert.Equal(t, int64(6), rows[0].Count)

	// An empty batch from the wrong place is a conflict like any other.
	late := pmetric.NewMetrics()
	putLogRange(late.ResourceMetrics().AppendEmpty(), "views", pos(10, 4), pos(13, 0))
	assert.ErrorIs(t, e.metrics.ConsumeMetrics(ctx, late), usage.ErrLogPositionConflict)
	got, _ = offset(t, db, "views")
	assert.Equal(t, pos(12, 9), got)
}

// A log batch's bad points are refused as in any batch; the rest is merged
// and the offset moves, so the error is not a conflict, and the same batch
// again is a replay that refuses the same points.
func TestLogBatchWithBadPointsMergesTheRestAndMovesTheOffset(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	b := newViewMetrics("").count("v", hour0, hour1, nil, 2).sum("s", hour0, hour1, nil, math.NaN()).fromLog("views", usage.LogPosition{}, pos(3, 3))
	for range 2 {
		err := e.metrics.ConsumeMetrics(ctx, b.md)
		assert.ErrorContains(t, err, `rejected 1 of 2 data points as bad data (the others were stored): metric "s": value is not a finite number`)
		assert.True(t, consumererror.IsPermanent(err))
		assert.NotErrorIs(t, err, usage.ErrLogPositionConflict)
	}
	got, _ := offset(t, db, "views")
	assert.Equal(t, pos(3, 3), got)
	rows := viewRows(t, db)
	require.Len(t, rows, 1)
	assert.Equal(t, int64(2), rows[0].Count)
	assert.Equal(t, int64(1), e.counter(t, "exporter_glam_postgres_replayed_data_points"))
}

func TestLogBatchWithUnusableLogAttributesIsRefusedWhole(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()

	twoRanges := newViewMetrics("").count("v", hour0, hour1, nil, 1).fromLog("views", usage.LogPosition{}, pos(5, 0))
	rm := twoRanges.md.ResourceMetrics().AppendEmpty()
	putLogRange(rm, "views", usage.LogPosition{}, pos(6, 0))
	newViewMetrics("").count("v", hour0, hour1, nil, 1).md.ResourceMetrics().At(0).ScopeMetrics().CopyTo(rm.ScopeMetrics())

	mixed := newViewMetrics("").count("v", hour0, hour1, nil, 1).fromLog("views", usage.LogPosition{}, pos(5, 0))
	newViewMetrics("f").count("v", hour0, hour1, nil, 1).md.ResourceMetrics().At(0).CopyTo(mixed.md.ResourceMetrics().AppendEmpty())

	partial := newViewMetrics("").count("v", hour0, hour1, nil, 1)
	partial.md.ResourceMetrics().At(0).Resource().Attributes().PutStr(usage.AttrLogConsumer, "views")

	badPosition := newViewMetrics("").count("v", hour0, hour1, nil, 1).fromLog("views", usage.LogPosition{}, pos(5, 0))
	badPosition.md.ResourceMetrics().At(0).Resource().Attributes().PutStr(usage.AttrLogTo, "5")

	backwards := newViewMetrics("").count("v", hour0, hour1, nil, 1).fromLog("views", pos(5, 0), pos(4, 9))
	noConsumer := newViewMetrics("").count("v", hour0, hour1, nil, 1).fromLog("", usage.LogPosition{}, pos(5, 0))

	for _, c := range []struct {
		md   pmetric.Metrics
		want string
	}{
		{twoRanges.md, `refused a view batch of 2 data points, nothing of it merged: resources 0 and 1 cover different log ranges ` +
			`(consumer "views" from 0/0 to 5/0; consumer "views" from 0/0 to 6/0): one export holds one batch of the event log`},
		{mixed.md, `resources 0 and 1 cover different log ranges (consumer "views" from 0/0 to 5/0; no log range)`},
		{partial.md, `resource 0: resource attributes glam.log.consumer, glam.log.from and glam.log.to go together`},
		{badPosition.md, `resource 0: resource attribute glam.log.to: log position "5" is not xid/seq`},
		{backwards.md, `resource 0: log range ends (4/9) before it starts (5/0)`},
		{noConsumer.md, `resource 0: resource attribute glam.log.consumer is empty`},
	} {
		err := e.metrics.ConsumeMetrics(ctx, c.md)
		assert.ErrorContains(t, err, c.want)
		assert.True(t, consumererror.IsPermanent(err))
		assert.NotErrorIs(t, err, usage.ErrLogPositionConflict)
	}
	assert.Empty(t, viewRows(t, db))
	assert.Equal(t, 0, count(t, db, "SELECT count(*) FROM "+pgschema.LogOffsetsTable))
	assert.Equal(t, int64(2+2+1+1+1+1), e.counter(t, "exporter_glam_postgres_rejected_data_points"))
}

// A log batch that covers no events but has points (the views gained
// without the log moving) leaves the offset where it is, so the offset
// cannot tell its retry: its batch id does.
func TestLogBatchCoveringNoEventsIsDedupedByBatchID(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("f1").count("v", hour0, hour1, nil, 2).fromLog("views", usage.LogPosition{}, pos(4, 4)).md))
	still := newViewMetrics("f2").count("v", hour0, hour1, nil, 3).fromLog("views", pos(4, 4), pos(4, 4))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, still.md))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, still.md)) // a retry
	rows := viewRows(t, db)
	require.Len(t, rows, 1)
	assert.Equal(t, int64(2+3), rows[0].Count)
	got, _ := offset(t, db, "views")
	assert.Equal(t, pos(4, 4), got)
	assert.Equal(t, 1, count(t, db, "SELECT count(*) FROM glam_usage_applied_batches WHERE batch_id = 'f2'"))
	assert.Equal(t, int64(1), e.counter(t, "exporter_glam_postgres_replayed_data_points"))
	// The next batch goes on from there.
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("f3").count("v", hour0, hour1, nil, 1).fromLog("views", pos(4, 4), pos(5, 0)).md))
	assert.Equal(t, int64(6), viewRows(t, db)[0].Count)
}

// waitForLockWaiters waits until n backends of the database wait for a
// lock on a log offset.
func waitForLockWaiters(t *testing.T, db poolT, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		return count(t, db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'`) == n
	}, 10*time.Second, 5*time.Millisecond, "the exporters did not both wait for the offset's lock")
}

// race pushes a and b for one consumer at the same time, from two
// exporters of their own (two collectors on one database), and returns
// each one's error. bWaits, if set, runs in b's goroutine before b's push;
// meanwhile runs while both pushes are under way.
func race(t *testing.T, ea, eb *testExporter, a, b pmetric.Metrics, bWaits, meanwhile func()) (errA, errB error) {
	t.Helper()
	var ready, done sync.WaitGroup
	barrier := make(chan struct{})
	errs := make([]error, 2)
	for i, p := range []struct {
		e  *testExporter
		md pmetric.Metrics
	}{{ea, a}, {eb, b}} {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			ready.Done()
			<-barrier
			if i == 1 && bWaits != nil {
				bWaits()
			}
			errs[i] = p.e.metrics.ConsumeMetrics(context.Background(), p.md)
		}()
	}
	ready.Wait()
	close(barrier)
	if meanwhile != nil {
		meanwhile()
	}
	done.Wait()
	return errs[0], errs[1]
}

func TestTwoExportersRacingForOneConsumerMergeOnce(t *testing.T) {
	dsn, db := newDB(t)
	ea, eb := startExporter(t, directConfig(dsn), nil), startExporter(t, directConfig(dsn), nil)
	require.NotSame(t, ea.store, eb.store)
	ctx := context.Background()
	// Both batches start at the zero position; a adds 1 up to 100/1, b
	// adds 10 up to 100/2, so the rows say whose merge they hold.
	aTo, bTo := pos(100, 1), pos(100, 2)
	batch := func(consumer string, n int64, to usage.LogPosition) pmetric.Metrics {
		return newViewMetrics("").count("v", hour0, hour1, map[string]string{"consumer": consumer}, n).
			fromLog(consumer, usage.LogPosition{}, to).md
	}
	viewCount := func(consumer string) int64 {
		var n int64
		require.NoError(t, db.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM glam_usage_view_rows WHERE tags->>'consumer' = $1`,
			consumer).Scan(&n))
		return n
	}

	// Both wait for the offset's lock at once (a third transaction holds
	// it until both are queued behind it), a first: a merges, and b, which
	// then reads the offset a moved, starts before it and reaches past
	// it: a conflict.
	t.Run("queued on the lock", func(t *testing.T) {
		for r := range 5 {
			consumer := fmt.Sprintf("queued-%d", r)
			_, err := db.Exec(ctx, "INSERT INTO "+pgschema.LogOffsetsTable+" (consumer) VALUES ($1)", consumer)
			require.NoError(t, err)
			holder, err := db.Begin(ctx)
			require.NoError(t, err)
			_, err = holder.Exec(ctx, lockLogOffset, consumer)
			require.NoError(t, err)
			errA, errB := race(t, ea, eb, batch(consumer, 1, aTo), batch(consumer, 10, bTo),
				func() { waitForLockWaiters(t, db, 1) },
				func() {
					waitForLockWaiters(t, db, 2)
					assert.NoError(t, holder.Commit(ctx))
				})
			require.NoError(t, errA)
			require.ErrorIs(t, errB, usage.ErrLogPositionConflict)
			assert.True(t, consumererror.IsPermanent(errB))
			assert.Equal(t, int64(1), viewCount(consumer))
			got, _ := offset(t, db, consumer)
			assert.Equal(t, aTo, got)
		}
	})

	// Released together by the barrier, the offset not made yet (both
	// make it): whichever wins merges, the other merges nothing. b losing
	// reaches past a's end: a conflict. a losing ends inside what b
	// covered: a replay (its events are merged, by b).
	t.Run("released together", func(t *testing.T) {
		aWon, bWon := 0, 0
		for r := range 20 {
			consumer := fmt.Sprintf("together-%d", r)
			errA, errB := race(t, ea, eb, batch(consumer, 1, aTo), batch(consumer, 10, bTo), nil, nil)
			got, ok := offset(t, db, consumer)
			require.True(t, ok)
			switch got {
			case aTo:
				require.NoError(t, errA)
				require.ErrorIs(t, errB, usage.ErrLogPositionConflict)
				assert.Equal(t, int64(1), viewCount(consumer))
				aWon++
			case bTo:
				require.NoError(t, errB)
				require.NoError(t, errA, "a, inside b's range, is a replay")
				assert.Equal(t, int64(10), viewCount(consumer))
				bWon++
			default:
				t.Fatalf("offset %s is neither batch's end", got)
			}
		}
		t.Logf("a won %d times (b: conflict), b won %d times (a: replay)", aWon, bWon)
	})
}

// Metrics skip sending_queue even when it is configured: an export returns
// its own outcome, so a conflict reaches the processor, and a merged batch
// is in the database when ConsumeMetrics returns. Logs keep their queue.
func TestMetricsIgnoreTheSendingQueue(t *testing.T) {
	dsn, db := newDB(t)
	cfg := directConfig(dsn)
	q := exporterhelper.NewDefaultQueueConfig()
	q.NumConsumers = 2
	cfg.QueueConfig = configoptional.Some(q)
	cfg.BackOffConfig.Enabled = true
	cfg.BackOffConfig.InitialInterval = 10 * time.Second
	cfg.BackOffConfig.MaxElapsedTime = 0
	e := startExporter(t, cfg, fixedNow)
	ctx := context.Background()

	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("").count("v", hour0, hour1, nil, 4).fromLog("views", usage.LogPosition{}, pos(9, 9)).md))
	rows := viewRows(t, db) // no waiting: merged before ConsumeMetrics returned
	require.Len(t, rows, 1)
	assert.Equal(t, int64(4), rows[0].Count)

	// A conflict is returned, at once: permanent, so not retried.
	started := time.Now()
	err := e.metrics.ConsumeMetrics(ctx, newViewMetrics("").count("v", hour0, hour1, nil, 4).fromLog("views", usage.LogPosition{}, pos(10, 0)).md)
	assert.ErrorIs(t, err, usage.ErrLogPositionConflict)
	assert.True(t, consumererror.IsPermanent(err))
	assert.EqualError(t, err, `not retryable error: Permanent error: glam_postgres: log consumer "views": the view batch does not start at its consumer's log offset: `+
		`the batch covers 0/0 to 10/0, the offset is at 9/9; nothing of the batch was merged (read again from the offset)`)
	assert.Less(t, time.Since(started), cfg.BackOffConfig.InitialInterval)
	// So is bad data.
	err = e.metrics.ConsumeMetrics(ctx, newViewMetrics("").sum("s", hour0, hour1, nil, math.NaN()).md)
	assert.ErrorContains(t, err, "value is not a finite number")

	// The logs' queue takes a record that is not an event and answers
	// before the exporter refuses it.
	ld, records := newLogs()
	records.AppendEmpty().Body().SetStr("not an event")
	require.NoError(t, e.logs.ConsumeLogs(ctx, ld))
	require.Eventually(t, func() bool { return e.counter(t, "exporter_glam_postgres_rejected_log_records") == 1 },
		10*time.Second, 10*time.Millisecond)
}

// A batch of a retired consumer (its runtime view was deleted) merges
// nothing, even one starting at the zero position the exporter would make
// an offset at, and is not an error: nothing would read it again.
func TestLogBatchOfARetiredConsumerIsDropped(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	_, err := db.Exec(ctx, `INSERT INTO `+pgschema.LogOffsetsTable+` (consumer, retired_at) VALUES ('view:v:1', now())`)
	require.NoError(t, err)
	batch := newViewMetrics("").count("v", hour0, hour1, nil, 6).fromLog("view:v:1", usage.LogPosition{}, pos(12, 9))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, batch.md))
	assert.Empty(t, viewRows(t, db))
	got, _ := offset(t, db, "view:v:1")
	assert.Equal(t, usage.LogPosition{}, got, "the offset stays")
}
