package glamusageextension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/jsonapi"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
	"github.com/mozilla/otelcol-glam/internal/usageapi/usagetest"
)

const knownDataSet = "testdata/usage_events.csv"

// fixtureDay0 is Monday 2024-05-06: day 0 of the known data set in the
// tests that load it straight into the tables.
var fixtureDay0 = time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC)

// knownDatabase is a fresh database holding the known data set as raw
// events and as the default views' rows, derived with SQL.
func knownDatabase(t *testing.T, day0 time.Time) string {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, pgschema.Migrate(ctx, db))
	views := usagetest.Views(usageapi.NewDefaultConfig().Views)
	_, err = usagetest.LoadCSV(ctx, db, knownDataSet, day0, views, usage.EventProbeView)
	require.NoError(t, err)
	return dsn
}

// host offers extensions (an authenticator) to the extension under test.
type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

func freeEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startAPI runs the extension on dsn and returns its base URL.
func startAPI(t *testing.T, dsn string, h host, tweak func(*Config)) string {
	t.Helper()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = freeEndpoint(t)
	cfg.Postgres.DSN = configopaque.String(dsn)
	if tweak != nil {
		tweak(cfg)
	}
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(context.Background(), extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), h))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	return "http://" + cfg.ServerConfig.NetAddr.Endpoint
}

// client calls the API and checks every answer against the OpenAPI
// document.
type client struct {
	t      *testing.T
	base   string
	token  string
	schema schemaChecker
}

func newClient(t *testing.T, base string) *client {
	return &client{t: t, base: base, schema: loadOpenAPI(t)}
}

// get requests path and returns the status and body; docPath is the
// document's path the answer must match (empty: not documented, e.g. 404).
func (c *client) get(path, docPath string) (int, []byte) {
	c.t.Helper()
	return c.send(http.MethodGet, path, docPath, "")
}

// send makes a request with the client's token and checks its JSON answer
// against the document's schema of method on docPath (empty: not
// documented).
func (c *client) send(method, path, docPath, body string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	assert.Equal(c.t, "application/json", resp.Header.Get("Content-Type"), path)
	var v any
	require.NoError(c.t, json.Unmarshal(out, &v), "%s %s answered %s", method, path, out)
	if docPath != "" {
		schema, err := c.schema.methodResponseSchema(method, docPath, resp.StatusCode)
		require.NoError(c.t, err, "%s %s answered %d: %s", method, path, resp.StatusCode, out)
		require.NoError(c.t, c.schema.check(schema, v, "$"), "%s %s answered %s", method, path, out)
	}
	return resp.StatusCode, out
}

// getOK requests path, expects 200 and decodes the answer into out.
func (c *client) getOK(path, docPath string, out any) {
	c.t.Helper()
	status, body := c.get(path, docPath)
	require.Equal(c.t, http.StatusOK, status, "%s: %.300s", path, body)
	require.NoError(c.t, json.Unmarshal(body, out))
}

// getError requests path and returns the error message of a status answer.
func (c *client) getError(path, docPath string, status int) string {
	c.t.Helper()
	got, body := c.get(path, docPath)
	require.Equal(c.t, status, got, "%s: %.300s", path, body)
	var e jsonapi.ErrorBody
	require.NoError(c.t, json.Unmarshal(body, &e))
	require.NotEmpty(c.t, e.Error)
	return e.Error
}

func day(day0 time.Time, d int) string { return day0.AddDate(0, 0, d).Format(dateLayout) }

