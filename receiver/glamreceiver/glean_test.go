package glamreceiver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

const (
	docID           = "8b3e0b44-6dc4-4a7f-8f4c-7b0b6d3c9a11"
	gleanSubmitPath = "/submit/glam/events/1/" + docID
)

// gleanMinute formats a ping_info time as Glean.js does: to the minute.
func gleanMinute(t time.Time) string { return t.Format("2006-01-02T15:04-07:00") }

// gleanPingBody is a ping as Glean.js v5 sends it.
func gleanPingBody(start, end time.Time, events ...string) []byte {
	return []byte(fmt.Sprintf(`{
  "ping_info": {"seq": 3, "start_time": %q, "end_time": %q, "reason": "max_capacity"},
  "client_info": {"client_id": "c0ffee00-0000-4000-8000-000000000001", "first_run_date": "2024-04-01+02:00",
    "os": "Linux", "os_version": "Unknown", "architecture": "Unknown", "locale": "en-US", "app_build": "Unknown",
    "app_display_version": "2024.05.1", "app_channel": "release", "telemetry_sdk_build": "5.0.8",
    "session_id": "3b2f5c1e-1111-4222-8333-444455556666", "session_count": 4},
  "metrics": {"string": {"glean.page_id": "d7f5b6a8-0000-4000-8000-000000000000"}, "counter": {"glam.clicks": 4}},
  "events": [%s]
}`, gleanMinute(start), gleanMinute(end), strings.Join(events, ",")))
}

func TestGleanPingEventsBecomeUsageEvents(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := time.Now()
	start := now.Add(-2 * time.Minute).Truncate(time.Minute)
	wall := now.Add(-30 * time.Second).Truncate(time.Millisecond)
	body := gleanPingBody(start, now, `{"category":"glean","name":"page_load","timestamp":0,"extra":{"url":"https://glam.example/","title":"GLAM","referrer":""}}`,
		`{"category":"probe","name":"view","timestamp":1500,"extra":{"glam.probe.name":"gc_ms","glam.product":"firefox","glam.channel":"nightly"}}`,
		fmt.Sprintf(`{"category":"probe","name":"search","timestamp":2000,"extra":{"query":"gc","results":7,"glean_timestamp":"%d"}}`, wall.UnixMilli()),
	)
	resp := h.post(gleanSubmitPath, "application/json; charset=utf-8", body,
		"Date", now.UTC().Format(http.TimeFormat), "User-Agent", firefoxUA, "X-Telemetry-Agent", "Glean/5.0.8 (JS on Linux)")
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"acceptedEvents":3,"rejectedEvents":0,"duplicateEvents":0}`, string(resp.body))

	require.Len(t, h.logs.AllLogs(), 1)
	assert.Equal(t, map[string]any{"service.name": "glam", "glean.document_type": "events"}, resourceAttrs(h.logs.AllLogs()[0]))
	records := h.allRecords()
	require.Len(t, records, 3)
	common := map[string]any{
		usage.AttrSessionID:         "3b2f5c1e-1111-4222-8333-444455556666",
		usage.AttrSource:            usage.SourceGlean,
		usage.AttrBrowserFamily:     "Firefox",
		usage.AttrOS:                "Linux",
		"glean.locale":              "en-US",
		"glean.app_display_version": "2024.05.1",
	}
	want := func(id, name string, extra map[string]any) map[string]any {
		m := map[string]any{usage.AttrEventID: id, usage.AttrEventName: name, usage.AttrChannel: "release"}
		for k, v := range common {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	assert.Equal(t, want(docID+"/0", usage.EventPageView, map[string]any{"url": "https://glam.example/", "title": "GLAM", "referrer": "", usage.AttrClientEvent: usage.EventGleanPageLoad}), attrs(records[0]),
		"a page load off GLAM's probe routes is a page view")
	assert.Equal(t, want(docID+"/1", "probe.view", map[string]any{usage.AttrProbeName: "gc_ms", usage.AttrProduct: "firefox", usage.AttrChannel: "nightly"}), attrs(records[1]),
		"an extra's glam.channel wins over client_info.app_channel")
	assert.Equal(t, want(docID+"/2", "probe.search", map[string]any{"query": "gc", "results": int64(7)}), attrs(records[2]),
		"glean_timestamp becomes the time, not an attribute")

	assert.Equal(t, start, records[0].Timestamp().AsTime().Local(), "ping start + 0 ms")
	assert.Equal(t, start.Add(1500*time.Millisecond), records[1].Timestamp().AsTime().Local())
	assert.Equal(t, wall, records[2].Timestamp().AsTime().Local(), "glean_timestamp is preferred")

	assert.Equal(t, map[string]int{usage.EventPageView: 1, usage.EventProbeView: 1, usage.EventProbeSearch: 1}, countByEvent(h.logs.AllLogs()),
		"a page load off the probe routes is a page view; Glean events named like GLAM's are those")

	// Glean retries a ping with the same document id.
	resp = h.post(gleanSubmitPath, "application/json; charset=utf-8", body)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"acceptedEvents":0,"rejectedEvents":0,"duplicateEvents":3,"errorMessage":"3 events already received were not counted again"}`, string(resp.body))
	assert.Len(t, h.allRecords(), 3)
	h.assertNoMeasurements()
}

