package glampostgresexporter

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

var (
	hour0  = day0.Add(9 * time.Hour)
	hour1  = hour0.Add(time.Hour)
	fogGC  = map[string]string{usage.AttrProduct: "fog", usage.AttrProbeName: "gc_ms"}
	fogCC  = map[string]string{usage.AttrProduct: "fog", usage.AttrProbeName: "cc_ms"}
	bounds = []float64{1, 5}
)

const (
	tagsGC = `{"glam.product": "fog", "glam.probe.name": "gc_ms"}`
	tagsCC = `{"glam.product": "fog", "glam.probe.name": "cc_ms"}`
)

func TestViewRowsMergeAdditively(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()

	first := newViewMetrics("flush-1").
		count("probe_views_hourly", hour0, hour1, fogGC, 3).
		count("probe_views_hourly", hour0, hour1, fogCC, 1).
		sum("search_ms", hour0, hour1, nil, 1.5).
		histogram("session_length", hour0, hour0.Add(10*time.Minute), map[string]string{"session.id": "s1"}, bounds, []uint64{1, 2, 0}, 6, 0.5, 3).
		gauge("last_version", hour0, hour1, fogGC, 120)
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, first.md))

	// The next flush: the same windows gained more; the session grew.
	second := newViewMetrics("flush-2").
		count("probe_views_hourly", hour0, hour1, fogGC, 2).
		sum("search_ms", hour0, hour1, nil, 2.25).
		histogram("session_length", hour0, hour0.Add(25*time.Minute), map[string]string{"session.id": "s1"}, bounds, []uint64{0, 1, 4}, 40, 2, 12).
		gauge("last_version", hour0, hour1, fogGC, 121)
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, second.md))

	assert.Equal(t, []viewRow{
		{View: "last_version", Start: hour0, End: hour1, Tags: tagsGC, Type: "gauge", Last: f64(121)},
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsCC, Type: "sum", Count: 1, Sum: 1},
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsGC, Type: "sum", Count: 5, Sum: 5},
		{View: "search_ms", Start: hour0, End: hour1, Tags: `{}`, Type: "sum", Sum: 3.75},
		{View: "session_length", Start: hour0, End: hour0.Add(25 * time.Minute), Tags: `{"session.id": "s1"}`, Type: "histogram",
			Count: 8, Sum: 46, Bounds: bounds, Buckets: []int64{1, 3, 4}, Min: f64(0.5), Max: f64(12)},
	}, viewRows(t, db))
	assert.Equal(t, 5+4, count(t, db, "SELECT count(*) FROM glam_usage_applied_batches"))
}

func TestNewestLastValueWins(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	// Out of order: the later point arrives first and is kept.
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("b2").gauge("g", hour0, hour0.Add(20*time.Minute), nil, 7).md))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("b1").gauge("g", hour0, hour0.Add(10*time.Minute), nil, 3).md))
	rows := viewRows(t, db)
	require.Len(t, rows, 1)
	assert.Equal(t, 7.0, *rows[0].Last)
	assert.Equal(t, hour0.Add(20*time.Minute), rows[0].End)
}

func TestRetriedOrReplayedBatchIsMergedOnce(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	batch := newViewMetrics("flush-7").
		count("probe_views_hourly", hour0, hour1, fogGC, 3).
		count("probe_views_hourly", hour0, hour1, fogCC, 4).
		histogram("session_length", hour0, hour1, nil, bounds, []uint64{1, 1, 1}, 9, 0, 7)

	require.NoError(t, e.metrics.ConsumeMetrics(ctx, batch.md))
	// A retry after a commit whose acknowledgement was lost.
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, batch.md))
	// The same batch split in two by exporterhelper's batching, replayed
	// from a persistent queue: both halves are recognised.
	half1, half2 := pmetric.NewMetrics(), pmetric.NewMetrics()
	batch.md.CopyTo(half1)
	batch.md.CopyTo(half2)
	half1.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().RemoveIf(func(m pmetric.Metric) bool { return m.Name() == "session_length" })
	half2.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().RemoveIf(func(m pmetric.Metric) bool { return m.Name() != "session_length" })
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, half2))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, half1))

	// A batch merged with another by exporterhelper's batching: the new
	// batch's points are applied, the old one's not again.
	merged := newViewMetrics("flush-8").count("probe_views_hourly", hour0, hour1, fogGC, 10).md
	batch.md.ResourceMetrics().At(0).CopyTo(merged.ResourceMetrics().AppendEmpty())
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, merged))

	assert.Equal(t, []viewRow{
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsCC, Type: "sum", Count: 4, Sum: 4},
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsGC, Type: "sum", Count: 13, Sum: 13},
		{View: "session_length", Start: hour0, End: hour1, Tags: `{}`, Type: "histogram",
			Count: 3, Sum: 9, Bounds: bounds, Buckets: []int64{1, 1, 1}, Min: f64(0), Max: f64(7)},
	}, viewRows(t, db))
	assert.Equal(t, int64(3+3+3), e.counter(t, "exporter_glam_postgres_replayed_data_points"))
}

