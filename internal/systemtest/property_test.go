package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// Runs and size of the property test: each run is a fresh database, two
// replicas and about propertyEvents events.
const (
	propertyRuns   = 20
	propertyEvents = 200
)

// propertySeedEnv fixes the first run's seed (the runs use seed, seed+1, …);
// unset, it is drawn from the clock and printed.
const propertySeedEnv = "GLAM_PROPERTY_SEED"

// TestPropertyViewsEqualRawGroupBy runs seeded random interleavings, on two
// in-process replicas sharing one database, of:
//
//   - client retries: the same request again, to the same or the other
//     replica, one after the other or racing its original;
//   - crashes of a replica's view consumer: reader and processor gone
//     without a flush (nothing more reaches the database), the lease freed
//     with the dead connection; and restarts, with 25 ms or 150 ms flushes;
//   - graceful stops (the processor's final flush);
//   - a reader losing the lease while its processor runs on and flushes
//     what it holds, and the hand-over race made on purpose: the holder's
//     batches wait while the other replica takes the lease and reads again
//     from the offset, then go (one of the two no longer starts at the
//     offset and is refused);
//   - the lease's connection terminated under a live reader;
//   - late events: whole sessions 3 hours, 25 hours and 3 days old, each
//     in one request.
//
// Whatever happened, once the offset reaches the end of the log every
// default view equals the raw GROUP BY, every accepted event is stored
// once, and stopping both consumers changes nothing. Over the 20 runs the
// faults must have happened: batches refused as not at the offset, batches
// lost in crashes, hand-overs.
//
// A seed fixes the operations and the data, not the goroutines' timing: a
// failing seed reproduces the same run, which fails again most of the time.
func TestPropertyViewsEqualRawGroupBy(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(propertySeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", propertySeedEnv, s, err)
		}
	}
	runs := propertyRuns
	if testing.Short() {
		runs = 4
	}
	t.Logf("seeds %d..%d (%s=%d reruns them)", seed, seed+uint64(runs)-1, propertySeedEnv, seed)
	// The faults must have been real: over all runs, consumers lost the
	// lease with batches still to send, crashed holding batches, and the
	// lease changed hands. (Cleanup runs once every parallel run is done.)
	var total viewStats
	var done atomic.Int64
	t.Cleanup(func() {
		t.Logf("all runs: %s", &total)
		if done.Load() >= propertyRuns && !t.Failed() && (total.conflicts.Load() == 0 || total.lost.Load() == 0 || total.handovers.Load() == 0) {
			t.Errorf("the runs did not exercise every fault: %s", &total)
		}
	})
	for i := range runs {
		s := seed + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			t.Parallel()
			stats := runProperty(t, s)
			total.add(stats)
			done.Add(1)
		})
	}
}

// propertyBatch is one client request.
type propertyBatch struct {
	events []event
	body   []byte
	// late: a whole late session, which must arrive in one request (see
	// TestLateSessionInTwoRequestsIsOneSession).
	late bool
}

// propertyWorkload makes about n events: sessions of the last 40 minutes
// (one in two with an earlier window of the same session.id 80 to 100
// minutes ago, more than the session gap before), their events sent in
// event-time order in requests of 1 to 12 events, as browsers send them;
// and whole sessions 3 hours, 1 day and 3 days old, each in one request (an
// offline client's queue), at random places in the stream.
func propertyWorkload(rng *rand.Rand, now time.Time, n int) []propertyBatch {
	var live []event
	var late [][]event
	for i := 0; len(live)+sumLen(late) < n; i++ {
		sid := fmt.Sprintf("s%02d", i)
		switch i % 4 {
		case 3:
			ages := []time.Duration{3 * time.Hour, 25 * time.Hour, 72 * time.Hour}
			start := now.Add(-ages[rng.IntN(len(ages))] - time.Duration(rng.IntN(600))*time.Second)
			late = append(late, session(rng, "late", sid, start, 5+rng.IntN(15), time.Duration(10+rng.IntN(50))*time.Second))
		default:
			start := now.Add(-40*time.Minute + time.Duration(rng.IntN(900))*time.Second)
			live = append(live, session(rng, "live", sid, start, 10+rng.IntN(16), time.Duration(5+rng.IntN(55))*time.Second)...)
			if i%2 == 0 {
				earlier := now.Add(-100*time.Minute + time.Duration(rng.IntN(300))*time.Second)
				live = append(live, session(rng, "earlier", sid, earlier, 3+rng.IntN(6), time.Duration(5+rng.IntN(55))*time.Second)...)
			}
		}
	}
	byTime(live)
	var batches []propertyBatch
	for len(live) > 0 {
		k := min(1+rng.IntN(12), len(live))
		batches = append(batches, propertyBatch{events: live[:k]})
		live = live[k:]
	}
	for _, l := range late {
		at := rng.IntN(len(batches) + 1)
		batches = append(batches[:at], append([]propertyBatch{{events: l, late: true}}, batches[at:]...)...)
	}
	for i := range batches {
		batches[i].body = otlpLogs(batches[i].events)
	}
	return batches
}

