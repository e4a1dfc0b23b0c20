package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
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
	in, ok := r.acceptOTLP(w, req, tracesEndpoint, otlp, "traces")
	if !ok {
		return
	}
	td := otlp.Traces()
	it := spanIntake{intake: newIntake[spanItem](r, in, "spans", obsOp{r.obs.StartTracesOp, r.obs.EndTracesOp, in.enc.String()}, td.SpanCount())}
	if err := it.read(td); err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, err.Error())
		return
	}
	it.correctClock(time.Time{}, false)
	ctx, ok := it.settle(w, req)
	if !ok {
		return
	}
	events, spans := it.write(td)
	var passthrough func(context.Context) error
	if spans.SpanCount() > 0 {
		passthrough = func(ctx context.Context) error { return r.next.traces.ConsumeTraces(ctx, spans) }
	}
	if !it.deliver(w, ctx, events, passthrough) {
		return
	}
	resp := ptraceotlp.NewExportResponse()
	if msg := it.message(); msg != "" {
		resp.PartialSuccess().SetRejectedSpans(int64(it.count(fateRejected)))
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	writeOTLPResponse(w, in.enc, resp)
}

// spanItem is where an accepted span sits in the request.
type spanItem struct {
	resource, scope int
	span            ptrace.Span
}

type spanIntake struct {
	*intake[spanItem]
	resources []pcommon.Resource
}

// read is the one walk over the request: it refuses a request that breaks
// the rules of validate.go (the error, a 400) and makes a candidate event of
// every span: id = span id, name = span name, time = start time.
func (in *spanIntake) read(td ptrace.Traces) error {
	received := in.req.received
	n := 0
	rss := td.ResourceSpans()
	in.resources = make([]pcommon.Resource, rss.Len())
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		in.resources[i] = rs.Resource()
		if err := checkResource(rs.Resource(), rs.SchemaUrl(), place{"resource", i}); err != nil {
			return err
		}
		resourceSession := stringAttr(rs.Resource().Attributes(), usage.AttrSessionID)
		badResource := unstorable(rs.Resource().Attributes())
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			ss := rs.ScopeSpans().At(j)
			if err := checkScope(ss.Scope(), ss.SchemaUrl(), place{"scope", j}); err != nil {
				return err
			}
			spans := ss.Spans()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				if err := checkSpan(span, place{"span", n}); err != nil {
					return err
				}
				n++
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
					}, spanItem{resource: i, scope: j, span: span})
				}
			}
		}
	}
	return nil
}

// write makes usage events of the accepted spans, when some pipeline takes
// events, and moves the accepted spans, without their private attributes,
// into the traces that pass on, when a traces pipeline takes them.
func (in *spanIntake) write(td ptrace.Traces) (plog.Logs, ptrace.Traces) {
	w := in.newEventWriter()
	spans := ptrace.NewTraces()
	events, pass := in.r.emitsEvents(), in.r.next.traces != nil
	lastRes, lastScope := -1, -1
	var rs ptrace.ResourceSpans
	var ss ptrace.ScopeSpans
	for i := range in.cands {
		c := &in.cands[i]
		if c.fate != fateAccepted {
			continue
		}
		it := c.item
		newResource := it.resource != lastRes
		if events {
			if newResource {
				w.startResource(in.resources[it.resource])
			}
			lr := w.write(c.event, it.span.Attributes())
			lr.SetTraceID(it.span.TraceID())
			lr.SetSpanID(it.span.SpanID())
		}
		if !pass {
			lastRes = it.resource
			continue
		}
		src := td.ResourceSpans().At(it.resource)
		if newResource {
			rs = spans.ResourceSpans().AppendEmpty()
			src.Resource().CopyTo(rs.Resource())
			scrub(rs.Resource().Attributes())
			rs.SetSchemaUrl(src.SchemaUrl())
			lastScope = -1
		}
		if it.scope != lastScope {
			srcScope := src.ScopeSpans().At(it.scope)
			ss = rs.ScopeSpans().AppendEmpty()
			srcScope.Scope().CopyTo(ss.Scope())
			ss.SetSchemaUrl(srcScope.SchemaUrl())
		}
		lastRes, lastScope = it.resource, it.scope
		span := ss.Spans().AppendEmpty()
		it.span.MoveTo(span)
		scrubSpan(span)
	}
	return w.logs, spans
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
