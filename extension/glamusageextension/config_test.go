package glamusageextension

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

func loadConfig(t *testing.T, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, "localhost:4381", cfg.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, "postgres://glam@localhost:5432/glam", string(cfg.Postgres.DSN))
	assert.Equal(t, int32(4), cfg.Postgres.MaxConns)
	assert.Equal(t, 10*time.Second, cfg.QueryTimeout)
	assert.Equal(t, 366*24*time.Hour, cfg.MaxRange)
	assert.Equal(t, 7*24*time.Hour, cfg.DefaultRange)
	assert.Equal(t, 1000, cfg.MaxLimit)
	assert.Equal(t, usage.EventProbeView, cfg.Usage.ProbeViewEvent)
	assert.Equal(t, "glam.probe_views.hourly", cfg.Usage.Views.ProbeViewsHourly)
	assert.Equal(t, "glam.session_probes", cfg.Usage.Views.SessionProbes)
	assert.Equal(t, 30*time.Minute, cfg.Usage.ActiveWithin)
	assert.False(t, cfg.ServerConfig.Auth.HasValue())
	assert.Equal(t, 10*time.Second, cfg.ServerConfig.ReadHeaderTimeout, "a stalled client is cut off")
	assert.Equal(t, 10*time.Second, cfg.ServerConfig.ReadTimeout)
	assert.Zero(t, cfg.ProbeBuilds.Workers, "builds need BigQuery credentials: none run by default")
	assert.False(t, cfg.RuntimeViews.WriteAuth.HasValue(), "no view is written through the API unless configured")
	assert.Equal(t, 20, cfg.RuntimeViews.MaxViews)
	assert.Equal(t, 64, cfg.RuntimeViews.MemoryLimitMiB)
}

func TestConfigCustom(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:9090", cfg.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, "postgres://glam@db:5432/glam", string(cfg.Postgres.DSN))
	assert.Equal(t, int32(8), cfg.Postgres.MaxConns)
	assert.Equal(t, 5*time.Second, cfg.QueryTimeout)
	assert.Equal(t, 90*24*time.Hour, cfg.MaxRange)
	assert.Equal(t, 24*time.Hour, cfg.DefaultRange)
	assert.Equal(t, 500, cfg.MaxLimit)
	assert.Equal(t, "probe.open", cfg.Usage.ProbeViewEvent)
	assert.Equal(t, 15*time.Minute, cfg.Usage.ActiveWithin)
	assert.Equal(t, "my.views.hourly", cfg.Usage.Views.ProbeViewsHourly)
	assert.Equal(t, "my.views.daily", cfg.Usage.Views.ProbeViewsDaily)
	assert.Equal(t, "my.sessions.daily", cfg.Usage.Views.ProbeSessionsDaily)
	assert.Equal(t, "my.sessions", cfg.Usage.Views.Sessions)
	assert.Equal(t, "my.session_probes", cfg.Usage.Views.SessionProbes)
	require.True(t, cfg.ServerConfig.Auth.HasValue())
	assert.Equal(t, component.MustNewID("bearertokenauth"), cfg.ServerConfig.Auth.Get().Config.AuthenticatorID)
	assert.Equal(t, 2, cfg.ProbeBuilds.Workers)
	assert.Equal(t, "my-project", cfg.ProbeBuilds.BigQuery.ProjectID)
	require.True(t, cfg.RuntimeViews.WriteAuth.HasValue())
	assert.Equal(t, component.MustNewIDWithName("bearertokenauth", "view_writers"), cfg.RuntimeViews.WriteAuth.Get().AuthenticatorID)
	assert.Equal(t, 5, cfg.RuntimeViews.MaxViews)
	assert.Equal(t, 16, cfg.RuntimeViews.MemoryLimitMiB)
}

func TestConfigInvalidReportsEveryProblem(t *testing.T) {
	_, err := loadConfig(t, "invalid")
	require.Error(t, err)
	for _, want := range []string{
		"endpoint must be set", "dsn must be set", "max_conns must be at least 1",
		"query_timeout must be positive", "max_range must be at least 1h",
		"default_range must be positive and at most max_range", "max_limit must be at least 1",
		"usage.views.sessions must name a view", "usage.active_within must be positive",
		"runtime_views.max_views must not be negative", "runtime_views.memory_limit_mib must be at least 1",
	} {
		assert.ErrorContains(t, err, want)
	}
}
