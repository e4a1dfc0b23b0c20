package probebuild

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// noopBuilder builds nothing, so that the benchmarks measure the queue:
// claim, heartbeat, and the completing transaction.
type noopBuilder struct{ started chan time.Time }

func (n noopBuilder) Build(_ context.Context, b Build, _ Progress) (Output, error) {
	if n.started != nil {
		n.started <- time.Now()
	}
	return Output{Table: AggregationTable(b), Versions: []int64{120}}, nil
}

func benchRequest(i int) Request {
	return Request{Product: "firefox", Channel: "nightly", Probe: fmt.Sprintf("bench_probe_%d", i)}
}

// BenchmarkRequestToWorkerStart: from a request's commit to a waiting
// worker starting its build (LISTEN/NOTIFY wake-up, claim). Reports p50 and
// p99 in milliseconds.
func BenchmarkRequestToWorkerStart(b *testing.B) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Lease = time.Minute // lease checks every 30 s: any quick start is NOTIFY's doing
	cfg.Heartbeat = 10 * time.Second
	started := make(chan time.Time, 1)
	s := newService(b, cfg, newPool(b), noopBuilder{started: started})
	<-s.listenReady
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		req := benchRequest(i)
		require.NoError(b, req.Normalize())
		t0 := time.Now()
		_, err := s.q.enqueue(context.Background(), req, PriorityInteractive, "")
		require.NoError(b, err)
		latencies = append(latencies, (<-started).Sub(t0))
	}
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	ms := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}

// BenchmarkQueueThroughput: jobs per second through the queue with a no-op
// build, for 1 and 4 workers: b.N jobs queued, then drained.
func BenchmarkQueueThroughput(b *testing.B) {
	for _, workers := range []int{1, 4} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			cfg := testConfig("http://127.0.0.1:1")
			cfg.Workers = 0
			pool := newPool(b)
			idle := newService(b, cfg, pool, nil)
			for i := range b.N {
				req := benchRequest(i)
				require.NoError(b, req.Normalize())
				_, err := idle.q.enqueue(context.Background(), req, PriorityInteractive, "")
				require.NoError(b, err)
			}
			cfg.Workers = workers
			b.ResetTimer()
			t0 := time.Now()
			newService(b, cfg, pool, noopBuilder{})
			for {
				queued, running, err := QueueDepth(context.Background(), pool)
				require.NoError(b, err)
				if queued+running == 0 {
					break
				}
				time.Sleep(time.Millisecond)
			}
			elapsed := time.Since(t0)
			b.StopTimer()
			var succeeded int
			require.NoError(b, pool.QueryRow(context.Background(),
				`SELECT count(*) FROM `+pgschema.ProbeBuildJobsTable+` WHERE status = 'succeeded'`).Scan(&succeeded))
			require.Equal(b, b.N, succeeded)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}

// benchBuildRows is the size of the probe each BenchmarkViewRefresh build
// writes. A build writes a row per version × build × os × process (× key);
// 2,000 is taken to stand for a desktop nightly histogram over 3 versions.
const benchBuildRows = 2000

// fillOtherProbes puts n rows of other probes, 3,000 rows each, in GLAM's
// desktop nightly table, with histograms of GLAM's size (50 buckets).
func fillOtherProbes(b *testing.B, pool *pgxpool.Pool, n int) {
	b.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO glam_desktop_nightly_aggregation (version, os, build_id, process, metric,
			metric_key, client_agg_type, metric_type, total_users, histogram, percentiles, total_sample,
			non_norm_histogram, non_norm_percentiles)
		SELECT 118 + g % 3, '*', (20260000000000 + g / 3 % 1000)::text, 'parent', 'other_probe_' || g / 3000,
			'', 'summed_histogram', 'histogram-exponential', 1000 + g, $1, $2, 5000 + g, $1, $2
		FROM generate_series(0, $3 - 1) g`, madeUpHistogram, madeUpPercentiles, n)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `VACUUM ANALYZE glam_desktop_nightly_aggregation`)
	require.NoError(b, err)
}

// BenchmarkViewRefresh: what refreshing GLAM's materialized view costs a
// build, next to the build's own write, on a table that already holds other
// probes' rows. Each iteration is one build of a new probe of
// benchBuildRows rows: the worker's commit (COPY, upsert, job completion),
// then the worker's refresh of view_glam_desktop_nightly_aggregation
// (REFRESH MATERIALIZED VIEW CONCURRENTLY), both timed. Untimed, the
// probe is then deleted and the view refreshed again, so that every
// iteration meets the same table. Reports the mean write and refresh in
// ms, refresh/write, and the refresh's cost per row of the view.
// GLAM_BENCH_TABLE_ROWS (e.g.
// "10000,300000") sets the sizes of the other probes' rows.
func BenchmarkViewRefresh(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if env := os.Getenv("GLAM_BENCH_TABLE_ROWS"); env != "" {
		sizes = nil
		for _, f := range strings.Split(env, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(b, err, "GLAM_BENCH_TABLE_ROWS")
			sizes = append(sizes, n)
		}
	}
	for _, other := range sizes {
		b.Run(fmt.Sprintf("table_rows=%d", other), func(b *testing.B) {
			ctx := context.Background()
			pool := newPool(b)
			fillOtherProbes(b, pool, other)
			createGLAMViews(b, pool)
			cfg := testConfig("http://127.0.0.1:1")
			cfg.Workers = 0
			s := newService(b, cfg, pool, nil)
			var write, refresh time.Duration
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				req := benchRequest(i)
				require.NoError(b, req.Normalize())
				_, err := s.q.enqueue(ctx, req, PriorityInteractive, "")
				require.NoError(b, err)
				j, err := s.q.claim(ctx, "bench")
				require.NoError(b, err)
				out := Output{Table: AggregationTable(j.Build), Rows: madeUpRows(j.Build.Probe, benchBuildRows), Versions: []int64{120}}
				b.StartTimer()

				t0 := time.Now()
				_, vr, err := s.commitRows(ctx, j, out)
				require.NoError(b, err)
				require.Equal(b, RefreshPending, vr.Status)
				t1 := time.Now()
				s.refreshView(ctx, j.ID, vr.Schema, *vr.View)
				t2 := time.Now()
				write += t1.Sub(t0)
				refresh += t2.Sub(t1)

				b.StopTimer()
				done, err := s.q.get(ctx, j.ID)
				require.NoError(b, err)
				require.Equal(b, RefreshRefreshed, done.ViewRefresh.Status, done.ViewRefresh.Error)
				var viewRows int
				require.NoError(b, pool.QueryRow(ctx, `SELECT count(*) FROM view_glam_desktop_nightly_aggregation`).Scan(&viewRows))
				require.Equal(b, other+benchBuildRows, viewRows)
				_, err = pool.Exec(ctx, `DELETE FROM glam_desktop_nightly_aggregation WHERE metric = $1`, j.Build.Probe)
				require.NoError(b, err)
				_, err = pool.Exec(ctx, `REFRESH MATERIALIZED VIEW CONCURRENTLY view_glam_desktop_nightly_aggregation`)
				require.NoError(b, err)
				b.StartTimer()
			}
			b.StopTimer()
			ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(ms(write), "write-ms")
			b.ReportMetric(ms(refresh), "refresh-ms")
			b.ReportMetric(float64(refresh)/float64(write), "refresh/write")
			b.ReportMetric(ms(refresh)*1000/float64(other+benchBuildRows), "refresh-us/view-row")
		})
	}
}
