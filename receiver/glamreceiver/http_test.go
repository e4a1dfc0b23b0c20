package glamreceiver

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadatatest"
)

func oneSpan(n int) []byte {
	return sdkTraces("", sdkSpan(traceA, spanID(n), usage.EventProbeView, time.Now(), ""))
}

func TestHTTPErrors(t *testing.T) {
	h := newHarness(t, func(cfg *Config) { cfg.ServerConfig.MaxRequestBodySize = 4096 }, nil)

	resp := h.do(http.MethodGet, "/v1/traces", "", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.status)
	assert.Equal(t, "POST", resp.header.Get("Allow"))
	assert.JSONEq(t, `{"code":12,"message":"GET is not allowed; use POST"}`, string(resp.body))

	resp = h.post("/v1/traces", "application/xml", oneSpan(1))
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.status)
	assert.JSONEq(t, `{"code":3,"message":"unsupported Content-Type \"application/xml\"; use application/json or application/x-protobuf"}`, string(resp.body))

	resp = h.post("/v1/traces", "", oneSpan(1))
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.status)

	resp = h.post("/v1/traces", "application/json", []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"`))
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.Contains(t, string(resp.body), `"message":"decoding OTLP traces: `)

	resp = h.post("/v1/traces", "application/x-protobuf", []byte{0x0a, 0xff, 0xff, 0x01})
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "application/x-protobuf", resp.header.Get("Content-Type"))
	var st rpcstatus.Status
	require.NoError(t, proto.Unmarshal(resp.body, &st), "errors to protobuf requests are protobuf google.rpc.Status")
	assert.Equal(t, int32(3), st.Code)
	assert.Contains(t, st.Message, "malformed protobuf body")

	big := sdkTraces(strAttr("padding", strings.Repeat("x", 5000)), sdkSpan(traceA, spanID(1), "page.view", time.Now(), ""))
	resp = h.post("/v1/traces", "application/json", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.status)
	assert.JSONEq(t, `{"code":3,"message":"request body is larger than max_request_body_size (4096 bytes)"}`, string(resp.body))

	// A small gzip body that inflates beyond the limit is too large too.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(big)
	require.NoError(t, zw.Close())
	require.Less(t, gz.Len(), 4096)
	resp = h.post("/v1/traces", "application/json", gz.Bytes(), "Content-Encoding", "gzip")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.status)

	gz.Reset()
	zw = gzip.NewWriter(&gz)
	_, _ = zw.Write(oneSpan(1))
	require.NoError(t, zw.Close())
	resp = h.post("/v1/traces", "application/json", gz.Bytes()[:gz.Len()-10], "Content-Encoding", "gzip")
	assert.Equal(t, http.StatusBadRequest, resp.status, "a truncated gzip stream")
	assert.Contains(t, string(resp.body), "unexpected EOF")

	resp = h.post("/v1/traces", "application/json", oneSpan(1), "Content-Encoding", "br")
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, string(resp.body), "unsupported Content-Encoding: br")

	resp = h.post("/v1/spans", "application/json", oneSpan(1))
	assert.Equal(t, http.StatusNotFound, resp.status)
	resp = h.do(http.MethodPost, "/../../v1/traces", "application/json", oneSpan(1))
	assert.Equal(t, http.StatusNotFound, resp.status, "OTLP lives under path_prefix only")

	assert.Empty(t, h.logs.AllLogs(), "nothing reached a pipeline")
	assert.Empty(t, h.metrics.AllMetrics())
	assert.Equal(t, 0, h.traces.SpanCount())
}