func TestGleanPingWithoutEvents(t *testing.T) {
	h := newHarness(t, nil, nil)
	body := []byte(`{"ping_info":{"seq":0,"start_time":"2024-05-01T10:42+02:00","end_time":"2024-05-01T10:45+02:00"},"client_info":{"session_id":"s"},"metrics":{"counter":{"a.b":1}}}`)
	resp := h.post("/submit/glam/metrics/1/"+docID, "application/json", body)
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"acceptedEvents":0,"rejectedEvents":0,"duplicateEvents":0}`, string(resp.body))
	assert.Empty(t, h.logs.AllLogs(), "Glean metrics are not usage events")
	assert.Empty(t, h.metrics.AllMetrics())
}

func TestGleanClientClock(t *testing.T) {
	event := `{"category":"probe","name":"view","timestamp":60000}`
	t.Run("Date header ahead", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		now := time.Now()
		clientNow := now.Add(time.Hour)
		resp := h.post(gleanSubmitPath, "application/json", gleanPingBody(clientNow.Add(-5*time.Minute), clientNow, event),
			"Date", clientNow.UTC().Format(http.TimeFormat))
		require.Equal(t, http.StatusOK, resp.status, string(resp.body))
		got := h.allRecords()[0].Timestamp().AsTime()
		want := clientNow.Add(-5 * time.Minute).Truncate(time.Minute).Add(time.Minute).Add(-time.Hour)
		assert.WithinDuration(t, want, got, 2*time.Second, "shifted back by the client's lead")
	})
	t.Run("Date header behind", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		clientNow := time.Now().Add(-3 * time.Hour)
		resp := h.post(gleanSubmitPath, "application/json", gleanPingBody(clientNow.Add(-5*time.Minute), clientNow, event),
			"Date", clientNow.UTC().Format(http.TimeFormat))
		require.Equal(t, http.StatusOK, resp.status)
		want := clientNow.Add(-5 * time.Minute).Truncate(time.Minute).Add(time.Minute).Add(3 * time.Hour)
		assert.WithinDuration(t, want, h.allRecords()[0].Timestamp().AsTime(), 2*time.Second, "the Date header is the send time: a slow clock is corrected too")
	})
	t.Run("clock beyond max_correction", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		clientNow := time.Now().Add(72 * time.Hour)
		resp := h.post(gleanSubmitPath, "application/json", gleanPingBody(clientNow.Add(-5*time.Minute), clientNow, event, event),
			"Date", clientNow.UTC().Format(http.TimeFormat))
		require.Equal(t, http.StatusOK, resp.status)
		assert.JSONEq(t, `{"acceptedEvents":0,"rejectedEvents":2,"duplicateEvents":0,"errorMessage":"2 of 2 events rejected: client clock differs from the receiver's by more than clock_skew::max_correction (2)"}`, string(resp.body))
		assert.Empty(t, h.logs.AllLogs())
	})
	t.Run("late upload without Date", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		end := time.Now().Add(-6 * time.Hour)
		resp := h.post(gleanSubmitPath, "application/json", gleanPingBody(end.Add(-5*time.Minute), end, event))
		require.Equal(t, http.StatusOK, resp.status)
		want := end.Add(-5 * time.Minute).Truncate(time.Minute).Add(time.Minute)
		assert.Equal(t, want, h.allRecords()[0].Timestamp().AsTime().Local(), "a ping that waited is not moved forward")
	})
	t.Run("end time ahead without Date", func(t *testing.T) {
		h := newHarness(t, nil, nil)
		end := time.Now().Add(2 * time.Hour)
		resp := h.post(gleanSubmitPath, "application/json", gleanPingBody(end.Add(-5*time.Minute), end, event))
		require.Equal(t, http.StatusOK, resp.status)
		got := h.allRecords()[0].Timestamp().AsTime()
		assert.False(t, got.After(time.Now()), "a clock ahead shows in end_time and is corrected, got %v", got)
		assert.WithinDuration(t, time.Now().Add(-4*time.Minute), got, 2*time.Minute)
	})
}

func TestGleanBadInput(t *testing.T) {
	h := newHarness(t, nil, nil)
	start := time.Now().Add(-time.Minute)
	for _, tc := range []struct {
		path, body string
		status     int
		message    string
	}{
		{"/submit/glam/events/1", `{}`, http.StatusNotFound, "Glean pings go to /api/v1/ingest/submit/{application_id}/{document_type}/{version}/{document_id}"},
		{"/submit/glam/events/1/" + docID + "/x", `{}`, http.StatusNotFound, "Glean pings go to"},
		{"/submit/glam/events/v1/" + docID, `{}`, http.StatusBadRequest, `document version "v1" is not a number`},
		{"/submit/glam/events/1/not-a-uuid", `{}`, http.StatusBadRequest, `document id "not-a-uuid" is not a UUID`},
		{"/submit/gl%20am/events/1/" + docID, `{}`, http.StatusBadRequest, `application id "gl am" is not a Glean application id`},
		{gleanSubmitPath, `{"events":[`, http.StatusBadRequest, "decoding Glean ping: unexpected end of JSON input"},
		{gleanSubmitPath, `{"events":{}}`, http.StatusBadRequest, "decoding Glean ping: json: cannot unmarshal object"},
		{gleanSubmitPath, `{} {}`, http.StatusBadRequest, "invalid character '{' after top-level value"},
		{gleanSubmitPath, `{}}`, http.StatusBadRequest, "invalid character '}' after top-level value"},
		{gleanSubmitPath, `{"ping_info":{"start_time":"yesterday"},"events":[{"category":"a","name":"b","timestamp":0}]}`, http.StatusBadRequest, `ping_info.start_time: "yesterday" is not an ISO 8601 date-time`},
		{gleanSubmitPath, `{"events":[{"category":"a","name":"b","timestamp":1.5}]}`, http.StatusBadRequest, "decoding Glean ping"},
	} {
		resp := h.post(tc.path, "application/json", []byte(tc.body))
		assert.Equal(t, tc.status, resp.status, tc.path+" "+tc.body)
		assert.Contains(t, statusMessage(t, resp), tc.message, tc.path+" "+tc.body)
	}
	resp := h.post(gleanSubmitPath, "application/x-protobuf", []byte(`{}`))
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.status, "Glean is JSON only")

	// Bad events are rejected one by one, the others are accepted.
	body := gleanPingBody(start, start,
		`{"category":"","name":"x","timestamp":0}`,
		`{"category":"a","name":"b","timestamp":0,"extra":{"nested":{"no":"objects"}}}`,
		`{"category":"a","name":"b","timestamp":0,"extra":{"glean_timestamp":"soon"}}`,
		`{"category":"a","name":"b","timestamp":99999999999999999}`,
		`{"category":"a","name":"ok","timestamp":0}`)
	resp = h.post(gleanSubmitPath, "application/json", body)
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"acceptedEvents":1,"rejectedEvents":4,"duplicateEvents":0,"errorMessage":"4 of 5 events rejected: Glean event has no category or name (1); Glean event extra is not a string, number or boolean (1); Glean event timestamp or glean_timestamp extra is not a usable number of milliseconds (2)"}`, string(resp.body))
	records := h.allRecords()
	require.Len(t, records, 1)
	assert.Equal(t, docID+"/4", attrs(records[0])[usage.AttrEventID], "ids keep the event's index in the ping")
}

