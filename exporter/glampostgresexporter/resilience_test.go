package glampostgresexporter

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// clusterDB is a database "glam" on a cluster of the test's own, which the
// test may stop and start.
func clusterDB(t *testing.T) (*pgtest.Cluster, string) {
	t.Helper()
	c := pgtest.StartCluster(t)
	conn, err := pgx.Connect(context.Background(), c.DSN())
	require.NoError(t, err)
	_, err = conn.Exec(context.Background(), "CREATE DATABASE glam")
	require.NoError(t, err)
	require.NoError(t, conn.Close(context.Background()))
	dsn, err := pgtest.WithDatabase(c.DSN(), "glam")
	require.NoError(t, err)
	return c, dsn
}

// queuedConfig retries without end and queues, as a production config
// that must not lose data would.
func queuedConfig(dsn string) *Config {
	cfg := directConfig(dsn)
	q := exporterhelper.NewDefaultQueueConfig()
	q.NumConsumers = 2
	cfg.QueueConfig = configoptional.Some(q)
	cfg.BackOffConfig.Enabled = true
	cfg.BackOffConfig.InitialInterval = 50 * time.Millisecond
	cfg.BackOffConfig.MaxInterval = 300 * time.Millisecond
	cfg.BackOffConfig.MaxElapsedTime = 0
	cfg.TimeoutConfig.Timeout = 3 * time.Second
	return cfg
}

// streamEvents sends batch i of a stream of events: 10 events with ids
// i*10..i*10+9.
func streamEvents(t *testing.T, e *testExporter, i int) {
	t.Helper()
	ld, records := newLogs()
	for j := range 10 {
		probeView(records, fmt.Sprintf("ev-%05d", i*10+j), "s", "p", fixedNow())
	}
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
}

// streamFlush is flush i of a count view over the stream's events, read
// from the log: 1 per event to each of two series, from the end of flush
// i-1 to its own.
func streamFlush(i int) pmetric.Metrics {
	return newViewMetrics(fmt.Sprintf("flush-%d", i)).
		count("probe_views_hourly", hour0, hour1, fogGC, 10).
		count("probe_views_hourly", hour0, hour1, fogCC, 10).
		fromLog("stream", streamPosition(i), streamPosition(i+1)).md
}

// streamPosition is where flush i starts: the start of the log for the
// first.
func streamPosition(i int) usage.LogPosition {
	return usage.LogPosition{XID: uint64(1000 * i), Seq: int64(i)}
}

