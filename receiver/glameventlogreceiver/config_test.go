package glameventlogreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver/internal/metadata"
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

func TestDefaultConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, "glam_views", cfg.Consumer)
	assert.Equal(t, 1000, cfg.BatchSize)
	assert.Equal(t, 5*time.Second, cfg.LeaseRetry)
	assert.Equal(t, time.Second, cfg.Backoff)
	assert.Equal(t, 25*time.Hour, cfg.SessionContext, "the default session views' 24h max_duration and 30m gap")
	assert.True(t, cfg.RuntimeViews, "views created through the usage API are read")
	events := map[string]string{}
	for _, m := range cfg.Measures {
		events[m.Event] = m.Name
	}
	assert.Equal(t, map[string]string{
		"probe.view": usage.MeasureProbeViews, "probe.search": usage.MeasureSearches, "page.view": usage.MeasurePageViews,
		"glean.element_click": usage.MeasureActions, "*": usage.MeasureEvents,
	}, events)
}

func TestCustomConfig(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)
	assert.Equal(t, "postgres://glam@db.internal:5432/glam", string(cfg.DSN))
	assert.Equal(t, "glam_views_beta", cfg.Consumer)
	assert.Equal(t, 500, cfg.BatchSize)
	assert.Equal(t, 2*time.Second, cfg.LeaseRetry)
	assert.Equal(t, 3*time.Second, cfg.Backoff)
	assert.Equal(t, 49*time.Hour, cfg.SessionContext)
	assert.False(t, cfg.RuntimeViews)
	assert.Equal(t, []MeasureConfig{
		{Name: "glam.probe_views", Description: "Probes viewed", Unit: "{view}", Event: "probe.view"},
		{Name: "glam.load_time", Unit: "ms", Event: "page.view", Value: "load_ms"},
	}, cfg.Measures, "a measures list replaces the defaults")
}

func TestInvalidConfigNamesEveryKey(t *testing.T) {
	for name, want := range map[string][]string{
		"no_dsn": {"dsn must be set"},
		"bad": {"consumer must name the view set", "batch_size must be from 1 to 100000, got 0", "lease_retry must be positive",
			"backoff must be positive", "session_context must not be negative"},
		"measure_without_event": {"measures[0]: name and event must not be empty"},
		"measure_unit_conflict": {`measures[1]: measure "glam.page_views" has unit "{load}" here and "{view}" in an earlier entry`},
		"measure_twice":         {`measures[1]: measure "glam.events" for event "*" is listed twice`},
	} {
		_, err := loadConfig(t, name)
		require.Error(t, err, name)
		for _, w := range want {
			assert.Contains(t, err.Error(), w, name)
		}
	}
}
