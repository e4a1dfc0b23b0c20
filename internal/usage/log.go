package usage

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The committed, deduplicated raw event table is the log views consume
// (SPEC §2). A log consumer reads it in order and sends measurements whose
// resource carries the consumer's name and the log range they cover; the
// views processor passes the range on to the view batches it flushes; the
// exporter merges a batch and moves the consumer's offset in one
// transaction, and only when the batch starts where the offset is. So a
// crash re-reads exactly what was not merged, and a replica never merges
// an event twice.

// LogPosition is a place in the event log: just after the event written by
// transaction XID with sequence number Seq. The zero value is the start.
type LogPosition struct {
	XID uint64
	Seq int64
}

// Less orders positions as the log does.
func (p LogPosition) Less(q LogPosition) bool {
	return p.XID < q.XID || p.XID == q.XID && p.Seq < q.Seq
}

// String is how a position travels in attributes: "xid/seq".
func (p LogPosition) String() string {
	return strconv.FormatUint(p.XID, 10) + "/" + strconv.FormatInt(p.Seq, 10)
}

// ParseLogPosition reads String's form.
func ParseLogPosition(s string) (LogPosition, error) {
	x, q, ok := strings.Cut(s, "/")
	xid, err1 := strconv.ParseUint(x, 10, 64)
	seq, err2 := strconv.ParseInt(q, 10, 64)
	if !ok || err1 != nil || err2 != nil || seq < 0 {
		return LogPosition{}, fmt.Errorf("log position %q is not xid/seq", s)
	}
	return LogPosition{XID: xid, Seq: seq}, nil
}

// Resource attributes of measurements read from the log and of the view
// batches made from them.
const (
	// AttrLogConsumer names the consumer (one per view set) whose offset a
	// batch moves.
	AttrLogConsumer = "glam.log.consumer"
	// AttrLogFrom is the position the data starts after: the consumer's
	// offset when the batch is merged.
	AttrLogFrom = "glam.log.from"
	// AttrLogTo is the position of the last event the data covers.
	AttrLogTo = "glam.log.to"
	// AttrLogRewound marks the first measurements a consumer sends after
	// it (re)started reading at AttrLogFrom: whatever the views hold
	// beyond that position is dropped, since it will be read again.
	AttrLogRewound = "glam.log.rewound"
	// AttrLogView is, on a rewound resource of a consumer that reads one
	// view created at runtime, that view's definition (JSON, as
	// internal/views writes it): the views processor aggregates it for
	// that consumer alone.
	AttrLogView = "glam.log.view"
	// AttrLogRetired marks a resource, without data, saying that the
	// consumer's runtime view was deleted: the views processor forgets it.
	AttrLogRetired = "glam.log.retired"
)

// SessionContextScope is the scope of session context: before a consumer
// reads on from its offset it sends, per session view, the session rows
// already merged that a new event could still extend, so that a session
// spanning a restart or a hand-over stays one session. Each is a Gauge
// metric named after the view, one data point per row: start time = the
// row's window start, time = its window end, attributes = its tags.
const SessionContextScope = "glam.usage.session_context"

// ErrLogPositionConflict: a view batch does not start at its consumer's
// offset — another consumer moved it (a hand-over) or the batch was made
// from a stale read. Nothing of the batch is merged; the consumer must
// read again from the offset.
var ErrLogPositionConflict = errors.New("the view batch does not start at its consumer's log offset")
