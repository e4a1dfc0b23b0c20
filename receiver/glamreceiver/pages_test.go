package glamreceiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

const (
	glamOrigin = "https://glam.telemetry.mozilla.org"
	headlessUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
)

// gleanAutoPing is an events ping as GLAM's Glean.js sends it: one automatic
// event (maxEvents 1), extras as strings, no glean_timestamp.
func gleanAutoPing(start time.Time, name string, extras map[string]string) []byte {
	var parts []string
	for k, v := range extras {
		parts = append(parts, fmt.Sprintf("%q:%q", k, v))
	}
	event := fmt.Sprintf(`{"category":"glean","name":%q,"timestamp":0,"extra":{%s}}`, name, strings.Join(parts, ","))
	return []byte(fmt.Sprintf(`{
  "ping_info": {"seq": 0, "start_time": %q, "end_time": %q, "reason": "max_capacity"},
  "client_info": {"client_id": "c0ffee00-0000-4000-8000-000000000001", "os": "Linux", "locale": "en-US",
    "telemetry_sdk_build": "5.0.7", "session_id": "0f3c3a49-0000-4000-8000-00000000000a", "session_count": 1},
  "metrics": {"uuid": {"glean.page_id": "d7f5b6a8-0000-4000-8000-000000000000"}},
  "events": [%s]
}`, gleanMinute(start), gleanMinute(start), event))
}

func docPath(n int) string {
	return fmt.Sprintf("/submit/glam/events/1/8b3e0b44-6dc4-4a7f-8f4c-%012d", n)
}

// postAutoEvent sends one automatic Glean event as a beacon from GLAM's
// origin and returns the usage event it became.
func postAutoEvent(t *testing.T, h *harness, n int, name string, extras map[string]string) map[string]any {
	t.Helper()
	before := len(h.allRecords())
	resp := h.post(docPath(n), "text/plain;charset=UTF-8", gleanAutoPing(time.Now().Add(-time.Minute), name, extras),
		"Origin", glamOrigin, "User-Agent", firefoxUA)
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	require.JSONEq(t, `{"acceptedEvents":1,"rejectedEvents":0,"duplicateEvents":0}`, string(resp.body))
	records := h.allRecords()
	require.Len(t, records, before+1)
	lr := records[len(records)-1]
	require.Equal(t, attrs(lr)[usage.AttrEventName], lr.EventName(), "EventName and event.name agree")
	return attrs(lr)
}

func glamHarness(t *testing.T) *harness {
	return newHarness(t, func(cfg *Config) {
		cfg.ServerConfig.CORS.GetOrInsertDefault().AllowedOrigins = []string{glamOrigin}
	}, nil)
}

// The page URLs below are GLAM's own (src/routing/Router.svelte, the query
// strings of src/config/*.js getParamsForQueryString); the expected
// attributes are read off them by hand.
func TestGleanPageLoadOnProbeRouteIsProbeView(t *testing.T) {
	h := glamHarness(t)
	got := postAutoEvent(t, h, 1, "page_load", map[string]string{
		"url":      glamOrigin + "/firefox/probe/gc_ms/explore?channel=beta&process=parent&timeHorizon=WEEK&ref=secret#top",
		"referrer": "https://www.google.com/search?q=what+is+gc_ms",
		"title":    "GLAM",
	})
	assert.Equal(t, map[string]any{
		usage.AttrEventID:          "8b3e0b44-6dc4-4a7f-8f4c-000000000001/0",
		usage.AttrEventName:        usage.EventProbeView,
		usage.AttrClientEvent:      usage.EventGleanPageLoad,
		usage.AttrSessionID:        "0f3c3a49-0000-4000-8000-00000000000a",
		usage.AttrSource:           usage.SourceGlean,
		usage.AttrBrowserFamily:    "Firefox",
		usage.AttrProduct:          "firefox",
		usage.AttrProbeName:        "gc_ms",
		usage.AttrView:             "explore",
		usage.AttrChannel:          "beta",
		usage.AttrProbeProcess:     "parent",
		usage.AttrOS:               "*",
		usage.AttrAggregationLevel: "build_id",
		usage.AttrRoute:            "/:product(firefox)/probe/:probe/:view(explore|table)",
		"url":                      glamOrigin + "/firefox/probe/gc_ms/explore?channel=beta&process=parent",
		"referrer":                 "https://www.google.com",
		"title":                    "GLAM",
		"glean.locale":             "en-US",
	}, got, "channel and process from the query string, os and aggregation level GLAM's defaults (left out of its URLs); "+
		"no other query parameter, no fragment; another site's referrer keeps its origin; the OS of the browser is not the OS looked at")
	assert.Equal(t, map[string]int{usage.EventProbeView: 1}, countByEvent(h.logs.AllLogs()))
	h.assertNoMeasurements()
}

