package glampostgresexporter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// day0 is a fixed "today" for tests that pin the store's clock.
var day0 = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)

// testExporter is one glam_postgres component: its logs and metrics
// exporters, its store and the telemetry it reports.
type testExporter struct {
	logs    exporter.Logs
	metrics exporter.Metrics
	store   *store
	tel     *componenttest.Telemetry
	id      component.ID
	log     *observer.ObservedLogs
}

// directConfig sends synchronously and does not retry, so that a test sees
// the error of each export.
func directConfig(dsn string) *Config {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Postgres.DSN = configopaque.String(dsn)
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.Enabled = false
	cfg.TimeoutConfig.Timeout = 30 * time.Second
	return cfg
}

func newID() component.ID {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return component.NewIDWithName(metadata.Type, hex.EncodeToString(b))
}

// createExporter creates (without starting) both exporters of one component.
func createExporter(t testing.TB, cfg *Config, now func() time.Time) *testExporter {
	t.Helper()
	return createExporterWithID(t, cfg, now, newID())
}

func createExporterWithID(t testing.TB, cfg *Config, now func() time.Time, id component.ID) *testExporter {
	t.Helper()
	require.NoError(t, cfg.Validate())
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := exportertest.NewNopSettings(metadata.Type)
	set.ID = id
	set.TelemetrySettings = tel.NewTelemetrySettings()
	core, logs := observer.New(zap.InfoLevel)
	// The collector gives each signal's exporter a logger naming it; the
	// metrics exporter comes first here, so the shared store is made with
	// its settings.
	f := NewFactory()
	set.Logger = zap.New(core).With(zap.String("otelcol.signal", "metrics"))
	metrics, err := f.CreateMetrics(context.Background(), set, cfg)
	require.NoError(t, err)
	set.Logger = zap.New(core).With(zap.String("otelcol.signal", "logs"))
	logsExp, err := f.CreateLogs(context.Background(), set, cfg)
	require.NoError(t, err)
	st, ok := stores.Load(cfg)
	require.True(t, ok)
	if now != nil {
		st.now = now
	}
	return &testExporter{logs: logsExp, metrics: metrics, store: st, tel: tel, id: set.ID, log: logs}
}

func (e *testExporter) start(t testing.TB, host component.Host) {
	t.Helper()
	require.NoError(t, e.logs.Start(context.Background(), host))
	require.NoError(t, e.metrics.Start(context.Background(), host))
}

func (e *testExporter) shutdown(t testing.TB) {
	t.Helper()
	require.NoError(t, e.logs.Shutdown(context.Background()))
	require.NoError(t, e.metrics.Shutdown(context.Background()))
}

// startExporter creates and starts an exporter that is shut down when the
// test ends.
func startExporter(t testing.TB, cfg *Config, now func() time.Time) *testExporter {
	t.Helper()
	e := createExporter(t, cfg, now)
	e.start(t, componenttest.NewNopHost())
	t.Cleanup(func() { e.shutdown(t) })
	return e
}

// counter is the value of one of the exporter's own counters.
func (e *testExporter) counter(t *testing.T, name string) int64 {
	t.Helper()
	m, err := e.tel.GetMetric("otelcol_" + name)
	if err != nil {
		return 0 // never incremented
	}
	var n int64
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

type poolT = *pgxpool.Pool

func connect(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// newDB is a fresh database and a pool to inspect it.
func newDB(t testing.TB) (string, *pgxpool.Pool) {
	dsn := pgtest.NewDatabase(t)
	return dsn, connect(t, dsn)
}

func count(t testing.TB, db *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func strings_(t testing.TB, db *pgxpool.Pool, sql string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), sql, args...)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return out
}

// probeView appends a GLAM probe.view event to logs.
func probeView(records plog.LogRecordSlice, id, session, probe string, at time.Time) plog.LogRecord {
	lr := usage.Event{ID: id, Name: usage.EventProbeView, SessionID: session, Time: at,
		Observed: at.Add(time.Second), Source: usage.SourceOTLPLogs}.AppendTo(records)
	attrs := lr.Attributes()
	attrs.PutStr(usage.AttrProduct, "fog")
	attrs.PutStr(usage.AttrProbeName, probe)
	attrs.PutStr(usage.AttrProbeProcess, "parent")
	attrs.PutStr(usage.AttrChannel, "nightly")
	attrs.PutStr(usage.AttrOS, "Linux")
	return lr
}

// newLogs starts a batch of usage events under one resource.
func newLogs() (plog.Logs, plog.LogRecordSlice) {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "glam")
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(usage.EventScope)
	return ld, sl.LogRecords()
}

