package probebuild

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
				`SELECT count(*) FROM `+jobsTable+` WHERE status = 'succeeded'`).Scan(&succeeded))
			require.Equal(b, b.N, succeeded)
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
		})
	}
}
