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
	in, ok := r.accept(w, req, tracesEndpoint)
	if !ok {
		return
	}
	op := obsOp{r.obs.StartTracesOp, r.obs.EndTracesOp, in.enc.String()}
	var it spanIntake
	var td ptrace.Traces
	if d, ok := r.decodeJSONSpans(in); ok {
		it = spanIntake{intake: newIntake[spanItem](r, in, "spans", op, len(d.spans))}
		it.readDecoded(d)
	} else {
		otlp := ptraceotlp.NewExportRequest()
		if !decodeOTLP(w, in, tracesEndpoint, otlp, "traces") {
			return
		}
		td = otlp.Traces()
		it = spanIntake{intake: newIntake[spanItem](r, in, "spans", op, td.SpanCount())}
		if err := it.read(td); err != nil {
			writeStatus(w, in.enc, http.StatusBadRequest, err.Error())
			return
		}
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

// decodeJSONSpans decodes the body with the decoder of browsers' OTLP/JSON
// when it may: only usage events are wanted (pass-through spans need the
// whole span) and the body is JSON.
func (r *glamReceiver) decodeJSONSpans(in *request) (*jsonSpans, bool) {
	if r.next.traces != nil || in.enc != encJSON {
		return nil, false
	}
	return decodeJSONSpans(in.body)
}

// spanItem is what an accepted span's event is written from: where the
// span sits in the request, and its attributes (span, when decoded by
// pdata; attrs, when decoded by jsonSpans, see spanIntake.decoded).
type spanItem struct {
	resource, scope int
	span            ptrace.Span
	attrs           []jsonKV
	traceID         pcommon.TraceID
	spanID          pcommon.SpanID
}

type spanIntake struct {
	*intake[spanItem]
	resources []pcommon.Resource
	decoded   bool // by jsonSpans
}

// readDecoded makes candidates of spans decoded by jsonSpans, as read does
// of pdata's. Nothing in them can be unstorable: the decoder takes only
// strings without escapes or control characters, in valid UTF-8, integers
// and booleans.
func (in *spanIntake) readDecoded(d *jsonSpans) {
	received := in.req.received
	in.decoded = true
	in.resources = make([]pcommon.Resource, len(d.resources))
	for i, res := range d.resources {
		in.resources[i] = pcommon.NewResource()
		putKVs(in.resources[i].Attributes(), d.attrs(res.attrs))
	}
	for _, span := range d.spans {
		switch {
		case span.traceID.IsEmpty() || span.spanID.IsEmpty():
			in.reject(rejectInvalidID)
		case span.name == "":
			in.reject(rejectNoSpanName)
		default:
			attrs := d.attrs(span.attrs)
			session, _ := d.session(span.attrs)
			if session == "" {
				session = d.resources[span.resource].session
			}
			in.add(usage.Event{
				ID:        span.spanID.String(),
				Name:      span.name,
				SessionID: session,
				Time:      clientTime(received, pcommon.Timestamp(span.start), pcommon.Timestamp(span.end)),
				Observed:  received,
				Source:    usage.SourceOTLPTraces,
			}, spanItem{resource: span.resource, attrs: attrs, traceID: span.traceID, spanID: span.spanID})
		}
	}
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
		resourceSession := usage.StringAttr(rs.Resource().Attributes(), usage.AttrSessionID)
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
					}, spanItem{resource: i, scope: j, span: span, traceID: span.TraceID(), spanID: span.SpanID()})
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
			var lr plog.LogRecord
			if in.decoded {
				lr = w.writeDecoded(c.event, it.attrs)
			} else {
				lr = w.write(c.event, it.span.Attributes())
			}
			lr.SetTraceID(it.traceID)
			lr.SetSpanID(it.spanID)
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