func TestBackpressureIsRetryable(t *testing.T) {
	logs := &switchLogs{sink: new(consumertest.LogsSink)}
	h := newHarness(t, nil, func(h *harness) pipelines {
		return pipelines{logs: logs, metrics: h.metrics}
	})
	body := oneSpan(1)

	logs.set(errors.New("sending queue is full"))
	resp := h.post("/v1/traces", "application/json", body)
	assert.Equal(t, http.StatusServiceUnavailable, resp.status)
	assert.Equal(t, "1", resp.header.Get("Retry-After"))
	assert.JSONEq(t, `{"code":14,"message":"pipeline refused the data: sending queue is full"}`, string(resp.body))

	logs.set(fmt.Errorf("wrapped: %w", errors.New("data refused due to high memory usage")))
	resp = h.post("/v1/traces", "application/json", body)
	assert.Equal(t, http.StatusTooManyRequests, resp.status)
	assert.Equal(t, "1", resp.header.Get("Retry-After"))

	logs.set(consumererror.NewOTLPHTTPError(errors.New("slow down"), http.StatusTooManyRequests))
	resp = h.post("/v1/traces", "application/json", body)
	assert.Equal(t, http.StatusTooManyRequests, resp.status)

	// The retry after the pipeline recovers is processed, not taken for a
	// duplicate of the refused attempts.
	logs.set(nil)
	resp = h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body))
	assert.Equal(t, 1, logs.sink.LogRecordCount())
	assert.Equal(t, map[string]int{usage.EventProbeView: 1}, countByEvent(logs.sink.AllLogs()))
	h.assertNoMeasurements()

	logs.set(consumererror.NewPermanent(errors.New("bad event")))
	resp = h.post("/v1/traces", "application/json", oneSpan(2))
	assert.Equal(t, http.StatusBadRequest, resp.status, "a permanent error is the data's fault")
	assert.Empty(t, resp.header.Get("Retry-After"))
	assert.Contains(t, string(resp.body), "bad event")
}

// Events go first, then the passed-through spans: when the traces pipeline
// refuses after the events were taken, the request is refused and its retry
// processed again, not suppressed as a duplicate.
func TestPassthroughRefusalKeepsEventsRetryable(t *testing.T) {
	h := newHarness(t, nil, func(h *harness) pipelines {
		return pipelines{logs: h.logs, traces: consumertest.NewErr(errors.New("traces busy"))}
	})
	resp := h.post("/v1/traces", "application/json", oneSpan(1))
	assert.Equal(t, http.StatusServiceUnavailable, resp.status)
	resp = h.post("/v1/traces", "application/json", oneSpan(1))
	assert.Equal(t, http.StatusServiceUnavailable, resp.status, "still processed, not suppressed as a duplicate")
	assert.Equal(t, 2, len(h.allRecords()), "events were sent with each attempt; downstream dedupes them on their id")
}

// A metrics pipeline carries client OTLP metrics only: one that refuses
// does not touch usage events, which reach the logs once and are answered
// 200.
func TestMetricsRefusalDoesNotTouchEvents(t *testing.T) {
	h := newHarness(t, nil, func(h *harness) pipelines {
		return pipelines{logs: h.logs, metrics: consumertest.NewErr(errors.New("metrics busy"))}
	})
	resp := h.post("/v1/traces", "application/json", oneSpan(1))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body))
	resp = h.post("/v1/traces", "application/json", oneSpan(1))
	require.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, string(resp.body), "already received", "the first attempt was taken whole")
	assert.Equal(t, map[string]int{usage.EventProbeView: 1}, countByEvent(h.logs.AllLogs()))

	resp = h.post("/v1/metrics", "application/json", clientMetrics(t, "web-vitals"))
	assert.Equal(t, http.StatusServiceUnavailable, resp.status, "client metrics still meet the metrics pipeline's refusal")
}

func TestConcurrentRetryOfAnInFlightRequest(t *testing.T) {
	logs := &switchLogs{sink: new(consumertest.LogsSink), block: make(chan struct{}), entered: make(chan struct{}, 1)}
	h := newHarness(t, nil, func(*harness) pipelines { return pipelines{logs: logs} })
	body := oneSpan(1)

	first := make(chan reply)
	go func() { first <- h.post("/v1/traces", "application/json", body) }()
	<-logs.entered // the original is inside the pipeline

	resp := h.post("/v1/traces", "application/json", body)
	assert.Equal(t, http.StatusServiceUnavailable, resp.status)
	assert.Equal(t, "1", resp.header.Get("Retry-After"))
	assert.Contains(t, string(resp.body), "being processed by another request")

	close(logs.block)
	assert.Equal(t, http.StatusOK, (<-first).status)
	resp = h.post("/v1/traces", "application/json", body)
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, string(resp.body), "already received")
	assert.Equal(t, 1, logs.sink.LogRecordCount())
}

