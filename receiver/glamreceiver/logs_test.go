package glamreceiver

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// sdkRecord writes a log record as the OTel JS logs exporter does.
func sdkRecord(eventName string, t time.Time, attrs ...string) string {
	name := ""
	if eventName != "" {
		name = fmt.Sprintf(`"eventName":%q,`, eventName)
	}
	return fmt.Sprintf(`{%s"timeUnixNano":"%d","observedTimeUnixNano":"%d","severityNumber":9,"severityText":"INFO","body":{"stringValue":"clicked"},"attributes":[%s],"droppedAttributesCount":0}`,
		name, t.UnixNano(), t.UnixNano(), strings.Join(attrs, ","))
}

func sdkLogs(resourceAttrs string, records ...string) []byte {
	return []byte(fmt.Sprintf(`{"resourceLogs":[{"resource":{"attributes":[%s]},"scopeLogs":[{"scope":{"name":"glam-app"},"logRecords":[%s]}]}]}`,
		resourceAttrs, strings.Join(records, ",")))
}

func TestLogRecordsBecomeUsageEvents(t *testing.T) {
	h := newHarness(t, nil, nil)
	at := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	body := sdkLogs(strAttr("session.id", "s-9"),
		sdkRecord(usage.EventProbeView, at, strAttr(usage.AttrEventID, "uid-1"), strAttr(usage.AttrProbeName, "gc_ms")),
		sdkRecord("", at, strAttr(usage.AttrEventName, usage.EventProbeSearch), strAttr("query", "gc")),
		sdkRecord("", at, strAttr("note", "not an event")),
	)
	resp := h.post("/v1/logs", "application/json", body, "User-Agent", "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15")
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"partialSuccess":{"rejectedLogRecords":"1","errorMessage":"1 of 3 log records rejected: log record has neither an eventName nor an event.name attribute (1)"}}`, string(resp.body))

	records := h.allRecords()
	require.Len(t, records, 2)
	assert.Equal(t, map[string]any{
		usage.AttrEventID:       "uid-1",
		usage.AttrEventName:     usage.EventProbeView,
		usage.AttrSessionID:     "s-9",
		usage.AttrSource:        usage.SourceOTLPLogs,
		usage.AttrBrowserFamily: "Safari",
		usage.AttrProbeName:     "gc_ms",
	}, attrs(records[0]))
	assert.Equal(t, "clicked", records[0].Body().Str(), "the body is kept")
	assert.Equal(t, plog.SeverityNumberInfo, records[0].SeverityNumber())
	assert.Equal(t, at, records[0].Timestamp().AsTime().Local())

	second := attrs(records[1])
	assert.Equal(t, usage.EventProbeSearch, records[1].EventName(), "event.name fills in a missing eventName")
	assert.Len(t, second[usage.AttrEventID], 32, "without log.record.uid the id is a content hash")
	assert.Equal(t, "gc", second["query"])

	assert.Equal(t, map[string]int{usage.EventProbeView: 1, usage.EventProbeSearch: 1}, countByEvent(h.logs.AllLogs()))

	// The retry of a batch without uids is recognised by content.
	resp = h.post("/v1/logs", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Contains(t, string(resp.body), "2 log records already received were not counted again")
	assert.Len(t, h.allRecords(), 2)
	h.assertNoMeasurements()

	// A record differing only in an attribute is another event.
	other := sdkLogs(strAttr("session.id", "s-9"), sdkRecord("", at, strAttr(usage.AttrEventName, usage.EventProbeSearch), strAttr("query", "gcx")))
	resp = h.post("/v1/logs", "application/json", other)
	require.Equal(t, http.StatusOK, resp.status)
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body))
	assert.Len(t, h.allRecords(), 3)
}

func TestContentIDIgnoresAttributeOrder(t *testing.T) {
	a := plog.NewLogRecord()
	a.Attributes().PutStr("x", "1")
	a.Attributes().PutInt("y", 2)
	b := plog.NewLogRecord()
	b.Attributes().PutInt("y", 2)
	b.Attributes().PutStr("x", "1")
	res := plog.NewResourceLogs().Resource()
	assert.Equal(t, contentID(res, a), contentID(res, b))
	b.Attributes().PutStr("y", "2")
	assert.NotEqual(t, contentID(res, a), contentID(res, b), "a string 2 is not an int 2")
}

// Usage events reach the logs pipeline only: without one, the receiver
// takes no events (measurements are derived from the committed event log,
// which only the logs pipeline fills), and a metrics pipeline alone carries
// client OTLP metrics.
func TestWithoutALogsPipelineNoEventsAreTaken(t *testing.T) {
	h := newHarness(t, nil, func(h *harness) pipelines { return pipelines{metrics: h.metrics} })
	resp := h.post("/v1/logs", "application/json", sdkLogs("", sdkRecord(usage.EventPageView, time.Now())))
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.JSONEq(t, `{"code":5,"message":"no pipeline takes usage events from this receiver"}`, string(resp.body))
	resp = h.post("/v1/traces", "application/json", sdkTraces("", sdkSpan(traceA, spanID(1), usage.EventProbeView, time.Now(), "")))
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.JSONEq(t, `{"code":5,"message":"no pipeline takes traces or usage events from this receiver"}`, string(resp.body))
	resp = h.post(gleanSubmitPath, "application/json", gleanPingBody(time.Now().Add(-time.Minute), time.Now(),
		`{"category":"probe","name":"view","timestamp":0,"extra":{"glam.probe.name":"gc_ms"}}`))
	assert.Equal(t, http.StatusNotFound, resp.status)
	h.assertNoMeasurements()

	resp = h.post("/v1/metrics", "application/json", clientMetrics(t, "web-vitals"))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.Equal(t, 2, h.metrics.DataPointCount(), "client metrics still pass through")
}

func TestEventsWithoutMetricsPipelineStillReachLogs(t *testing.T) {
	h := newHarness(t, nil, func(h *harness) pipelines { return pipelines{logs: h.logs} })
	resp := h.post("/v1/traces", "application/json", sdkTraces("", sdkSpan(traceA, spanID(1), usage.EventProbeView, time.Now(), "")))
	require.Equal(t, http.StatusOK, resp.status)
	assert.Len(t, h.allRecords(), 1)
	resp = h.post("/v1/metrics", "application/json", []byte(`{}`))
	assert.Equal(t, http.StatusNotFound, resp.status)
	assert.JSONEq(t, `{"code":5,"message":"no metrics pipeline takes data from this receiver"}`, string(resp.body))
}
