package glamusageextension

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// Text Postgres cannot hold — NUL, invalid UTF-8, a lone surrogate (which
// UTF-8 can only spell as invalid bytes) — in any parameter or path segment
// is the client's mistake: a 400 saying so, never a 500.
func TestTextPostgresCannotHoldGets400(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil))
	for _, bad := range []string{"%00", "a%00b", "%FF", "%ED%A0%80", "%C0%AF"} {
		for _, path := range []string{
			"/api/v1/usage/probes/top?product=" + bad,
			"/api/v1/usage/probes/" + bad + "/gc_ms/series",
			"/api/v1/usage/probes/fog/" + bad + "/series",
			"/api/v1/usage/sessions/" + bad,
			"/api/v1/usage/views/" + bad,
			"/api/v1/usage/views/glam.probe_views.daily?glam.product=" + bad,
			"/api/v1/usage/hotlist?product=" + bad,
			"/api/v1/usage/funnel?steps=page.view," + bad,
			"/api/v1/usage/?product=" + bad,
			"/api/v1/usage/?actionType=" + bad,
			"/api/v1/usage/probes/top?" + bad + "=1",
			"/api/v1/probe-builds/" + bad,
		} {
			msg := c.getError(path, "", http.StatusBadRequest)
			assert.Contains(t, msg, "not valid UTF-8 text without NUL characters", path)
		}
	}
}

// Ranges at the edges of time answer 200 with nothing in them, or 400
// saying which range is allowed: never a 500 or an empty 200.
func TestRangesAtTheEdgesOfTime(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil))
	var view struct {
		Rows []json.RawMessage `json:"rows"`
	}
	c.getOK("/api/v1/usage/views/glam.probe_views.hourly?from=2024-05-01&to=2024-05-02", "/api/v1/usage/views/{view}", &view)
	assert.NotNil(t, view.Rows, "rows is an empty list, not null")
	assert.Empty(t, view.Rows, "no windows before the data set's first day")
	c.getOK("/api/v1/usage/views/glam.sessions?from=2024-05-01&to=2024-05-02", "/api/v1/usage/views/{view}", &view)
	assert.Empty(t, view.Rows)
	c.getOK("/api/v1/usage/views/glam.probe_views.daily?from=2024-05-01&to=2024-05-02&group_by=glam.probe.name", "/api/v1/usage/views/{view}", &view)
	assert.Empty(t, view.Rows)

	for _, path := range []string{
		"/api/v1/usage/probes/top?to=9999-12-31T23:59:59Z",
		"/api/v1/usage/probes/fog/gc_ms/series?to=9999-12-31T23:59:59Z",
		"/api/v1/usage/sessions/summary?to=9999-12-31T23:59:59Z",
		"/api/v1/usage/views/glam.probe_views.hourly?to=0001-01-01",
		"/api/v1/usage/views/glam.probe_views.hourly?to=1970-01-01T00:00:00Z",
		"/api/v1/usage/funnel?steps=a,b&from=0001-01-01&to=0001-01-02",
	} {
		assert.Contains(t, c.getError(path, "", http.StatusBadRequest), "must lie between 1970-01-01 and 9999-01-01", path)
	}
}

// hostileValues are what a fuzzer would try first on a parameter.
var hostileValues = []string{
	"", "%20", "0", "-1", "1e309", "99999999999999999999", "NaN", "%00", "%FF", "%ED%A0%80", "%27%3B--", "a,b,,c",
	"0001-01-01", "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "2024-05-06", "2024-05-06T00:00:00%2B14:00",
	"hour", "week", "glam.probe.name", "session.id", "%2F..%2F", strings.Repeat("x", 5000), "%E2%80%AE", "*",
}

