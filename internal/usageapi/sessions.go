package usageapi

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Distribution summarises one per-session quantity.
type Distribution struct {
	Mean   float64 `json:"mean"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
}

// SessionStats describes a set of sessions.
type SessionStats struct {
	Sessions int64 `json:"sessions"`
	// Events is the number of events of those sessions.
	Events           int64        `json:"events"`
	EventsPerSession Distribution `json:"events_per_session"`
	// DurationSeconds is from a session's first to its last event.
	DurationSeconds  Distribution `json:"duration_seconds"`
	ProbesPerSession Distribution `json:"probes_per_session"`
}

// scanTargets are the destinations of sessionStatsSQL's columns.
func (st *SessionStats) scanTargets() []any {
	return []any{&st.Sessions, &st.Events,
		&st.EventsPerSession.Mean, &st.EventsPerSession.Median, &st.EventsPerSession.P90,
		&st.DurationSeconds.Mean, &st.DurationSeconds.Median, &st.DurationSeconds.P90,
		&st.ProbesPerSession.Mean, &st.ProbesPerSession.Median, &st.ProbesPerSession.P90}
}

// SessionSummary describes the sessions of a range.
type SessionSummary struct {
	Range
	SessionStats
}

// sessionStatsSQL aggregates per-session rows (events, duration, probes)
// into SessionStats; percentiles are interpolated (percentile_cont).
const sessionStatsSQL = `count(*), coalesce(sum(events), 0)::bigint,
		coalesce(avg(events), 0)::float8,
		coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY events), 0)::float8,
		coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY events), 0)::float8,
		coalesce(avg(duration), 0)::float8,
		coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY duration), 0)::float8,
		coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY duration), 0)::float8,
		coalesce(avg(probes), 0)::float8,
		coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY probes), 0)::float8,
		coalesce(percentile_cont(0.9) WITHIN GROUP (ORDER BY probes), 0)::float8`

// perSessionFromViewsSQL is per: one row per session with a window of the
// session view $1 starting in the range $3 to $4 (sid, started, events,
// duration, probes), over the windows starting in the range: its events
// and duration from the session view, the distinct probes it looked at
// from the session view of probes $2. A session whose windows, and whose
// probes' windows, all start in the range is its rows of the per-session
// rollup (migration 0013); one the range cuts — a window before or after
// it — is grouped from its view rows, as were all before the rollup
// (perSessionFromViewRowsSQL, kept in the tests as what this must equal).
const perSessionFromViewsSQL = `WITH cut AS MATERIALIZED (
		-- The range's start or end falls between the first and last start
		-- of the session's windows, or of its probes' windows.
		SELECT DISTINCT session_id FROM ` + viewSessionsTable + `
		WHERE view IN ($1, $2) AND first_start < last_start
		  AND (tstzrange(first_start, last_start, '[]') @> $3::timestamptz OR tstzrange(first_start, last_start, '[]') @> $4::timestamptz)
	), whole AS (
		SELECT s.session_id AS sid, s.first_start AS started, s.count AS events,
			extract(epoch FROM s.last_end - s.first_start) AS duration, coalesce(p.probes, 0) AS probes
		FROM ` + viewSessionsTable + ` s
		LEFT JOIN ` + viewSessionsTable + ` p
		  ON p.view = $2 AND p.session_id = s.session_id AND p.first_start >= $3 AND p.first_start < $4
		WHERE s.view = $1 AND s.first_start >= $3 AND s.first_start < $4
		  AND s.session_id NOT IN (SELECT session_id FROM cut)
	), cut_sess AS (
		SELECT r.session_id AS sid, min(r.window_start) AS started, sum(r.count) AS events,
			extract(epoch FROM max(r.window_end) - min(r.window_start)) AS duration
		FROM ` + rowsTable + ` r
		WHERE r.view = $1 AND r.session_id = ANY (ARRAY(SELECT session_id FROM cut)) AND r.window_start >= $3 AND r.window_start < $4
		GROUP BY 1
	), cut_probes AS (
		SELECT sid, count(*) AS probes
		FROM (
			SELECT DISTINCT r.session_id AS sid, coalesce(r.product, ''), r.probe_name
			FROM ` + rowsTable + ` r
			WHERE r.view = $2 AND r.session_id = ANY (ARRAY(SELECT session_id FROM cut)) AND r.window_start >= $3 AND r.window_start < $4 AND r.probe_name IS NOT NULL
		) p
		GROUP BY 1
	), per AS (
		SELECT * FROM whole
		UNION ALL
		SELECT s.sid, s.started, s.events, s.duration, coalesce(p.probes, 0)
		FROM cut_sess s LEFT JOIN cut_probes p USING (sid)
	)`

// perSessionFromRawSQL is per from the raw events of the range $1 to $2,
// probes being the distinct probes of events named $3.
const perSessionFromRawSQL = `WITH per AS (
		SELECT session_id AS sid, min(event_time) AS started, count(*) AS events,
			extract(epoch FROM max(event_time) - min(event_time)) AS duration,
			count(DISTINCT (coalesce(product, ''), probe_name)) FILTER (WHERE event_name = $3 AND probe_name IS NOT NULL) AS probes
		FROM ` + eventsTable + `
		WHERE event_time >= $1 AND event_time < $2 AND session_id IS NOT NULL
		GROUP BY 1
	)`

// SessionSummary answers from the session views: the sessions that started
// in the range (whole hours).
func (s *Store) SessionSummary(ctx context.Context, q Range) (SessionSummary, error) {
	r := q.snap(time.Hour)
	return s.summary(ctx, r, perSessionFromViewsSQL, s.cfg.Views.Sessions, s.cfg.Views.SessionProbes, r.From, r.To)
}

// SessionSummaryRaw answers SessionSummary with GROUP BY over the raw
// events of the range.
func (s *Store) SessionSummaryRaw(ctx context.Context, q Range) (SessionSummary, error) {
	r := q.snap(time.Hour)
	return s.summary(ctx, r, perSessionFromRawSQL, r.From, r.To, s.cfg.ProbeViewEvent)
}

func (s *Store) summary(ctx context.Context, r Range, per string, args ...any) (SessionSummary, error) {
	sum := SessionSummary{Range: r}
	if err := s.db.QueryRow(ctx, per+` SELECT `+sessionStatsSQL+` FROM per`, args...).Scan(sum.scanTargets()...); err != nil {
		return sum, fmt.Errorf("session summary: %w", err)
	}
	return sum, nil
}

// Event is one stored usage event.
type Event struct {
	ID           string          `json:"event_id"`
	Name         string          `json:"name"`
	Time         time.Time       `json:"time"`
	ObservedTime time.Time       `json:"observed_time"`
	SessionID    *string         `json:"session_id"`
	Product      *string         `json:"product"`
	Probe        *string         `json:"probe"`
	Process      *string         `json:"process"`
	Channel      *string         `json:"channel"`
	OS           *string         `json:"os"`
	Attributes   json.RawMessage `json:"attributes"`
}

// SessionEvents returns a session's events in order (event time, then id),
// at most limit of them, and whether there were more. Only raw events
// answer this.
func (s *Store) SessionEvents(ctx context.Context, sessionID string, limit int) ([]Event, bool, error) {
	rows, err := s.db.Query(ctx, `SELECT event_id, event_name, event_time, observed_time, session_id,
			product, probe_name, probe_process, channel, os, attributes
		FROM `+eventsTable+`
		WHERE session_id = $1
		ORDER BY event_time, event_id
		LIMIT $2`, sessionID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("session events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Event, error) {
		var e Event
		err := row.Scan(&e.ID, &e.Name, &e.Time, &e.ObservedTime, &e.SessionID,
			&e.Product, &e.Probe, &e.Process, &e.Channel, &e.OS, &e.Attributes)
		e.Time, e.ObservedTime = e.Time.UTC(), e.ObservedTime.UTC()
		return e, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("session events: %w", err)
	}
	if len(events) == 0 {
		return nil, false, ErrNotFound
	}
	more := len(events) > limit
	if more {
		events = events[:limit]
	}
	return events, more, nil
}
