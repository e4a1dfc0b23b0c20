package usageapi

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usageapi/usagetest"
)

// BenchmarkUsageAPI measures the latency (p50, p99) of every question of the
// usage API, and of the same question answered GLAM's way (GROUP BY over the
// raw events), on a generated data set over 90 days. The data set is kept
// in a database named after its size (usagetest.Dataset) and reused by
// later runs while usagetest.GeneratorVersion matches, so only the first
// run pays for building it. GLAM_BENCH_EVENTS sets its size (default
// 200,000, so that `make bench` stays short); the README's figures are for
// 10,000,000 (make bench-usage):
//
//	GLAM_BENCH_EVENTS=10000000 go test -run '^$' -bench BenchmarkUsageAPI -benchtime 100x -timeout 2h ./internal/usageapi/
//
// Each sub-benchmark is endpoint/views (the Store, as the API answers) or
// endpoint/raw (GLAM's way); p50-ms and p99-ms are its latencies.
func BenchmarkUsageAPI(b *testing.B) {
	n := 200_000
	if v := os.Getenv("GLAM_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < usagetest.EventsPerSession {
			b.Fatalf("GLAM_BENCH_EVENTS=%q: want a number of events", v)
		}
	}
	const days = 90
	ctx := context.Background()
	end := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	cfg := NewDefaultConfig()
	setup := time.Now()
	// Both sides of the comparison run on the pool the extension uses.
	db, built, err := usagetest.Dataset{Events: n, Days: days, End: end}.Open(ctx, pgtest.BaseDSN(),
		func(c *pgxpool.Config) { ConfigurePool(c) }, usagetest.Views(cfg.Views), cfg.ProbeViewEvent)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	var events, rows int64
	var size string
	_ = db.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+eventsTable+"), (SELECT count(*) FROM "+rowsTable+"), pg_size_pretty(pg_database_size(current_database()))").Scan(&events, &rows, &size)
	b.Logf("%d events over %d days, %d view rows, %s on disk; built now: %v, ready in %s", events, days, rows, size, built, time.Since(setup).Round(time.Second))

	s := New(db, cfg)
	// The hot list and the status read the clock: the data set's last
	// minute is now.
	s.now = func() time.Time { return end.Add(-time.Minute) }
	for _, c := range benchCases(ctx, b, s, end, days) {
		b.Run(c.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				if err := c.run(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(ms(percentile(lat, 0.50)), "p50-ms")
			b.ReportMetric(ms(percentile(lat, 0.99)), "p99-ms")
		})
	}
}

type benchCase struct {
	name string
	run  func() error
}

// benchCases are the API's questions as a GLAM user asks them (the last
// 30 or 7 days, whole days or to the minute), each followed by GLAM's way
// of answering it where the Store answers it differently.
func benchCases(ctx context.Context, b *testing.B, s *Store, end time.Time, days int) []benchCase {
	month := Range{From: end.AddDate(0, 0, -30), To: end}
	week := Range{From: end.AddDate(0, 0, -7), To: end}
	// A range ending now, as a request without from/to asks: hours, not
	// days, answer it.
	weekToNow := Range{From: end.AddDate(0, 0, -7).Add(-37 * time.Minute), To: end.Add(-37 * time.Minute)}
	top, err := s.TopProbes(ctx, TopProbesQuery{Range: month, Limit: 1})
	if err != nil || len(top.Probes) == 0 {
		b.Fatalf("no top probe: %v", err)
	}
	probe := top.Probes[0]
	series := SeriesQuery{Range: Range{From: end.AddDate(0, 0, -days), To: end}, Product: probe.Product, Probe: probe.Probe, Interval: Day}
	hourly := SeriesQuery{Range: weekToNow, Product: probe.Product, Probe: probe.Probe, Interval: Hour}
	var session string
	if err := s.db.QueryRow(ctx, `SELECT session_id FROM `+eventsTable+` WHERE event_time >= $1 ORDER BY event_time LIMIT 1`, week.From).Scan(&session); err != nil {
		b.Fatalf("no session: %v", err)
	}
	hot := HotlistQuery{Days: days, Limit: 100}
	from, to := month.From, month.To
	glamCount := GLAMUsageQuery{From: &from, To: &to, Fields: []string{"probe_name", "context__product"}, Count: true, MaxRows: 10000}
	view := ViewQuery{Range: month, View: s.cfg.Views.ProbeViewsDaily, GroupBy: []string{tagChannel}, Filters: map[string]string{}, Limit: 100}
	funnel := FunnelQuery{Range: week, Steps: []string{"page.view", s.cfg.ProbeViewEvent}, Within: 30 * time.Minute}
	return []benchCase{
		{"top_probes_30d/views", func() error { _, err := s.TopProbes(ctx, TopProbesQuery{Range: month, Limit: 20}); return err }},
		{"top_probes_30d/raw", func() error { _, err := s.TopProbesRaw(ctx, TopProbesQuery{Range: month, Limit: 20}); return err }},
		{"top_probes_7d_to_now/views", func() error { _, err := s.TopProbes(ctx, TopProbesQuery{Range: weekToNow, Limit: 20}); return err }},
		{"top_probes_7d_to_now/raw", func() error { _, err := s.TopProbesRaw(ctx, TopProbesQuery{Range: weekToNow, Limit: 20}); return err }},
		{"probe_series_90d_daily/views", func() error { _, err := s.ProbeSeries(ctx, series); return err }},
		{"probe_series_90d_daily/raw", func() error { _, err := s.ProbeSeriesRaw(ctx, series); return err }},
		{"probe_series_7d_hourly/views", func() error { _, err := s.ProbeSeries(ctx, hourly); return err }},
		{"probe_series_7d_hourly/raw", func() error { _, err := s.ProbeSeriesRaw(ctx, hourly); return err }},
		{"session_summary_7d/views", func() error { _, err := s.SessionSummary(ctx, week); return err }},
		{"session_summary_7d/raw", func() error { _, err := s.SessionSummaryRaw(ctx, week); return err }},
		{"sessions_daily_30d/views", func() error { _, err := s.SessionsDaily(ctx, month); return err }},
		{"sessions_daily_30d/raw", func() error { _, err := s.SessionsDailyRaw(ctx, month); return err }},
		{"session_events/views", func() error { _, _, err := s.SessionEvents(ctx, session, 1000); return err }},
		{"views_list/views", func() error { _, err := s.ListViews(ctx); return err }},
		{"view_30d_by_channel/views", func() error { _, err := s.View(ctx, view); return err }},
		{"view_30d_by_channel/raw", func() error { return rawCount(ctx, s, month, "channel") }},
		{"funnel_7d/views", func() error { _, err := s.Funnel(ctx, funnel); return err }},
		{"hotlist_90d/views", func() error { _, err := s.Hotlist(ctx, hot); return err }},
		{"hotlist_90d/raw", func() error { _, err := rawHotlist(ctx, s, hot); return err }},
		{"status/views", func() error { _, err := s.Status(ctx); return err }},
		{"status/raw", func() error { return rawStatus(ctx, s) }},
		{"glam_usage_30d_count/views", func() error { _, err := s.GLAMUsage(ctx, glamCount); return err }},
		{"glam_usage_30d_count/raw", func() error { _, err := s.glamUsageFromEvents(ctx, glamCount); return err }},
	}
}

