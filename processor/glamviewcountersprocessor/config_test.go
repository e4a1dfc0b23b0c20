package glamviewcountersprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor/internal/metadata"
)

func loadConfig(t *testing.T, name string) *Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.MustNewIDWithName(metadata.Type.String(), name).String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig()
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg.(*Config)
}

// The documented defaults: 1000 series per counter, sessions remembered 2 h.
func TestDefaults(t *testing.T) {
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	assert.Equal(t, 1000, cfg.MaxSeries)
	assert.Equal(t, 2*time.Hour, cfg.ForgetSessionsAfter)
	assert.EqualError(t, confmap.Validate(cfg), "counters: at least one counter is required")
}

func TestLoadConfig(t *testing.T) {
	cfg := loadConfig(t, "")
	require.NoError(t, confmap.Validate(cfg))
	require.Len(t, cfg.Counters, 3)
	assert.Equal(t, "glam.probe_views", cfg.Counters[1].metricName())
	assert.Equal(t, []string{"glam.product", "glam.channel"}, cfg.Counters[1].TagKeys)
	assert.True(t, cfg.Counters[2].countSessions())
	assert.False(t, cfg.Counters[0].countSessions())

	limits := loadConfig(t, "limits")
	require.NoError(t, confmap.Validate(limits))
	assert.Equal(t, 50, limits.MaxSeries)
	assert.Equal(t, 3*time.Hour, limits.ForgetSessionsAfter)
	assert.Equal(t, "glam.searches.daily", limits.Counters[0].metricName(), "the view's name when no name is given")
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := confmap.Validate(loadConfig(t, "bad"))
	require.Error(t, err)
	for _, want := range []string{
		"max_series must be positive, got 0",
		"forget_sessions_after must be positive, got 0s",
		`counters[0] (view "glam.sessions"): tag_keys: session.id would make a series per session; use count: sessions to count sessions`,
		`counters[0] (view "glam.sessions"): tag_keys: empty tag key`,
		`counters[0] (view "glam.sessions"): tag_keys: "glam.product" listed twice`,
		`counters[0] (view "glam.sessions"): unknown count "distinct": want value or sessions`,
		`counters[1] (view "glam.sessions"): view listed twice (also counters[0])`,
		`counters[1] (view "glam.sessions"): duplicate counter name "glam.sessions" (also counters[0])`,
		"counters[2]: view must not be empty",
		`counters[3] (view "glam.page_views.daily"): duplicate counter name "glam.sessions" (also counters[1])`,
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.EqualError(t, confmap.Validate(loadConfig(t, "empty")), "counters: at least one counter is required")
}