func sumLen(s [][]event) int {
	n := 0
	for _, x := range s {
		n += len(x)
	}
	return n
}

// propertyOptions: flushes and lease hand-overs within tens of
// milliseconds, so that a run of a few hundred milliseconds sees many.
var propertyOptions = pipelineOptions{flush: 25 * time.Millisecond, leaseRetry: 20 * time.Millisecond, backoff: 20 * time.Millisecond}

// flushes are the flush intervals a view consumer is started with: one
// much longer than a lease hand-over, so that a processor whose reader lost
// the lease often flushes after the new holder read again from the offset,
// and one of them is refused.
var flushes = []time.Duration{25 * time.Millisecond, 150 * time.Millisecond}

func runProperty(t *testing.T, seed uint64) *viewStats {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	stats := new(viewStats)
	replicas := []*replica{
		startReplica(t, dsn, "a", propertyOptions, stats),
		startReplica(t, dsn, "b", propertyOptions, stats),
	}
	var trace []string
	step := func(format string, args ...any) { trace = append(trace, fmt.Sprintf(format, args...)) }
	fail := func(format string, args ...any) {
		t.Helper()
		if len(trace) > 80 {
			trace = append([]string{"…"}, trace[len(trace)-80:]...)
		}
		t.Fatalf("seed %d (%s=%d go test -run 'TestPropertyViewsEqualRawGroupBy/seed=%d$' ./internal/systemtest): %s\noperations:\n  %s\nlast batches between the components:\n  %s",
			seed, propertySeedEnv, seed, seed, fmt.Sprintf(format, args...), strings.Join(trace, "\n  "), stats.flightRecord())
	}

	batches := propertyWorkload(rng, time.Now().UTC().Add(-time.Minute), propertyEvents)
	sent := map[string]bool{}
	for i, b := range batches {
		posted := false
		// Faults between requests.
		switch r := rng.IntN(100); {
		case r < 12:
			x := replicas[rng.IntN(2)]
			if x.views != nil {
				step("crash %s's view consumer", x.name)
				x.crashViews()
			}
		case r < 18:
			x := replicas[rng.IntN(2)]
			if x.views != nil && !x.views.readerGone {
				step("%s's reader loses its lease; its processor flushes on", x.name)
				x.loseReader()
			}
		case r < 30:
			x := replicas[rng.IntN(2)]
			if x.views == nil || x.views.readerGone {
				x.opts.flush = flushes[rng.IntN(len(flushes))]
				step("start %s's view consumer (flush every %s)", x.name, x.opts.flush)
				x.startViews()
			}
		case r < 33:
			x := replicas[rng.IntN(2)]
			if x.views != nil {
				step("stop %s's view consumer gracefully", x.name)
				if err := x.stopViews(); err != nil {
					step("  (its final flush: %v)", err)
				}
			}
		case r < 41:
			// The hand-over race: the lease holder x reads this request's
			// events while its batches wait (a slow flush), then its reader
			// loses the lease; y takes it and reads again from the offset;
			// then x's batches go. One of x's and y's batches no longer
			// starts at the offset and is refused.
			x, y := replicas[0], replicas[1]
			if stats.holder() == y.name {
				x, y = y, x
			}
			if x.views == nil || x.views.readerGone {
				break
			}
			// The request goes in two parts: x reads the first, y both
			// (a late session's request stays whole).
			k := (len(b.events) + 1) / 2
			if b.late {
				k = len(b.events)
			}
			step("race: %s's batches wait; batch %d (%d+%d events) to %s; %s's reader loses the lease, %s reads again; then %s's batches go",
				x.name, i, k, len(b.events)-k, x.name, x.name, y.name, x.name)
			release := x.views.gate.holdBatches()
			fed := x.views.tap.events.Load()
			deliver(ctx, t, []string{x.ingest, y.ingest}, otlpLogs(b.events[:k]))
			posted = true
			for deadline := time.Now().Add(time.Second); x.views.tap.events.Load() < fed+int64(k) && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			x.loseReader()
			if y.views == nil || y.views.readerGone {
				y.opts.flush = flushes[rng.IntN(len(flushes))]
				y.startViews()
			}
			before := y.views.tap.rewinds.Load()
			for deadline := time.Now().Add(time.Second); y.views.tap.rewinds.Load() == before && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			if k < len(b.events) {
				deliver(ctx, t, []string{y.ingest, x.ingest}, otlpLogs(b.events[k:]))
			}
			release()
		case r < 45:
			n := cutLease(ctx, db)
			step("cut the lease's connection (%d backends)", n)
		case r < 57:
			d := time.Duration(rng.IntN(4)) * propertyOptions.flush
			step("wait %s", d)
			time.Sleep(d)
		}
		if posted {
			for _, e := range b.events {
				sent[e.id] = true
			}
			continue
		}
		// The request, and the client's retries of it.
		primary, other := replicas[rng.IntN(2)], replicas[0]
		if other == primary {
			other = replicas[1]
		}
		urls := []string{primary.ingest, other.ingest}
		switch r := rng.IntN(100); {
		case r < 15:
			step("batch %d (%d events): to both at once", i, len(b.events))
			var wg sync.WaitGroup
			for _, u := range urls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					deliver(ctx, t, []string{u}, b.body)
				}()
			}
			wg.Wait()
		case r < 40:
			again := replicas[rng.IntN(2)]
			step("batch %d (%d events): to %s, retried on %s", i, len(b.events), primary.name, again.name)
			deliver(ctx, t, urls, b.body)
			deliver(ctx, t, []string{again.ingest}, b.body)
		default:
			step("batch %d (%d events): to %s", i, len(b.events), primary.name)
			deliver(ctx, t, urls, b.body)
		}
		if t.Failed() {
			fail("a batch was not accepted")
		}
		for _, e := range b.events {
			sent[e.id] = true
		}
	}
	// Whoever is left reads the log to its end.
	for _, x := range replicas {
		if x.views == nil || x.views.readerGone {
			step("start %s's view consumer", x.name)
			x.startViews()
		}
	}
	if d := rawDiff(ctx, t, db, sent); d != "" {
		fail("raw events are not the accepted events, once each:\n  %s", d)
	}
	if err := caughtUp(ctx, db, 30*time.Second); err != nil {
		fail("%v", err)
	}
	if d := viewDiff(ctx, t, db); d != "" {
		fail("%s", d)
	}
	// Stopping both gracefully (each flushes what it holds; the one without
	// the lease holds nothing the offset does not already cover) changes
	// nothing.
	for _, x := range replicas {
		if err := x.stopViews(); err != nil {
			step("stop %s's view consumer: %v", x.name, err)
		}
	}
	if d := viewDiff(ctx, t, db); d != "" {
		fail("after stopping both view consumers: %s", d)
	}
	t.Logf("%d requests; %s", len(batches), stats)
	return stats
}

