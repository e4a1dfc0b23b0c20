package glamviewsprocessor

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadata"
)

// loadConfig reads the named configuration from a testdata file into the
// defaults, as the collector does.
func loadConfig(t *testing.T, file, name string) (*Config, error) {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", file))
	require.NoError(t, err)
	id := component.NewID(metadata.Type)
	if name != "" {
		id = component.NewIDWithName(metadata.Type, name)
	}
	sub, err := cm.Sub(id.String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	require.NoError(t, sub.Unmarshal(cfg))
	return cfg, confmap.Validate(cfg)
}

func TestConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}

// An empty section gives the defaults README.md documents (its Options
// table and the views of its Configuration block), written out here as the
// README states them, not taken from the code.
func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(t, "config.yaml", "")
	require.NoError(t, err)
	probeTags := []string{"glam.product", "glam.probe.name", "glam.probe.process", "glam.channel"}
	hour, day := WindowConfig{Size: time.Hour}, WindowConfig{Size: 24 * time.Hour}
	session := WindowConfig{SessionGap: 30 * time.Minute, MaxDuration: 24 * time.Hour}
	assert.Equal(t, &Config{
		FlushInterval:   10 * time.Second,
		FlushSize:       10000,
		AllowedLateness: time.Hour,
		Views: []ViewConfig{
			{Name: "glam.probe_views.hourly", Description: "Probe views per hour by product, probe, process and channel.",
				Measure: "glam.probe_views", Aggregation: "count", TagKeys: probeTags, Window: hour, MaxSeries: 20000},
			{Name: "glam.probe_views.daily", Description: "Probe views per day by product, probe, process and channel.",
				Measure: "glam.probe_views", Aggregation: "count", TagKeys: probeTags, Window: day, MaxSeries: 50000},
			{Name: "glam.probe_sessions.daily",
				Description: "Probe views per day by product, probe and session: the rows of a probe and day are its distinct sessions.",
				Measure:     "glam.probe_views", Aggregation: "count", TagKeys: []string{"glam.product", "glam.probe.name", "session.id"},
				Window: day, MaxSeries: 100000},
			{Name: "glam.sessions", Description: "Events per session; a row's start and end are the session's first and last event.",
				Measure: "glam.events", Aggregation: "count", Window: session, MaxSeries: 50000},
			{Name: "glam.session_probes",
				Description: "Probe views per session by product and probe: a session's rows are the probes it looked at.",
				Measure:     "glam.probe_views", Aggregation: "count", TagKeys: []string{"glam.product", "glam.probe.name"},
				Window: session, MaxSeries: 100000},
			{Name: "glam.searches.daily", Description: "Probe searches per day by product.",
				Measure: "glam.searches", Aggregation: "count", TagKeys: []string{"glam.product"}, Window: day},
			{Name: "glam.page_views.daily", Description: "GLAM page views per day.",
				Measure: "glam.page_views", Aggregation: "count", Window: day},
			{Name: "glam.actions.daily", Description: "Clicks per day by action (the element's data-glean-id) and product.",
				Measure: "glam.actions", Aggregation: "count", TagKeys: []string{"glam.action", "glam.product"}, Window: day,
				MaxSeries: 10000},
			{Name: "glam.session_actions", Description: "Clicks per session by action: a session's rows are the controls it used.",
				Measure: "glam.actions", Aggregation: "count", TagKeys: []string{"glam.action"}, Window: session,
				MaxSeries: 100000},
		},
	}, cfg)
	// The Options table's defaults of what a view leaves unset: max_series
	// 10000 (the two views without one), max_duration 24h.
	assert.Equal(t, 10000, cfg.Views[5].EffectiveMaxSeries())
	assert.Equal(t, 10000, cfg.Views[6].EffectiveMaxSeries())
	assert.Equal(t, 24*time.Hour, WindowConfig{SessionGap: 30 * time.Minute}.EffectiveMaxDuration())
}

// The published GLAM views and the defaults must not drift apart.
func TestGLAMViewsFileEqualsDefaults(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "glam_views.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(metadata.Type.String())
	require.NoError(t, err)
	cfg := &Config{}
	require.NoError(t, sub.Unmarshal(cfg))
	require.NoError(t, confmap.Validate(cfg))
	assert.Equal(t, createDefaultConfig(), cfg)
}

