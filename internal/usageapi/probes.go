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
// of probes (sessions that started in the range). A range of whole days is
// answered from the rollups of those views (topProbesByDays); otherwise
// each top probe's sessions are an index-only scan of its own rows (by the
// view rows' typed tag columns), not a pass over every probe's.
func (s *Store) TopProbes(ctx context.Context, q TopProbesQuery) (TopProbes, error) {
	r := q.Range.snap(time.Hour)
	if r.dayAligned() {
		return s.topProbesByDays(ctx, r, q)
	}
	if d0, d1 := wholeDays(r); d0.Before(d1) {
		return s.topProbesByHoursAndDays(ctx, r, d0, d1, q)
	}
	return s.topProbesByHours(ctx, r, q)
}

// topProbesByHours answers a range of hours from the hourly view's rows
// and the session view of probes' rows alone.
func (s *Store) topProbesByHours(ctx context.Context, r Range, q TopProbesQuery) (TopProbes, error) {
	views, sessions := s.cfg.Views.ProbeViewsHourly, s.cfg.Views.SessionProbes
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

// topProbesByDays ranks by the daily probe-view view's rollup and counts
// each top probe's distinct sessions from the per-session view's: the rows
// of its days whose previous day is before the range, one per session.
func (s *Store) topProbesByDays(ctx context.Context, r Range, q TopProbesQuery) (TopProbes, error) {
	w0, w1 := weeks(r)
	sql := `WITH v AS (
		SELECT product, probe_name AS probe, sum(count)::bigint AS views
		FROM ` + periodRows(probeDaysTable, "product, probe_name, count", "$1", "$3", "$4", "$5", "$6", "probe_name <> '' AND ($7 = '' OR product = $7)") + ` p
		GROUP BY 1, 2
		ORDER BY views DESC, product, probe
		LIMIT $8
	)
	SELECT v.product, v.probe, v.views, s.sessions
	FROM v CROSS JOIN LATERAL (
		SELECT coalesce(sum(sessions), 0)::bigint AS sessions
		FROM ` + periodRows(probeSessionDaysTable, "sessions", "$2", "$3", "$4", "$5", "$6",
		"product = v.product AND probe_name = v.probe AND prev_day < $3") + ` p
	) s
	ORDER BY v.views DESC, v.product, v.probe`
	probes, err := queryRanks(ctx, s, sql, s.cfg.Views.ProbeViewsDaily, s.cfg.Views.ProbeSessionsDaily,
		r.From, w0, w1, r.To, q.Product, q.Limit)
	return TopProbes{Range: r, Probes: probes}, err
}

// topProbesByHoursAndDays answers a range of hours holding whole days from
// the same views as a range of hours (the hourly view, sessions that
// started in the range from the session view of probes), reading the
// whole days [d0, d1) from those views' rollups and only the hours at the
// ends from their rows. A session of the end hours counts unless it also
// started a window of the probe in the whole days, which the rollup
// counted.
func (s *Store) topProbesByHoursAndDays(ctx context.Context, r Range, d0, d1 time.Time, q TopProbesQuery) (TopProbes, error) {
	mid := Range{From: d0, To: d1}
	w0, w1 := weeks(mid)
	// $3 $4: the range; $5 $6 $7 $8: d0, w0, w1, d1.
	ends := func(cond string) string {
		return `(window_start >= $3 AND window_start < $5 OR window_start >= $8 AND window_start < $4) AND ` + cond
	}
	sql := `WITH v AS (
		SELECT product, probe, sum(views)::bigint AS views
		FROM (
			SELECT product, probe_name AS probe, count AS views
			FROM ` + periodRows(probeDaysTable, "product, probe_name, count", "$1", "$5", "$6", "$7", "$8", "probe_name <> '' AND ($9 = '' OR product = $9)") + ` p
			UNION ALL
			SELECT coalesce(product, ''), probe_name, count
			FROM ` + rowsTable + `
			WHERE view = $1 AND probe_name IS NOT NULL AND ($9 = '' OR product = $9) AND ` + ends("true") + `
		) x
		GROUP BY 1, 2
		ORDER BY views DESC, product, probe
		LIMIT $10
	)
	SELECT v.product, v.probe, v.views, d.sessions + e.sessions
	FROM v CROSS JOIN LATERAL (
		SELECT coalesce(sum(sessions), 0)::bigint AS sessions
		FROM ` + periodRows(probeSessionDaysTable, "sessions", "$2", "$5", "$6", "$7", "$8",
		"product = v.product AND probe_name = v.probe AND prev_day < $5") + ` p
	) d CROSS JOIN LATERAL (
		SELECT count(DISTINCT session_id) AS sessions
		FROM ` + rowsTable + ` e
		WHERE view = $2 AND probe_name = v.probe AND coalesce(product, '') = v.product AND ` + ends(`NOT EXISTS (
			SELECT FROM `+rowsTable+` m
			WHERE m.view = $2 AND m.probe_name = v.probe AND m.session_id = e.session_id
			  AND coalesce(m.product, '') = v.product AND m.window_start >= $5 AND m.window_start < $8)`) + `
	) e
	ORDER BY v.views DESC, v.product, v.probe`
	probes, err := queryRanks(ctx, s, sql, s.cfg.Views.ProbeViewsHourly, s.cfg.Views.SessionProbes,
		r.From, r.To, d0, w0, w1, d1, q.Product, q.Limit)
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
