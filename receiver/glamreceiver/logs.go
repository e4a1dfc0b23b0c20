package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
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
	in, ok := r.acceptOTLP(w, req, logsEndpoint, otlp, "logs", func() error { return validateLogs(otlp.Logs()) })
	if !ok {
		return
	}
	ld := otlp.Logs()
	it := r.newIntake(in, "log records", ld.LogRecordCount())
	it.collectRecords(ld)
	it.correctClock(time.Time{}, false)
	ok = it.run(w, req, in.enc.String(), obsOp{r.obs.StartLogsOp, r.obs.EndLogsOp}, it.dedupeEvents,
		func() (plog.Logs, func(context.Context) error) { return it.writeRecords(ld), nil })
	if !ok {
		return
	}
	resp := plogotlp.NewExportResponse()
	if msg := it.message(); msg != "" {
		resp.PartialSuccess().SetRejectedLogRecords(int64(it.count(fateRejected)))
		resp.PartialSuccess().SetErrorMessage(msg)
	}
	writeOTLPResponse(w, in.enc, resp)
}

// collectRecords makes a candidate event of every log record: id =
// log.record.uid or a hash of the record, name = EventName or event.name,
// time = timestamp or else observed timestamp.
func (in *intake) collectRecords(ld plog.Logs) {
	received := in.req.received
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		resourceSession := stringAttr(rl.Resource().Attributes(), usage.AttrSessionID)
		badResource := unstorable(rl.Resource().Attributes())
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			records := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < records.Len(); k++ {
				lr := records.At(k)
				name := lr.EventName()
				if name == "" {
					name = stringAttr(lr.Attributes(), usage.AttrEventName)
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
				id := stringAttr(lr.Attributes(), usage.AttrEventID)
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
				})
			}
		}
	}
}

// writeRecords writes the accepted records as usage events, keeping their
// body, severity and trace context.
func (in *intake) writeRecords(ld plog.Logs) plog.Logs {
	w := in.newEventWriter()
	cursor := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		w.startResource(rl.Resource())
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			records := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < records.Len(); k++ {
				c := in.take(&cursor)
				if c.fate != fateAccepted {
					continue
				}
				src := records.At(k)
				lr := w.write(c.event, src.Attributes())
				src.Body().CopyTo(lr.Body())
				lr.SetSeverityNumber(src.SeverityNumber())
				lr.SetSeverityText(src.SeverityText())
				lr.SetTraceID(src.TraceID())
				lr.SetSpanID(src.SpanID())
				lr.SetFlags(src.Flags())
			}
		}
	}
	return w.logs
}
