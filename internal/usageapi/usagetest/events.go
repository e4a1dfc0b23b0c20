package usagetest

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Event is one usage event of a data set; empty strings are absent fields.
type Event struct {
	ID, Session, Name                    string
	Product, Probe, Process, Channel, OS string
	Time                                 time.Time
}

// Attributes are the event's attributes as the glam receiver sets them.
func (e Event) Attributes() map[string]string {
	attrs := map[string]string{usage.AttrEventID: e.ID, usage.AttrEventName: e.Name}
	for k, v := range map[string]string{
		usage.AttrSessionID: e.Session, usage.AttrProduct: e.Product, usage.AttrProbeName: e.Probe,
		usage.AttrProbeProcess: e.Process, usage.AttrChannel: e.Channel, usage.AttrOS: e.OS,
	} {
		if v != "" {
			attrs[k] = v
		}
	}
	return attrs
}

// ReadCSV reads a data set written as testdata/usage_events.csv: lines
// starting with # are comments, the first other line is the header, and
// each event's time is its day offset plus time of day after day0.
func ReadCSV(path string, day0 time.Time) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	r.FieldsPerRecord = 10
	if _, err := r.Read(); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	var events []Event
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		day, err := strconv.Atoi(rec[1])
		if err != nil {
			return nil, fmt.Errorf("%s: event %s: day %q: %w", path, rec[0], rec[1], err)
		}
		tod, err := time.Parse("15:04:05", rec[2])
		if err != nil {
			return nil, fmt.Errorf("%s: event %s: time %q: %w", path, rec[0], rec[2], err)
		}
		at := day0.AddDate(0, 0, day).Add(time.Duration(tod.Hour())*time.Hour + time.Duration(tod.Minute())*time.Minute + time.Duration(tod.Second())*time.Second)
		events = append(events, Event{
			ID: rec[0], Time: at, Session: rec[3], Name: rec[4], Product: rec[5],
			Probe: rec[6], Process: rec[7], Channel: rec[8], OS: rec[9],
		})
	}
}

// Insert stores events in the raw event table (creating the partitions of
// their days), as the glam_postgres exporter does.
func Insert(ctx context.Context, db *pgxpool.Pool, events []Event) error {
	days := map[time.Time]bool{}
	var list []time.Time
	for _, e := range events {
		if d := pgschema.Day(e.Time); !days[d] {
			days[d] = true
			list = append(list, d)
		}
	}
	if err := pgschema.EnsureEventPartitions(ctx, db, list); err != nil {
		return err
	}
	rows := make([][]any, len(events))
	ids := make([][]any, len(events))
	for i, e := range events {
		attrs, err := json.Marshal(e.Attributes())
		if err != nil {
			return err
		}
		rows[i] = []any{e.ID, e.Time, e.Time, e.Name, null(e.Session), null(e.Product), null(e.Probe),
			null(e.Process), null(e.Channel), null(e.OS), usage.SourceOTLPLogs, string(attrs), "{}"}
		ids[i] = []any{e.ID, e.Time}
	}
	cols := []string{"event_id", "event_time", "observed_time", "event_name", "session_id", "product",
		"probe_name", "probe_process", "channel", "os", "source", "attributes", "resource"}
	if _, err := db.CopyFrom(ctx, pgx.Identifier{pgschema.EventsTable}, cols, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("insert events: %w", err)
	}
	if _, err := db.CopyFrom(ctx, pgx.Identifier{pgschema.EventIDsTable}, []string{"event_id", "event_time"}, pgx.CopyFromRows(ids)); err != nil {
		return fmt.Errorf("insert event ids: %w", err)
	}
	return nil
}

func null(s string) any {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return s
}

// LoadCSV loads a data set read by ReadCSV as raw events and as the rows of
// the default views (named by views) those events make: the state a
// collector leaves after receiving them. It returns the events loaded.
func LoadCSV(ctx context.Context, db *pgxpool.Pool, path string, day0 time.Time, views Views, probeView string) ([]Event, error) {
	events, err := ReadCSV(path, day0)
	if err != nil {
		return nil, err
	}
	if err := Insert(ctx, db, events); err != nil {
		return nil, err
	}
	return events, DeriveViews(ctx, db, views, probeView)
}
