package glamviewsprocessor

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// appliedButRefused hands every batch to the exporter and then, as often
// as told, reports a refusal anyway: what a fan-out does when another of
// its exporters refuses. The processor then sends the batch again, and only
// its batch id keeps the rows from counting it twice.
type appliedButRefused struct {
	next    consumer.Metrics
	mu      sync.Mutex
	refuse  int
	batches int
}

func (c *appliedButRefused) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *appliedButRefused) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if err := c.next.ConsumeMetrics(ctx, md); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches++
	if c.refuse > 0 {
		c.refuse--
		return errQueueFull
	}
	return nil
}

func startPostgresExporter(t *testing.T) (exporter.Metrics, string) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	f := glampostgresexporter.NewFactory()
	cfg := f.CreateDefaultConfig().(*glampostgresexporter.Config)
	cfg.Postgres.DSN = configopaque.String(dsn)
	// Synchronous and without retries, so that each flush is applied by
	// the time ConsumeMetrics returns.
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.Enabled = false
	exp, err := f.CreateMetrics(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp, dsn
}

type viewRow struct {
	view       string
	start, end time.Time
	tags       map[string]any
	count      int64
}

func readViewRows(t *testing.T, dsn string) []viewRow {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT view, window_start, window_end, tags, count FROM `+pgschema.ViewRowsTable+
		` ORDER BY view, window_start, tags::text`)
	require.NoError(t, err)
	var res []viewRow
	for rows.Next() {
		var r viewRow
		require.NoError(t, rows.Scan(&r.view, &r.start, &r.end, &r.tags, &r.count))
		r.start, r.end = r.start.UTC(), r.end.UTC()
		res = append(res, r)
	}
	require.NoError(t, rows.Err())
	return res
}

// The processor's deltas, merged by the real exporter into the real view
// table, give the hand-computed rows, although a batch was delivered twice
// and a session grew over several flushes.
func TestViewRowsInPostgres(t *testing.T) {
	exp, dsn := startPostgresExporter(t)
	to := &appliedButRefused{next: exp, refuse: 1}
	h := newHarnessTo(t, testConfig(
		hourly("probe_views.hourly", usage.MeasureProbeViews, AggregationCount, usage.AttrProbeName),
		sessionView("sessions", usage.MeasureProbeViews, AggregationCount),
	), new(consumertest.MetricsSink), to)

	h.consumeLive(
		m{usage.MeasureProbeViews, t0.Add(5 * time.Minute), 1, probe("gc_ms")},
		m{usage.MeasureProbeViews, t0.Add(10 * time.Minute), 1, probe("gc_ms")},
	)
	// Applied, then reported refused: sent again at the next flush.
	h.clock.set(t0.Add(11 * time.Minute))
	require.ErrorIs(t, h.vp.flush(context.Background()), errQueueFull)
	h.consumeLive(
		m{usage.MeasureProbeViews, t0.Add(20 * time.Minute), 1, probe("cc_ms")},
		m{usage.MeasureProbeViews, t0.Add(40 * time.Minute), 1, probe("gc_ms")},
		m{usage.MeasureProbeViews, t0.Add(65 * time.Minute), 1, probe("gc_ms")},
	)
	h.flushAt(t0.Add(66 * time.Minute))
	// For the first hour, closed but within allowed_lateness, and within
	// the session; it goes out in the final flush at shutdown.
	h.consumeLive(m{usage.MeasureProbeViews, t0.Add(50 * time.Minute), 1, probe("gc_ms")})
	require.NoError(t, h.proc.Shutdown(context.Background()))

	assert.Equal(t, 4, to.batches, "the refused batch was delivered twice")
	session := map[string]any{usage.AttrSessionID: "s1"}
	assert.Equal(t, []viewRow{
		{view: "probe_views.hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]any{usage.AttrProbeName: "cc_ms"}, count: 1},
		{view: "probe_views.hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]any{usage.AttrProbeName: "gc_ms"}, count: 4},
		{view: "probe_views.hourly", start: t0.Add(time.Hour), end: t0.Add(2 * time.Hour), tags: map[string]any{usage.AttrProbeName: "gc_ms"}, count: 1},
		{view: "sessions", start: t0.Add(5 * time.Minute), end: t0.Add(65 * time.Minute), tags: session, count: 6},
	}, readViewRows(t, dsn))
}
