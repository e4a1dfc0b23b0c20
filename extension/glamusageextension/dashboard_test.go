package glamusageextension

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

// The endpoints the dashboard added to the API, on the known data set.
func TestSessionsDailyOverHTTP(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil))
	var got usageapi.SessionsDaily
	c.getOK("/api/v1/usage/sessions/daily?from=2024-05-06&to=2024-05-08", "/api/v1/usage/sessions/daily", &got)
	require.Len(t, got.Days, 3)
	// s1, s2, s3 start on day 0 (6, 4 and 2 events), s4 and s5 on day 1
	// (5 and 3); day 2 is empty.
	var sessions, events []int64
	for _, d := range got.Days {
		sessions, events = append(sessions, d.Sessions), append(events, d.Events)
	}
	assert.Equal(t, []int64{3, 2, 0}, sessions)
	assert.Equal(t, []int64{12, 8, 0}, events)
	assert.Equal(t, fixtureDay0.AddDate(0, 0, 1), got.Days[1].Start)
	assert.InDelta(t, 1200, got.Days[0].DurationSeconds.Median, 1e-9)
	assert.Len(t, got.DurationHistogram, len(usageapi.DurationBuckets)+1)
	assert.Contains(t, c.getError("/api/v1/usage/sessions/daily?interval=week", "/api/v1/usage/sessions/daily", http.StatusBadRequest),
		"unknown parameter interval: this endpoint takes from, to")
}

func TestReleasesFilteredByProductAndRange(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, func(cfg *Config) {
		cfg.ReleaseDates = []ReleaseDate{
			{Date: "2024-05-14", Name: "Firefox 126", Product: "firefox"},
			{Date: "2024-04-16", Name: "Firefox 125", Product: "firefox"},
			{Date: "2024-05-07", Name: "GLAM redesign"},
			{Date: "2024-05-13", Name: "Fenix 126", Product: "fenix"},
		}
	}))
	names := func(query string) []string {
		t.Helper()
		var got releasesBody
		c.getOK("/api/v1/usage/releases"+query, "/api/v1/usage/releases", &got)
		out := []string{}
		for _, r := range got.Releases {
			out = append(out, r.Date+" "+r.Name)
		}
		return out
	}
	assert.Equal(t, []string{"2024-04-16 Firefox 125", "2024-05-07 GLAM redesign", "2024-05-13 Fenix 126", "2024-05-14 Firefox 126"}, names(""))
	assert.Equal(t, []string{"2024-04-16 Firefox 125", "2024-05-07 GLAM redesign", "2024-05-14 Firefox 126"}, names("?product=firefox"))
	// A day as to includes it; from is inclusive.
	assert.Equal(t, []string{"2024-05-07 GLAM redesign", "2024-05-13 Fenix 126"}, names("?from=2024-05-07&to=2024-05-13"))
	assert.Equal(t, []string{"2024-05-13 Fenix 126"}, names("?from=2024-05-08T00:00:00Z&to=2024-05-14T00:00:00Z"))
	assert.Equal(t, []string{"2024-05-07 GLAM redesign"}, names("?product=fog&to=2024-05-31"))
	assert.Contains(t, c.getError("/api/v1/usage/releases?from=May", "/api/v1/usage/releases", http.StatusBadRequest), `from="May" is not a time`)
}

func TestReleaseDatesConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "release_dates.yaml"))
	require.NoError(t, err)
	load := func(name string) (*Config, error) {
		sub, err := cm.Sub(component.NewIDWithName(metadata.Type, name).String())
		require.NoError(t, err)
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		require.NoError(t, sub.Unmarshal(cfg))
		return cfg, confmap.Validate(cfg)
	}
	cfg, err := load("")
	require.NoError(t, err)
	assert.Equal(t, []ReleaseDate{
		{Date: "2024-05-14", Name: "Firefox 126", Product: "firefox"},
		{Date: "2024-05-13", Name: "Fenix 126", Product: "fenix"},
		{Date: "2024-06-01", Name: "GLAM redesign"},
	}, cfg.ReleaseDates, "an unquoted YAML date reads as its text")

	_, err = load("invalid")
	for _, want := range []string{
		`release_dates[0]: date "14 May 2024" is not a day: write YYYY-MM-DD`,
		"release_dates[1]: name must be set",
		"release_dates[2]: name is 61 bytes long, more than 60",
		`release_dates[4]: 2024-05-14 "Firefox 126" is listed twice`,
	} {
		assert.ErrorContains(t, err, want)
	}
	assert.NotContains(t, err.Error(), "release_dates[3]", "the same day for another product is fine")

	def := NewFactory().CreateDefaultConfig().(*Config)
	assert.Empty(t, def.ReleaseDates, "no release is marked unless configured")
}

