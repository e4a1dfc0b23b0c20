package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

var tracesEndpoint = endpoint{
	proto: traceRequestMsg,
	empty: func(w http.ResponseWriter, enc encoding) { writeOTLPResponse(w, enc, ptraceotlp.NewExportResponse()) },
}

// handleTraces takes OTLP spans: each becomes a usage event, and the spans
// pass on to a traces pipeline if there is one.
func (r *glamReceiver) handleTraces(w http.ResponseWriter, req *http.Request) {
	if r.next.traces == nil && !r.emitsEvents() {
		writeStatus(w, responseEncoding(req), http.StatusNotFound, "no pipeline takes traces or usage events from this receiver")
		return
	}
	otlp := ptraceotlp.NewExportRequest()
	in, ok := r.acceptOTLP(w, req, tracesEndpoint, otlp, "traces", func() error { return validateTraces(otlp.Traces()) })
	if !ok {
		return
	}
	td := otlp.Traces()
	it := r.newIntake(in, "spans", td.SpanCount())
	it.collectSpans(td)
	it.correctClock(time.Time{}, false)
	ok = it.run(w, req, in.enc.String(), obsOp{r.obs.StartTracesOp, r.obs.EndTracesOp}, it.dedupeEvents,
		func() (plog.Logs, func(context.Context) error) {
			events := it.writeSpans(td)
			if r.next.traces == nil {
				return events, nil
			}
			it.pruneSpans(td)
			if td.SpanCount() == 0 {
				return events, nil
			}
			return events, func(ctx context.Context) error { return r.next.traces.ConsumeTraces(ctx, td) }
		})
	if !ok {
		return
	}
	resp := ptraceotlp.NewExportResponse()
	if msg := it.message(); msg != "" {
		resp.PartialSuccess().SetRejectedSpans(int64(it.count(fateRejected)))
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	writeOTLPResponse(w, in.enc, resp)
}

// collectSpans makes a candidate event of every span: id = span id, name =
// span name, time = start time.
func (in *intake) collectSpans(td ptrace.Traces) {
	received := in.req.received
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		resourceSession := stringAttr(rs.Resource().Attributes(), usage.AttrSessionID)
		badResource := unstorable(rs.Resource().Attributes())
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				switch {
				case span.TraceID().IsEmpty() || span.SpanID().IsEmpty():
					in.reject(rejectInvalidID)
				case span.Name() == "":
					in.reject(rejectNoSpanName)
				case badResource || unstorable(span.Attributes(), span.Name()):
					in.reject(rejectUnstorable)
				default:
					in.add(usage.Event{
						ID:        span.SpanID().String(),
						Name:      span.Name(),
						SessionID: sessionOf(span.Attributes(), resourceSession),
						Time:      clientTime(received, span.StartTimestamp(), span.EndTimestamp()),
						Observed:  received,
						Source:    usage.SourceOTLPTraces,
					})
				}
			}
		}
	}
}

// writeSpans writes the accepted spans as usage events, when some pipeline
// takes events.
func (in *intake) writeSpans(td ptrace.Traces) plog.Logs {
	w := in.newEventWriter()
	if !in.r.emitsEvents() {
		return w.logs
	}
	cursor := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		w.startResource(rs.Resource())
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				c := in.take(&cursor)
				if c.fate != fateAccepted {
					continue
				}
				span := spans.At(k)
				lr := w.write(c.event, span.Attributes())
				lr.SetTraceID(span.TraceID())
				lr.SetSpanID(span.SpanID())
			}
		}
	}
	return w.logs
}

// pruneSpans leaves in td only the accepted spans, without their private
// attributes, for the traces pipeline.
func (in *intake) pruneSpans(td ptrace.Traces) {
	cursor := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		scrub(rs.Resource().Attributes())
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			rs.ScopeSpans().At(j).Spans().RemoveIf(func(span ptrace.Span) bool {
				if in.take(&cursor).fate != fateAccepted {
					return true
				}
				scrubSpan(span)
				return false
			})
		}
		rs.ScopeSpans().RemoveIf(func(ss ptrace.ScopeSpans) bool { return ss.Spans().Len() == 0 })
	}
	rss.RemoveIf(func(rs ptrace.ResourceSpans) bool { return rs.ScopeSpans().Len() == 0 })
}

func scrubSpan(span ptrace.Span) {
	scrub(span.Attributes())
	for e := 0; e < span.Events().Len(); e++ {
		scrub(span.Events().At(e).Attributes())
	}
	for l := 0; l < span.Links().Len(); l++ {
		scrub(span.Links().At(l).Attributes())
	}
}
