package glamreceiver

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadatatest"
)

const firefoxUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// sdkSpan writes a span the way the OTel JS web SDK does in OTLP/JSON: hex
// ids, times as strings, intValue as a JSON number.
func sdkSpan(traceID, spanID, name string, start time.Time, attrs string) string {
	return fmt.Sprintf(`{"traceId":%q,"spanId":%q,"name":%q,"kind":1,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[%s],"droppedAttributesCount":0,"events":[],"status":{"code":0}}`,
		traceID, spanID, name, start.UnixNano(), start.Add(time.Millisecond).UnixNano(), attrs)
}

func sdkTraces(resourceAttrs string, spans ...string) []byte {
	return []byte(fmt.Sprintf(`{"resourceSpans":[{"resource":{"attributes":[%s],"droppedAttributesCount":0},"scopeSpans":[{"scope":{"name":"glam-app","version":"1.0"},"spans":[%s]}]}]}`,
		resourceAttrs, strings.Join(spans, ",")))
}

func strAttr(k, v string) string { return fmt.Sprintf(`{"key":%q,"value":{"stringValue":%q}}`, k, v) }

func intAttr(k string, v int) string { return fmt.Sprintf(`{"key":%q,"value":{"intValue":%d}}`, k, v) }

const traceA = "5b8efff798038103d269b633813fc60c"

func spanID(n int) string { return fmt.Sprintf("%016x", uint64(0x6ee19b7ec3c1b170)+uint64(n)) }

func TestTracesBecomeUsageEvents(t *testing.T) {
	h := newHarness(t, nil, nil)
	start := time.Now().Add(-2 * time.Second).Truncate(time.Millisecond)
	body := sdkTraces(
		strings.Join([]string{strAttr("service.name", "glam"), strAttr("session.id", "s-1"), strAttr("user_agent.original", firefoxUA)}, ","),
		sdkSpan(traceA, spanID(1), usage.EventProbeView, start, strings.Join([]string{
			strAttr(usage.AttrProduct, "firefox"), strAttr(usage.AttrProbeName, "gc_ms"), strAttr(usage.AttrProbeProcess, "parent"),
			strAttr(usage.AttrChannel, "nightly"), strAttr(usage.AttrOS, "Windows"), strAttr("http.user_agent", firefoxUA),
			strAttr("client.address", "203.0.113.7"), intAttr("results", 3),
		}, ",")),
		sdkSpan(traceA, spanID(2), usage.EventPageView, start.Add(time.Second), strAttr("session.id", "s-2")),
	)

	resp := h.post("/v1/traces", "application/json", body, "User-Agent", firefoxUA, "Origin", "https://glam.example")
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body))

	// Usage events: one log record per span, in the events scope.
	require.Len(t, h.logs.AllLogs(), 1)
	ld := h.logs.AllLogs()[0]
	assert.Equal(t, map[string]any{"service.name": "glam", "session.id": "s-1"}, resourceAttrs(ld),
		"the resource keeps its attributes except the user agent")
	assert.Equal(t, usage.EventScope, ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope().Name())
	records := h.allRecords()
	require.Len(t, records, 2)
	assert.Equal(t, map[string]any{
		usage.AttrEventID:       spanID(1),
		usage.AttrEventName:     usage.EventProbeView,
		usage.AttrSessionID:     "s-1",
		usage.AttrSource:        usage.SourceOTLPTraces,
		usage.AttrBrowserFamily: "Firefox",
		usage.AttrProduct:       "firefox",
		usage.AttrProbeName:     "gc_ms",
		usage.AttrProbeProcess:  "parent",
		usage.AttrChannel:       "nightly",
		usage.AttrOS:            "Windows",
		"results":               int64(3),
	}, attrs(records[0]))
	assert.Equal(t, usage.EventProbeView, records[0].EventName())
	assert.Equal(t, start, records[0].Timestamp().AsTime().Local())
	assert.WithinDuration(t, time.Now(), records[0].ObservedTimestamp().AsTime(), 5*time.Second)
	assert.Equal(t, traceA, records[0].TraceID().String())
	assert.Equal(t, spanID(1), records[0].SpanID().String())
	ev, err := usage.EventFromLogRecord(records[0])
	require.NoError(t, err)
	assert.Equal(t, spanID(1), ev.ID)

	assert.Equal(t, "s-2", attrs(records[1])[usage.AttrSessionID], "the span's own session wins over its resource's")
	assert.Equal(t, usage.EventPageView, records[1].EventName())

	// No measurements: the events are the receiver's only usage output.
	h.assertNoMeasurements()

	// The spans pass through, minus private attributes.
	require.Equal(t, 2, h.traces.SpanCount())
	td := h.traces.AllTraces()[0]
	rs := td.ResourceSpans().At(0)
	assert.Equal(t, map[string]any{"service.name": "glam", "session.id": "s-1"}, rs.Resource().Attributes().AsRaw())
	span := rs.ScopeSpans().At(0).Spans().At(0)
	assert.Equal(t, usage.EventProbeView, span.Name())
	_, hasUA := span.Attributes().Get("http.user_agent")
	_, hasIP := span.Attributes().Get("client.address")
	assert.False(t, hasUA)
	assert.False(t, hasIP)
	assert.Equal(t, "glam-app", rs.ScopeSpans().At(0).Scope().Name(), "passed-through spans keep their scope")

	_, err = h.tel.GetMetric("otelcol_receiver_glam_duplicate_events")
	assert.Error(t, err, "no duplicates were counted")
	accepted, err := h.tel.GetMetric("otelcol_receiver_accepted_spans")
	require.NoError(t, err, "the collector's standard receiver metrics are reported")
	points := accepted.Data.(metricdata.Sum[int64]).DataPoints
	require.Len(t, points, 1)
	assert.Equal(t, int64(2), points[0].Value)
	transport, _ := points[0].Attributes.Value("transport")
	assert.Equal(t, "http", transport.AsString())
}