// assertKnownAnswers checks the answers every usage endpoint gives for the
// known data set placed at day0 (see testdata/usage_events.csv).
func assertKnownAnswers(t *testing.T, c *client, day0 time.Time) {
	at := func(d int, clock string) time.Time {
		h, m := 0, 0
		_, err := fmt.Sscanf(clock, "%d:%d", &h, &m)
		require.NoError(t, err)
		return day0.AddDate(0, 0, d).Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
	}
	span := fmt.Sprintf("from=%s&to=%s", day(day0, 0), day(day0, 1))

	t.Run("top probes", func(t *testing.T) {
		var got usageapi.TopProbes
		c.getOK("/api/v1/usage/probes/top?"+span, "/api/v1/usage/probes/top", &got)
		assert.Equal(t, usageapi.Range{From: day0, To: at(2, "00:00")}, got.Range)
		assert.Equal(t, []usageapi.ProbeRank{rank("fog", "gc_ms", 6, 3), rank("fog", "cpu", 3, 2), rank("fenix", "gc_ms", 1, 1), rank("firefox", "gc_ms", 1, 1)}, got.Probes)
		c.getOK("/api/v1/usage/probes/top?"+span+"&product=fog&limit=1", "/api/v1/usage/probes/top", &got)
		assert.Equal(t, []usageapi.ProbeRank{rank("fog", "gc_ms", 6, 3)}, got.Probes)
	})
	t.Run("probe series", func(t *testing.T) {
		var got seriesBody
		c.getOK("/api/v1/usage/probes/fog/gc_ms/series?"+span, "/api/v1/usage/probes/{product}/{probe}/series", &got)
		assert.Equal(t, usageapi.Day, got.Interval)
		assert.Equal(t, []usageapi.SeriesPoint{
			{Start: at(0, "00:00"), End: at(1, "00:00"), Views: 4, Sessions: 2},
			{Start: at(1, "00:00"), End: at(2, "00:00"), Views: 2, Sessions: 1},
		}, got.Points)
		c.getOK("/api/v1/usage/probes/fog/cpu/series?interval=hour&from="+url.QueryEscape(at(1, "08:00").Format(time.RFC3339))+
			"&to="+url.QueryEscape(at(1, "10:00").Format(time.RFC3339)), "/api/v1/usage/probes/{product}/{probe}/series", &got)
		assert.Equal(t, []usageapi.SeriesPoint{
			{Start: at(1, "08:00"), End: at(1, "09:00"), Views: 0, Sessions: 0},
			{Start: at(1, "09:00"), End: at(1, "10:00"), Views: 2, Sessions: 1},
		}, got.Points)
	})
	t.Run("session summary", func(t *testing.T) {
		var got usageapi.SessionSummary
		c.getOK("/api/v1/usage/sessions/summary?"+span, "/api/v1/usage/sessions/summary", &got)
		assert.Equal(t, int64(5), got.Sessions)
		assert.Equal(t, int64(20), got.Events)
		assert.InDelta(t, 5.6, got.EventsPerSession.P90, 1e-9)
		assert.Equal(t, usageapi.Distribution{Mean: 1260, Median: 1200, P90: 2160}, got.DurationSeconds)
		assert.InDelta(t, 1.4, got.ProbesPerSession.Mean, 1e-9)
		assert.InDelta(t, 2.6, got.ProbesPerSession.P90, 1e-9)
	})
	t.Run("session events", func(t *testing.T) {
		var got sessionBody
		c.getOK("/api/v1/usage/sessions/s4", "/api/v1/usage/sessions/{session_id}", &got)
		var names []string
		for _, e := range got.Events {
			names = append(names, e.Name)
		}
		assert.Equal(t, []string{"page.view", "probe.search", "probe.view", "probe.view", "probe.view"}, names)
		assert.Equal(t, at(1, "09:20"), got.Events[3].Time)
		assert.Equal(t, "fenix", *got.Events[3].Product)
		assert.False(t, got.More)
		c.getOK("/api/v1/usage/sessions/s4?limit=2", "/api/v1/usage/sessions/{session_id}", &got)
		assert.Len(t, got.Events, 2)
		assert.True(t, got.More)
		assert.Equal(t, `no events of session "nobody": not found`, c.getError("/api/v1/usage/sessions/nobody", "/api/v1/usage/sessions/{session_id}", http.StatusNotFound))
	})
	t.Run("views", func(t *testing.T) {
		var list viewsBody
		c.getOK("/api/v1/usage/views", "/api/v1/usage/views", &list)
		assert.Subset(t, list.Views, []string{"glam.probe_views.hourly", "glam.probe_views.daily", "glam.probe_sessions.daily", "glam.sessions", "glam.session_probes"})
		var got usageapi.ViewResult
		c.getOK("/api/v1/usage/views/glam.probe_views.daily?"+span+"&group_by=glam.channel&glam.product=fog", "/api/v1/usage/views/{view}", &got)
		nightly, beta := "nightly", "beta"
		require.Len(t, got.Rows, 2)
		assert.Equal(t, map[string]*string{"glam.channel": &nightly}, got.Rows[0].Tags)
		assert.Equal(t, int64(7), got.Rows[0].Count)
		assert.Equal(t, map[string]*string{"glam.channel": &beta}, got.Rows[1].Tags)
		assert.Equal(t, int64(2), got.Rows[1].Count)
		assert.Equal(t, map[string]string{"glam.product": "fog"}, got.Filters)
	})
	t.Run("funnel", func(t *testing.T) {
		var got usageapi.Funnel
		c.getOK("/api/v1/usage/funnel?steps=page.view,probe.search,probe.view&within=30m&"+span, "/api/v1/usage/funnel", &got)
		assert.Equal(t, []usageapi.FunnelStep{
			{Event: "page.view", Sessions: 4, Conversion: 1, Overall: 1},
			{Event: "probe.search", Sessions: 3, Conversion: 0.75, Overall: 0.75},
			{Event: "probe.view", Sessions: 3, Conversion: 1, Overall: 0.75},
		}, got.Steps)
	})
	t.Run("GLAM usage", func(t *testing.T) {
		var got []map[string]any
		glamSpan := fmt.Sprintf("fromDate=%s&toDate=%s", day0.Format("20060102"), day0.AddDate(0, 0, 2).Format("20060102"))
		c.getOK("/api/v1/usage/?"+glamSpan+"&fields=probe_name&agg=count", "/api/v1/usage/", &got)
		assert.Equal(t, []map[string]any{{"probe_name": "gc_ms", "total": 8.0}, {"probe_name": "cpu", "total": 3.0}}, got)
		got = nil
		c.getOK("/api/v1/usage/?"+glamSpan+"&product=fog&fields=probe_name&agg=count&actionType=PROBE_SEARCH", "/api/v1/usage/", &got)
		assert.Equal(t, []map[string]any{{"probe_name": "gc_ms", "total": 6.0}, {"probe_name": "cpu", "total": 3.0}}, got)
		// GLAM's default rows: what its frontend and scripts read.
		got = nil
		c.getOK(fmt.Sprintf("/api/v1/usage?fromDate=%s&toDate=%s", day(day0, 1), day(day0, 2)), "/api/v1/usage/", &got)
		require.Len(t, got, 5)
		assert.Equal(t, map[string]any{"action_type": "PROBE_SEARCH", "timestamp": at(1, "09:02").Format("2006-01-02T15:04:05Z"), "probe_name": "cpu"}, got[0])
	})
}

