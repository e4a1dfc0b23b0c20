package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"net/http"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/plog/plogotlp"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

var logsEndpoint = endpoint{
	proto: logsRequestMsg,
	empty: func(w http.ResponseWriter, enc encoding) { writeOTLPResponse(w, enc, plogotlp.NewExportResponse()) },
}

// handleLogs takes OTLP log records: each one that names an event becomes a
// usage event.
func (r *glamReceiver) handleLogs(w http.ResponseWriter, req *http.Request) {
	if !r.emitsEvents() {
		writeStatus(w, responseEncoding(req), http.StatusNotFound, "no pipeline takes usage events from this receiver")
		return
	}
	otlp := plogotlp.NewExportRequest()
	in, ok := r.acceptOTLP(w, req, logsEndpoint, otlp, "logs")
	if !ok {
		return
	}
	ld := otlp.Logs()
	it := recordIntake{newIntake[recordItem](r, in, "log records", obsOp{r.obs.StartLogsOp, r.obs.EndLogsOp, in.enc.String()}, ld.LogRecordCount())}
	if err := it.read(ld); err != nil {
		writeStatus(w, in.enc, http.StatusBadRequest, err.Error())
		return
	}
	it.correctClock(time.Time{}, false)
	ctx, ok := it.settle(w, req)
	if !ok {
		return
	}
	if !it.deliver(w, ctx, it.write(ld), nil) {
		return
	}
	resp := plogotlp.NewExportResponse()
	if msg := it.message(); msg != "" {
		resp.PartialSuccess().SetRejectedLogRecords(int64(it.count(fateRejected)))
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	writeOTLPResponse(w, in.enc, resp)
}

// recordItem is where an accepted log record sits in the request.
type recordItem struct {
	resource int
	record   plog.LogRecord
}

type recordIntake struct{ *intake[recordItem] }

// read is the one walk over the request: it refuses a request that breaks
// the rules of validate.go (the error, a 400) and makes a candidate event of
// every log record: id = log.record.uid or a hash of the record, name =
// EventName or event.name, time = timestamp or else observed timestamp.
func (in recordIntake) read(ld plog.Logs) error {
	received := in.req.received
	n := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		if err := checkResource(rl.Resource(), rl.SchemaUrl(), place{"resource", i}); err != nil {
			return err
		}
		resourceSession := usage.StringAttr(rl.Resource().Attributes(), usage.AttrSessionID)
		badResource := unstorable(rl.Resource().Attributes())
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			sl := rl.ScopeLogs().At(j)
			if err := checkScope(sl.Scope(), sl.SchemaUrl(), place{"scope", j}); err != nil {
				return err
			}
			records := sl.LogRecords()
			for k := 0; k < records.Len(); k++ {
				lr := records.At(k)
				if err := checkRecord(lr, place{"log record", n}); err != nil {
					return err
				}
				n++
				name := lr.EventName()
				if name == "" {
					name = usage.StringAttr(lr.Attributes(), usage.AttrEventName)
				}
				if name == "" {
					in.reject(rejectNoEventName)
					continue
				}
				if _, bodyProblem := usage.ValueProblem(lr.Body()); badResource || bodyProblem != "" ||
					unstorable(lr.Attributes(), name, lr.SeverityText()) {
					in.reject(rejectUnstorable)
					continue
				}
				id := usage.StringAttr(lr.Attributes(), usage.AttrEventID)
				if id == "" {
					id = contentID(rl.Resource(), lr)
				}
				in.add(usage.Event{
					ID:        id,
					Name:      name,
					SessionID: sessionOf(lr.Attributes(), resourceSession),
					Time:      clientTime(received, lr.Timestamp(), lr.ObservedTimestamp()),
					Observed:  received,
					Source:    usage.SourceOTLPLogs,
				}, recordItem{resource: i, record: lr})
			}
		}
	}
	return nil
}

// write writes the accepted records as usage events, keeping their body,
// severity and trace context.
func (in recordIntake) write(ld plog.Logs) plog.Logs {
	w := in.newEventWriter()
	lastRes := -1
	for i := range in.cands {
		c := &in.cands[i]
		if c.fate != fateAccepted {
			continue
		}
		if c.item.resource != lastRes {
			w.startResource(ld.ResourceLogs().At(c.item.resource).Resource())
			lastRes = c.item.resource
		}
		src := c.item.record
		lr := w.write(c.event, src.Attributes())
		src.Body().CopyTo(lr.Body())
		lr.SetSeverityNumber(src.SeverityNumber())
		lr.SetSeverityText(src.SeverityText())
		lr.SetTraceID(src.TraceID())
		lr.SetSpanID(src.SpanID())
		lr.SetFlags(src.Flags())
	}
	return w.logs
}