func corsConfig(headers ...string) func(*Config) {
	return func(cfg *Config) {
		cfg.ServerConfig.CORS = configoptional.Some(confighttp.CORSConfig{
			AllowedOrigins: []string{"https://glam.example", "https://*.preview.glam.example"},
			AllowedHeaders: headers,
			MaxAge:         defaultCORSMaxAge,
		})
	}
}

func TestCORSPreflightAsBrowsersSendIt(t *testing.T) {
	for name, headers := range map[string][]string{"default headers": nil, "custom headers": {"Authorization"}} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, corsConfig(headers...), nil)
			resp := h.do(http.MethodOptions, "/v1/traces", "", nil,
				"Origin", "https://glam.example",
				"Access-Control-Request-Method", "POST",
				// Browsers send the names lowercased and sorted.
				"Access-Control-Request-Headers", "content-encoding,content-type")
			assert.Equal(t, http.StatusNoContent, resp.status)
			assert.Equal(t, "https://glam.example", resp.header.Get("Access-Control-Allow-Origin"))
			assert.Equal(t, "true", resp.header.Get("Access-Control-Allow-Credentials"))
			assert.Equal(t, "600", resp.header.Get("Access-Control-Max-Age"))
			allowed := strings.ToLower(resp.header.Get("Access-Control-Allow-Headers"))
			assert.Contains(t, allowed, "content-type")
			assert.Contains(t, allowed, "content-encoding")

			resp = h.do(http.MethodOptions, "/v1/traces", "", nil,
				"Origin", "https://evil.example",
				"Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "content-type")
			assert.Empty(t, resp.header.Get("Access-Control-Allow-Origin"), "other origins get no CORS grant")

			resp = h.post("/v1/traces", "application/json", oneSpan(1), "Origin", "https://pr-12.preview.glam.example")
			assert.Equal(t, http.StatusOK, resp.status)
			assert.Equal(t, "https://pr-12.preview.glam.example", resp.header.Get("Access-Control-Allow-Origin"))
			assert.Equal(t, "true", resp.header.Get("Access-Control-Allow-Credentials"))
			assert.Equal(t, "Retry-After", resp.header.Get("Access-Control-Expose-Headers"), "the SDK's retry logic can read Retry-After")
		})
	}
}

func TestCORSPreflightOfGleanFetchUploads(t *testing.T) {
	for name, headers := range map[string][]string{"default headers": nil, "custom headers": {"Authorization"}} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, corsConfig(headers...), nil)
			// Glean.js uploads with fetch (a debug view tag or source tags
			// set, or the beacon quota full): gzip and its own headers.
			resp := h.do(http.MethodOptions, gleanSubmitPath, "", nil,
				"Origin", "https://glam.example",
				"Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "content-encoding,content-type,x-debug-id,x-source-tags,x-telemetry-agent")
			assert.Equal(t, http.StatusNoContent, resp.status)
			assert.Equal(t, "https://glam.example", resp.header.Get("Access-Control-Allow-Origin"))
			allowed := strings.ToLower(resp.header.Get("Access-Control-Allow-Headers"))
			for _, header := range []string{"content-encoding", "content-type", "x-debug-id", "x-source-tags", "x-telemetry-agent"} {
				assert.Contains(t, allowed, header)
			}

			resp = h.do(http.MethodOptions, gleanSubmitPath, "", nil,
				"Origin", "https://glam.example",
				"Access-Control-Request-Method", "POST",
				"Access-Control-Request-Headers", "content-type,x-telemetry-agent,x-unlisted")
			assert.Empty(t, resp.header.Get("Access-Control-Allow-Origin"), "a header nobody allowed still fails the preflight")
		})
	}
}