func protoTraces(t *testing.T, spans int, start time.Time) []byte {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "glam")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := 0; i < spans; i++ {
		s := ss.Spans().AppendEmpty()
		s.SetTraceID(pcommon.TraceID([16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}))
		s.SetSpanID(pcommon.SpanID([8]byte{0xaa, 0, 0, 0, 0, 0, 0, byte(i + 1)}))
		s.SetName(usage.EventProbeSearch)
		s.SetStartTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i) * time.Millisecond)))
		s.Attributes().PutStr("query", "gc_"+strconv.Itoa(i))
	}
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	require.NoError(t, err)
	return b
}

func TestTracesProtobufAndGzip(t *testing.T) {
	h := newHarness(t, nil, nil)
	body := protoTraces(t, 3, time.Now().Add(-time.Minute))

	resp := h.post("/v1/traces", "application/x-protobuf", body)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/x-protobuf", resp.header.Get("Content-Type"))
	parsed := ptraceotlp.NewExportResponse()
	require.NoError(t, parsed.UnmarshalProto(resp.body))
	assert.Equal(t, int64(0), parsed.PartialSuccess().RejectedSpans())
	assert.Len(t, h.allRecords(), 3)
	assert.Equal(t, map[string]int{usage.EventProbeSearch: 3}, countByEvent(h.logs.AllLogs()))

	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, err := zw.Write(protoTraces(t, 4, time.Now().Add(-time.Minute)))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	// The first three spans were received already; the fourth is new.
	resp = h.post("/v1/traces", "application/x-protobuf", gz.Bytes(), "Content-Encoding", "gzip")
	require.Equal(t, http.StatusOK, resp.status)
	require.NoError(t, parsed.UnmarshalProto(resp.body))
	assert.Equal(t, int64(0), parsed.PartialSuccess().RejectedSpans())
	assert.Equal(t, "3 spans already received were not counted again", parsed.PartialSuccess().ErrorMessage())
	assert.Len(t, h.allRecords(), 4)
	assert.Equal(t, 4, h.traces.SpanCount(), "3 spans, then only the new one passes through")
	h.assertNoMeasurements()
}

