package glampostgresexporter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/pgpool"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg
}

func TestLoadConfigDefaults(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, "postgres://postgres@127.0.0.1:5432/glam?sslmode=disable", string(cfg.Postgres.DSN))
	assert.Equal(t, pgpool.Config{DSN: cfg.Postgres.DSN, MaxConns: 10, MaxConnLifetime: time.Hour, MaxConnIdleTime: 30 * time.Minute}, cfg.Postgres)
	assert.True(t, cfg.CreateSchema)
	assert.Equal(t, RawEventsConfig{Retention: 2160 * time.Hour, PartitionsAhead: 3}, cfg.RawEvents)
	assert.Equal(t, 168*time.Hour, cfg.ViewRows.BatchRetention)
	assert.Equal(t, time.Minute, cfg.ViewRows.Timeout)
	assert.Equal(t, exporterhelper.NewDefaultTimeoutConfig(), cfg.TimeoutConfig)
	require.True(t, cfg.QueueConfig.HasValue())
	q := cfg.QueueConfig.Get()
	assert.Equal(t, 10, q.NumConsumers)
	assert.Equal(t, int64(1000), q.QueueSize)
	assert.False(t, q.BlockOnOverflow)
	assert.Nil(t, q.StorageID)
	require.True(t, q.Batch.HasValue(), "requests are batched by default")
	b := q.Batch.Get()
	assert.Equal(t, 200*time.Millisecond, b.FlushTimeout)
	assert.Equal(t, "items", b.Sizer.String())
	assert.Equal(t, int64(1000), b.MinSize)
	assert.Equal(t, int64(5000), b.MaxSize)
	assert.True(t, cfg.BackOffConfig.Enabled)
}

func TestLoadConfigFull(t *testing.T) {
	cfg := loadConfig(t, "full")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, pgpool.Config{DSN: cfg.Postgres.DSN, MaxConns: 20, MinConns: 2, MaxConnLifetime: 30 * time.Minute, MaxConnIdleTime: 5 * time.Minute}, cfg.Postgres)
	assert.False(t, cfg.CreateSchema)
	assert.Equal(t, RawEventsConfig{Retention: 720 * time.Hour, PartitionsAhead: 7}, cfg.RawEvents)
	assert.Equal(t, 48*time.Hour, cfg.ViewRows.BatchRetention)
	assert.Equal(t, 2*time.Minute, cfg.ViewRows.Timeout)
	assert.Equal(t, 10*time.Second, cfg.TimeoutConfig.Timeout)
	assert.Equal(t, time.Second, cfg.BackOffConfig.InitialInterval)
	assert.Equal(t, time.Duration(0), cfg.BackOffConfig.MaxElapsedTime)
	q := cfg.QueueConfig.Get()
	require.NotNil(t, q)
	assert.Equal(t, 4, q.NumConsumers)
	assert.Equal(t, int64(5000), q.QueueSize)
	require.NotNil(t, q.StorageID)
	assert.Equal(t, component.MustNewIDWithName("file_storage", "queue"), *q.StorageID)
	// The password is opaque: never printed.
	assert.Equal(t, "[REDACTED]", cfg.Postgres.DSN.String())
}

func TestLoadConfigKeepForever(t *testing.T) {
	cfg := loadConfig(t, "keep_forever")
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, time.Duration(0), cfg.RawEvents.Retention)
}

func TestConfigValidationErrors(t *testing.T) {
	for name, want := range map[string][]string{
		"no_dsn":  {"dsn must be set"},
		"bad_dsn": {"dsn: "},
		"bad_pool": {
			"max_conns must be at least 1, got 0",
			"min_conns must be between 0 and max_conns (0), got 3",
		},
		"bad_retention": {
			"raw_events.retention must be 0 (keep forever) or a whole number of days (a multiple of 24h), got 36h0m0s",
			"raw_events.partitions_ahead must be between 0 and 366, got -1",
			"view_rows.batch_retention must be at least 1h, got 1m0s",
			"view_rows.timeout must be positive, got 0s",
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := confmap.Validate(loadConfig(t, name))
			require.Error(t, err)
			for _, w := range want {
				assert.ErrorContains(t, err, w)
			}
			assert.NotContains(t, err.Error(), "secret")
		})
	}
}

func TestQueueCanBeDisabled(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Postgres.DSN = "postgres://x@localhost/glam"
	cfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	require.NoError(t, confmap.Validate(cfg))
}
