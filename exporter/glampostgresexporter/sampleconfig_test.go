package glampostgresexporter

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
)

// resolve loads a config file as the collector does, ${env:...} expanded.
func resolve(t *testing.T, path string) *confmap.Conf {
	t.Helper()
	abs, err := filepath.Abs(path)
	require.NoError(t, err)
	r, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs:              []string{"file:" + abs},
		ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory(), envprovider.NewFactory()},
		DefaultScheme:     "env",
	})
	require.NoError(t, err)
	conf, err := r.Resolve(context.Background())
	require.NoError(t, err)
	return conf
}

func samplePersistentQueue(t *testing.T) (*Config, *filestorage.Config) {
	t.Helper()
	conf := resolve(t, filepath.Join("..", "..", "testdata", "config-persistent-queue.yaml"))
	sub, err := conf.Sub("exporters::glam_postgres")
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))

	sub, err = conf.Sub("extensions::file_storage/queue")
	require.NoError(t, err)
	storage := filestorage.NewFactory().CreateDefaultConfig().(*filestorage.Config)
	require.NoError(t, sub.Unmarshal(storage))
	return cfg, storage
}

func TestSamplePersistentQueueConfigExpandsEnvironment(t *testing.T) {
	t.Setenv("GLAM_POSTGRES_DSN", "postgres://glam:hunter2@db.internal:5432/glam")
	t.Setenv("GLAM_QUEUE_DIR", "/var/lib/otelcol-glam/queue")
	cfg, storage := samplePersistentQueue(t)
	assert.Equal(t, "postgres://glam:hunter2@db.internal:5432/glam", string(cfg.Postgres.DSN))
	assert.Equal(t, "/var/lib/otelcol-glam/queue", storage.Directory)

	q := cfg.QueueConfig.Get()
	require.NotNil(t, q)
	assert.Equal(t, component.MustNewIDWithName("file_storage", "queue"), *q.StorageID)
	assert.True(t, q.BlockOnOverflow)
	assert.True(t, cfg.BackOffConfig.Enabled)
	assert.Equal(t, time.Duration(0), cfg.BackOffConfig.MaxElapsedTime)
	assert.Equal(t, 90*day, cfg.RawEvents.Retention)
}

func TestSamplePersistentQueueConfigDefaults(t *testing.T) {
	for _, v := range []string{"GLAM_POSTGRES_DSN", "GLAM_QUEUE_DIR"} {
		t.Setenv(v, "") // restored after the test
		require.NoError(t, os.Unsetenv(v))
	}
	cfg, storage := samplePersistentQueue(t)
	assert.Equal(t, "postgres://postgres@127.0.0.1:5432/glam?sslmode=disable", string(cfg.Postgres.DSN))
	assert.Equal(t, ".run/queue", storage.Directory)
}
