package glamusageextension

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadatatest"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// The extension reports the job table's probe builds as its telemetry: two
// jobs queued and one failed within the hour, written here, are what the
// collector's metrics show.
func TestProbeBuildTelemetry(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pgschema.Migrate(ctx, pool))
	for i, status := range []string{"queued", "queued", "failed"} {
		_, err := pool.Exec(ctx, `INSERT INTO glam_probe_build_jobs (build_key, build, request, status, max_attempts, finished_at)
			VALUES ($1, '{}', '{}', $2, 3, CASE WHEN $2 = 'failed' THEN now() END)`, string(rune('a'+i)), status)
		require.NoError(t, err)
	}

	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(ctx)) })
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = freeEndpoint(t)
	cfg.Postgres.DSN = configopaque.String(dsn)
	ext, err := NewFactory().Create(ctx, metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, host{}))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(ctx)) })

	status := func(s string) attribute.Set { return attribute.NewSet(attribute.String("status", s)) }
	metadatatest.AssertEqualExtensionGlamUsageProbeBuilds(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: status("queued"), Value: 2},
		{Attributes: status("running"), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionGlamUsageProbeBuildsFinishedLastHour(t, tel, []metricdata.DataPoint[int64]{
		{Attributes: status("succeeded"), Value: 0},
		{Attributes: status("failed"), Value: 1},
		{Attributes: status("cancelled"), Value: 0},
	}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionGlamUsageProbeBuildsOldestAge(t, tel, []metricdata.DataPoint[float64]{
		{Attributes: status("queued")}, {Attributes: status("running"), Value: 0},
	}, metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreValue())
}