func TestBeaconBodiesOnlyFromAllowedOrigins(t *testing.T) {
	h := newHarness(t, corsConfig(), nil)
	const beacon = "text/plain;charset=UTF-8"

	resp := h.post("/v1/traces", beacon, oneSpan(1), "Origin", "https://glam.example")
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"), "a beacon is answered in JSON")
	assert.Len(t, h.allRecords(), 1)

	resp = h.post("/v1/traces", beacon, oneSpan(2), "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.status)
	assert.JSONEq(t, `{"code":7,"message":"text/plain bodies are accepted only from an origin listed in cors::allowed_origins"}`, string(resp.body))
	resp = h.post("/v1/traces", beacon, oneSpan(3))
	assert.Equal(t, http.StatusForbidden, resp.status, "no Origin header")
	assert.Len(t, h.allRecords(), 1)

	resp = h.post("/submit/glam/events/1/8b3e0b44-6dc4-4a7f-8f4c-7b0b6d3c9a11", beacon, []byte(`{"ping_info":{}}`), "Origin", "https://glam.example")
	assert.Equal(t, http.StatusOK, resp.status, "Glean beacons too")

	without := newHarness(t, nil, nil)
	resp = without.post("/v1/traces", beacon, oneSpan(4), "Origin", "https://glam.example")
	assert.Equal(t, http.StatusForbidden, resp.status, "without CORS no origin is allowed")
}

func TestDoNotTrack(t *testing.T) {
	h := newHarness(t, func(cfg *Config) { cfg.RespectDoNotTrack = true }, nil)
	resp := h.post("/v1/traces", "application/json", oneSpan(1), "DNT", "1")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body))
	resp = h.post("/v1/logs", "application/x-protobuf", []byte("not even decoded"), "Sec-GPC", "1")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/x-protobuf", resp.header.Get("Content-Type"))
	resp = h.post("/submit/glam/events/1/8b3e0b44-6dc4-4a7f-8f4c-7b0b6d3c9a11", "application/json", []byte(`{}`), "DNT", "1")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"acceptedEvents":0,"rejectedEvents":0,"duplicateEvents":0}`, string(resp.body))
	assert.Empty(t, h.logs.AllLogs())
	assert.Empty(t, h.metrics.AllMetrics())
	assert.Equal(t, 0, h.traces.SpanCount())
	metadatatest.AssertEqualReceiverGlamDoNotTrackRequests(t, h.tel, []metricdata.DataPoint[int64]{{Value: 3}}, telemetryOpts...)

	resp = h.post("/v1/traces", "application/json", oneSpan(1), "DNT", "0")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Len(t, h.allRecords(), 1)

	ignoring := newHarness(t, nil, nil)
	resp = ignoring.post("/v1/traces", "application/json", oneSpan(1), "DNT", "1")
	assert.Equal(t, http.StatusOK, resp.status)
	assert.Len(t, ignoring.allRecords(), 1, "respect_do_not_track is off by default")
}

func TestBrowserFamily(t *testing.T) {
	for ua, want := range map[string]string{
		firefoxUA: "Firefox",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36":           "Chrome",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0": "Edge",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15":        "Safari",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148": "Firefox",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36":             "Bot",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 OPR/106.0":                                   "Opera",
		"curl/8.5.0": "Other",
		"":           "",
	} {
		assert.Equal(t, want, browserFamily(ua), ua)
	}
}

// A client that declares a body it never sends, or stops in its headers,
// is cut off after read_timeout / read_header_timeout, while the others
// are served: 64 stalled connections do not hold the receiver.
func TestStalledClientsAreCutOff(t *testing.T) {
	h := newHarness(t, func(cfg *Config) {
		cfg.ServerConfig.ReadTimeout = 500 * time.Millisecond
		cfg.ServerConfig.ReadHeaderTimeout = 500 * time.Millisecond
	}, nil)
	addr := strings.TrimPrefix(h.origin, "http://")
	conns := make([]net.Conn, 64)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		if i%2 == 0 {
			_, err = fmt.Fprintf(c, "POST %s/v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n%s", h.cfg.PathPrefix, strings.Repeat("{", 100))
		} else {
			_, err = fmt.Fprintf(c, "POST %s/v1/traces HTTP/1.1\r\nHost: x\r\nContent-Ty", h.cfg.PathPrefix)
		}
		require.NoError(t, err)
		conns[i] = c
	}
	resp := h.post("/v1/traces", "application/json", sdkTraces(strAttr("session.id", "s"), sdkSpan(traceA, spanID(1), "probe.view", time.Now(), "")))
	assert.Equal(t, http.StatusOK, resp.status, "a normal request is served beside the stalled ones")
	// Our own deadline is far beyond the server's timeouts: reaching it
	// means the server held the connection.
	deadline := time.Now().Add(10 * time.Second)
	for i, c := range conns {
		require.NoError(t, c.SetReadDeadline(deadline))
		_, err := io.ReadAll(c)
		assert.NoError(t, err, "connection %d was closed by the server (io.ReadAll ends at EOF), not left hanging", i)
	}
}