func TestProbeBuildListIsDocumented(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil))
	resp, err := http.Post(c.base+"/api/v1/probe-builds", "application/json", strings.NewReader(`{"product":"firefox","channel":"nightly","probe":"gc_ms"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	var got struct {
		ProbeBuilds []map[string]any `json:"probe_builds"`
	}
	c.getOK("/api/v1/probe-builds?status=queued", "/api/v1/probe-builds", &got)
	require.Len(t, got.ProbeBuilds, 1)
	assert.Equal(t, "queued", got.ProbeBuilds[0]["status"])
	assert.Contains(t, c.getError("/api/v1/probe-builds?status=done", "/api/v1/probe-builds", http.StatusBadRequest), `status="done"`)
}

// The page's files are served before the authenticator, exactly those and
// only to GET and HEAD; everything else, the API the page reads included,
// still needs the token.
func TestDashboardFilesAreServedBeforeTheAuthenticator(t *testing.T) {
	id, h := bearerAuth(t, "s3cret")
	base := startAPI(t, knownDatabase(t, fixtureDay0), h, func(cfg *Config) {
		cfg.ServerConfig.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: id}})
	})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, header ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), method, base+path, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := noRedirect.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}

	resp, _ := send(http.MethodGet, "/dashboard")
	assert.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	assert.Equal(t, "dashboard/", resp.Header.Get("Location"), "relative: the page works below a proxy's prefix")
	resp, _ = send(http.MethodGet, "/dashboard?from=2024-05-06&to=2024-05-07")
	assert.Equal(t, "dashboard/?from=2024-05-06&to=2024-05-07", resp.Header.Get("Location"), "a link's range survives")

	resp, page := send(http.MethodGet, "/dashboard/")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "connect-src 'self'")
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self';")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	// What the page loads is served too, with its type.
	refs := regexp.MustCompile(`(?:src|href)="([a-z]+\.(?:js|css))"`).FindAllStringSubmatch(page, -1)
	require.Len(t, refs, 2, page)
	for _, ref := range refs {
		resp, body := send(http.MethodGet, "/dashboard/"+ref[1])
		require.Equal(t, http.StatusOK, resp.StatusCode, ref[1])
		assert.NotEmpty(t, body)
		assert.Contains(t, resp.Header.Get("Content-Type"), map[string]string{".js": "text/javascript", ".css": "text/css"}[filepath.Ext(ref[1])])
		etag := resp.Header.Get("ETag")
		require.NotEmpty(t, etag)
		resp, _ = send(http.MethodGet, "/dashboard/"+ref[1], "If-None-Match", etag)
		assert.Equal(t, http.StatusNotModified, resp.StatusCode, "revalidated by ETag")
	}
	resp, body := send(http.MethodHead, "/dashboard/")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)

	// Not the page's files: the authenticator answers.
	for _, path := range []string{"/dashboard/nope.js", "/dashboard/index.html", "/dashboard/../api/v1/usage/status", "/api/v1/usage/status", "/api/v1/usage/sessions/daily", "/api/v1/usage/releases", "/api/v1/probe-builds"} {
		resp, _ := send(http.MethodGet, path)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, path)
	}
	resp, _ = send(http.MethodPost, "/dashboard/")
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// With the token the page's API calls are answered.
	for _, path := range []string{"/api/v1/usage/sessions/daily", "/api/v1/usage/releases", "/api/v1/probe-builds"} {
		resp, body := send(http.MethodGet, path, "Authorization", "Bearer s3cret")
		assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, body)
	}
}