func TestGleanProductsRoutes(t *testing.T) {
	h := glamHarness(t)
	fog := postAutoEvent(t, h, 1, "page_load", map[string]string{
		"url": glamOrigin + "/fog/probe/glean_validation_foreground_count/table?app_id=release&ping_type=metrics&os=Darwin&aggregationLevel=version",
	})
	for k, want := range map[string]any{
		usage.AttrEventName: usage.EventProbeView, usage.AttrProduct: "fog", usage.AttrProbeName: "glean_validation_foreground_count",
		usage.AttrView: "table", usage.AttrChannel: "release", usage.AttrPingType: "metrics", usage.AttrOS: "Darwin",
		usage.AttrAggregationLevel: "version",
		"url":                      glamOrigin + "/fog/probe/glean_validation_foreground_count/table?aggregationLevel=version&app_id=release&os=Darwin&ping_type=metrics",
	} {
		assert.Equal(t, want, fog[k], k)
	}
	assert.NotContains(t, fog, usage.AttrProbeProcess, "a Glean product has a ping type, not a process")

	fenix := postAutoEvent(t, h, 2, "page_load", map[string]string{"url": glamOrigin + "/fenix/probe/gc%5Fms/explore"})
	for k, want := range map[string]any{
		usage.AttrProduct: "fenix", usage.AttrProbeName: "gc_ms", usage.AttrChannel: "nightly", usage.AttrPingType: "*",
		usage.AttrOS: "Android", usage.AttrAggregationLevel: "build_id", "url": glamOrigin + "/fenix/probe/gc%5Fms/explore",
	} {
		assert.Equal(t, want, fenix[k], k)
	}
}

func TestPageLoadOffProbeRoutesIsPageView(t *testing.T) {
	h := glamHarness(t)
	for i, page := range []string{"/", "/chrome/probe/gc_ms/explore", "/firefox/probe/gc_ms/compare", "/firefox/probe/gc_ms"} {
		got := postAutoEvent(t, h, i, "page_load", map[string]string{"url": glamOrigin + page + "?channel=beta&q=secret", "referrer": ""})
		assert.Equal(t, usage.EventPageView, got[usage.AttrEventName], page)
		assert.Equal(t, glamOrigin+page, got["url"], "off a route no query parameter is kept")
		assert.Equal(t, "", got["referrer"], "an empty referrer stays empty")
		assert.NotContains(t, got, usage.AttrProbeName, page)
		assert.NotContains(t, got, usage.AttrRoute, page)
	}
	assert.Equal(t, map[string]int{usage.EventPageView: 4}, countByEvent(h.logs.AllLogs()))
	h.assertNoMeasurements()
}

func TestGleanClickIsActionOnItsPage(t *testing.T) {
	h := glamHarness(t)
	page := glamOrigin + "/firefox/probe/gc_ms/explore?channel=release"
	got := postAutoEvent(t, h, 1, "element_click", map[string]string{
		"id": "toggle-time-horizon-control-week-true", "type": "button", "label": "Week",
		"url": page, "referrer": glamOrigin + "/firefox/probe/a11y_hcm/explore?channel=beta&visiblePercentiles=[5,95]", "title": "GLAM",
	})
	assert.Equal(t, usage.EventGleanElementClick, got[usage.AttrEventName], "a click keeps its name")
	assert.NotContains(t, got, usage.AttrClientEvent)
	assert.Equal(t, "toggle-time-horizon-control-week-true", got[usage.AttrAction])
	assert.Equal(t, "gc_ms", got[usage.AttrProbeName], "a click carries the probe of the page it happened on")
	assert.Equal(t, "release", got[usage.AttrChannel])
	assert.Equal(t, glamOrigin+"/firefox/probe/a11y_hcm/explore?channel=beta", got["referrer"],
		"a referrer on GLAM's own site keeps its route's mapped state, nothing else")
	assert.Equal(t, map[string]int{usage.EventGleanElementClick: 1}, countByEvent(h.logs.AllLogs()),
		"a click on a probe page is not a probe view")
	h.assertNoMeasurements()
}