// Without a batch id there is nothing to recognise a retry by: the points
// are merged each time they arrive (documented in the README).
func TestPointsWithoutBatchIDAreMergedEachTime(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	md := newViewMetrics("").count("http.requests", hour0, hour1, nil, 2).count("http.requests", hour0, hour1, nil, 5).md
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, md))
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, md))
	rows := viewRows(t, db)
	require.Len(t, rows, 1)
	assert.Equal(t, int64(14), rows[0].Count)
	assert.Equal(t, 0, count(t, db, "SELECT count(*) FROM glam_usage_applied_batches"))
}

func TestAnyProducersDeltaMetricsAreMerged(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	md := pmetric.NewMetrics()
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("some.library")
	m := sm.Metrics().AppendEmpty()
	m.SetName("queue.depth")
	// A gauge without start time is keyed by its own time.
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts(hour0))
	dp.SetIntValue(12)
	dp.Attributes().PutInt("shard", 2)
	dp.Attributes().PutBool("primary", true)
	h := sm.Metrics().AppendEmpty()
	h.SetName("latency")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	hdp := hist.DataPoints().AppendEmpty()
	hdp.SetStartTimestamp(ts(hour0))
	hdp.SetTimestamp(ts(hour1))
	hdp.SetCount(4) // no buckets: one bucket holding all
	require.NoError(t, e.metrics.ConsumeMetrics(context.Background(), md))

	assert.Equal(t, []viewRow{
		{View: "latency", Start: hour0, End: hour1, Tags: `{}`, Type: "histogram", Count: 4, Bounds: []float64{}, Buckets: []int64{4}},
		{View: "queue.depth", Start: hour0, End: hour0, Tags: `{"shard": 2, "primary": true}`, Type: "gauge", Last: f64(12)},
	}, viewRows(t, db))
}

func TestBadDataPointsAreRejectedAndTheRestMerged(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("b0").
		histogram("session_length", hour0, hour1, nil, bounds, []uint64{1, 0, 0}, 1, 1, 1).md))

	b := newViewMetrics("b1").count("probe_views_hourly", hour0, hour1, fogGC, 3)
	cum := b.metrics.AppendEmpty() // 2: cumulative
	cum.SetName("requests_total")
	cs := cum.SetEmptySum()
	cs.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	cdp := cs.DataPoints().AppendEmpty()
	cdp.SetTimestamp(ts(hour1))
	cdp.SetIntValue(100)
	b.histogram("session_length", hour0, hour1, nil, []float64{1, 10}, []uint64{1, 0, 0}, 1, 1, 1) // 3: bounds changed
	b.sum("search_ms", hour0, hour1, nil, math.Inf(1))                                             // 4: not finite
	eh := b.metrics.AppendEmpty()                                                                  // 5: exponential histogram
	eh.SetName("exp")
	eh.SetEmptyExponentialHistogram().DataPoints().AppendEmpty().SetTimestamp(ts(hour1))
	b.count("", hour0, hour1, nil, 1) // 6: no name
	b.sum("search_ms", hour0, hour1, nil, 2)

	err := e.metrics.ConsumeMetrics(ctx, b.md)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err))
	assert.ErrorContains(t, err, "rejected 5 of 7 data points as bad data (the others were stored): "+
		`metric "requests_total": aggregation temporality is Cumulative: only delta can be merged additively (put a cumulativetodelta processor before this exporter); `+
		`metric "search_ms": value is not a finite number; `+
		`metric "exp": metric type ExponentialHistogram is not supported: only Sum, Gauge and explicit-bucket Histogram are; `+
		`metric "": metric has no name; `+
		`view "session_length" window 2026-11-20T09:00:00Z tags {}: its metric type or bucket bounds differ from those of the row already stored for this view, window and tag set`)
	assert.Equal(t, []viewRow{
		{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsGC, Type: "sum", Count: 3, Sum: 3},
		{View: "search_ms", Start: hour0, End: hour1, Tags: `{}`, Type: "sum", Sum: 2},
		{View: "session_length", Start: hour0, End: hour1, Tags: `{}`, Type: "histogram",
			Count: 1, Sum: 1, Bounds: bounds, Buckets: []int64{1, 0, 0}, Min: f64(1), Max: f64(1)},
	}, viewRows(t, db))
	assert.Equal(t, int64(5), e.counter(t, "exporter_glam_postgres_rejected_data_points"))
}

