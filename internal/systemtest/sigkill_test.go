package systemtest

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// otelcol-glam with raw events behind a persistent queue
// (testdata/config-persistent-queue.yaml's shape: file_storage with fsync,
// 4 queue consumers), SIGKILLed under load — requests in flight, events
// queued on disk and not yet stored, view gains not yet flushed — and
// started again on the same storage while the clients retry. Raw events and
// every default view are exact, and a session whose events came before and
// after the kill is one glam.sessions row with its true start, end and
// event count.
//
// Each load session comes in one request: with several queue consumers,
// requests of one client are stored in whatever order the consumers
// finish, and a session's earliest event stored after its window was
// flushed does not move the window's start (processor README, "Windows").
// The session spanning the kill comes one event at a time, each sent once
// the previous one is stored, as a person clicking does.
func TestSIGKILLUnderLoadWithPersistentQueue(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	queue := filepath.Join(t.TempDir(), "queue")
	c := startCollector(t, "c", collectorConfig{dsn: dsn, queueDir: queue, flush: time.Second})

	rng := rand.New(rand.NewPCG(21, 22))
	now := time.Now().UTC().Add(-time.Minute)
	requests := clientRequests(rng, liveSessions(rng, "k", 120, now), 4, 0)
	total := totalRequests(requests)
	const spanEvents = 30
	span := session(rng, "span", "spanning", now.Add(-20*time.Minute), spanEvents, 10*time.Second)

	got := newAcked()
	var sent, spanSent atomic.Int64
	urls := []string{c.ingest}
	loadDone, spanDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loadDone)
		runClients(requests, func(_ int, events []event) {
			if deliver(ctx, t, urls, otlpLogs(events)) > 0 {
				got.add(events)
			}
			sent.Add(1)
			time.Sleep(60 * time.Millisecond) // about 2 s of load in all
		})
	}()
	go func() {
		defer close(spanDone)
		for i, e := range span {
			if deliver(ctx, t, urls, otlpLogs(span[i:i+1])) == 0 {
				return
			}
			got.add(span[i : i+1])
			waitIDsStored(ctx, t, db, []string{e.id}, 30*time.Second)
			spanSent.Add(1)
			time.Sleep(80 * time.Millisecond)
		}
	}()

	// Half-way through the load, with the spanning session's first events
	// merged into its row and the views behind the log (gains not yet
	// flushed): kill -9.
	var behind int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "the load did not get half-way")
		if sent.Load() < int64(total/2) || spanSent.Load() < spanEvents/3 || len(sessionRows(ctx, t, db, "spanning")) == 0 {
			continue
		}
		if n, err := lag(ctx, db, consumerName); err == nil && n > 0 {
			behind = n
			break
		}
	}
	require.Less(t, spanSent.Load(), int64(spanEvents), "the spanning session ended before the kill")
	var stored int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM glam_usage_events`).Scan(&stored))
	before := sessionRows(ctx, t, db, "spanning")
	c.kill()
	killedAt := got.requests.Load()
	time.Sleep(300 * time.Millisecond) // the clients' requests fail meanwhile, and are retried
	c.start()
	<-loadDone
	<-spanDone
	if t.Failed() {
		t.FailNow()
	}

	want := got.snapshot()
	waitStored(ctx, t, db, len(want), 30*time.Second)
	waitCaughtUp(ctx, t, db, consumerName, 30*time.Second)
	requireRawExact(ctx, t, db, want, "")
	requireViewsExact(ctx, t, db, "")

	rows := sessionRows(ctx, t, db, "spanning")
	assert.Equal(t, []storedSession{{start: span[0].at, end: span[spanEvents-1].at, count: spanEvents}}, rows,
		"the session spanning the kill: one row, its first and last event, all its events")
	t.Logf("killed with %d of %d requests acknowledged, %d events stored and the views %d events behind, the spanning session's row %v; %d events in all",
		killedAt, total+spanEvents, stored, behind, before, len(want))
}