func TestPageURLPrivacy(t *testing.T) {
	h := glamHarness(t)
	long := glamOrigin + "/firefox/probe/" + strings.Repeat("x", 600) + "/explore"
	got := postAutoEvent(t, h, 1, "page_load", map[string]string{"url": long, "title": strings.Repeat("é", 150)})
	assert.Len(t, got["url"], 512, "max_url_length")
	assert.Len(t, got[usage.AttrProbeName], 200, "a value read from a URL is bounded")
	assert.Len(t, got["title"], 200, "max_title_length, cut between characters")

	got = postAutoEvent(t, h, 2, "page_load", map[string]string{"url": "javascript:alert(1)", "referrer": "not a url at all"})
	assert.NotContains(t, got, "url", "what does not parse as a page URL is dropped")
	assert.NotContains(t, got, "referrer")
	assert.Equal(t, usage.EventPageView, got[usage.AttrEventName])

	got = postAutoEvent(t, h, 3, "page_load", map[string]string{"url": "https://user:pw@glam.example/firefox/probe/gc_ms/table?os=Linux"})
	assert.Equal(t, "https://glam.example/firefox/probe/gc_ms/table?os=Linux", got["url"], "no user info")
}

func TestClientAttributesWinOverTheURL(t *testing.T) {
	h := glamHarness(t)
	got := postAutoEvent(t, h, 1, "page_load", map[string]string{
		"url": glamOrigin + "/firefox/probe/gc_ms/explore", "probe_name": "set_by_app", "channel": "release",
	})
	assert.Equal(t, "set_by_app", got[usage.AttrProbeName])
	assert.Equal(t, "release", got[usage.AttrChannel])
	assert.Equal(t, "firefox", got[usage.AttrProduct], "what the app did not set comes from the URL")
}

// The OpenTelemetry JS document-load instrumentation records a documentLoad
// span per full page load, with documentFetch and resourceFetch children,
// all carrying http.url (url.full under the stable HTTP conventions).
func TestDocumentLoadSpanIsProbeView(t *testing.T) {
	h := glamHarness(t)
	start := time.Now().Add(-2 * time.Second).Truncate(time.Millisecond)
	page := glamOrigin + "/fog/probe/gc_ms/explore?app_id=beta"
	body := sdkTraces(strAttr("session.id", "s-1"),
		sdkSpan(traceA, spanID(1), usage.EventDocumentLoad, start, strAttr("http.url", page)),
		sdkSpan(traceA, spanID(2), "documentFetch", start, strAttr("http.url", page)),
		sdkSpan(traceA, spanID(3), "resourceFetch", start, strAttr("http.url", glamOrigin+"/bundle.js?v=3")),
		sdkSpan(traceA, spanID(4), usage.EventDocumentLoad, start, strAttr("url.full", glamOrigin+"/")),
	)
	resp := h.post("/v1/traces", "application/json", body, "Origin", glamOrigin, "User-Agent", firefoxUA)
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	records := h.allRecords()
	require.Len(t, records, 4)
	names := []string{}
	for _, lr := range records {
		names = append(names, lr.EventName())
	}
	assert.Equal(t, []string{usage.EventProbeView, "documentFetch", "resourceFetch", usage.EventPageView}, names,
		"only the page-load span is a view")
	load := attrs(records[0])
	assert.Equal(t, usage.EventDocumentLoad, load[usage.AttrClientEvent])
	assert.Equal(t, "gc_ms", load[usage.AttrProbeName])
	assert.Equal(t, "beta", load[usage.AttrChannel])
	assert.Equal(t, page, load["http.url"])
	assert.Equal(t, glamOrigin+"/bundle.js", attrs(records[2])["http.url"], "every URL loses what no route maps")
	h.assertNoMeasurements()
}

func TestBotsAreNotCountedUnlessTold(t *testing.T) {
	ping := gleanAutoPing(time.Now().Add(-time.Minute), "page_load", map[string]string{"url": glamOrigin + "/firefox/probe/gc_ms/explore"})

	h := glamHarness(t)
	resp := h.post(docPath(1), "text/plain;charset=UTF-8", ping, "Origin", glamOrigin, "User-Agent", headlessUA)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"acceptedEvents":0,"rejectedEvents":1,"duplicateEvents":0,
		"errorMessage":"1 of 1 events rejected: the user agent is a bot, crawler or headless browser, which count_bots: false does not count (1)"}`, string(resp.body))
	assert.Empty(t, h.allRecords())
	h.assertNoMeasurements()

	h = newHarness(t, func(cfg *Config) {
		cfg.CountBots = true
		cfg.ServerConfig.CORS.GetOrInsertDefault().AllowedOrigins = []string{glamOrigin}
	}, nil)
	resp = h.post(docPath(1), "text/plain;charset=UTF-8", ping, "Origin", glamOrigin, "User-Agent", headlessUA)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"acceptedEvents":1,"rejectedEvents":0,"duplicateEvents":0}`, string(resp.body))
	require.Len(t, h.allRecords(), 1)
	assert.Equal(t, "Bot", attrs(h.allRecords()[0])[usage.AttrBrowserFamily], "counted, and marked so views can leave it out")
}

