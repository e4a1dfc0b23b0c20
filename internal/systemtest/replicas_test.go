package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// Two otelcol-glam processes on one database, behind a load balancer that
// sends every request to both — the same batch posted to each, one after
// the other or at once (a client retrying through the balancer) — and
// retries a request on the other when one fails. Half-way, one of them is
// killed (SIGKILL) and started again: whichever held the view consumer's
// lease, the other reads on from the offset. Every event is stored once,
// every default view equals the raw GROUP BY, and stopping both (each
// flushing what it holds) changes nothing.
func TestTwoCollectorsOneDatabase(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	a := startCollector(t, "a", collectorConfig{dsn: dsn})
	b := startCollector(t, "b", collectorConfig{dsn: dsn})

	rng := rand.New(rand.NewPCG(11, 12))
	now := time.Now().UTC().Add(-time.Minute)
	requests := clientRequests(rng, liveSessions(rng, "r", 60, now), 4, 12)
	// A few sessions of 3 hours ago, from a client of their own, each in
	// one request (an offline client's queue; a late session split over
	// requests is TestLateSessionInTwoRequestsIsOneSession's known bug).
	var late [][]event
	for i := range 4 {
		late = append(late, session(rng, "late", fmt.Sprintf("late%d", i), now.Add(-3*time.Hour-time.Duration(i)*7*time.Minute), 12, 20*time.Second))
	}
	requests = append(requests, clientRequests(rng, late, 1, 0)...)
	total := totalRequests(requests)
	rngs := make([]*rand.Rand, len(requests))
	for c := range rngs {
		rngs[c] = rand.New(rand.NewPCG(13, uint64(c)))
	}

	got := newAcked()
	var sent atomic.Int64
	halfway := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		runClients(requests, func(c int, events []event) {
			body := otlpLogs(events)
			both := []string{a.ingest, b.ingest}
			if rngs[c].IntN(2) == 0 {
				both = []string{b.ingest, a.ingest}
			}
			if rngs[c].IntN(4) == 0 {
				// At once: the retry races its original.
				var wg sync.WaitGroup
				for i := range both {
					wg.Add(1)
					go func() {
						defer wg.Done()
						deliver(ctx, t, []string{both[i], both[1-i]}, body)
					}()
				}
				wg.Wait()
			} else {
				deliver(ctx, t, both, body)
				deliver(ctx, t, []string{both[1], both[0]}, body)
			}
			got.add(events)
			if sent.Add(1) == int64(total/2) {
				once.Do(func() { close(halfway) })
			}
		})
	}()
	<-halfway
	// Kill the one reading the log: the other takes the lease and reads on
	// from the offset.
	holder := map[string]*collector{"a": a, "b": b}[waitLeaseHolder(ctx, t, db, "a", "b")]
	other := map[*collector]*collector{a: b, b: a}[holder]
	behind, _ := lag(ctx, db, consumerName)
	holder.kill()
	took := waitLeaseHolder(ctx, t, db, other.name)
	holder.start()
	<-done
	t.Logf("killed %s, the lease's holder, with the views %d events behind the log; %s took the lease", holder.name, behind, took)
	if t.Failed() {
		t.FailNow()
	}

	want := got.snapshot()
	waitStored(ctx, t, db, len(want), 30*time.Second)
	waitCaughtUp(ctx, t, db, consumerName, 30*time.Second)
	requireRawExact(ctx, t, db, want, "")
	requireViewsExact(ctx, t, db, "")
	a.stop()
	b.stop()
	requireViewsExact(ctx, t, db, "after both stopped: ")
	t.Logf("%d events in %d requests, each sent to both collectors", len(want), total)
}
