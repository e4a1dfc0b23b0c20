package usageapi

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// GLAM's usage endpoint (glam/api/views.py `usage`) returns rows of its
// glam_usage_instrumentation table: id, action_type (only PROBE_SEARCH),
// timestamp, context (the probe query as JSON), tracking_id and probe_name.
// The same rows are made here from usage events: a probe view is a
// PROBE_SEARCH, its context holds the glam.* attributes without the prefix
// (product, probe, process, channel, os, ...), and its tracking id is the
// session.

// ActionProbeSearch is GLAM's one action type, a probe view here.
const ActionProbeSearch = "PROBE_SEARCH"

// GLAMFields are the fields GLAM's endpoint knows, besides context__<key>.
var GLAMFields = []string{"id", "action_type", "timestamp", "context", "tracking_id", "probe_name"}

var contextField = regexp.MustCompile(`^context__([A-Za-z0-9_]+)$`)

// GLAMUsageQuery is GLAM's query string, parsed.
type GLAMUsageQuery struct {
	// From and To bound the event time, [From, To); nil is unbounded.
	From, To *time.Time
	// ActionType is PROBE_SEARCH (probe views), an event name, or "*" for
	// every event. Empty means PROBE_SEARCH: GLAM only ever logged those.
	ActionType string
	// Product matches context.product.
	Product string
	// Fields to return; empty returns action_type, timestamp, probe_name.
	Fields []string
	// Count groups by Fields with a total, largest first (agg=count).
	Count bool
	// MaxRows bounds the rows of an answer from raw events.
	MaxRows int
}

// viewFields are the fields a probe-view view carries as tags, so that a
// count grouped by them is answered from the view.
var viewFields = map[string]string{
	"probe_name":       tagProbe,
	"context__probe":   tagProbe,
	"context__product": tagProduct,
	"context__process": "glam.probe.process",
	"context__channel": "glam.channel",
}

// CheckFields reports the first unknown field as an InputError.
func CheckFields(fields []string) error {
	for _, f := range fields {
		if !slices.Contains(GLAMFields, f) && !contextField.MatchString(f) {
			return inputErrorf("unknown field %q: send fields from %s, or context__<key>", f, quoteList(GLAMFields))
		}
	}
	return nil
}

// ViewAnswers reports whether the probe-view views answer q: a count by
// fields they carry as tags, of probe views, over whole hours.
func (q GLAMUsageQuery) ViewAnswers() bool {
	if !q.Count || len(q.Fields) == 0 || (q.ActionType != "" && q.ActionType != ActionProbeSearch) {
		return false
	}
	for _, f := range q.Fields {
		if _, ok := viewFields[f]; !ok && f != "action_type" {
			return false
		}
	}
	for _, t := range []*time.Time{q.From, q.To} {
		if t != nil && !t.Equal(t.Truncate(time.Hour)) {
			return false
		}
	}
	return true
}

// GLAMUsage answers GLAM's usage query: from the probe-view views when they
// can (ViewAnswers), else from raw events. Each row maps field names to
// values, plus "total" for a count.
func (s *Store) GLAMUsage(ctx context.Context, q GLAMUsageQuery) ([]map[string]any, error) {
	if err := CheckFields(q.Fields); err != nil {
		return nil, err
	}
	if q.ViewAnswers() {
		return s.glamUsageFromViews(ctx, q)
	}
	return s.glamUsageFromEvents(ctx, q)
}

func bound(t *time.Time, inf pgtype.InfinityModifier) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{InfinityModifier: inf, Valid: true}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
}

// rollupFields are the fields the daily probe-view rollup carries, as its
// columns (” there being an absent tag).
var rollupFields = map[string]string{
	"probe_name":       "nullif(probe_name, '')",
	"context__probe":   "nullif(probe_name, '')",
	"context__product": "nullif(product, '')",
	"context__channel": "nullif(channel, '')",
	"action_type":      "'" + ActionProbeSearch + "'::text",
}

// rollupAnswers reports whether the daily probe-view rollup answers q (as
// ViewAnswers says the views do): its fields are the rollup's columns and
// both bounds are midnights.
func (q GLAMUsageQuery) rollupAnswers() bool {
	if q.From == nil || q.To == nil || !dayBound(q.From) || !dayBound(q.To) || !q.To.After(*q.From) {
		return false
	}
	for _, f := range q.Fields {
		if _, ok := rollupFields[f]; !ok {
			return false
		}
	}
	return true
}

func (s *Store) glamUsageFromViews(ctx context.Context, q GLAMUsageQuery) ([]map[string]any, error) {
	if q.rollupAnswers() {
		return s.glamUsageFromRollup(ctx, q)
	}
	view := s.cfg.Views.ProbeViewsHourly
	if dayBound(q.From) && dayBound(q.To) {
		view = s.cfg.Views.ProbeViewsDaily
	}
	args := []any{view, bound(q.From, pgtype.NegativeInfinity), bound(q.To, pgtype.Infinity), q.Product}
	exprs := make([]string, len(q.Fields))
	for i, f := range q.Fields {
		if f == "action_type" {
			exprs[i] = "'" + ActionProbeSearch + "'::text"
			continue
		}
		args = append(args, viewFields[f])
		exprs[i] = fmt.Sprintf("tags->>$%d", len(args))
	}
	sql := `SELECT ` + strings.Join(exprs, ", ") + `, sum(count)::bigint AS total
		FROM ` + rowsTable + `
		WHERE view = $1 AND window_start >= $2 AND window_start < $3 AND ($4 = '' OR product = $4)
		GROUP BY ` + positions(len(exprs)) + `
		ORDER BY total DESC, ` + positions(len(exprs))
	return s.glamRows(ctx, q, sql, args)
}