func TestRouteTemplates(t *testing.T) {
	r, err := compileRoute(RouteConfig{Path: "/:product(firefox|fog)/probe/:probe/:view", Event: "probe.view"})
	require.NoError(t, err)
	for path, want := range map[string]map[string]string{
		"/firefox/probe/gc_ms/explore":   {"product": "firefox", "probe": "gc_ms", "view": "explore"},
		"/fog/probe/gc_ms/table/":        {"product": "fog", "probe": "gc_ms", "view": "table"},
		"/fog/probe/a%2Fb/table":         {"product": "fog", "probe": "a/b", "view": "table"},
		"/fenix/probe/gc_ms/explore":     nil,
		"/firefox/probes/gc_ms/explore":  nil,
		"/firefox/probe/gc_ms":           nil,
		"/firefox/probe//explore":        nil,
		"/firefox/probe/%zz/explore":     nil,
		"/firefox/probe/gc_ms/explore/x": nil,
		"//firefox/probe/gc_ms/explore":  {"product": "firefox", "probe": "gc_ms", "view": "explore"},
		"":                               nil,
	} {
		var values [maxSegments]string
		ok := r.match(path, &values)
		assert.Equal(t, want != nil, ok, path)
		if want != nil {
			got := map[string]string{}
			for i, seg := range r.segments {
				if seg.name != "" {
					got[seg.name] = values[i]
				}
			}
			assert.Equal(t, want, got, path)
		}
	}
	_, err = compileRoute(RouteConfig{Path: strings.Repeat("/a", maxSegments+1), Event: "probe.view"})
	assert.ErrorContains(t, err, "at most 16")
	root, err := compileRoute(RouteConfig{Path: "/", Event: "home.view"})
	require.NoError(t, err)
	var values [maxSegments]string
	assert.True(t, root.match("/", &values))
	assert.False(t, root.match("/x", &values))
}

// A page URL is read once and remembered (pageCache): a page read from the
// cache sets what a first read sets, and an event's own attributes still
// win over it.
func TestPageReadAgainFromTheCache(t *testing.T) {
	h := glamHarness(t)
	page := glamOrigin + "/fog/probe/gc_ms/table?app_id=release&ping_type=metrics"
	first := postAutoEvent(t, h, 1, "page_load", map[string]string{"url": page})
	again := postAutoEvent(t, h, 2, "page_load", map[string]string{"url": page})
	own := postAutoEvent(t, h, 3, "page_load", map[string]string{"url": page, "channel": "beta"})
	for _, got := range []map[string]any{first, again, own} {
		assert.Equal(t, usage.EventProbeView, got[usage.AttrEventName])
		assert.Equal(t, "fog", got[usage.AttrProduct])
		assert.Equal(t, "gc_ms", got[usage.AttrProbeName])
		assert.Equal(t, "metrics", got[usage.AttrPingType])
		assert.Equal(t, "*", got[usage.AttrOS], "fog's default")
		assert.Equal(t, page, got["url"], "both parameters are mapped, so both are kept")
	}
	assert.Equal(t, "release", first[usage.AttrChannel])
	assert.Equal(t, "release", again[usage.AttrChannel])
	assert.Equal(t, "beta", own[usage.AttrChannel], "the event's own channel wins over the cached page's")
	assert.Equal(t, "release", postAutoEvent(t, h, 4, "page_load", map[string]string{"url": page})[usage.AttrChannel],
		"an event's own attribute does not change the cached page")
}

func TestPageCacheIsBoundedAndOwnsItsKeys(t *testing.T) {
	rules, err := compilePages(defaultPages(), defaultClicks())
	require.NoError(t, err)
	// A URL in a buffer that is written over afterwards, as a request
	// body's memory may be: the cache must have copied it.
	buf := []byte(glamOrigin + "/firefox/probe/gc_ms/explore")
	raw := unsafe.String(&buf[0], len(buf))
	require.NotNil(t, rules.read(raw))
	copy(buf, strings.Repeat("x", len(buf)))
	_, ok := rules.pages.get(glamOrigin + "/firefox/probe/gc_ms/explore")
	assert.True(t, ok, "the entry is found under the URL it was read from")

	for i := 0; i < 3*maxCachedPages; i++ {
		rules.read(fmt.Sprintf("%s/firefox/probe/p%d/explore", glamOrigin, i))
	}
	n := 0
	rules.pages.m.Range(func(any, any) bool { n++; return true })
	assert.LessOrEqual(t, n, maxCachedPages)
	assert.Positive(t, n)

	long := glamOrigin + "/firefox/probe/" + strings.Repeat("p", maxCachedURL) + "/explore"
	require.NotNil(t, rules.read(long))
	_, ok = rules.pages.get(long)
	assert.False(t, ok, "a URL longer than maxCachedURL is not kept")
}
