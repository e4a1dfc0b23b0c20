package glamreceiver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadata"
)

// The fuzz targets post arbitrary bodies through the receiver's routes and
// check what clients and pipelines rely on: the answer is 200 or a 4xx,
// never a crash or a 5xx; and a 200 accounts for every item — what reached
// the pipelines plus what the partial success reports rejected is exactly
// what the request held; and usage events reach the logs pipeline only,
// never the metrics one. Deduplication is off so that every accepted item
// must show up. Seed corpora are in testdata/fuzz; run one target with
// e.g. `go test -run '^$' -fuzz FuzzTraces -fuzztime 60s`.

type fuzzReceiver struct {
	r       *glamReceiver
	handler http.Handler
	logs    *consumertest.LogsSink
	metrics *consumertest.MetricsSink
	traces  *consumertest.TracesSink
}

func newFuzzReceiver(t testing.TB) *fuzzReceiver {
	cfg := createDefaultConfig().(*Config)
	cfg.Dedupe.MaxEntries = 0
	r, err := newGlamReceiver(receivertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	f := &fuzzReceiver{r: r, logs: new(consumertest.LogsSink), metrics: new(consumertest.MetricsSink), traces: new(consumertest.TracesSink)}
	r.next.logs, r.next.metrics, r.next.traces = f.logs, f.metrics, f.traces
	f.handler = r.routes()
	return f
}

func (f *fuzzReceiver) post(t *testing.T, path, contentType string, body []byte) *httptest.ResponseRecorder {
	f.logs.Reset()
	f.metrics.Reset()
	f.traces.Reset()
	req := httptest.NewRequest(http.MethodPost, f.r.cfg.PathPrefix+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK && (rec.Code < 400 || rec.Code > 499) {
		t.Fatalf("status %d: %s", rec.Code, rec.Body.String())
	}
	return rec
}

func contentType(protobuf bool) string {
	if protobuf {
		return mediaProto
	}
	return mediaJSON
}

func unmarshal(m otlpRequest, body []byte, protobuf bool) error {
	if protobuf {
		return m.UnmarshalProto(body)
	}
	return m.UnmarshalJSON(body)
}

func FuzzTraces(f *testing.F) {
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"probe.view","startTimeUnixNano":"1700000000000000000"}]}]}]}`), false)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, true)
	rcv := newFuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte, protobuf bool) {
		rec := rcv.post(t, "/v1/traces", contentType(protobuf), body)
		if rec.Code != http.StatusOK {
			return
		}
		req := ptraceotlp.NewExportRequest()
		require.NoError(t, unmarshal(req, body, protobuf), "a 200 for a body that does not decode")
		resp := ptraceotlp.NewExportResponse()
		require.NoError(t, unmarshal(resp, rec.Body.Bytes(), protobuf))
		rejected := int(resp.PartialSuccess().RejectedSpans())
		require.Equal(t, req.Traces().SpanCount(), rcv.logs.LogRecordCount()+rejected, "events + rejected = spans")
		require.Equal(t, rcv.logs.LogRecordCount(), rcv.traces.SpanCount(), "every event's span passes through")
		require.Zero(t, rcv.metrics.DataPointCount(), "usage events record no measurement")
	})
}

func FuzzLogs(f *testing.F) {
	f.Add([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"page.view","timeUnixNano":"1700000000000000000","body":{"stringValue":"x"}}]}]}]}`), false)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, true)
	rcv := newFuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte, protobuf bool) {
		rec := rcv.post(t, "/v1/logs", contentType(protobuf), body)
		if rec.Code != http.StatusOK {
			return
		}
		req := plogotlp.NewExportRequest()
		require.NoError(t, unmarshal(req, body, protobuf), "a 200 for a body that does not decode")
		resp := plogotlp.NewExportResponse()
		require.NoError(t, unmarshal(resp, rec.Body.Bytes(), protobuf))
		rejected := int(resp.PartialSuccess().RejectedLogRecords())
		require.Equal(t, req.Logs().LogRecordCount(), rcv.logs.LogRecordCount()+rejected, "events + rejected = records")
		require.Zero(t, rcv.metrics.DataPointCount(), "usage events record no measurement")
	})
}

func FuzzMetrics(f *testing.F) {
	f.Add([]byte(`{"resourceMetrics":[{"scopeMetrics":[{"scope":{"name":"web"},"metrics":[{"name":"m","gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}`), false)
	f.Add([]byte{0x0a, 0x02, 0x12, 0x00}, true)
	rcv := newFuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte, protobuf bool) {
		rec := rcv.post(t, "/v1/metrics", contentType(protobuf), body)
		if rec.Code != http.StatusOK {
			return
		}
		req := pmetricotlp.NewExportRequest()
		require.NoError(t, unmarshal(req, body, protobuf), "a 200 for a body that does not decode")
		resp := pmetricotlp.NewExportResponse()
		require.NoError(t, unmarshal(resp, rec.Body.Bytes(), protobuf))
		rejected := int(resp.PartialSuccess().RejectedDataPoints())
		require.Equal(t, req.Metrics().DataPointCount(), rcv.metrics.DataPointCount()+rejected, "passed + rejected = data points")
	})
}

func FuzzGlean(f *testing.F) {
	now := time.Now()
	f.Add(gleanPingBody(now, now, `{"category":"glean","name":"page_load","timestamp":0,"extra":{"url":"/"}}`))
	f.Add([]byte(`{"events":[{"category":"a","name":"b","timestamp":1,"extra":{"glean_timestamp":"1700000000000"}}]}`))
	rcv := newFuzzReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := rcv.post(t, "/submit/glam/events/1/"+docID, mediaJSON, body)
		if rec.Code != http.StatusOK {
			return
		}
		var ping struct {
			Events []json.RawMessage `json:"events"`
		}
		require.NoError(t, json.Unmarshal(body, &ping), "a 200 for a body that is not a JSON object")
		var resp gleanResponse
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		require.Equal(t, len(ping.Events), resp.AcceptedEvents+resp.RejectedEvents, "accepted + rejected = events")
		require.Equal(t, resp.AcceptedEvents, rcv.logs.LogRecordCount())
		require.Zero(t, rcv.metrics.DataPointCount(), "usage events record no measurement")
	})
}

func FuzzNestingCheck(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":"[[[\"}"}]}`))
	f.Add([]byte(`"\\\"{"`))
	f.Fuzz(func(t *testing.T, body []byte) {
		depth := jsonDepth(body)
		var v any
		if json.Unmarshal(body, &v) == nil {
			require.Equal(t, valueDepth(v), min(depth, maxJSONDepth+1), "bracket depth of a valid JSON text")
		}
	})
}

// valueDepth is the nesting of a decoded JSON value, capped past the limit.
func valueDepth(v any) int {
	deepest := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			deepest = max(deepest, valueDepth(e))
		}
	case []any:
		for _, e := range v {
			deepest = max(deepest, valueDepth(e))
		}
	default:
		return 0
	}
	return min(deepest+1, maxJSONDepth+1)
}
