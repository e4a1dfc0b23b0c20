package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// eventWriter writes accepted usage events as log records, one resource per
// source resource (created only once it has an event), in the usage events
// scope.
type eventWriter struct {
	logs     plog.Logs
	resource pcommon.Resource
	records  plog.LogRecordSlice
	open     bool
	family   string
	pages    *pageRules
	// events is how many events the request may write, to size the
	// records once.
	events int
}

func (in *intake[T]) newEventWriter() *eventWriter {
	return &eventWriter{logs: plog.NewLogs(), family: in.req.family, pages: in.r.pages, events: len(in.cands)}
}

// derivedAttributes is about how many attributes finish adds: the browser
// family and what a page URL's route gives. Sizing a record's attributes
// for them spares growing the map while they are put.
const derivedAttributes = 6

// startResource makes the following events belong to res.
func (w *eventWriter) startResource(res pcommon.Resource) {
	w.resource = res
	w.open = false
}

// write appends ev with the item's attributes attrs (minus the private
// ones) and the browser family, in GLAM's terms (pageRules.apply), and
// returns the record for the caller to add what else its source carries.
func (w *eventWriter) write(ev usage.Event, attrs pcommon.Map) plog.LogRecord {
	lr := w.append(ev, attrs.Len())
	mergeEventAttributes(lr.Attributes(), attrs)
	w.finish(lr)
	return lr
}

// writeDecoded is write for attributes decoded by jsonSpans.
func (w *eventWriter) writeDecoded(ev usage.Event, attrs []jsonKV) plog.LogRecord {
	lr := w.append(ev, len(attrs))
	mergeDecoded(lr.Attributes(), attrs)
	w.finish(lr)
	return lr
}

func (w *eventWriter) append(ev usage.Event, attrs int) plog.LogRecord {
	if !w.open {
		rl := w.logs.ResourceLogs().AppendEmpty()
		w.resource.Attributes().CopyTo(rl.Resource().Attributes())
		scrub(rl.Resource().Attributes())
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName(usage.EventScope)
		w.records = sl.LogRecords()
		w.records.EnsureCapacity(w.events)
		w.open = true
	}
	lr := w.records.AppendEmpty()
	lr.Attributes().EnsureCapacity(usage.EventAttributes + attrs + derivedAttributes)
	ev.WriteTo(lr)
	return lr
}

func (w *eventWriter) finish(lr plog.LogRecord) {
	setBrowserFamily(lr.Attributes(), w.family)
	w.pages.apply(lr)
}

// unstorable reports whether any of texts, or anything in m, is something
// the raw event table cannot hold (usage.TextProblem, usage.MapProblem).
func unstorable(m pcommon.Map, texts ...string) bool {
	for _, s := range texts {
		if usage.TextProblem(s) != "" {
			return true
		}
	}
	_, problem := usage.MapProblem(m)
	return problem != ""
}

// sessionOf is the session of an item: its own session.id attribute, else
// its resource's.
func sessionOf(attrs pcommon.Map, resourceSession string) string {
	if s := usage.StringAttr(attrs, usage.AttrSessionID); s != "" {
		return s
	}
	return resourceSession
}

// clientTime is the first non-zero of the client's timestamps, or the
// receive time when the client sent none.
func clientTime(received time.Time, timestamps ...pcommon.Timestamp) time.Time {
	for _, ts := range timestamps {
		if ts != 0 {
			return ts.AsTime()
		}
	}
	return received
}