// statusMessage reads the message of a JSON google.rpc.Status answer.
func statusMessage(t *testing.T, resp reply) string {
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	require.NoError(t, json.Unmarshal(resp.body, &st), string(resp.body))
	return st.Message
}

func TestGleanSubmitAtRoot(t *testing.T) {
	const beacon = "text/plain;charset=UTF-8"
	h := newHarness(t, func(cfg *Config) {
		corsConfig()(cfg)
		cfg.Glean.SubmitAtRoot = true
	}, nil)
	now := time.Now()
	ping := gleanPingBody(now.Add(-time.Minute), now, `{"category":"probe","name":"view","timestamp":0,"extra":{"probe_name":"gc_ms"}}`)

	// Glean.js's default upload, with serverEndpoint = the collector's origin.
	resp := h.doAt(http.MethodPost, gleanSubmitPath, beacon, ping, "Origin", "https://glam.example")
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"acceptedEvents":1,"rejectedEvents":0,"duplicateEvents":0}`, string(resp.body))
	assert.Equal(t, "https://glam.example", resp.header.Get("Access-Control-Allow-Origin"))
	resp = h.post(gleanSubmitPath, "application/json", ping)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"acceptedEvents":0,"rejectedEvents":0,"duplicateEvents":1,"errorMessage":"1 events already received were not counted again"}`, string(resp.body),
		"one document, whichever route it took")
	require.Len(t, h.allRecords(), 1)
	assert.Equal(t, "gc_ms", attrs(h.allRecords()[0])[usage.AttrProbeName])

	// The prefixed route's rules hold at the root.
	const otherDoc = "/submit/glam/events/1/0f1e2d3c-4b5a-4968-8776-655443322110"
	resp = h.doAt(http.MethodPost, otherDoc, beacon, ping, "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.status, "beacons only from allowed origins")
	resp = h.doAt(http.MethodGet, otherDoc, "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.status)
	resp = h.doAt(http.MethodPost, otherDoc, "application/x-protobuf", ping)
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.status)
	resp = h.doAt(http.MethodPost, "/submit/glam/events/1", "application/json", []byte(`{}`))
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.Equal(t, "Glean pings go to /submit/{application_id}/{document_type}/{version}/{document_id}", statusMessage(t, resp))
	resp = h.doAt(http.MethodPost, "/v1/traces", "application/json", oneSpan(1))
	assert.Equal(t, http.StatusNotFound, resp.status, "only Glean is served at the root")
	assert.Len(t, h.allRecords(), 1)

	off := newHarness(t, nil, nil)
	resp = off.doAt(http.MethodPost, gleanSubmitPath, "application/json", ping)
	assert.Equal(t, http.StatusNotFound, resp.status, "glean::submit_at_root is off by default")
	assert.Empty(t, off.logs.AllLogs())
}

