package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"fmt"
	"net/http"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

var metricsEndpoint = endpoint{
	proto: metricRequestMsg,
	empty: func(w http.ResponseWriter, enc encoding) { writeOTLPResponse(w, enc, pmetricotlp.NewExportResponse()) },
}

// handleMetrics passes OTLP metrics from clients to the metrics pipeline
// unchanged, except for private attributes, which are removed, and scopes
// named like the collector's own usage data, which are rejected: a client
// must not be able to inject measurements that bypass deduplication.
func (r *glamReceiver) handleMetrics(w http.ResponseWriter, req *http.Request) {
	if r.next.metrics == nil {
		writeStatus(w, responseEncoding(req), http.StatusNotFound, "no metrics pipeline takes data from this receiver")
		return
	}
	otlp := pmetricotlp.NewExportRequest()
	in, ok := r.acceptOTLP(w, req, metricsEndpoint, otlp, "metrics")
	if !ok {
		return
	}
	md := otlp.Metrics()
	if err := validateMetrics(md); err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, err.Error())
		return
	}
	total := md.DataPointCount()
	rejected := pruneMetrics(md)

	ctx := r.obs.StartMetricsOp(req.Context())
	var err error
	if md.ResourceMetrics().Len() > 0 {
		err = r.next.metrics.ConsumeMetrics(ctx, md)
	}
	r.obs.EndMetricsOp(ctx, in.enc.String(), total-rejected, err)
	if rejected > 0 {
		r.telemetry.ReceiverGlamRejectedItems.Add(ctx, int64(rejected), metric.WithAttributes(attribute.String("reason", rejectScope.code)))
	}
	if err != nil {
		writeStatus(w, in.enc, consumerErrorStatus(err), "pipeline refused the data: "+err.Error())
		return
	}
	resp := pmetricotlp.NewExportResponse()
	if rejected > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(int64(rejected))
		resp.PartialSuccess().SetErrorMessage(fmt.Sprintf("%d of %d data points rejected: %s", rejected, total, rejectScope.text))
	}
	writeOTLPResponse(w, in.enc, resp)
}

// pruneMetrics removes private attributes and the scopes reserved for usage
// data, returning how many data points those scopes held.
func pruneMetrics(md pmetric.Metrics) int {
	rejected := 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		scrub(rm.Resource().Attributes())
		rm.ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool {
			if reservedScope(sm.Scope().Name()) {
				for k := 0; k < sm.Metrics().Len(); k++ {
					rejected += usage.DataPointCount(sm.Metrics().At(k))
				}
				return true
			}
			for k := 0; k < sm.Metrics().Len(); k++ {
				forEachPoint(sm.Metrics().At(k), func(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) bool {
					scrub(attrs)
					for e := 0; e < exemplars.Len(); e++ {
						scrub(exemplars.At(e).FilteredAttributes())
					}
					return true
				})
			}
			return false
		})
	}
	rms.RemoveIf(func(rm pmetric.ResourceMetrics) bool { return rm.ScopeMetrics().Len() == 0 })
	return rejected
}

func reservedScope(name string) bool {
	return name == usage.MeasurementScope || name == usage.ViewScope || name == usage.EventScope
}