func TestLoadConfigCustom(t *testing.T) {
	cfg, err := loadConfig(t, "config.yaml", "custom")
	require.NoError(t, err)
	want := &Config{
		FlushInterval:   5 * time.Second,
		FlushSize:       2000,
		AllowedLateness: 2 * time.Hour,
		Views: []ViewConfig{
			{
				Name: "probe_views.hourly", Description: "Probe views per hour.",
				Measure: "glam.probe_views", Aggregation: AggregationCount,
				TagKeys: []string{"glam.product", "glam.probe.name"},
				Window:  WindowConfig{Size: time.Hour}, MaxSeries: 500,
			},
			{
				Name: "load_time", Description: "Page load time.",
				Measure: "glam.page_load_time", Aggregation: AggregationDistribution,
				Buckets: []float64{100, 250, 500, 1000, 2500},
				TagKeys: []string{"glam.product"},
				Window:  WindowConfig{Size: 24 * time.Hour},
			},
			{
				Name: "session_load_time", Measure: "glam.page_load_time", Aggregation: AggregationSum,
				Window: WindowConfig{SessionGap: 30 * time.Minute, MaxDuration: 12 * time.Hour},
			},
			{
				Name: "last_load_time", Measure: "glam.page_load_time", Aggregation: AggregationLastValue,
				Window: WindowConfig{SessionGap: 15 * time.Minute},
			},
		},
	}
	assert.Equal(t, want, cfg)
	assert.Equal(t, DefaultMaxSeries, cfg.Views[1].EffectiveMaxSeries())
	assert.Equal(t, 500, cfg.Views[0].EffectiveMaxSeries())
	assert.Equal(t, DefaultSessionMaxDuration, cfg.Views[3].Window.EffectiveMaxDuration())
}

func TestLoadConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"no_views", []string{"views: at least one view is required"}},
		{"zero_flush_interval", []string{"flush_interval must be positive, got 0s"}},
		{"negative_flush_size", []string{"flush_size must not be negative, got -1"}},
		{"negative_lateness", []string{"allowed_lateness must not be negative, got -1m0s"}},
		{"unknown_aggregation", []string{`views[0] ("v"): unknown aggregation "median": want one of count, sum, distribution, last_value`}},
		{"buckets_not_ascending", []string{`views[0] ("v"): buckets must be strictly ascending: buckets[2]=5 follows 5`}},
		{"buckets_without_distribution", []string{`views[0] ("v"): buckets are only allowed with aggregation distribution, not sum`}},
		{"distribution_without_buckets", []string{`views[0] ("v"): aggregation distribution needs buckets (explicit upper bounds)`}},
		{"duplicate_names", []string{`views[1]: duplicate view name "v" (also views[0])`}},
		{"window_both", []string{`views[0] ("v"): window: set either size (fixed window) or session_gap/max_duration (session window), not both`}},
		{"window_neither", []string{`views[0] ("v"): window: set size (fixed window) or session_gap (session window)`}},
		{"size_not_dividing_day", []string{`views[0] ("v"): window: size 7h0m0s does not divide a day, so windows would drift off UTC midnight`}},
		{"max_duration_without_gap", []string{`views[0] ("v"): window: session_gap must be positive, got 0s`}},
		{"max_duration_shorter_than_gap", []string{`views[0] ("v"): window: max_duration (10m0s) must not be shorter than session_gap (30m0s)`}},
		{"session_id_tag", []string{`views[0] ("v"): tag_keys: "session.id" is always a tag of a session view; remove it`}},
		{"duplicate_tag_keys", []string{`views[0] ("v"): tag_keys: "a" is listed twice`}},
		{"negative_max_series", []string{`views[0] ("v"): max_series must not be negative, got -1`}},
		{"missing_name_and_measure", []string{`views[0] (""): name is required`, `views[0] (""): measure is required`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(t, "config.yaml", tt.name)
			require.Error(t, err)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

func TestLoadConfigRejectsUnknownOption(t *testing.T) {
	cm := confmap.NewFromStringMap(map[string]any{
		"views": []any{map[string]any{"name": "v", "measure": "m", "aggregation": "count", "tagkeys": []any{"a"}}},
	})
	err := cm.Unmarshal(createDefaultConfig())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tagkeys")
}
