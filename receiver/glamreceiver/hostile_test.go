package glamreceiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// deepProtoLogs is an OTLP logs request whose record body is an array
// nested levels deep. Decoding it recursively overflows the stack once
// levels reaches about a million, and the process dies: a stack overflow
// cannot be recovered. It is written back to front, each message's length
// being known once its content is written.
func deepProtoLogs(levels int) []byte {
	buf := make([]byte, 16*levels+64)
	pos := len(buf)
	prepend := func(b []byte) {
		pos -= len(b)
		copy(buf[pos:], b)
	}
	// field prefixes a message of the bytes written so far.
	field := func(num protowire.Number) {
		n := len(buf) - pos
		prepend(protowire.AppendVarint(nil, uint64(n)))
		prepend(protowire.AppendTag(nil, num, protowire.BytesType))
	}
	prepend([]byte("x"))
	field(1) // AnyValue.string_value
	for i := 0; i < levels; i++ {
		field(1) // ArrayValue.values
		field(5) // AnyValue.array_value
	}
	field(5) // LogRecord.body
	field(2) // ScopeLogs.log_records
	field(2) // ResourceLogs.scope_logs
	field(1) // request.resource_logs
	return buf[pos:]
}

func deepJSONLogs(levels int) []byte {
	return []byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"eventName":"x","body":` +
		strings.Repeat(`{"arrayValue":{"values":[`, levels) + `{"stringValue":"x"}` + strings.Repeat(`]}}`, levels) + `}]}]}]}`)
}

func TestDeepNestingIsRefusedBeforeDecoding(t *testing.T) {
	h := newHarness(t, func(cfg *Config) { cfg.ServerConfig.MaxRequestBodySize = 64 << 20 }, nil)

	resp := h.post("/v1/logs", "application/x-protobuf", deepProtoLogs(3_000_000))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, string(resp.body), "request body is nested too deeply: more than 100 nested messages")

	resp = h.post("/v1/logs", "application/json", deepJSONLogs(500_000))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, statusMessage(t, resp), "request body is nested too deeply: more than 128 nested JSON objects and arrays")

	resp = h.post("/submit/glam/events/1/"+docID, "application/json", []byte(strings.Repeat("[", 200_000)))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, statusMessage(t, resp), "nested too deeply")

	// Closing brackets first do not pay for the opening ones after them.
	resp = h.post("/v1/logs", "application/json", []byte(strings.Repeat("]", 1_000)+strings.Repeat("[", 200)))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, statusMessage(t, resp), "nested too deeply")

	// Reasonable nesting is fine in both encodings.
	resp = h.post("/v1/logs", "application/x-protobuf", deepProtoLogs(20))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	resp = h.post("/v1/logs", "application/json", deepJSONLogs(20))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.Len(t, h.allRecords(), 1, "the two bodies hold the same record, so the second is a duplicate")
	assert.Equal(t, 20, depthOf(h.allRecords()[0].Body()))
}

func depthOf(v pcommon.Value) int {
	if v.Type() != pcommon.ValueTypeSlice {
		return 0
	}
	return 1 + depthOf(v.Slice().At(0))
}

func TestHugeAttributeCountsAreRefused(t *testing.T) {
	h := newHarness(t, nil, nil)
	many := make([]string, maxAttributes+1)
	for i := range many {
		many[i] = strAttr(fmt.Sprintf("k%d", i), "v")
	}
	ok := sdkSpan(traceA, spanID(1), "page.view", time.Now(), "")
	resp := h.post("/v1/traces", "application/json", sdkTraces("", ok, sdkSpan(traceA, spanID(2), "page.view", time.Now(), strings.Join(many, ","))))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "span 1 has 129 attributes; at most 128 are accepted", statusMessage(t, resp))
	resp = h.post("/v1/traces", "application/json", sdkTraces(strings.Join(many, ","), ok))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "resource 0 has 129 attributes; at most 128 are accepted", statusMessage(t, resp))

	extras := make([]string, maxAttributes+1)
	for i := range extras {
		extras[i] = fmt.Sprintf(`"e%d":"v"`, i)
	}
	resp = h.post(gleanSubmitPath, "application/json", gleanPingBody(time.Now(), time.Now(), `{"category":"a","name":"b","timestamp":0,"extra":{`+strings.Join(extras, ",")+`}}`))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "event 0 has 129 extras; at most 128 are accepted", statusMessage(t, resp))

	assert.Empty(t, h.logs.AllLogs(), "a refused request is refused whole")
	assert.Equal(t, 0, h.traces.SpanCount())
}

func TestInvalidUTF8IsRefused(t *testing.T) {
	h := newHarness(t, nil, nil)

	td := ptrace.NewTraces()
	span := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.SetTraceID(pcommon.TraceID([16]byte{1}))
	span.SetSpanID(pcommon.SpanID([8]byte{1}))
	span.SetName("page.view")
	span.Attributes().PutStr("title", "bad \xff\xfe")
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	resp := h.post("/v1/traces", "application/x-protobuf", body)
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, string(resp.body), "span 0: a string value is not valid UTF-8")

	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetEventName("page.\xc3")
	body, err = plogotlp.NewExportRequestFromLogs(ld).MarshalProto()
	require.NoError(t, err)
	resp = h.post("/v1/logs", "application/x-protobuf", body)
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Contains(t, string(resp.body), "log record 0: eventName is not valid UTF-8")

	resp = h.post("/v1/traces", "application/json", []byte("{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":\"a\",\"value\":{\"stringValue\":\"\xff\"}}]}}]}"))
	require.Equal(t, http.StatusBadRequest, resp.status)
	assert.Equal(t, "request body is not valid UTF-8", statusMessage(t, resp))

	resp = h.post(gleanSubmitPath, "application/json", gleanPingBody(time.Now(), time.Now(), "{\"category\":\"a\",\"name\":\"b\xff\",\"timestamp\":0}"))
	require.Equal(t, http.StatusBadRequest, resp.status, "encoding/json would silently replace the byte")
	assert.Empty(t, h.logs.AllLogs())
}

func TestEmptyBodies(t *testing.T) {
	h := newHarness(t, nil, nil)
	resp := h.post("/v1/traces", "application/x-protobuf", nil)
	assert.Equal(t, http.StatusOK, resp.status, "an empty protobuf message is an empty export")
	resp = h.post("/v1/traces", "application/json", []byte(`{}`))
	assert.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body))
	resp = h.post("/v1/traces", "application/json", nil)
	assert.Equal(t, http.StatusBadRequest, resp.status, "an empty JSON text is not a JSON object")
	resp = h.post(gleanSubmitPath, "application/json", nil)
	assert.Equal(t, http.StatusBadRequest, resp.status)
	assert.Empty(t, h.logs.AllLogs())
}

// A 200 means the event will be stored: what the raw event table cannot
// hold (a NUL character, which PostgreSQL text and jsonb refuse) is
// rejected in the answer, not accepted and dropped later by the exporter.
func TestUnstorableEventsAreRejectedUpFront(t *testing.T) {
	h := glamHarness(t)
	now := time.Now().Add(-time.Second)
	// JSON spells NUL \u0000; %q would write Go's \x00, which is not JSON.
	nul := func(s string) string { return strings.ReplaceAll(s, "NUL", `\u0000`) }
	traces := sdkTraces(strAttr("session.id", "s"),
		sdkSpan(traceA, spanID(1), "probe.view", now, nul(strAttr(usage.AttrProbeName, "gcNULms"))),
		nul(sdkSpan(traceA, spanID(2), "probeNULview", now, "")),
		sdkSpan(traceA, spanID(3), "probe.view", now, nul(strAttr("badNULkey", "x"))),
		sdkSpan(traceA, spanID(4), "probe.view", now, strAttr(usage.AttrProbeName, "gc_ms")),
	)
	resp := h.post("/v1/traces", "application/json", traces)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"partialSuccess":{"rejectedSpans":"3","errorMessage":"3 of 4 spans rejected: a name, attribute or body holds a NUL character or a non-finite number, which cannot be stored (3)"}}`, string(resp.body))
	require.Len(t, h.allRecords(), 1)
	assert.Equal(t, "gc_ms", attrs(h.allRecords()[0])[usage.AttrProbeName])

	badResource := sdkTraces(nul(strAttr("service.name", "glNULam")), sdkSpan(traceA, spanID(5), "probe.view", now, ""))
	resp = h.post("/v1/traces", "application/json", badResource)
	assert.Contains(t, string(resp.body), `"rejectedSpans":"1"`, "a resource attribute is stored with every event")

	logs := sdkLogs("", fmt.Sprintf(`{"timeUnixNano":"%d","eventName":"page.view","body":{"stringValue":"aNULb"}}`, now.UnixNano()))
	logs = []byte(nul(string(logs)))
	resp = h.post("/v1/logs", "application/json", logs)
	assert.Contains(t, string(resp.body), `"rejectedLogRecords":"1"`, "a body with NUL")

	ping := []byte(nul(string(gleanAutoPing(now, "element_click", map[string]string{"id": "view-sql-queryNUL"}))))
	resp = h.post(docPath(9), "text/plain;charset=UTF-8", ping, "Origin", glamOrigin)
	assert.JSONEq(t, `{"acceptedEvents":0,"rejectedEvents":1,"duplicateEvents":0,
		"errorMessage":"1 of 1 events rejected: a name, attribute or body holds a NUL character or a non-finite number, which cannot be stored (1)"}`, string(resp.body))
	assert.Len(t, h.allRecords(), 1, "nothing but the good span was emitted")
	assert.Equal(t, map[string]int{usage.EventProbeView: 1}, countByEvent(h.logs.AllLogs()))
	h.assertNoMeasurements()
}

// The exporter keeps raw events from the day raw_events.retention (90
// days) reaches back to; the receiver refuses older events first, a day
// inside that so an event it accepts is still kept when stored.
func TestEventsOlderThanMaxEventAgeAreRejected(t *testing.T) {
	h := glamHarness(t)
	now := time.Now()
	body := sdkTraces(strAttr("session.id", "s"),
		sdkSpan(traceA, spanID(1), "probe.view", now.Add(-88*24*time.Hour), ""),
		sdkSpan(traceA, spanID(2), "probe.view", now.Add(-90*24*time.Hour), ""),
		sdkSpan(traceA, spanID(3), "probe.view", now.Add(-3*time.Hour), ""),
		sdkSpan(traceA, spanID(4), "probe.view", time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC), ""),
	)
	resp := h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"partialSuccess":{"rejectedSpans":"2","errorMessage":"2 of 4 spans rejected: event time is older than max_event_age, beyond what the raw events' retention keeps (2)"}}`, string(resp.body),
		"the README's old example (a span from 2023) is refused with the reason, not acknowledged and dropped")
	assert.Len(t, h.allRecords(), 2)
}
