package usageapi

import (
	"context"
	"fmt"
	"time"
)

// Bucket bounds of the session histograms. They are fixed, not asked for,
// so that histograms of different ranges compare: a minute, five, ten, half
// an hour, an hour, two and four hours; and probes per session from none
// to twenty.
var (
	DurationBuckets = []float64{60, 300, 600, 1800, 3600, 7200, 14400}
	ProbesBuckets   = []float64{0, 1, 2, 3, 5, 10, 20}
)

// SessionDay describes the sessions that started on one UTC day.
type SessionDay struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	SessionStats
}

// SessionsDaily is the answer: the range covered (whole UTC days), one
// point per day, empty days included, and the histograms of duration and
// probes per session over the whole range. Each histogram's buckets count
// the sessions with a value at most Le and above the previous bucket's Le;
// the last bucket (Le null) takes the rest.
type SessionsDaily struct {
	Range
	Days              []SessionDay `json:"days"`
	DurationHistogram []Bucket     `json:"duration_histogram"`
	ProbesHistogram   []Bucket     `json:"probes_histogram"`
}

// dailySQL groups per (perSessionFromViewsSQL or perSessionFromRawSQL) by
// the UTC day each session started and, over the range, by histogram
// bucket; one scan of per gives both, so the days and the histograms always
// count the same sessions. $durations and $probes are the bucket bounds
// (ascending); a bucket is the number of bounds below the value: those at
// or below it (width_bucket) less one if it is on a bound. A histogram row
// only counts its sessions: the percentiles, a sort each, are the days'.
func dailySQL(durations, probes int) string {
	const noStats = `0::bigint, 0::float8, 0::float8, 0::float8, 0::float8, 0::float8, 0::float8, 0::float8, 0::float8, 0::float8`
	return fmt.Sprintf(`, bucketed AS (
		SELECT per.*, date_trunc('day', started, 'UTC') AS day,
			width_bucket(per.duration::float8, $%[1]d::float8[]) - (per.duration::float8 = ANY ($%[1]d::float8[]))::int AS duration_bucket,
			width_bucket(per.probes::float8, $%[2]d::float8[]) - (per.probes::float8 = ANY ($%[2]d::float8[]))::int AS probes_bucket
		FROM per
	)
	SELECT day, NULL::int, NULL::int, `+sessionStatsSQL+` FROM bucketed GROUP BY 1
	UNION ALL
	SELECT NULL, duration_bucket, NULL, count(*), `+noStats+` FROM bucketed GROUP BY 2
	UNION ALL
	SELECT NULL, NULL, probes_bucket, count(*), `+noStats+` FROM bucketed GROUP BY 3`, durations, probes)
}

// SessionsDaily answers from the session views, as SessionSummary does,
// per UTC day of the range.
func (s *Store) SessionsDaily(ctx context.Context, q Range) (SessionsDaily, error) {
	r := q.snap(24 * time.Hour)
	return s.daily(ctx, r, perSessionFromViewsSQL+dailySQL(5, 6),
		s.cfg.Views.Sessions, s.cfg.Views.SessionProbes, r.From, r.To, DurationBuckets, ProbesBuckets)
}

// SessionsDailyRaw answers SessionsDaily with GROUP BY over the raw events
// of the range.
func (s *Store) SessionsDailyRaw(ctx context.Context, q Range) (SessionsDaily, error) {
	r := q.snap(24 * time.Hour)
	return s.daily(ctx, r, perSessionFromRawSQL+dailySQL(4, 5),
		r.From, r.To, s.cfg.ProbeViewEvent, DurationBuckets, ProbesBuckets)
}

func (s *Store) daily(ctx context.Context, r Range, sql string, args ...any) (SessionsDaily, error) {
	out := SessionsDaily{Range: r, DurationHistogram: emptyBuckets(DurationBuckets), ProbesHistogram: emptyBuckets(ProbesBuckets)}
	byDay := map[time.Time]SessionStats{}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return out, fmt.Errorf("sessions per day: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day *time.Time
		var durationBucket, probesBucket *int
		var st SessionStats
		if err := rows.Scan(append([]any{&day, &durationBucket, &probesBucket}, st.scanTargets()...)...); err != nil {
			return out, fmt.Errorf("sessions per day: %w", err)
		}
		switch {
		case day != nil:
			byDay[day.UTC()] = st
		case durationBucket != nil:
			out.DurationHistogram[*durationBucket].Count = st.Sessions
		case probesBucket != nil:
			out.ProbesHistogram[*probesBucket].Count = st.Sessions
		}
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("sessions per day: %w", err)
	}
	for d := r.From; d.Before(r.To); d = d.AddDate(0, 0, 1) {
		out.Days = append(out.Days, SessionDay{Start: d, End: d.AddDate(0, 0, 1), SessionStats: byDay[d]})
	}
	return out, nil
}

// emptyBuckets are the buckets of bounds, and the one above them, at zero.
func emptyBuckets(bounds []float64) []Bucket {
	out := make([]Bucket, len(bounds)+1)
	for i, le := range bounds {
		out[i].Le = &le
	}
	return out
}