// glamUsageFromRollup counts from the weeks and days of the daily
// probe-view view's rollup.
func (s *Store) glamUsageFromRollup(ctx context.Context, q GLAMUsageQuery) ([]map[string]any, error) {
	r := Range{From: q.From.UTC(), To: q.To.UTC()}
	w0, w1 := weeks(r)
	exprs := make([]string, len(q.Fields))
	for i, f := range q.Fields {
		exprs[i] = rollupFields[f]
	}
	sql := `SELECT ` + strings.Join(exprs, ", ") + `, sum(count)::bigint AS total
		FROM ` + periodRows(probeDaysTable, "product, probe_name, channel, count", "$1", "$2", "$3", "$4", "$5", "($6 = '' OR product = $6)") + ` p
		GROUP BY ` + positions(len(exprs)) + `
		ORDER BY total DESC, ` + positions(len(exprs))
	return s.glamRows(ctx, q, sql, []any{s.cfg.Views.ProbeViewsDaily, r.From, w0, w1, r.To, q.Product})
}

func dayBound(t *time.Time) bool { return t == nil || t.Equal(t.Truncate(24*time.Hour)) }

func (s *Store) glamUsageFromEvents(ctx context.Context, q GLAMUsageQuery) ([]map[string]any, error) {
	args := []any{bound(q.From, pgtype.NegativeInfinity), bound(q.To, pgtype.Infinity), q.Product, s.cfg.ProbeViewEvent}
	where := `event_time >= $1 AND event_time < $2 AND ($3 = '' OR product = $3)`
	switch q.ActionType {
	case "", ActionProbeSearch:
		where += ` AND event_name = $4`
	case "*":
		// $4 (the probe-view event) is named so that its type is known
		// even when no field uses it.
		where += ` AND $4 <> ''`
	default:
		args = append(args, q.ActionType)
		where += fmt.Sprintf(` AND $4 <> '' AND event_name = $%d`, len(args))
	}
	fields := q.Fields
	if len(fields) == 0 {
		fields = []string{"action_type", "timestamp", "probe_name"}
	}
	exprs := make([]string, len(fields))
	for i, f := range fields {
		exprs[i], args = eventField(f, args)
	}
	var sql string
	if q.Count {
		sql = `SELECT ` + strings.Join(exprs, ", ") + `, count(*) AS total FROM ` + eventsTable + ` WHERE ` + where +
			` GROUP BY ` + positions(len(exprs)) + ` ORDER BY total DESC, ` + positions(len(exprs))
	} else {
		sql = `SELECT ` + strings.Join(exprs, ", ") + ` FROM ` + eventsTable + ` WHERE ` + where + ` ORDER BY event_time, event_id`
	}
	args = append(args, q.MaxRows+1)
	sql += fmt.Sprintf(` LIMIT $%d`, len(args))
	rows, err := s.glamRows(ctx, GLAMUsageQuery{Fields: fields, Count: q.Count}, sql, args)
	if err == nil && len(rows) > q.MaxRows {
		return nil, inputErrorf("more than %d rows match: send a narrower fromDate/toDate, or fields with agg=count", q.MaxRows)
	}
	return rows, err
}

// eventField is the SQL of one GLAM field over the raw event table.
func eventField(f string, args []any) (string, []any) {
	switch f {
	case "id":
		return "event_id", args
	case "action_type":
		// $4 is the probe-view event.
		return "CASE WHEN event_name = $4 THEN '" + ActionProbeSearch + "' ELSE event_name END", args
	case "timestamp":
		return "event_time", args
	case "tracking_id":
		return "coalesce(session_id, '')", args
	case "probe_name":
		return "probe_name", args
	case "context":
		return `(SELECT coalesce(jsonb_object_agg(substr(key, 6), value), '{}'::jsonb) FROM jsonb_each(attributes)
			WHERE key LIKE 'glam.%' AND key NOT IN ('glam.product', 'glam.probe.name', 'glam.probe.process', 'glam.channel', 'glam.os', 'glam.source'))
			|| jsonb_strip_nulls(jsonb_build_object('product', product, 'probe', probe_name, 'process', probe_process, 'channel', channel, 'os', os))`, args
	}
	key := contextField.FindStringSubmatch(f)[1]
	if col, ok := map[string]string{"product": "product", "probe": "probe_name", "process": "probe_process", "channel": "channel", "os": "os"}[key]; ok {
		return col, args
	}
	args = append(args, "glam."+key)
	return fmt.Sprintf("attributes->>$%d", len(args)), args
}

func (s *Store) glamRows(ctx context.Context, q GLAMUsageQuery, sql string, args []any) ([]map[string]any, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	defer rows.Close()
	out := []map[string]any{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, fmt.Errorf("usage: %w", err)
		}
		row := make(map[string]any, len(vals))
		for i, f := range q.Fields {
			row[f] = glamValue(vals[i])
		}
		if q.Count {
			row["total"] = vals[len(vals)-1]
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	return out, nil
}

// glamValue formats times as Django REST framework does: ISO 8601 with
// microseconds when there are any, and Z for UTC.
func glamValue(v any) any {
	t, ok := v.(time.Time)
	if !ok {
		return v
	}
	t = t.UTC()
	if t.Nanosecond()/1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05Z")
}

func positions(n int) string {
	pos := make([]string, n)
	for i := range pos {
		pos[i] = fmt.Sprint(i + 1)
	}
	return strings.Join(pos, ", ")
}
