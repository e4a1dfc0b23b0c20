package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// A hand-over race, made deterministic: replica b's reader read events E1
// and lost the lease before its processor flushed them; replica a took the
// lease and read E1 and E2 from the offset; then b's processor flushed E1
// (accepted: it started at the offset) before a flushed E1+E2 (refused: no
// longer at the offset). Exactly once holds — nothing is merged twice — and
// a's views drop what they held and wait for a's reader to read again from
// the offset. The reader must do so even when no new event comes: E2 is
// stored, and the views must catch up with it.
//
// Found by TestPropertyViewsEqualRawGroupBy (a run whose last requests came
// right after such a race stalled with the offset behind the log for good).
func TestViewsCatchUpAfterAStaleFlushWithoutNewEvents(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	stats := new(viewStats)
	fast := pipelineOptions{flush: 20 * time.Millisecond, leaseRetry: 20 * time.Millisecond, backoff: 20 * time.Millisecond}
	slow := fast
	slow.flush = time.Hour // b flushes only when stopped
	b := startReplica(t, dsn, "b", slow, stats)
	// a's first flush comes 5 s after it starts: long after it has read E1
	// and E2 (milliseconds, seconds on a loaded CI machine under -race), so
	// that the batch holds both.
	fast.noViews, fast.flush = true, 5*time.Second
	a := startReplica(t, dsn, "a", fast, stats)

	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UTC().Add(-time.Minute)
	e1 := session(rng, "e1", "s1", now.Add(-10*time.Minute), 10, time.Second)
	e2 := session(rng, "e2", "s2", now.Add(-5*time.Minute), 10, time.Second)
	deliver(ctx, t, []string{a.ingest}, otlpLogs(e1))
	b.views.waitFed(t, 10)
	bViews := b.views
	require.NoError(t, bViews.reader.Shutdown(ctx)) // b's reader is gone (its lease with it); its processor holds E1
	deliver(ctx, t, []string{a.ingest}, otlpLogs(e2))

	var release func()
	a.startViewsWith(func(g *gate) { release = g.holdBatches() })
	a.views.waitFed(t, 20)
	require.Zero(t, a.views.gate.waiting.Load(), "a flushed before it had read E1 and E2")
	for deadline := time.Now().Add(10 * time.Second); a.views.gate.waiting.Load() == 0; {
		require.True(t, time.Now().Before(deadline), "a's views did not flush")
		time.Sleep(5 * time.Millisecond)
	}
	// b's processor flushes E1 as it stops: merged, the offset moves past E1.
	require.NoError(t, bViews.views.Shutdown(ctx))
	b.views = nil
	behind, err := lag(ctx, db, consumerName)
	require.NoError(t, err)
	require.Equal(t, 10, behind, "after b's flush the offset should be past E1 and before E2")
	// a's flush of E1+E2 is refused: it no longer starts at the offset.
	release()
	for deadline := time.Now().Add(10 * time.Second); stats.conflicts.Load() == 0; {
		require.True(t, time.Now().Before(deadline), "a's stale batch was not refused: %s", stats)
		time.Sleep(5 * time.Millisecond)
	}

	// No event comes any more; the views must still catch up with E2.
	if err := caughtUp(ctx, db, 15*time.Second); err != nil {
		t.Errorf("after a view batch was refused as not starting at the offset, with no new events: %v (%s)", err, stats)
		// A new event wakes the reader, which then reads again from the
		// offset: the stall ends, and nothing is lost or doubled.
		e3 := session(rng, "e3", "s3", now.Add(-time.Minute), 1, time.Second)
		deliver(ctx, t, []string{a.ingest}, otlpLogs(e3))
		require.NoError(t, caughtUp(ctx, db, 10*time.Second), "even after a new event")
		e2 = append(e2, e3...)
	}
	requireRawExact(ctx, t, db, ids(e1, e2), "")
	requireViewsExact(ctx, t, db, fmt.Sprintf("(%s) ", stats))
}
