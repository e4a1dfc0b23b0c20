package usageapi

import (
	"context"
	"fmt"
	"time"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// Status is the current state, as opposed to the windowed statistics of the
// other questions.
type Status struct {
	Time time.Time `json:"time"`
	// ActiveSessions had an event within ActiveWithin.
	ActiveSessions int64  `json:"active_sessions"`
	ActiveWithin   string `json:"active_within"`
	// LastEventTime is the latest event time stored; nil with no events.
	LastEventTime *time.Time `json:"last_event_time"`
	// EventsToday were stored with an event time in the current UTC day.
	EventsToday   int64 `json:"events_today"`
	SchemaVersion int   `json:"schema_version"`
}

// Status reads active sessions from the session view (a session window's
// end is its last event so far; the rows ending within active_within are an
// index range, whatever the view's max_duration), and the last event and today's count from
// the indexed event-id table.
func (s *Store) Status(ctx context.Context) (Status, error) {
	now := s.now().UTC()
	st := Status{Time: now, ActiveWithin: s.cfg.ActiveWithin.String()}
	today := now.Truncate(24 * time.Hour)
	err := s.db.QueryRow(ctx, `SELECT
		(SELECT count(DISTINCT session_id) FROM `+rowsTable+`
			WHERE view = $1 AND window_end >= $2 AND session_id IS NOT NULL),
		(SELECT max(event_time) FROM `+idsTable+`),
		(SELECT count(*) FROM `+idsTable+` WHERE event_time >= $3 AND event_time < $4)`,
		s.cfg.Views.Sessions, now.Add(-s.cfg.ActiveWithin),
		today, today.Add(24*time.Hour),
	).Scan(&st.ActiveSessions, &st.LastEventTime, &st.EventsToday)
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	if st.LastEventTime != nil {
		t := st.LastEventTime.UTC()
		st.LastEventTime = &t
	}
	if st.SchemaVersion, err = pgschema.Version(ctx, s.db); err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	return st, nil
}
