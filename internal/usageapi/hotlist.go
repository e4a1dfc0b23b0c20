package usageapi

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HotlistQuery asks for the probes the ETL should build first.
type HotlistQuery struct {
	// Days of usage to rank over, today included.
	Days    int
	Product string
	Limit   int
}

// HotProbe is one probe of the hot list.
type HotProbe struct {
	Rank    int    `json:"rank"`
	Product string `json:"product"`
	Probe   string `json:"probe"`
	// Channel is the channel the probe was viewed on most ("" when the
	// views carried none): what a build should start with.
	Channel    string    `json:"channel"`
	Sessions   int64     `json:"sessions"`
	Views      int64     `json:"views"`
	LastViewed time.Time `json:"last_viewed_day"`
}

// Hotlist is the answer.
type Hotlist struct {
	Range
	Probes []HotProbe `json:"probes"`
}

// Hotlist ranks the probes viewed in the last Days days (UTC, today
// included) by distinct sessions (how many visits wanted the probe, which
// a single person reloading cannot inflate), then views, then the most
// recent day viewed. All three come from the rollups of the daily views:
// weeks and days of per-probe counts rather than every probe's rows of
// every session.
func (s *Store) Hotlist(ctx context.Context, q HotlistQuery) (Hotlist, error) {
	today := s.now().UTC().Truncate(24 * time.Hour)
	r := Range{From: today.AddDate(0, 0, 1-q.Days), To: today.AddDate(0, 0, 1)}
	w0, w1 := weeks(r)
	rows, err := s.db.Query(ctx, `WITH pc AS (
		SELECT product, probe_name AS probe, channel, sum(count) AS views, max(last_day) AS last_day
		FROM `+periodRows(probeDaysTable, "product, probe_name, channel, count, last_day", "$1", "$3", "$4", "$5", "$6", "probe_name <> '' AND ($7 = '' OR product = $7)")+` p
		GROUP BY 1, 2, 3
	), v AS (
		SELECT product, probe, sum(views)::bigint AS views, max(last_day) AS last_day,
			(array_agg(channel ORDER BY views DESC, channel))[1] AS channel
		FROM pc
		GROUP BY 1, 2
	), s AS (
		-- Each session counts at its first day in the range: the rows whose
		-- previous day is before it.
		SELECT product, probe_name AS probe, sum(sessions)::bigint AS sessions
		FROM `+periodRows(probeSessionDaysTable, "product, probe_name, sessions", "$2", "$3", "$4", "$5", "$6", "prev_day < $3 AND ($7 = '' OR product = $7)")+` p
		GROUP BY 1, 2
	)
	SELECT v.product, v.probe, v.channel, coalesce(s.sessions, 0), v.views, v.last_day
	FROM v LEFT JOIN s USING (product, probe)
	ORDER BY 4 DESC, 5 DESC, 6 DESC, 1, 2
	LIMIT $8`,
		s.cfg.Views.ProbeViewsDaily, s.cfg.Views.ProbeSessionsDaily, r.From, w0, w1, r.To, q.Product, q.Limit)
	if err != nil {
		return Hotlist{Range: r}, fmt.Errorf("hotlist: %w", err)
	}
	n := 0
	probes, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (HotProbe, error) {
		n++
		p := HotProbe{Rank: n}
		err := row.Scan(&p.Product, &p.Probe, &p.Channel, &p.Sessions, &p.Views, &p.LastViewed)
		p.LastViewed = p.LastViewed.UTC()
		return p, err
	})
	if err != nil {
		return Hotlist{Range: r}, fmt.Errorf("hotlist: %w", err)
	}
	return Hotlist{Range: r, Probes: probes}, nil
}
