package usageapi

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Interval is the bucket size of a series.
type Interval string

const (
	Hour Interval = "hour"
	Day  Interval = "day"
	Week Interval = "week"
)

// Intervals are the intervals a series may use.
var Intervals = []Interval{Hour, Day, Week}

// MaxSeriesPoints bounds the points of one series, so that an hourly series
// over a year is refused with advice rather than computed.
const MaxSeriesPoints = 2000

func (i Interval) step() time.Duration {
	switch i {
	case Day:
		return 24 * time.Hour
	case Week:
		return 7 * 24 * time.Hour
	}
	return time.Hour
}

// snap widens r to whole intervals. Weeks start on Monday (ISO weeks, as
// Postgres' date_trunc counts them).
func (i Interval) snap(r Range) Range {
	if i != Week {
		return r.snap(i.step())
	}
	monday := func(t time.Time) time.Time {
		d := t.UTC().Truncate(24 * time.Hour)
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	}
	from, to := monday(r.From), monday(r.To)
	if to.Before(r.To) {
		to = to.AddDate(0, 0, 7)
	}
	return Range{From: from, To: to}
}

// SeriesQuery asks for one probe's views and sessions per interval.
type SeriesQuery struct {
	Range
	Product  string
	Probe    string
	Interval Interval
}

// SeriesPoint is one interval of a series.
type SeriesPoint struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Views    int64     `json:"views"`
	Sessions int64     `json:"sessions"`
}

// Series is the answer: the range covered (whole intervals) and one point
// per interval, empty intervals included.
type Series struct {
	Range
	Points []SeriesPoint `json:"points"`
}

func (q SeriesQuery) check() (Range, error) {
	r := q.Interval.snap(q.Range)
	if n := int(r.To.Sub(r.From) / q.Interval.step()); n > MaxSeriesPoints {
		return r, inputErrorf("interval=%s over this range gives %d points, more than %d: send a coarser interval or a shorter from/to range", q.Interval, n, MaxSeriesPoints)
	}
	return r, nil
}

// ProbeSeries answers from the probe-view views (the probe's rows found
// through the index on the view rows' probe column): the hourly view for
// hours, the daily one for days and weeks. Sessions per day or week are
// distinct sessions that viewed the probe in it (from the per-session daily
// view, by index-only scan); per hour they are the sessions that started in
// that hour and viewed the probe (from the session view of probes).
func (s *Store) ProbeSeries(ctx context.Context, q SeriesQuery) (Series, error) {
	r, err := q.check()
	if err != nil {
		return Series{Range: r}, err
	}
	if q.Interval != Hour && q.Product != "" {
		return s.probeSeriesByDays(ctx, q, r)
	}
	views, sessions := s.cfg.Views.ProbeViewsDaily, s.cfg.Views.ProbeSessionsDaily
	if q.Interval == Hour {
		views, sessions = s.cfg.Views.ProbeViewsHourly, s.cfg.Views.SessionProbes
	}
	sql := `WITH b AS (
		SELECT g AS start FROM generate_series($3::timestamptz, $4::timestamptz - $8::interval, $8::interval) g
	), v AS (
		SELECT date_trunc($7, window_start, 'UTC') AS start, sum(count)::bigint AS views
		FROM ` + rowsTable + `
		WHERE view = $1 AND probe_name = $6 AND window_start >= $3 AND window_start < $4 AND product = $5
		GROUP BY 1
	), s AS (
		SELECT date_trunc($7, window_start, 'UTC') AS start, count(DISTINCT session_id) AS sessions
		FROM ` + rowsTable + `
		WHERE view = $2 AND probe_name = $6 AND window_start >= $3 AND window_start < $4 AND product = $5
		GROUP BY 1
	)
	SELECT b.start, coalesce(v.views, 0), coalesce(s.sessions, 0)
	FROM b LEFT JOIN v USING (start) LEFT JOIN s USING (start)
	ORDER BY b.start`
	points, err := s.queryPoints(ctx, q.Interval, sql, views, sessions, r.From, r.To,
		q.Product, q.Probe, string(q.Interval), q.Interval.step())
	return Series{Range: r, Points: points}, err
}

// probeSeriesByDays answers days and weeks from the rollups' rows of that
// grain: a period's distinct sessions are its rows whose previous day is
// before the period. (An empty product is the rollups' absent product, which
// the view rows' product never equals: those are answered from the rows.)
func (s *Store) probeSeriesByDays(ctx context.Context, q SeriesQuery, r Range) (Series, error) {
	days := 1
	if q.Interval == Week {
		days = 7
	}
	sql := `WITH b AS (
		SELECT g AS start FROM generate_series($3::timestamptz, $4::timestamptz - $7::interval, $7::interval) g
	), v AS (
		SELECT day AS start, sum(count)::bigint AS views
		FROM ` + probeDaysTable + `
		WHERE view = $1 AND days = $8 AND product = $5 AND probe_name = $6 AND day >= $3 AND day < $4
		GROUP BY 1
	), s AS (
		SELECT day AS start, sum(sessions)::bigint AS sessions
		FROM ` + probeSessionDaysTable + `
		WHERE view = $2 AND days = $8 AND product = $5 AND probe_name = $6 AND day >= $3 AND day < $4 AND prev_day < day
		GROUP BY 1
	)
	SELECT b.start, coalesce(v.views, 0), coalesce(s.sessions, 0)
	FROM b LEFT JOIN v USING (start) LEFT JOIN s USING (start)
	ORDER BY b.start`
	points, err := s.queryPoints(ctx, q.Interval, sql, s.cfg.Views.ProbeViewsDaily, s.cfg.Views.ProbeSessionsDaily,
		r.From, r.To, q.Product, q.Probe, q.Interval.step(), days)
	return Series{Range: r, Points: points}, err
}

// ProbeSeriesRaw answers ProbeSeries with GROUP BY over the raw events.
func (s *Store) ProbeSeriesRaw(ctx context.Context, q SeriesQuery) (Series, error) {
	r, err := q.check()
	if err != nil {
		return Series{Range: r}, err
	}
	sql := `WITH b AS (
		SELECT g AS start FROM generate_series($2::timestamptz, $3::timestamptz - $7::interval, $7::interval) g
	), e AS (
		SELECT date_trunc($6, event_time, 'UTC') AS start, count(*) AS views, count(DISTINCT session_id) AS sessions
		FROM ` + eventsTable + `
		WHERE event_name = $1 AND event_time >= $2 AND event_time < $3 AND product = $4 AND probe_name = $5
		GROUP BY 1
	)
	SELECT b.start, coalesce(e.views, 0), coalesce(e.sessions, 0)
	FROM b LEFT JOIN e USING (start)
	ORDER BY b.start`
	points, err := s.queryPoints(ctx, q.Interval, sql, s.cfg.ProbeViewEvent, r.From, r.To,
		q.Product, q.Probe, string(q.Interval), q.Interval.step())
	return Series{Range: r, Points: points}, err
}

func (s *Store) queryPoints(ctx context.Context, i Interval, sql string, args ...any) ([]SeriesPoint, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("probe series: %w", err)
	}
	points, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SeriesPoint, error) {
		var p SeriesPoint
		err := row.Scan(&p.Start, &p.Views, &p.Sessions)
		p.Start = p.Start.UTC()
		p.End = p.Start.Add(i.step())
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("probe series: %w", err)
	}
	return points, nil
}
