package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"fmt"
	"net/http"

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
	total, rejected, err := readMetrics(md)
	if err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, err.Error())
		return
	}

	ctx := r.obs.StartMetricsOp(req.Context())
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

// readMetrics is the one pass over a metrics request, as the logs and
// traces paths make theirs: it checks every string (a bad one refuses the
// whole request, as OTLP's 400 does), removes private attributes, and drops
// the scopes reserved for usage data, counting their data points; total is
// every data point the request held.
func readMetrics(md pmetric.Metrics) (total, rejected int, err error) {
	n := 0
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		if err := checkResource(rm.Resource(), rm.SchemaUrl(), place{"resource", i}); err != nil {
			return 0, 0, err
		}
		scrub(rm.Resource().Attributes())
		sms := rm.ScopeMetrics()
		dropScopes := false
		for j := 0; j < sms.Len(); j++ {
			sm := sms.At(j)
			if err := checkScope(sm.Scope(), sm.SchemaUrl(), place{"scope", j}); err != nil {
				return 0, 0, err
			}
			reserved := reservedScope(sm.Scope().Name())
			dropScopes = dropScopes || reserved
			for k := 0; k < sm.Metrics().Len(); k++ {
				points, err := checkMetric(sm.Metrics().At(k), place{"metric", n}, !reserved)
				if err != nil {
					return 0, 0, err
				}
				n++
				total += points
				if reserved {
					rejected += points
				}
			}
		}
		if dropScopes {
			sms.RemoveIf(func(sm pmetric.ScopeMetrics) bool { return reservedScope(sm.Scope().Name()) })
		}
	}
	rms.RemoveIf(func(rm pmetric.ResourceMetrics) bool { return rm.ScopeMetrics().Len() == 0 })
	return total, rejected, nil
}

func reservedScope(name string) bool {
	return name == usage.MeasurementScope || name == usage.ViewScope || name == usage.EventScope
}