func TestGleanSnakeCaseExtrasBecomeGlamAttributes(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := time.Now()
	resp := h.post(gleanSubmitPath, "application/json", gleanPingBody(now.Add(-time.Minute), now,
		// As a metrics.yaml in Glean's usual snake_case would define them.
		`{"category":"probe","name":"view","timestamp":0,"extra":{"product":"fenix","probe_name":"gc_ms","probe_process":"parent","channel":"nightly","os":"Android"}}`,
		// The names of GLAM's own probe query.
		`{"category":"probe","name":"view","timestamp":1,"extra":{"product":"firefox","probe":"cycle_collector","process":"content"}}`,
		// Dotted names win; extras that were not used stay as they are.
		`{"category":"probe","name":"view","timestamp":2,"extra":{"glam.probe.name":"a11y_iatable_usage","probe_name":"other","probe":"x","glam.os":"*","os":"Windows"}}`,
		`{"category":"probe","name":"view","timestamp":3,"extra":{"probe_name":"gc_ms","probe":"y","process":"gpu","probe_process":null}}`,
	))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"acceptedEvents":4,"rejectedEvents":0,"duplicateEvents":0}`, string(resp.body))

	extras := map[string]bool{"product": true, "probe_name": true, "probe": true, "probe_process": true, "process": true, "channel": true, "os": true}
	glamAttrs := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, v := range m {
			if (strings.HasPrefix(k, "glam.") && k != usage.AttrSource) || extras[k] {
				out[k] = v
			}
		}
		return out
	}
	records := h.allRecords()
	require.Len(t, records, 4)
	assert.Equal(t, map[string]any{
		usage.AttrProduct: "fenix", usage.AttrProbeName: "gc_ms", usage.AttrProbeProcess: "parent", usage.AttrChannel: "nightly", usage.AttrOS: "Android",
	}, glamAttrs(attrs(records[0])), "renamed, not copied")
	assert.Equal(t, map[string]any{
		usage.AttrProduct: "firefox", usage.AttrProbeName: "cycle_collector", usage.AttrProbeProcess: "content",
		usage.AttrChannel: "release", usage.AttrOS: "Linux", // from client_info: the extras did not say
	}, glamAttrs(attrs(records[1])))
	assert.Equal(t, map[string]any{
		usage.AttrProbeName: "a11y_iatable_usage", "probe_name": "other", "probe": "x", usage.AttrOS: "*", "os": "Windows", usage.AttrChannel: "release",
	}, glamAttrs(attrs(records[2])))
	assert.Equal(t, map[string]any{
		usage.AttrProbeName: "gc_ms", "probe": "y", usage.AttrProbeProcess: "gpu", usage.AttrChannel: "release", usage.AttrOS: "Linux",
	}, glamAttrs(attrs(records[3])), "probe_name is preferred to probe; a null extra is no extra")

	probes := map[any]int{}
	for _, lr := range records {
		if lr.EventName() == usage.EventProbeView {
			probes[attrs(lr)[usage.AttrProbeName]]++
		}
	}
	assert.Equal(t, map[any]int{"gc_ms": 2, "cycle_collector": 1, "a11y_iatable_usage": 1}, probes, "probe views carry their probe")
	h.assertNoMeasurements()
}