func TestInvalidSpansAreRejectedAsPartialSuccess(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := time.Now()
	body := sdkTraces("",
		sdkSpan("00000000000000000000000000000000", spanID(1), "page.view", now, ""),
		sdkSpan("", spanID(2), "page.view", now, ""),
		sdkSpan(traceA, "", "page.view", now, ""),
		sdkSpan(traceA, "0000000000000000", "page.view", now, ""),
		sdkSpan(traceA, spanID(5), "", now, ""),
		sdkSpan(traceA, spanID(6), "page.view", now, ""),
	)
	resp := h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"partialSuccess":{"rejectedSpans":"5","errorMessage":"5 of 6 spans rejected: trace id or span id is empty or zero (4); span has no name (1)"}}`, string(resp.body))

	records := h.allRecords()
	require.Len(t, records, 1)
	assert.Equal(t, spanID(6), attrs(records[0])[usage.AttrEventID])
	require.Equal(t, 1, h.traces.SpanCount(), "rejected spans do not pass through either")
	assert.Equal(t, spanID(6), h.traces.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SpanID().String())

	metadatatest.AssertEqualReceiverGlamRejectedItems(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 4, Attributes: attribute.NewSet(attribute.String("reason", "invalid_id"))},
		{Value: 1, Attributes: attribute.NewSet(attribute.String("reason", "no_event_name"))},
	}, telemetryOpts...)
}

func TestSpanClockSkewIsCorrected(t *testing.T) {
	h := newHarness(t, nil, nil)
	// The client clock is two hours ahead: its newest span, sent just now,
	// claims to be two hours in the future.
	ahead := time.Now().Add(2 * time.Hour)
	body := sdkTraces("",
		sdkSpan(traceA, spanID(1), "page.view", ahead.Add(-time.Minute), ""),
		sdkSpan(traceA, spanID(2), "probe.view", ahead, ""),
		sdkSpan(traceA, spanID(3), "probe.view", time.Now().Add(30*24*time.Hour), ""),
	)
	before := time.Now()
	resp := h.post("/v1/traces", "application/json", body)
	after := time.Now()
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"partialSuccess":{"rejectedSpans":"1","errorMessage":"1 of 3 spans rejected: event time is in the future beyond the clock_skew limits (1)"}}`, string(resp.body))

	records := h.allRecords()
	require.Len(t, records, 2)
	newest := records[1].Timestamp().AsTime()
	assert.False(t, newest.Before(before.Add(-time.Second)) || newest.After(after), "the newest event lands on the receive time, got %v", newest)
	assert.Equal(t, time.Minute, newest.Sub(records[0].Timestamp().AsTime()), "events keep their spacing")
	metadatatest.AssertEqualReceiverGlamClockCorrectedEvents(t, h.tel, []metricdata.DataPoint[int64]{{Value: 2}}, telemetryOpts...)

	// A retry corrects nothing more: its events are duplicates, not emitted.
	resp = h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status)
	require.Len(t, h.allRecords(), 2)
	metadatatest.AssertEqualReceiverGlamClockCorrectedEvents(t, h.tel, []metricdata.DataPoint[int64]{{Value: 2}}, telemetryOpts...)
}

func TestOldSpansAreNotShiftedAndAncientOnesRejected(t *testing.T) {
	h := newHarness(t, nil, nil)
	old := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	body := sdkTraces("",
		sdkSpan(traceA, spanID(1), "page.view", old, ""),
		sdkSpan(traceA, spanID(2), "page.view", time.Unix(0, 1000), ""),
	)
	resp := h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, string(resp.body), "event time is before 2000-01-01 (1)")
	records := h.allRecords()
	require.Len(t, records, 1)
	assert.Equal(t, old, records[0].Timestamp().AsTime().Local(), "an old event may have waited in the client: it keeps its time")
}

func TestSpanRetryIsNotCountedTwice(t *testing.T) {
	h := newHarness(t, nil, nil)
	body := sdkTraces("", sdkSpan(traceA, spanID(1), "probe.view", time.Now(), ""), sdkSpan(traceA, spanID(2), "page.view", time.Now(), ""))
	first := h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, first.status)
	retry := h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, retry.status)
	assert.JSONEq(t, `{"partialSuccess":{"errorMessage":"2 spans already received were not counted again"}}`, string(retry.body))

	assert.Len(t, h.allRecords(), 2)
	assert.Equal(t, map[string]int{usage.EventProbeView: 1, usage.EventPageView: 1}, countByEvent(h.logs.AllLogs()))
	assert.Equal(t, 2, h.traces.SpanCount())
	h.assertNoMeasurements()
	metadatatest.AssertEqualReceiverGlamDuplicateEvents(t, h.tel, []metricdata.DataPoint[int64]{{Value: 2}}, telemetryOpts...)

	// A span repeated inside one request counts once too.
	dup := sdkTraces("", sdkSpan(traceA, spanID(3), "probe.view", time.Now(), ""), sdkSpan(traceA, spanID(3), "probe.view", time.Now(), ""))
	resp := h.post("/v1/traces", "application/json", dup)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, string(resp.body), "1 spans already received")
	assert.Len(t, h.allRecords(), 3)
}

func TestTracesOnlyPipelinePassesSpansThrough(t *testing.T) {
	h := newHarness(t, nil, func(h *harness) pipelines { return pipelines{traces: h.traces} })
	body := sdkTraces("", sdkSpan(traceA, spanID(1), "probe.view", time.Now(), strAttr("net.peer.ip", "10.0.0.1")))
	resp := h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status)
	require.Equal(t, 1, h.traces.SpanCount())
	assert.Equal(t, 0, h.traces.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Len())

	for _, path := range []string{"/v1/logs", "/v1/metrics", "/submit/glam/events/1/8b3e0b44-6dc4-4a7f-8f4c-7b0b6d3c9a11"} {
		resp = h.post(path, "application/json", []byte(`{}`))
		assert.Equal(t, http.StatusNotFound, resp.status, path)
	}
}