func TestAppliedBatchesExpire(t *testing.T) {
	dsn, db := newDB(t)
	now := time.Now()
	e := startExporter(t, directConfig(dsn), func() time.Time { return now })
	ctx := context.Background()
	batch := newViewMetrics("old-flush").count("v", hour0, hour1, nil, 1).md
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, batch))
	require.NoError(t, e.store.maintain(ctx, e.store.pool))
	assert.Equal(t, 1, count(t, db, "SELECT count(*) FROM glam_usage_applied_batches"))

	now = now.Add(7*day + time.Minute) // past view_rows.batch_retention
	require.NoError(t, e.store.maintain(ctx, e.store.pool))
	assert.Equal(t, 0, count(t, db, "SELECT count(*) FROM glam_usage_applied_batches"))
	// A replay older than the retention is no longer recognised.
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, batch))
	assert.Equal(t, int64(2), viewRows(t, db)[0].Count)
}

// A views batch after a backlog holds a row for each (probe, session) of the
// day. The session rollup's trigger serialises merges touching the same
// keys; it must do so with a bounded number of locks, since PostgreSQL's
// lock table, sized by max_locks_per_transaction × max_connections, holds
// about 15 000 locks for the whole server with the defaults: one advisory
// lock per key made a batch of 20 000 keys fail with "out of shared memory"
// at every retry, forever.
func TestMergeOfMoreSessionKeysThanTheLockTableHolds(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), nil)
	ctx := context.Background()

	const sessions, probes = 30000, 40
	b := newViewMetrics("backlog")
	for i := range sessions {
		b.count(usage.ViewProbeSessionsDaily, day0, day0.Add(24*time.Hour), map[string]string{
			usage.AttrProduct:   "fog",
			usage.AttrProbeName: fmt.Sprintf("probe_%d", i%probes),
			usage.AttrSessionID: fmt.Sprintf("session_%d", i),
		}, 1)
	}
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, b.md))

	assert.Equal(t, sessions, count(t, db, `SELECT count(*) FROM glam_usage_view_rows`))
	// Every session is one probe's, seen on one day: the day's and the
	// week's rollup rows each count every session once, as first seen then.
	for _, days := range []int{1, 7} {
		assert.Equal(t, sessions, count(t, db, `SELECT coalesce(sum(sessions), 0)::int FROM glam_usage_probe_session_days
			WHERE view = $1 AND days = $2 AND prev_day = '-infinity'`, usage.ViewProbeSessionsDaily, days), "days = %d", days)
		assert.Equal(t, probes, count(t, db, `SELECT count(DISTINCT probe_name)::int FROM glam_usage_probe_session_days
			WHERE view = $1 AND days = $2`, usage.ViewProbeSessionsDaily, days), "days = %d", days)
	}
}

// A views batch is sent again unchanged until it merges, so its merge has
// a limit of its own (view_rows.timeout), not the raw events' timeout: a
// merge slower than timeout still succeeds, where raw events time out.
func TestViewMergesHaveTheirOwnTimeout(t *testing.T) {
	dsn, db := newDB(t)
	cfg := directConfig(dsn)
	cfg.TimeoutConfig.Timeout = 300 * time.Millisecond
	cfg.ViewRows.Timeout = 30 * time.Second
	e := startExporter(t, cfg, nil)
	ctx := context.Background()
	// hold locks table for a second, as a slow merge or a busy database
	// would hold the export up.
	hold := func(table string) {
		tx, err := db.Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, "LOCK TABLE "+table+" IN EXCLUSIVE MODE")
		require.NoError(t, err)
		time.AfterFunc(time.Second, func() { _ = tx.Rollback(ctx) })
	}

	hold(pgschema.ViewRowsTable)
	require.NoError(t, e.metrics.ConsumeMetrics(ctx, newViewMetrics("flush-1").count("probe_views_hourly", hour0, hour1, fogGC, 3).md),
		"a merge held up 1 s is within view_rows.timeout")
	assert.Equal(t, []viewRow{{View: "probe_views_hourly", Start: hour0, End: hour1, Tags: tagsGC, Type: "sum", Count: 3, Sum: 3}}, viewRows(t, db))

	hold(pgschema.EventsTable)
	ld, records := newLogs()
	probeView(records, "e1", "s1", "gc_ms", hour0)
	err := e.logs.ConsumeLogs(ctx, ld)
	require.Error(t, err, "raw events held up 1 s are beyond timeout")
	assert.ErrorContains(t, err, "deadline exceeded")
}