// viewBatchBuilder builds view metrics as the glam_views processor flushes
// them: one resource carrying the batch id.
type viewBatchBuilder struct {
	md      pmetric.Metrics
	metrics pmetric.MetricSlice
}

func newViewMetrics(batchID string) *viewBatchBuilder {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	if batchID != "" {
		rm.Resource().Attributes().PutStr(usage.AttrBatchID, batchID)
	}
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(usage.ViewScope)
	return &viewBatchBuilder{md: md, metrics: sm.Metrics()}
}

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

func putTags(m pcommon.Map, tags map[string]string) {
	for k, v := range tags {
		m.PutStr(k, v)
	}
}

func (b *viewBatchBuilder) count(view string, start, end time.Time, tags map[string]string, n int64) *viewBatchBuilder {
	m := b.metrics.AppendEmpty()
	m.SetName(view)
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	s.SetIsMonotonic(true)
	dp := s.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(end))
	dp.SetIntValue(n)
	putTags(dp.Attributes(), tags)
	return b
}

func (b *viewBatchBuilder) sum(view string, start, end time.Time, tags map[string]string, v float64) *viewBatchBuilder {
	m := b.metrics.AppendEmpty()
	m.SetName(view)
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	dp := s.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(end))
	dp.SetDoubleValue(v)
	putTags(dp.Attributes(), tags)
	return b
}

func (b *viewBatchBuilder) histogram(view string, start, end time.Time, tags map[string]string, bounds []float64, counts []uint64, sum, lo, hi float64) *viewBatchBuilder {
	m := b.metrics.AppendEmpty()
	m.SetName(view)
	h := m.SetEmptyHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
	dp := h.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(end))
	dp.ExplicitBounds().FromRaw(bounds)
	dp.BucketCounts().FromRaw(counts)
	var n uint64
	for _, c := range counts {
		n += c
	}
	dp.SetCount(n)
	dp.SetSum(sum)
	dp.SetMin(lo)
	dp.SetMax(hi)
	putTags(dp.Attributes(), tags)
	return b
}

func (b *viewBatchBuilder) gauge(view string, start, end time.Time, tags map[string]string, v float64) *viewBatchBuilder {
	m := b.metrics.AppendEmpty()
	m.SetName(view)
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetStartTimestamp(ts(start))
	dp.SetTimestamp(ts(end))
	dp.SetDoubleValue(v)
	putTags(dp.Attributes(), tags)
	return b
}

// viewRow is a view row as the usage API reads it.
type viewRow struct {
	View       string
	Start, End time.Time
	Tags       string
	Type       string
	Count      int64
	Sum        float64
	Bounds     []float64
	Buckets    []int64
	Min, Max   *float64
	Last       *float64
}

func viewRows(t testing.TB, db *pgxpool.Pool) []viewRow {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT view, window_start, window_end, tags::text, metric_type,
		count, sum, bucket_bounds, bucket_counts, min, max, last_value
		FROM glam_usage_view_rows ORDER BY view, window_start, tags::text`)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (viewRow, error) {
		var v viewRow
		err := r.Scan(&v.View, &v.Start, &v.End, &v.Tags, &v.Type, &v.Count, &v.Sum, &v.Bounds, &v.Buckets, &v.Min, &v.Max, &v.Last)
		v.Start, v.End = v.Start.UTC(), v.End.UTC()
		return v, err
	})
	require.NoError(t, err)
	return out
}

func f64(v float64) *float64 { return &v }