// Every parameter and path segment the OpenAPI document lists, given every
// hostile value: the answer is always JSON and never a 5xx. The values are
// combined one parameter at a time (the others absent or sensible), which
// is where a validation gap shows.
func TestEveryDocumentedParameterSurvivesHostileValues(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil))
	doc := c.schema.doc
	paths, _ := doc["paths"].(map[string]any)
	require.NotEmpty(t, paths)
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	sensible := map[string]string{
		"product": "firefox", "probe": "gc_ms", "session_id": "s1", "view": "glam.probe_views.daily",
		"id": "00000000-0000-0000-0000-000000000000", "steps": "page.view,probe.view",
	}
	requests := 0
	for _, p := range keys {
		op, ok := dig(paths[p], "get").(map[string]any)
		if !ok {
			continue
		}
		params, _ := op["parameters"].([]any)
		var pathParams, queryParams []string
		for _, raw := range params {
			param, _ := raw.(map[string]any)
			name, _ := param["name"].(string)
			switch param["in"] {
			case "path":
				pathParams = append(pathParams, name)
			case "query":
				queryParams = append(queryParams, name)
			}
		}
		fill := func(hostile, value string) string {
			out := p
			for _, name := range pathParams {
				v := url.PathEscape(sensible[name])
				if name == hostile {
					v = value
				}
				out = strings.ReplaceAll(out, "{"+name+"}", v)
			}
			return out
		}
		for _, value := range hostileValues {
			var urls []string
			for _, name := range pathParams {
				if value != "" {
					urls = append(urls, fill(name, value))
				}
			}
			for _, name := range queryParams {
				urls = append(urls, fill("", "")+"?"+name+"="+value)
			}
			for _, u := range urls {
				requests++
				status, body := rawGet(t, c.base+u)
				assert.Less(t, status, 500, "%s answered %d: %.200s", u, status, body)
				var v any
				assert.NoError(t, json.Unmarshal(body, &v), "%s answered a body that is not JSON: %.200s", u, body)
			}
		}
	}
	t.Logf("%d requests", requests)
	assert.Greater(t, requests, 200, "the document's parameters were found")
}

// rawGet sends path as it is, without the client's URL parsing fixing it.
func rawGet(t *testing.T, rawURL string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://placeholder/", nil)
	require.NoError(t, err)
	u, err := url.Parse(rawURL)
	if err != nil {
		// Not a URL the Go client can send (a bad escape): send it opaque.
		base := rawURL[:strings.Index(rawURL, "/api/")]
		u, err = url.Parse(base)
		require.NoError(t, err)
		u.Opaque = "//" + u.Host + rawURL[len(base):]
	}
	req.URL = u
	req.Host = u.Host
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err, fmt.Sprint(rawURL))
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// A client stalled in its headers or in a declared body is cut off after
// read_header_timeout / read_timeout while other requests are answered.
func TestStalledClientsAreCutOff(t *testing.T) {
	base := startAPI(t, knownDatabase(t, fixtureDay0), host{}, func(cfg *Config) {
		cfg.ServerConfig.ReadHeaderTimeout = 300 * time.Millisecond
		cfg.ServerConfig.ReadTimeout = 300 * time.Millisecond
	})
	conns := make([]net.Conn, 16)
	for i := range conns {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		if i%2 == 0 {
			_, err = fmt.Fprint(c, "POST /api/v1/probe-builds HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n{\"product\":")
		} else {
			_, err = fmt.Fprint(c, "GET /api/v1/usage/status HTTP/1.1\r\nHost: x\r\nAcc")
		}
		require.NoError(t, err)
		conns[i] = c
	}
	status, _ := rawGet(t, base+"/api/v1/usage/status")
	assert.Equal(t, http.StatusOK, status, "served beside the stalled clients")
	deadline := time.Now().Add(10 * time.Second)
	for i, c := range conns {
		require.NoError(t, c.SetReadDeadline(deadline))
		_, err := io.ReadAll(c)
		assert.NoError(t, err, "connection %d was closed by the server, not left hanging", i)
	}
}

// Before glam_postgres has created the schema (the API can open its port
// first), requests get 503 with Retry-After saying why, never a 500; once
// the schema is there they are answered.
func TestBeforeTheSchemaExistsAnswers503(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	c := newClient(t, startAPI(t, dsn, host{}, nil))
	for _, path := range []string{"/api/v1/usage/status", "/api/v1/usage/probes/top", "/api/v1/usage/sessions/s1", "/api/v1/probe-builds/00000000-0000-0000-0000-000000000000"} {
		msg := c.getError(path, "", http.StatusServiceUnavailable)
		assert.Contains(t, msg, "do not exist yet: glam_postgres creates them when it starts (create_schema: true); retry shortly", path)
	}
	resp, err := http.Post(c.base+"/api/v1/probe-builds", "application/json", strings.NewReader(`{"product":"firefox","channel":"nightly","probe":"gc_ms"}`))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "a probe-build request as soon as the port opens")
	assert.Equal(t, "5", resp.Header.Get("Retry-After"))

	db, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, pgschema.Migrate(context.Background(), db))
	status, _ := c.get("/api/v1/usage/status", "/api/v1/usage/status")
	assert.Equal(t, http.StatusOK, status)
}
