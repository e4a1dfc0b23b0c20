package glamreceiver

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadatatest"
)

func clientMetrics(t *testing.T, scopes ...string) []byte {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "glam")
	rm.Resource().Attributes().PutStr("user_agent.original", firefoxUA)
	for _, scope := range scopes {
		sm := rm.ScopeMetrics().AppendEmpty()
		sm.Scope().SetName(scope)
		m := sm.Metrics().AppendEmpty()
		m.SetName("web_vitals.lcp")
		m.SetUnit("ms")
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		for _, v := range []float64{800, 2600} {
			dp := h.DataPoints().AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
			dp.SetCount(1)
			dp.SetSum(v)
			dp.Attributes().PutStr("page", "/probe")
			dp.Attributes().PutStr("client.address", "198.51.100.4")
		}
	}
	b, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalJSON()
	require.NoError(t, err)
	return b
}

func TestClientMetricsPassThrough(t *testing.T) {
	h := newHarness(t, nil, nil)
	resp := h.post("/v1/metrics", "application/json", clientMetrics(t, "web-vitals"))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body))

	require.Len(t, h.metrics.AllMetrics(), 1)
	md := h.metrics.AllMetrics()[0]
	assert.Equal(t, 2, md.DataPointCount())
	rm := md.ResourceMetrics().At(0)
	assert.Equal(t, map[string]any{"service.name": "glam"}, rm.Resource().Attributes().AsRaw())
	m := rm.ScopeMetrics().At(0).Metrics().At(0)
	assert.Equal(t, "web_vitals.lcp", m.Name())
	assert.Equal(t, 2600.0, m.Histogram().DataPoints().At(1).Sum())
	assert.Equal(t, map[string]any{"page": "/probe"}, m.Histogram().DataPoints().At(0).Attributes().AsRaw())
	assert.Empty(t, h.logs.AllLogs(), "client metrics are not usage events")
}

