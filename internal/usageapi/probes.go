package usageapi

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TopProbesQuery asks for the most viewed probes.
type TopProbesQuery struct {
	Range
	// Product restricts to one product; empty means all.
	Product string
	Limit   int
}

// ProbeRank is one probe's views and distinct sessions.
type ProbeRank struct {
	Product  string `json:"product"`
	Probe    string `json:"probe"`
	Views    int64  `json:"views"`
	Sessions int64  `json:"sessions"`
}

// TopProbes is the answer: the range actually covered (whole hours, or
// whole days when both ends are midnights) and the probes, most viewed
// first.
type TopProbes struct {
	Range
	Probes []ProbeRank `json:"probes"`
}

// TopProbes ranks probes by views from the probe-view views; distinct
// sessions of the top probes come from the per-session probe view of the
// same days, or, for a range that is not whole days, from the session view
// of probes (sessions that started in the range). Each top probe's sessions
// are an index-only scan of its own rows (by the view rows' typed tag
// columns), not a pass over every probe's.
func (s *Store) TopProbes(ctx context.Context, q TopProbesQuery) (TopProbes, error) {
	r := q.Range.snap(time.Hour)
	views, sessions := s.cfg.Views.ProbeViewsHourly, s.cfg.Views.SessionProbes
	if r.dayAligned() {
		views, sessions = s.cfg.Views.ProbeViewsDaily, s.cfg.Views.ProbeSessionsDaily
	}
	sql := `WITH v AS (
		SELECT coalesce(product, '') AS product, probe_name AS probe, sum(count)::bigint AS views
		FROM ` + rowsTable + `
		WHERE view = $1 AND window_start >= $3 AND window_start < $4 AND probe_name IS NOT NULL
		  AND ($5 = '' OR product = $5)
		GROUP BY 1, 2
		ORDER BY views DESC, product, probe
		LIMIT $6
	)
	SELECT v.product, v.probe, v.views, s.sessions
	FROM v CROSS JOIN LATERAL (
		SELECT count(DISTINCT session_id) AS sessions
		FROM ` + rowsTable + `
		WHERE view = $2 AND probe_name = v.probe AND window_start >= $3 AND window_start < $4
		  AND coalesce(product, '') = v.product
	) s
	ORDER BY v.views DESC, v.product, v.probe`
	probes, err := queryRanks(ctx, s, sql, views, sessions, r.From, r.To, q.Product, q.Limit)
	return TopProbes{Range: r, Probes: probes}, err
}

// TopProbesRaw answers TopProbes with GROUP BY over the raw events, as GLAM
// does today: the baseline the views are measured against.
func (s *Store) TopProbesRaw(ctx context.Context, q TopProbesQuery) (TopProbes, error) {
	r := q.Range.snap(time.Hour)
	sql := `SELECT coalesce(product, ''), probe_name, count(*), count(DISTINCT session_id)
		FROM ` + eventsTable + `
		WHERE event_name = $1 AND event_time >= $2 AND event_time < $3 AND probe_name IS NOT NULL
		  AND ($4 = '' OR product = $4)
		GROUP BY 1, 2
		ORDER BY 3 DESC, 1, 2
		LIMIT $5`
	probes, err := queryRanks(ctx, s, sql, s.cfg.ProbeViewEvent, r.From, r.To, q.Product, q.Limit)
	return TopProbes{Range: r, Probes: probes}, err
}

func queryRanks(ctx context.Context, s *Store, sql string, args ...any) ([]ProbeRank, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("top probes: %w", err)
	}
	probes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ProbeRank, error) {
		var p ProbeRank
		err := row.Scan(&p.Product, &p.Probe, &p.Views, &p.Sessions)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("top probes: %w", err)
	}
	return probes, nil
}
