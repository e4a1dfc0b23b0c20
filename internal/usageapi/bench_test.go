package usageapi

import (
	"context"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usageapi/usagetest"
)

// BenchmarkUsageQueries measures the latency (p50, p99) of the top probes,
// a probe's series and the session summary answered from view rows, against
// the same questions answered by GROUP BY over the raw events, on a
// generated data set in a database of its own. GLAM_BENCH_EVENTS sets its
// size (default 200,000, so that `make bench` stays short); the figures in
// the README are for 10,000,000:
//
//	GLAM_BENCH_EVENTS=10000000 go test -run '^$' -bench BenchmarkUsageQueries -benchtime 20x -timeout 2h ./internal/usageapi/
func BenchmarkUsageQueries(b *testing.B) {
	n := 200_000
	if v := os.Getenv("GLAM_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < usagetest.EventsPerSession {
			b.Fatalf("GLAM_BENCH_EVENTS=%q: want a number of events", v)
		}
	}
	const days = 90
	ctx := context.Background()
	pcfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(b))
	if err != nil {
		b.Fatal(err)
	}
	// Both sides of the comparison run on the pool the extension uses.
	ConfigurePool(pcfg)
	db, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	end := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	setup := time.Now()
	if err := pgschema.Migrate(ctx, db); err != nil {
		b.Fatal(err)
	}
	if err := usagetest.Generate(ctx, db, n, days, end); err != nil {
		b.Fatal(err)
	}
	cfg := NewDefaultConfig()
	if err := usagetest.DeriveViews(ctx, db, usagetest.Views(cfg.Views), cfg.ProbeViewEvent); err != nil {
		b.Fatal(err)
	}
	var events, rows int64
	_ = db.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+eventsTable+"), (SELECT count(*) FROM "+rowsTable+")").Scan(&events, &rows)
	b.Logf("%d events over %d days, %d view rows, set up in %s", events, days, rows, time.Since(setup).Round(time.Second))

	s := New(db, cfg)
	month := Range{From: end.AddDate(0, 0, -30), To: end}
	week := Range{From: end.AddDate(0, 0, -7), To: end}
	top, err := s.TopProbes(ctx, TopProbesQuery{Range: month, Limit: 1})
	if err != nil || len(top.Probes) == 0 {
		b.Fatalf("no top probe: %v", err)
	}
	series := SeriesQuery{Range: Range{From: end.AddDate(0, 0, -days), To: end}, Product: top.Probes[0].Product, Probe: top.Probes[0].Probe, Interval: Day}
	cases := []struct {
		name string
		run  func() error
	}{
		{"top_probes_30d/views", func() error { _, err := s.TopProbes(ctx, TopProbesQuery{Range: month, Limit: 20}); return err }},
		{"top_probes_30d/raw", func() error { _, err := s.TopProbesRaw(ctx, TopProbesQuery{Range: month, Limit: 20}); return err }},
		{"probe_series_90d_daily/views", func() error { _, err := s.ProbeSeries(ctx, series); return err }},
		{"probe_series_90d_daily/raw", func() error { _, err := s.ProbeSeriesRaw(ctx, series); return err }},
		{"session_summary_7d/views", func() error { _, err := s.SessionSummary(ctx, week); return err }},
		{"session_summary_7d/raw", func() error { _, err := s.SessionSummaryRaw(ctx, week); return err }},
	}
	for _, c := range cases {
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

// percentile is the nearest-rank percentile of sorted latencies.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