// cutLease terminates the connection holding the default consumer's lease
// (a network cut, or a holder PostgreSQL gave up on) and returns how many
// connections it ended. The holder reads again; the other replica may take
// the lease first.
func cutLease(ctx context.Context, db *pgxpool.Pool) int {
	var n int
	_ = db.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = ((hashtextextended($1, 0) >> 32) & 4294967295)::oid
		  AND objid = (hashtextextended($1, 0) & 4294967295)::oid`, "glam_usage_log:"+consumerName).Scan(&n)
	return n
}

// caughtUp is waitCaughtUp as an error.
func caughtUp(ctx context.Context, db *pgxpool.Pool, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	n, err := -1, error(nil)
	for time.Now().Before(deadline) {
		if n, err = lag(ctx, db, consumerName); err == nil && n == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the offset is still %d events behind the log after %s (last error: %v)\n%s", n, timeout, err, logState(ctx, db))
}

// logState describes, for a failure message, where the log and its
// consumer stand: the offset, the last event, the lease's holder, and the
// transactions of the whole cluster that hold back what a reader may read
// (pg_snapshot_xmin).
func logState(ctx context.Context, db *pgxpool.Pool) string {
	var b strings.Builder
	q := func(title, sql string, args ...any) {
		rows, err := db.Query(ctx, sql, args...)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", title, err)
			return
		}
		defer rows.Close()
		fmt.Fprintf(&b, "%s:\n", title)
		for rows.Next() {
			vals, _ := rows.Values()
			fmt.Fprintf(&b, "  %v\n", vals)
		}
	}
	q("offset", `SELECT consumer, log_xid::text, log_seq, updated_at FROM glam_usage_log_offsets`)
	q("last event", `SELECT log_xid::text, log_seq FROM glam_usage_events ORDER BY log_xid DESC, log_seq DESC LIMIT 1`)
	q("snapshot", `SELECT pg_current_snapshot()::text`)
	q("lease", `SELECT l.pid, a.state, a.wait_event, left(a.query, 100) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	q("transactions with an xid, whole cluster", `SELECT pid, datname, state, backend_xid::text, now() - xact_start, wait_event, left(query, 100)
		FROM pg_stat_activity WHERE backend_xid IS NOT NULL ORDER BY xact_start`)
	return b.String()
}
