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

func TestMeasuresWithValueAttribute(t *testing.T) {
	h := newHarness(t, func(cfg *Config) {
		cfg.Measures = []MeasureConfig{
			{Name: "glam.load_time", Unit: "ms", Event: "page.view", Value: "load_ms"},
			{Name: "glam.results", Unit: "{result}", Event: "probe.search", Value: "results"},
			{Name: "glam.results", Unit: "{result}", Event: "glam.search", Value: "results"},
		}
	}, nil)
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

	values := map[string][]float64{}
	for _, m := range h.allMeasurements() {
		values[m.measure] = append(values[m.measure], m.value)
	}
	assert.Equal(t, map[string][]float64{"glam.load_time": {420, 12.5, 99.5}, "glam.results": {3, 4}}, values)
	require.Len(t, h.metrics.AllMetrics(), 1)
	md := h.metrics.AllMetrics()[0]
	assert.Equal(t, 2, md.MetricCount(), "entries sharing a measure name record on one metric")
	assert.Equal(t, "ms", md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Unit())
	metadatatest.AssertEqualReceiverGlamSkippedMeasurements(t, h.tel, []metricdata.DataPoint[int64]{{Value: 4}}, telemetryOpts...)
}

func TestNoMeasuresMeansNoMeasurements(t *testing.T) {
	h := newHarness(t, func(cfg *Config) { cfg.Measures = nil }, nil)
	resp := h.post("/v1/traces", "application/json", oneSpan(1))
	require.Equal(t, http.StatusOK, resp.status)
	assert.Len(t, h.allRecords(), 1)
	assert.Empty(t, h.metrics.AllMetrics())
}

func TestSignalsShareOneServer(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	ctx := context.Background()
	tr, lr, mr := createNopSignals(t, cfg)
	assert.Same(t, tr.receiver, lr.receiver)
	assert.Same(t, tr.receiver, mr.receiver)

	other := createDefaultConfig().(*Config)
	or, _, _ := createNopSignals(t, other)
	assert.NotSame(t, tr.receiver, or.receiver, "another component ID gets its own server")
	require.NoError(t, or.Shutdown(ctx))

	host := componenttest.NewNopHost()
	require.NoError(t, tr.Start(ctx, host))
	require.NoError(t, lr.Start(ctx, host), "starting the second signal reuses the running server")
	require.NoError(t, mr.Start(ctx, host))
	r := tr.receiver
	resp, err := http.Post("http://"+r.addr.String()+cfg.PathPrefix+"/v1/metrics", "application/x-protobuf", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "an empty body is an empty export")
	for _, c := range []*sharedComponent{tr, lr, mr} {
		require.NoError(t, c.Shutdown(ctx))
	}

	again, _, _ := createNopSignals(t, cfg)
	assert.NotSame(t, r, again.receiver, "after shutdown the config gets a fresh receiver")
	require.NoError(t, again.Shutdown(ctx))
}