// assertStream waits for the whole stream of n batches to be stored, then
// checks that nothing is missing and nothing counted twice; flushes says
// whether the stream's view flushes were sent too.
func assertStream(t *testing.T, db poolT, n int, flushes bool) {
	t.Helper()
	views := 0
	if flushes {
		views = n * 20
	}
	require.Eventually(t, func() bool {
		var events, got int
		err := db.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM glam_usage_events),
			(SELECT coalesce(sum(count), 0) FROM glam_usage_view_rows)`).Scan(&events, &got)
		return err == nil && events == n*10 && got == views
	}, 2*time.Minute, 100*time.Millisecond, "the stream was not stored whole")
	assert.Equal(t, n*10, count(t, db, "SELECT count(DISTINCT event_id) FROM glam_usage_events"))
	assert.Equal(t, n*10, count(t, db, "SELECT count(*) FROM glam_usage_event_ids"))
	if !flushes {
		assert.Empty(t, viewRows(t, db))
		return
	}
	rows := viewRows(t, db)
	require.Len(t, rows, 2)
	assert.Equal(t, int64(n*10), rows[0].Count)
	assert.Equal(t, int64(n*10), rows[1].Count)
	got, _ := offset(t, db, "stream")
	assert.Equal(t, streamPosition(n), got)
}

// Events go through the logs' queue; view flushes, which have none, are
// sent one after the other by a flusher of their own (as the views
// processor does), each export waiting (retrying) through the outage.
func TestPostgresRestartMidStreamLosesAndDoublesNothing(t *testing.T) {
	cluster, dsn := clusterDB(t)
	e := startExporter(t, queuedConfig(dsn), fixedNow)
	const batches = 60
	flushes := make(chan int, batches)
	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		for i := range flushes {
			if err := e.metrics.ConsumeMetrics(context.Background(), streamFlush(i)); err != nil {
				t.Errorf("flush %d: %v", i, err)
			}
		}
	}()
	for i := range batches {
		switch i {
		case 20:
			cluster.Stop()
		case 40:
			cluster.Start()
		}
		streamEvents(t, e, i)
		flushes <- i
		time.Sleep(10 * time.Millisecond)
	}
	close(flushes)
	select {
	case <-flushed:
	case <-time.After(2 * time.Minute):
		t.Fatal("the flushes did not get through")
	}
	assertStream(t, connect(t, dsn), batches, true)
	// The outage was real: exports of both signals failed and were
	// retried.
	assert.Positive(t, e.log.FilterField(zap.String("otelcol.signal", "logs")).FilterMessageSnippet("Will retry").Len())
	assert.Positive(t, e.log.FilterField(zap.String("otelcol.signal", "metrics")).FilterMessageSnippet("Will retry").Len())
}

// The persistent queue holds events; view flushes have no queue (the
// consumer reads them again from the log, at its offset).
func TestPersistentQueueKeepsDataAcrossCollectorRestart(t *testing.T) {
	cluster, dsn := clusterDB(t)
	cluster.Stop() // PostgreSQL is down while the first collector runs
	dir := t.TempDir()
	storageID := component.MustNewIDWithName("file_storage", "queue")
	exporterID := newID()
	cfg := queuedConfig(dsn)
	q := cfg.QueueConfig.Get()
	q.StorageID = &storageID

	run := func(batches int) *testExporter {
		storage := startFileStorage(t, storageID, dir)
		e := createExporter(t, cfg, fixedNow)
		renameExporter(t, e, exporterID, cfg)
		e.start(t, hostWith(storageID, storage))
		for i := range batches {
			streamEvents(t, e, i)
		}
		t.Cleanup(func() { require.NoError(t, storage.Shutdown(context.Background())) })
		return e
	}

	first := run(30)
	first.shutdown(t) // the collector stops with everything still queued on disk
	assert.Positive(t, first.log.FilterMessageSnippet("Will retry").Len())

	cluster.Start()
	second := run(0)
	t.Cleanup(func() { second.shutdown(t) })
	assertStream(t, connect(t, dsn), 30, false)
}

func startFileStorage(t *testing.T, id component.ID, dir string) extension.Extension {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	cfg.Compaction.Directory = dir
	set := extensiontest.NewNopSettings(f.Type())
	set.ID = id
	ext, err := f.Create(context.Background(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	return ext
}

type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

func hostWith(id component.ID, ext component.Component) component.Host { return host{id: ext} }

// renameExporter recreates e's exporters under id, so that a second run
// finds the first run's persistent queue, which is named after the ID.
func renameExporter(t *testing.T, e *testExporter, id component.ID, cfg *Config) {
	t.Helper()
	require.NoError(t, e.logs.Shutdown(context.Background()))
	require.NoError(t, e.metrics.Shutdown(context.Background()))
	again := createExporterWithID(t, cfg, fixedNow, id)
	*e = *again
}

func TestTwoCollectorsMigratingAtOnce(t *testing.T) {
	dsn, db := newDB(t)
	a, b := createExporter(t, directConfig(dsn), fixedNow), createExporter(t, directConfig(dsn), fixedNow)
	var wg sync.WaitGroup
	for _, e := range []*testExporter{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, e.logs.Start(context.Background(), componenttest.NewNopHost()))
			assert.NoError(t, e.metrics.Start(context.Background(), componenttest.NewNopHost()))
		}()
	}
	wg.Wait()
	t.Cleanup(func() { a.shutdown(t); b.shutdown(t) })

	var versions []int
	for _, m := range pgschema.Migrations() {
		versions = append(versions, m.Version)
	}
	rows, err := db.Query(context.Background(), "SELECT version FROM glam_schema_migrations ORDER BY 1")
	require.NoError(t, err)
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	assert.Equal(t, versions, got)
	assert.Equal(t, []string{"glam_usage_events_p20261120", "glam_usage_events_p20261121",
		"glam_usage_events_p20261122", "glam_usage_events_p20261123"}, partitions(t, db))

	// Both write the same event and the same flush: stored once.
	for _, e := range []*testExporter{a, b} {
		ld, records := newLogs()
		probeView(records, "shared", "s", "p", fixedNow())
		require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
		require.NoError(t, e.metrics.ConsumeMetrics(context.Background(), newViewMetrics("f").count("v", hour0, hour1, nil, 1).md))
	}
	assert.Equal(t, 1, count(t, db, "SELECT count(*) FROM glam_usage_events"))
	assert.Equal(t, int64(1), viewRows(t, db)[0].Count)
}

func TestStartWhilePostgresIsDownThenRetryableErrors(t *testing.T) {
	cluster, dsn := clusterDB(t)
	cluster.Stop()
	e := startExporter(t, directConfig(dsn), fixedNow)
	ld, records := newLogs()
	probeView(records, "x", "s", "p", fixedNow())
	err := e.logs.ConsumeLogs(context.Background(), ld)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "an outage must be retried: %v", err)
	err = e.metrics.ConsumeMetrics(context.Background(), newViewMetrics("f").count("v", hour0, hour1, nil, 1).md)
	require.Error(t, err)
	assert.False(t, consumererror.IsPermanent(err), "an outage must be retried: %v", err)

	// Once it is back, the same data goes in, schema first.
	cluster.Start()
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
	require.NoError(t, e.metrics.ConsumeMetrics(context.Background(), newViewMetrics("f").count("v", hour0, hour1, nil, 1).md))
	db := connect(t, dsn)
	assert.Equal(t, 1, count(t, db, "SELECT count(*) FROM glam_usage_events"))
	assert.Equal(t, 1, len(viewRows(t, db)))
}

func TestStartFailsWhenWaitingCannotHelp(t *testing.T) {
	dsn, db := newDB(t)
	missing, err := pgtest.WithDatabase(dsn, "glam_no_such_database")
	require.NoError(t, err)
	e := createExporter(t, directConfig(missing), nil)
	err = e.logs.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorContains(t, err, `database "glam_no_such_database" does not exist`)
	require.NoError(t, e.logs.Shutdown(context.Background()))
	require.NoError(t, e.metrics.Shutdown(context.Background()))

	require.NoError(t, pgschema.Migrate(context.Background(), db))
	_, err = db.Exec(context.Background(), "INSERT INTO glam_schema_migrations (version, name) VALUES (9999, 'future')")
	require.NoError(t, err)
	e = createExporter(t, directConfig(dsn), nil)
	err = e.logs.Start(context.Background(), componenttest.NewNopHost())
	require.ErrorIs(t, err, pgschema.ErrSchemaTooNew)
	require.NoError(t, e.logs.Shutdown(context.Background()))
	require.NoError(t, e.metrics.Shutdown(context.Background()))
}

func TestWithoutCreateSchemaMissingTablesAreRetried(t *testing.T) {
	dsn, db := newDB(t)
	cfg := directConfig(dsn)
	cfg.CreateSchema = false
	e := startExporter(t, cfg, fixedNow)
	err := e.metrics.ConsumeMetrics(context.Background(), newViewMetrics("f").count("v", hour0, hour1, nil, 1).md)
	require.ErrorContains(t, err, `relation "glam_usage_applied_batches" does not exist`)
	assert.False(t, consumererror.IsPermanent(err))

	require.NoError(t, pgschema.Migrate(context.Background(), db))
	require.NoError(t, e.metrics.ConsumeMetrics(context.Background(), newViewMetrics("f").count("v", hour0, hour1, nil, 1).md))
	assert.Equal(t, int64(1), viewRows(t, db)[0].Count)
}

func TestLogsAndMetricsShareOnePool(t *testing.T) {
	dsn, _ := newDB(t)
	e := startExporter(t, directConfig(dsn), fixedNow)
	other := startExporter(t, directConfig(dsn), fixedNow)
	assert.NotSame(t, e.store, other.store)

	ld, records := newLogs()
	probeView(records, "x", "s", "p", fixedNow())
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
	require.NoError(t, e.metrics.ConsumeMetrics(context.Background(), newViewMetrics("f").count("v", hour0, hour1, nil, 1).md))
	pool, err := e.store.db()
	require.NoError(t, err)
	// One pool served both signals: the migrations' and both exports'
	// connections came from it, and it is the only one of this component.
	assert.Positive(t, pool.Stat().AcquireCount())
	assert.LessOrEqual(t, pool.Stat().TotalConns(), e.store.cfg.Postgres.MaxConns)

	// The pool closes when the last of the two stops, not before.
	require.NoError(t, e.logs.Shutdown(context.Background()))
	_, err = e.store.db()
	require.NoError(t, err)
	require.NoError(t, e.metrics.ConsumeMetrics(context.Background(), newViewMetrics("g").count("v", hour0, hour1, nil, 1).md))
	require.NoError(t, e.metrics.Shutdown(context.Background()))
	_, err = e.store.db()
	require.ErrorIs(t, err, errNotStarted)
}
