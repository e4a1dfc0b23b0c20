package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

var errNoTime = errors.New("log record has neither a timestamp nor an observed timestamp")

// eventRow is one row of the raw event table, in pgschema.EventColumns order.
type eventRow struct {
	id, name                   string
	time, observed             time.Time
	session, product, probe    any // string, or nil for SQL NULL
	process, channel, os, src  any
	attributes, resource, body []byte
}

func (r *eventRow) values() []any {
	var body any
	if r.body != nil {
		body = r.body
	}
	return []any{r.id, r.time, r.observed, r.name, r.session, r.product, r.probe,
		r.process, r.channel, r.os, r.src, r.attributes, r.resource, body}
}

// acceptedDays is the range of event days the exporter stores: from the
// retention cutoff to the last day with a partition made ahead.
type acceptedDays struct {
	first, last time.Time // days; first is zero when events are kept forever
}

func (a acceptedDays) check(t time.Time) error {
	d := pgschema.Day(t)
	if !a.first.IsZero() && d.Before(a.first) {
		return fmt.Errorf("event time %s is before %s, the oldest day raw_events.retention keeps", t.UTC().Format(time.RFC3339), a.first.Format(time.DateOnly))
	}
	if d.After(a.last) {
		return fmt.Errorf("event time %s is after %s, the last day raw_events.partitions_ahead allows", t.UTC().Format(time.RFC3339), a.last.Format(time.DateOnly))
	}
	return nil
}

// eventBatch is what one plog.Logs becomes: the rows to store, each event id
// once, and what was refused.
type eventBatch struct {
	rows       []eventRow
	duplicates int // repeats of an event id within the batch
	rejected   rejections
}

func newEventBatch(ld plog.Logs, accepted acceptedDays) *eventBatch {
	b := &eventBatch{rejected: rejections{kind: "log records", total: ld.LogRecordCount()}}
	seen := make(map[string]bool, ld.LogRecordCount())
	n := 0
	for i := 0; i < ld.ResourceLogs().Len(); i++ {
		rl := ld.ResourceLogs().At(i)
		resource, resErr := jsonbMap("resource attributes", rl.Resource().Attributes())
		for j := 0; j < rl.ScopeLogs().Len(); j++ {
			records := rl.ScopeLogs().At(j).LogRecords()
			for k := 0; k < records.Len(); k++ {
				n++
				row, err := eventRowOf(records.At(k), resource, resErr, accepted)
				switch {
				case err != nil:
					b.rejected.add(fmt.Errorf("log record %d: %w", n, err))
				case seen[row.id]:
					b.duplicates++
				default:
					seen[row.id] = true
					b.rows = append(b.rows, row)
				}
			}
		}
	}
	return b
}

func eventRowOf(lr plog.LogRecord, resource []byte, resErr error, accepted acceptedDays) (eventRow, error) {
	if resErr != nil {
		return eventRow{}, resErr
	}
	ev, err := usage.EventFromLogRecord(lr)
	if err != nil {
		return eventRow{}, err
	}
	if lr.Timestamp() == 0 && lr.ObservedTimestamp() == 0 {
		return eventRow{}, errNoTime
	}
	if err := accepted.check(ev.Time); err != nil {
		return eventRow{}, err
	}
	if err := checkText("event id", ev.ID); err != nil {
		return eventRow{}, err
	}
	if err := checkText("event name", ev.Name); err != nil {
		return eventRow{}, err
	}
	attrs := lr.Attributes()
	row := eventRow{
		id: ev.ID, name: ev.Name, time: ev.Time, observed: ev.Observed, resource: resource,
		session: optional(attrs, usage.AttrSessionID),
		product: optional(attrs, usage.AttrProduct),
		probe:   optional(attrs, usage.AttrProbeName),
		process: optional(attrs, usage.AttrProbeProcess),
		channel: optional(attrs, usage.AttrChannel),
		os:      optional(attrs, usage.AttrOS),
		src:     optional(attrs, usage.AttrSource),
	}
	if lr.ObservedTimestamp() == 0 {
		row.observed = ev.Time
	}
	// Attributes are checked whole, so the promoted ones are checked too.
	if row.attributes, err = jsonbMap("attributes", attrs); err != nil {
		return eventRow{}, err
	}
	if row.body, err = valueJSON("body", lr.Body()); err != nil {
		return eventRow{}, err
	}
	return row, nil
}

// optional is an attribute's value as a string, or nil when it is absent or
// empty, so that the usage API can filter on IS NULL.
func optional(attrs pcommon.Map, key string) any {
	if v, ok := attrs.Get(key); ok {
		if s := v.AsString(); s != "" {
			return s
		}
	}
	return nil
}