func TestKnownDataSetOverHTTP(t *testing.T) {
	base := startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil)
	c := newClient(t, base)
	assertKnownAnswers(t, c, fixtureDay0)

	t.Run("hotlist", func(t *testing.T) {
		// The data set is long past: nothing was viewed in the last days.
		var got usageapi.Hotlist
		c.getOK("/api/v1/usage/hotlist?days=3", "/api/v1/usage/hotlist", &got)
		assert.Empty(t, got.Probes)
		assert.Equal(t, time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1), got.To)
	})
	t.Run("status", func(t *testing.T) {
		var got statusBody
		c.getOK("/api/v1/usage/status", "/api/v1/usage/status", &got)
		assert.Zero(t, got.ActiveSessions)
		assert.Zero(t, got.EventsToday)
		require.NotNil(t, got.LastEventTime)
		assert.Equal(t, fixtureDay0.AddDate(0, 0, 1).Add(16*time.Hour+10*time.Minute), *got.LastEventTime)
		assert.Equal(t, pgschema.Latest(), got.SchemaVersion)
		assert.Equal(t, probeBuildQueue{}, got.ProbeBuilds)
	})
	t.Run("openapi document", func(t *testing.T) {
		resp, err := http.Get(base + "/api/v1/openapi.json")
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		assert.Equal(t, openAPIDocument, body)
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		require.NoError(t, json.Unmarshal(body, &doc))
		assert.Equal(t, "3.1.0", doc.OpenAPI)
		// Every documented path is routed: none is the mux's "no such
		// endpoint" (a 404 of a route says what was not found instead).
		require.NotEmpty(t, doc.Paths)
		for path := range doc.Paths {
			filled := strings.NewReplacer("{product}", "fog", "{probe}", "gc_ms", "{session_id}", "s1", "{view}", "glam.sessions",
				"{id}", "00000000-0000-0000-0000-000000000000", "{name}", "glam.sessions").Replace(path)
			status, body := rawGet(t, base+filled)
			assert.NotContains(t, string(body), "no such endpoint", "%s answered %d", filled, status)
		}
	})
}

