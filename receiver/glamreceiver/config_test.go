package glamreceiver

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadata"
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

func TestLoadDefaultConfig(t *testing.T) {
	cfg, err := loadConfig(t, "")
	require.NoError(t, err)
	assert.Equal(t, "localhost:4380", cfg.ServerConfig.NetAddr.Endpoint)
	assert.Equal(t, "/api/v1/ingest", cfg.PathPrefix)
	assert.False(t, cfg.RespectDoNotTrack)
	assert.Equal(t, DedupeConfig{MaxEntries: 100_000, TTL: 24 * time.Hour}, cfg.Dedupe)
	assert.Equal(t, ClockSkewConfig{Tolerance: time.Minute, MaxCorrection: 24 * time.Hour}, cfg.ClockSkew)
	assert.False(t, cfg.Glean.SubmitAtRoot, "the receiver stays under path_prefix until told")
	assert.False(t, cfg.ServerConfig.CORS.HasValue(), "CORS stays off until configured")
	assert.Equal(t, 10*time.Second, cfg.ServerConfig.ReadHeaderTimeout, "a client stalled in its headers is cut off")
	assert.Equal(t, 30*time.Second, cfg.ServerConfig.ReadTimeout, "a client stalled in its body is cut off")
	assert.Equal(t, 30*time.Second, cfg.ServerConfig.WriteTimeout)
	assert.False(t, cfg.CountBots, "headless browsers and crawlers are not counted until told")
	assert.Equal(t, []string{"glean.page_load", "documentLoad", "page.view"}, cfg.Pages.LoadEvents)
	assert.Equal(t, "page.view", cfg.Pages.PageViewEvent)
	assert.Equal(t, []string{"url", "url.full", "http.url"}, cfg.Pages.URLAttributes)
	assert.Equal(t, []string{"referrer"}, cfg.Pages.ReferrerAttributes)
	assert.Equal(t, 512, cfg.Pages.MaxURLLength)
	assert.Equal(t, 200, cfg.Pages.MaxTitleLength)
	require.Len(t, cfg.Pages.Routes, 3)
	assert.Equal(t, "/:product(firefox)/probe/:probe/:view(explore|table)", cfg.Pages.Routes[0].Path)
	assert.Equal(t, map[string]string{"glam.channel": "nightly", "glam.probe.process": "content", "glam.os": "*", "glam.aggregation_level": "build_id"},
		cfg.Pages.Routes[0].Defaults, "Firefox desktop's defaults in GLAM's src/config/firefox-desktop.js")
	assert.Equal(t, "/:product(fenix)/probe/:probe/:view(explore|table)", cfg.Pages.Routes[1].Path)
	assert.Equal(t, map[string]string{"app_id": "glam.channel", "ping_type": "glam.ping_type", "os": "glam.os", "aggregationLevel": "glam.aggregation_level"},
		cfg.Pages.Routes[1].Query, "Glean products name their channel app_id")
	assert.Equal(t, "Android", cfg.Pages.Routes[1].Defaults["glam.os"], "GLAM's src/config/fenix.js")
	assert.Equal(t, "*", cfg.Pages.Routes[2].Defaults["glam.os"], "GLAM's src/config/fog.js")
	assert.Equal(t, ClicksConfig{Events: []string{"glean.element_click"}, ActionAttribute: "id"}, cfg.Clicks)
}

func TestLoadCustomConfig(t *testing.T) {
	cfg, err := loadConfig(t, "custom")
	require.NoError(t, err)

	want := createDefaultConfig().(*Config)
	want.ServerConfig.NetAddr.Endpoint = "0.0.0.0:8443"
	want.ServerConfig.MaxRequestBodySize = 1 << 20
	want.ServerConfig.CORS = configoptional.Some(confighttp.CORSConfig{
		AllowedOrigins: []string{"https://glam.telemetry.mozilla.org", "https://*.glam.example"},
		AllowedHeaders: []string{"authorization"},
		MaxAge:         defaultCORSMaxAge,
	})
	want.PathPrefix = "/glam/in"
	want.RespectDoNotTrack = true
	want.Dedupe = DedupeConfig{MaxEntries: 1000, TTL: time.Hour}
	want.ClockSkew = ClockSkewConfig{Tolerance: 30 * time.Second, MaxCorrection: 48 * time.Hour}
	want.Glean = GleanConfig{SubmitAtRoot: true}
	assert.Equal(t, want, cfg)
}