func TestClientMetricsCannotForgeUsageData(t *testing.T) {
	h := newHarness(t, nil, nil)
	resp := h.post("/v1/metrics", "application/json", clientMetrics(t, usage.MeasurementScope, "web-vitals", usage.ViewScope))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"partialSuccess":{"rejectedDataPoints":"4","errorMessage":"4 of 6 data points rejected: scope name is reserved for the collector's own usage data"}}`, string(resp.body))
	require.Len(t, h.metrics.AllMetrics(), 1)
	md := h.metrics.AllMetrics()[0]
	assert.Equal(t, 1, md.ResourceMetrics().At(0).ScopeMetrics().Len())
	assert.Equal(t, "web-vitals", md.ResourceMetrics().At(0).ScopeMetrics().At(0).Scope().Name())
	metadatatest.AssertEqualReceiverGlamRejectedItems(t, h.tel, []metricdata.DataPoint[int64]{
		{Value: 4, Attributes: attribute.NewSet(attribute.String("reason", "reserved_scope"))},
	}, telemetryOpts...)
}

// Values a measure may read (load times, result counts) stay on the event
// as the client sent them, typed: the measurements are derived from the
// committed event log downstream, and the receiver records none.
func TestValueAttributesStayOnEventsAndRecordNoMeasurement(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := time.Now()
	body := sdkTraces("",
		sdkSpan(traceA, spanID(1), "page.view", now, intAttr("load_ms", 420)),
		sdkSpan(traceA, spanID(2), "page.view", now, `{"key":"load_ms","value":{"doubleValue":12.5}}`),
		sdkSpan(traceA, spanID(3), "page.view", now, strAttr("load_ms", " 99.5 ")),
		sdkSpan(traceA, spanID(4), "page.view", now, strAttr("load_ms", "fast")),
		sdkSpan(traceA, spanID(5), "page.view", now, `{"key":"load_ms","value":{"boolValue":true}}`),
		sdkSpan(traceA, spanID(6), "page.view", now, strAttr("load_ms", "NaN")),
		sdkSpan(traceA, spanID(7), "page.view", now, ""),
		sdkSpan(traceA, spanID(8), "probe.search", now, intAttr("results", 3)),
		sdkSpan(traceA, spanID(9), "glam.search", now, intAttr("results", 4)),
	)
	resp := h.post("/v1/traces", "application/json", body)
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.JSONEq(t, `{"partialSuccess":{}}`, string(resp.body), "a value a measure could not read is no reason to reject the event")

	values := map[string][]any{}
	for _, lr := range h.allRecords() {
		a := attrs(lr)
		for _, key := range []string{"load_ms", "results"} {
			if v, ok := a[key]; ok {
				values[lr.EventName()] = append(values[lr.EventName()], v)
			}
		}
	}
	assert.Equal(t, map[string][]any{
		"page.view":    {int64(420), 12.5, " 99.5 ", "fast", true, "NaN"},
		"probe.search": {int64(3)},
		"glam.search":  {int64(4)},
	}, values)
	assert.Len(t, h.allRecords(), 9)
	h.assertNoMeasurements()
}

// Whichever source an event comes from, the metrics pipeline sees none of
// it; client metrics posted alongside are all it carries.
func TestUsageEventsRecordNoMeasurement(t *testing.T) {
	h := newHarness(t, nil, nil)
	now := time.Now()
	resp := h.post("/v1/traces", "application/json", oneSpan(1))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	resp = h.post("/v1/logs", "application/json", sdkLogs("", sdkRecord(usage.EventProbeSearch, now, strAttr("query", "gc"))))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	resp = h.post(gleanSubmitPath, "application/json", gleanPingBody(now.Add(-time.Minute), now,
		`{"category":"probe","name":"view","timestamp":0,"extra":{"glam.probe.name":"gc_ms"}}`))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	assert.Equal(t, map[string]int{usage.EventProbeView: 2, usage.EventProbeSearch: 1}, countByEvent(h.logs.AllLogs()))
	h.assertNoMeasurements()

	resp = h.post("/v1/metrics", "application/json", clientMetrics(t, "web-vitals"))
	require.Equal(t, http.StatusOK, resp.status, string(resp.body))
	require.Len(t, h.metrics.AllMetrics(), 1, "only the client's own metrics")
	assert.Equal(t, "web-vitals", h.metrics.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Scope().Name())
}

func TestSignalsShareOneServer(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	ctx := context.Background()
	tr, lr, mr := createNopSignals(t, cfg)
	assert.Same(t, tr.Unwrap(), lr.Unwrap())
	assert.Same(t, tr.Unwrap(), mr.Unwrap())

	other := createDefaultConfig().(*Config)
	or, _, _ := createNopSignals(t, other)
	assert.NotSame(t, tr.Unwrap(), or.Unwrap(), "another component ID gets its own server")
	require.NoError(t, or.Shutdown(ctx))

	host := componenttest.NewNopHost()
	require.NoError(t, tr.Start(ctx, host))
	require.NoError(t, lr.Start(ctx, host), "starting the second signal reuses the running server")
	require.NoError(t, mr.Start(ctx, host))
	r := tr.Unwrap()
	resp, err := http.Post("http://"+r.addr.String()+cfg.PathPrefix+"/v1/metrics", "application/x-protobuf", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "an empty body is an empty export")
	// The server stops with the last signal's component, in whichever
	// order the collector stops them.
	require.NoError(t, lr.Shutdown(ctx))
	require.NoError(t, tr.Shutdown(ctx))
	resp, err = http.Post("http://"+r.addr.String()+cfg.PathPrefix+"/v1/metrics", "application/x-protobuf", nil)
	require.NoError(t, err, "the metrics signal still runs")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.NoError(t, mr.Shutdown(ctx))
	_, err = http.Post("http://"+r.addr.String()+cfg.PathPrefix+"/v1/metrics", "application/x-protobuf", nil)
	require.Error(t, err, "the server stopped with the last signal")

	again, _, _ := createNopSignals(t, cfg)
	assert.NotSame(t, r, again.Unwrap(), "after shutdown the config gets a fresh receiver")
	require.NoError(t, again.Shutdown(ctx))
}