// rawCount is a view's question (probe views of a range by one column)
// asked of the raw events.
func rawCount(ctx context.Context, s *Store, r Range, column string) error {
	rows, err := s.db.Query(ctx, `SELECT `+column+`, count(*) FROM `+eventsTable+`
		WHERE event_name = $1 AND event_time >= $2 AND event_time < $3 GROUP BY 1 ORDER BY 2 DESC`, s.cfg.ProbeViewEvent, r.From, r.To)
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// rawHotlist is the hot list by GROUP BY over the raw events.
func rawHotlist(ctx context.Context, s *Store, q HotlistQuery) ([]HotProbe, error) {
	today := s.now().UTC().Truncate(24 * time.Hour)
	rows, err := s.db.Query(ctx, `WITH pc AS (
		SELECT coalesce(product, '') AS product, probe_name AS probe, coalesce(channel, '') AS channel,
			count(*) AS views, max(date_trunc('day', event_time, 'UTC')) AS last_day
		FROM `+eventsTable+`
		WHERE event_name = $1 AND event_time >= $2 AND event_time < $3 AND probe_name IS NOT NULL
		  AND ($5 = '' OR product = $5)
		GROUP BY 1, 2, 3
	), v AS (
		SELECT product, probe, (array_agg(channel ORDER BY views DESC, channel))[1] AS channel,
			sum(views) AS views, max(last_day) AS last_day
		FROM pc GROUP BY 1, 2
	), s AS (
		SELECT coalesce(product, '') AS product, probe_name AS probe, count(DISTINCT session_id) AS sessions
		FROM `+eventsTable+`
		WHERE event_name = $1 AND event_time >= $2 AND event_time < $3 AND probe_name IS NOT NULL
		  AND ($5 = '' OR product = $5)
		GROUP BY 1, 2
	)
	SELECT v.product, v.probe, v.channel, s.sessions, v.views, v.last_day
	FROM v JOIN s USING (product, probe) ORDER BY 4 DESC, 5 DESC, 6 DESC, 1, 2 LIMIT $4`,
		s.cfg.ProbeViewEvent, today.AddDate(0, 0, 1-q.Days), today.AddDate(0, 0, 1), q.Limit, q.Product)
	if err != nil {
		return nil, err
	}
	var out []HotProbe
	for rows.Next() {
		p := HotProbe{Rank: len(out) + 1}
		if err := rows.Scan(&p.Product, &p.Probe, &p.Channel, &p.Sessions, &p.Views, &p.LastViewed); err != nil {
			rows.Close()
			return nil, err
		}
		p.LastViewed = p.LastViewed.UTC()
		out = append(out, p)
	}
	return out, rows.Err()
}

// rawStatus is the status from the raw events.
func rawStatus(ctx context.Context, s *Store) error {
	now := s.now().UTC()
	today := now.Truncate(24 * time.Hour)
	var active, n int64
	var last *time.Time
	return s.db.QueryRow(ctx, `SELECT
		(SELECT count(DISTINCT session_id) FROM `+eventsTable+` WHERE event_time >= $1 AND session_id IS NOT NULL),
		(SELECT max(event_time) FROM `+eventsTable+`),
		(SELECT count(*) FROM `+eventsTable+` WHERE event_time >= $2 AND event_time < $3)`,
		now.Add(-s.cfg.ActiveWithin), today, today.Add(24*time.Hour)).Scan(&active, &last, &n)
}

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