func TestBadInputGets400SayingWhatToSend(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, func(cfg *Config) { cfg.MaxRange = 100 * 24 * time.Hour }))
	for _, tc := range []struct{ path, doc, want string }{
		{"/api/v1/usage/probes/top?from=yesterday", "/api/v1/usage/probes/top", `from="yesterday" is not a time: send RFC 3339 (2024-05-01T12:00:00Z) or a date (2024-05-01)`},
		{"/api/v1/usage/probes/top?from=2024-05-08&to=2024-05-06", "/api/v1/usage/probes/top", "must be before to"},
		{"/api/v1/usage/probes/top?from=2024-01-01&to=2024-05-06", "/api/v1/usage/probes/top", "more than max_range 2400h0m0s: send a shorter range"},
		{"/api/v1/usage/probes/top?limit=5000", "/api/v1/usage/probes/top", `limit="5000": send a whole number from 1 to 1000`},
		{"/api/v1/usage/probes/top?limit=-1", "/api/v1/usage/probes/top", "send a whole number"},
		{"/api/v1/usage/probes/top?prodcut=fog", "/api/v1/usage/probes/top", "unknown parameter prodcut: this endpoint takes from, limit, product, to"},
		{"/api/v1/usage/probes/fog/gc_ms/series?interval=month", "/api/v1/usage/probes/{product}/{probe}/series", `interval="month": send hour, day or week`},
		{"/api/v1/usage/probes/fog/gc_ms/series?interval=hour&from=2024-02-01&to=2024-05-06", "/api/v1/usage/probes/{product}/{probe}/series", "send a coarser interval or a shorter from/to range"},
		{"/api/v1/usage/sessions/summary?to=2024-13-01", "/api/v1/usage/sessions/summary", "is not a time"},
		{"/api/v1/usage/views/glam.nope", "/api/v1/usage/views/{view}", `unknown view "glam.nope": send one of "glam.probe_sessions.daily"`},
		{"/api/v1/usage/views/glam.sessions?group_by=glam.os", "/api/v1/usage/views/{view}", `view "glam.sessions" has no tag "glam.os": its tags are "session.id"`},
		{"/api/v1/usage/views/glam.sessions?glam.os=Linux", "/api/v1/usage/views/{view}", `has no tag "glam.os"`},
		{"/api/v1/usage/funnel?steps=page.view", "/api/v1/usage/funnel", "steps has 1 events: send 2 to 10 event names"},
		{"/api/v1/usage/funnel?steps=a,b&within=forever", "/api/v1/usage/funnel", `within="forever": send a duration from 1s to 24h0m0s`},
		{"/api/v1/usage/hotlist?days=400", "/api/v1/usage/hotlist", `days="400": send a whole number from 1 to 100`},
		{"/api/v1/usage/?fields=probe_name&agg=sum", "/api/v1/usage/", `agg="sum": send agg=count`},
		{"/api/v1/usage/?fields=probe&agg=count", "/api/v1/usage/", `unknown field "probe": send fields from "id", "action_type"`},
		{"/api/v1/usage/?fromDate=May", "/api/v1/usage/", `fromDate="May" is not a date: send YYYYMMDD`},
		{"/api/v1/usage/?fields=timestamp", "/api/v1/usage/", "rows from raw events need fromDate and toDate at most 2400h0m0s apart"},
	} {
		assert.Contains(t, c.getError(tc.path, tc.doc, http.StatusBadRequest), tc.want, tc.path)
	}
	assert.Contains(t, c.getError("/api/v1/usage/nowhere", "", http.StatusNotFound), "no such endpoint: /api/v1/usage/nowhere")

	req, err := http.NewRequest(http.MethodPost, c.base+"/api/v1/usage/probes/top", strings.NewReader("{}"))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, HEAD", resp.Header.Get("Allow"))
	var e jsonapi.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	assert.Equal(t, "POST is not allowed on /api/v1/usage/probes/top: send GET or HEAD", e.Error)
}