func TestLoadConfigEdgeCases(t *testing.T) {
	cfg, err := loadConfig(t, "no_dedupe")
	require.NoError(t, err)
	assert.Equal(t, 0, cfg.Dedupe.MaxEntries)

	cfg, err = loadConfig(t, "custom_routes")
	require.NoError(t, err)
	assert.True(t, cfg.CountBots)
	assert.Equal(t, []string{"navigation"}, cfg.Pages.LoadEvents)
	assert.Equal(t, "page.shown", cfg.Pages.PageViewEvent)
	assert.Equal(t, []string{"url", "url.full", "http.url"}, cfg.Pages.URLAttributes, "keys not set keep their defaults")
	assert.Equal(t, []RouteConfig{{
		Path: "/:product/probes/:probe", Event: "probe.view",
		Segments: map[string]string{"product": "glam.product", "probe": "glam.probe.name"},
		Query:    map[string]string{"ch": "glam.channel"},
		Defaults: map[string]string{"glam.channel": "release"},
	}}, cfg.Pages.Routes, "a routes list replaces GLAM's, it is not merged into it")
}

func TestConfigValidationErrors(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"ad_blocked_prefix", `path_prefix "/api/analytics" contains "analytics", which ad-block lists match`},
		{"trailing_slash", `path_prefix "/api/v1/ingest/" must not end with '/'`},
		{"relative_prefix", `path_prefix "api/v1/ingest" must start with '/'`},
		{"unclean_prefix", `path_prefix "/api//ingest" must be a clean path`},
		{"negative_dedupe", "dedupe::max_entries must not be negative"},
		{"dedupe_without_ttl", "dedupe::ttl must be positive"},
		{"bad_skew", "clock_skew::max_correction must be positive and at least clock_skew::tolerance"},
		{"no_endpoint", "endpoint must not be empty"},
		{"double_wildcard_origin", `cors::allowed_origins: "https://*.*.example" has more than one wildcard`},
		{"glean_root_overlap", `path_prefix "/submit/otlp" must not be /submit or under it when glean::submit_at_root is on`},
		{"route_bad_segment", `pages::routes[0]: segments: "probe_name" is not a named segment of "/:product/probe/:probe"`},
		{"route_without_event", "pages::routes[0]: event must name the event a page load on this route becomes"},
		{"route_unclosed_choice", `pages::routes[0]: path "/:product(firefox/probe": segment ":product(firefox" opens '(' without closing it at its end`},
		{"pages_short_url", "pages::max_url_length must be at least 16, got 4"},
		{"clicks_without_attribute", "clicks::action_attribute must not be empty when clicks::events is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(t, tt.name)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestMeasuresIsNotAnOption: measures moved to the glam_eventlog receiver,
// which derives measurements from the committed event log. A config that
// still lists them on glam must fail to load rather than seem to apply (an
// unknown key alone would not: see Config.Unmarshal).
func TestMeasuresIsNotAnOption(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(component.NewIDWithName(metadata.Type, "measures").String())
	require.NoError(t, err)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	err = sub.Unmarshal(cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "measures: no longer an option of the glam receiver")
	assert.Contains(t, err.Error(), "glam_eventlog")
}

func TestPathPrefixRejectsEveryAdBlockWord(t *testing.T) {
	for _, word := range []string{"analytics", "telemetry", "track", "collect", "beacon"} {
		err := validatePathPrefix("/x/" + word + "er")
		require.Error(t, err, word)
		assert.Contains(t, err.Error(), word)
	}
	require.Error(t, validatePathPrefix("/Api/TELEMETRY"), "matching ignores case")
	require.NoError(t, validatePathPrefix("/api/v1/ingest"))
	require.NoError(t, validatePathPrefix("/u"))
	require.Error(t, validatePathPrefix("/"))
	require.Error(t, validatePathPrefix("/a?b"))
}
