package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Load of the benchmark: benchClients clients post requests of benchBatch
// events each (one session per request), either as fast as they are
// answered (the pipeline's events/s) or at benchRate events/s in all (the
// latency at a load the pipeline keeps up with).
const (
	benchClients = 4
	benchBatch   = 50
	benchRate    = 2000
	// benchFlush is glam_views' flush_interval in the benchmark (the
	// default is 10 s; the e2e tests use 1 s): the views' latency is about
	// half of it on average.
	benchFlush = time.Second
)

// BenchmarkReceiptToViews measures, for the collector's pipeline built in
// process from its components' factories (defaults but for the flush
// interval) on the local PostgreSQL, the latency from receipt — the
// receiver's 200 to the client — to the view rows: the time until the
// consumer's offset (glam_usage_log_offsets), which moves in the
// transaction that merges the view rows, covers the request's events. And
// the pipeline's throughput: events per second from the first request to
// the last request's events in the views.
//
// "Before" — the glam receiver feeding measurements straight to glam_views
// — no longer exists. The baseline, in the same run, is the raw-events
// pipeline alone (receiver → glam_postgres, default in-memory sending
// queue): its latency is from the 200 to the events' commit in the raw
// table, and its events/s what storing raw events costs without views.
//
// Each runs twice: max_rate, the clients sending as fast as they are
// answered (events/s is the pipeline's; its latencies include the backlog
// the queue builds up), and at_2000_eps, paced at benchRate events/s
// (latencies at a load it keeps up with; events/s is then about the rate
// offered).
//
//	go test -run '^$' -bench ReceiptToViews -benchtime 400x -count 3 ./internal/systemtest/
func BenchmarkReceiptToViews(b *testing.B) {
	for _, shape := range []struct {
		name  string
		views bool
	}{{"raw_events_only", false}, {"full_pipeline", true}} {
		b.Run(shape.name+"/max_rate", func(b *testing.B) { benchPipeline(b, shape.views, 0) })
		b.Run(fmt.Sprintf("%s/at_%d_eps", shape.name, benchRate), func(b *testing.B) { benchPipeline(b, shape.views, benchRate) })
	}
}

// benchRequest is one request's timeline.
type benchRequest struct {
	session string
	events  []event
	acked   time.Time // the 200
	pos     usage.LogPosition
	stored  time.Time // first seen in the raw table
	viewed  time.Time // first seen covered by the offset
	hasPos  bool
}

// benchPipeline sends b.N requests, at rate events/s in all (0: as fast
// as they are answered).
func benchPipeline(b *testing.B, views bool, rate float64) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(b)
	db := openDB(b, dsn)
	r := startReplica(b, dsn, "bench", pipelineOptions{flush: benchFlush, leaseRetry: time.Second, backoff: 100 * time.Millisecond,
		logsQueue: true, noViews: !views}, nil)
	rng := rand.New(rand.NewPCG(51, uint64(b.N)))
	now := time.Now().UTC().Add(-time.Minute)
	reqs := make([]*benchRequest, b.N+1)
	for i := range reqs {
		sid := fmt.Sprintf("bench%06d", i)
		reqs[i] = &benchRequest{session: sid, events: session(rng, "b", sid, now.Add(-20*time.Minute), benchBatch, time.Second)}
	}
	// Warm up: the schema, today's partition, the lease, one flush.
	deliver(ctx, b, []string{r.ingest}, otlpLogs(reqs[0].events))
	if views {
		if err := caughtUp(ctx, db, 30*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	reqs = reqs[1:]
	bodies := make([][]byte, len(reqs))
	for i, q := range reqs {
		bodies[i] = otlpLogs(q.events)
	}

	var mu sync.Mutex
	next := 0
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	clients := benchClients
	if rate > 0 {
		clients *= 4 // enough that a slow answer does not hold the pace back
	}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= len(reqs) {
					return
				}
				if rate > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(float64(i*benchBatch) / rate * float64(time.Second)))))
				}
				deliver(ctx, b, []string{r.ingest}, bodies[i])
				at := time.Now()
				mu.Lock()
				reqs[i].acked = at
				mu.Unlock()
			}
		}()
	}
	watchDone := make(chan error, 1)
	go func() { watchDone <- watch(ctx, db, reqs, &mu, views) }()
	wg.Wait()
	if err := <-watchDone; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Duration(0)
	var lat []float64
	for _, q := range reqs {
		end := q.stored
		if views {
			end = q.viewed
		}
		elapsed = max(elapsed, end.Sub(start))
		lat = append(lat, float64(end.Sub(q.acked).Microseconds())/1000)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(len(reqs)*benchBatch)/elapsed.Seconds(), "events/s")
	b.ReportMetric(quantile(lat, 0.50), "p50_ms")
	b.ReportMetric(quantile(lat, 0.99), "p99_ms")
}

// watch polls (every 5 ms, for at most 2 minutes) until every request is
// stored and, with views, covered by the offset, noting when each was
// first seen so: the raw table by the requests' session ids, the offset
// against each request's last position in the log.
func watch(ctx context.Context, db *pgxpool.Pool, reqs []*benchRequest, mu *sync.Mutex, views bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for ; time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		var pending []string
		byID := map[string]*benchRequest{}
		mu.Lock()
		for _, q := range reqs {
			if !q.acked.IsZero() && !q.hasPos {
				pending = append(pending, q.session)
				byID[q.session] = q
			}
		}
		mu.Unlock()
		now := time.Now()
		if len(pending) > 0 {
			rows, err := db.Query(ctx, `SELECT session_id, (array_agg(log_xid::text || '/' || log_seq ORDER BY log_xid DESC, log_seq DESC))[1], count(*)
				FROM glam_usage_events WHERE session_id = ANY($1) GROUP BY 1`, pending)
			if err != nil {
				return err
			}
			var sid, last string
			var n int64
			_, err = pgx.ForEachRow(rows, []any{&sid, &last, &n}, func() error {
				q := byID[sid]
				if n < benchBatch {
					return nil
				}
				pos, err := usage.ParseLogPosition(last)
				if err != nil {
					return err
				}
				q.pos, q.stored, q.hasPos = pos, now, true
				return nil
			})
			if err != nil {
				return err
			}
		}
		var offset usage.LogPosition
		if views {
			var xid string
			err := db.QueryRow(ctx, `SELECT log_xid::text, log_seq FROM glam_usage_log_offsets WHERE consumer = $1`, consumerName).Scan(&xid, &offset.Seq)
			if err != nil && err != pgx.ErrNoRows {
				return err
			}
			_, _ = fmt.Sscan(xid, &offset.XID)
		}
		all := true
		mu.Lock()
		for _, q := range reqs {
			switch {
			case !q.hasPos:
				all = false
			case !views:
			case q.viewed.IsZero() && !offset.Less(q.pos):
				q.viewed = now
			case q.viewed.IsZero():
				all = false
			}
		}
		mu.Unlock()
		if all {
			return nil
		}
	}
	return fmt.Errorf("the requests were not all through the pipeline within 2 minutes")
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