func TestProbeBuildsAreMounted(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil))
	assert.NotEmpty(t, c.getError("/api/v1/probe-builds/00000000-0000-0000-0000-000000000000", "/api/v1/probe-builds/{id}", http.StatusNotFound))

	resp, err := http.Post(c.base+"/api/v1/probe-builds", "application/json", strings.NewReader(`{"product":"nope","probe":"gc_ms"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	var v any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&v))
	op, ok := dig(c.schema.doc, "paths", "/api/v1/probe-builds", "post", "responses", "400", "content", "application/json", "schema").(map[string]any)
	require.True(t, ok)
	require.NoError(t, c.schema.check(op, v, "$"))
}

func TestDatabaseDownGets503(t *testing.T) {
	// A port nothing listens on: the pool fails to connect.
	c := newClient(t, startAPI(t, "postgres://postgres@"+freeEndpoint(t)+"/glam?sslmode=disable&connect_timeout=2", host{}, nil))
	for _, path := range []string{"/api/v1/usage/status", "/api/v1/usage/probes/top", "/api/v1/usage/sessions/s1"} {
		assert.Equal(t, "the usage database is unavailable; retry later",
			c.getError(path, "", http.StatusServiceUnavailable), path)
	}
	status, _ := c.get("/api/v1/usage/probes/top", "/api/v1/usage/probes/top")
	assert.Equal(t, http.StatusServiceUnavailable, status)
	resp, err := http.Get(c.base + "/api/v1/usage/hotlist")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "5", resp.Header.Get("Retry-After"), "a 503 says when to retry, as the README promises")
}

// A query that outlives query_timeout is a 504 saying what to do, not a
// 500 or a hung request.
func TestSlowQueryGets504(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, func(cfg *Config) { cfg.QueryTimeout = time.Nanosecond }))
	for _, path := range []string{"/api/v1/usage/probes/top", "/api/v1/usage/sessions/summary", "/api/v1/usage/hotlist"} {
		assert.Equal(t, "the query took longer than query_timeout: send a shorter from/to range",
			c.getError(path, "", http.StatusGatewayTimeout), path)
	}
}

func rank(product, probe string, views, sessions int64) usageapi.ProbeRank {
	return usageapi.ProbeRank{Product: product, Probe: probe, Views: views, Sessions: sessions}
}
