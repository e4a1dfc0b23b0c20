package usage

import (
	"errors"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Event is one usage event: a span, a log record or a Glean event, after
// normalisation. Its other attributes (GLAM's glam.* and anything the client
// sent) live on the log record it is written to.
type Event struct {
	// ID is stable across client retries: the span id, a log record's
	// log.record.uid (or a hash of its content), or the Glean document id
	// plus the event's index.
	ID string
	// Name is the span name, a log record's EventName or event.name
	// attribute, or the Glean event's category.name.
	Name string
	// SessionID is the browser session; empty when the client sent none.
	SessionID string
	// Time is the client's event time, corrected for client clock skew.
	Time time.Time
	// Observed is when the receiver received the event.
	Observed time.Time
	// Source is one of the Source* values.
	Source string
}

// ErrNotAnEvent is returned for a log record that lacks an event id or name.
var ErrNotAnEvent = errors.New("log record is not a usage event: it has no event id or no event name")

// AppendTo writes e as a new log record at the end of records and returns the
// record, so that the caller can add the event's remaining attributes.
func (e Event) AppendTo(records plog.LogRecordSlice) plog.LogRecord {
	lr := records.AppendEmpty()
	e.WriteTo(lr)
	return lr
}

// EventAttributes is how many attributes WriteTo puts at most, for a caller
// sizing a record's attributes before adding its own.
const EventAttributes = 4

// WriteTo writes e into lr.
func (e Event) WriteTo(lr plog.LogRecord) {
	lr.SetEventName(e.Name)
	lr.SetTimestamp(pcommon.NewTimestampFromTime(e.Time))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(e.Observed))
	attrs := lr.Attributes()
	attrs.PutStr(AttrEventID, e.ID)
	attrs.PutStr(AttrEventName, e.Name)
	if e.SessionID != "" {
		attrs.PutStr(AttrSessionID, e.SessionID)
	}
	attrs.PutStr(AttrSource, e.Source)
}

// EventFromLogRecord reads the event fields back from a log record written by
// AppendTo, or from any log record that carries an event id and name.
func EventFromLogRecord(lr plog.LogRecord) (Event, error) {
	attrs := lr.Attributes()
	e := Event{
		ID:        StringAttr(attrs, AttrEventID),
		Name:      lr.EventName(),
		SessionID: StringAttr(attrs, AttrSessionID),
		Time:      lr.Timestamp().AsTime(),
		Observed:  lr.ObservedTimestamp().AsTime(),
		Source:    StringAttr(attrs, AttrSource),
	}
	if e.Name == "" {
		e.Name = StringAttr(attrs, AttrEventName)
	}
	if lr.Timestamp() == 0 {
		e.Time = e.Observed
	}
	if e.ID == "" || e.Name == "" {
		return Event{}, ErrNotAnEvent
	}
	return e, nil
}

// StringAttr is the attribute key of m as a string, or "" when m has none.
func StringAttr(m pcommon.Map, key string) string {
	if v, ok := m.Get(key); ok {
		return v.AsString()
	}
	return ""
}
