package systemtest

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// PostgreSQL stopped mid-stream under otelcol-glam with the persistent
// queue (a throwaway cluster of the test's own: the shared server cannot be
// stopped). While it is down the receiver still answers 200 (the events
// wait on disk), the reader has lost its connection and lease, and the
// views' last batch waits in its exporter's retries; the collector is even
// killed (SIGKILL) and started again meanwhile. Once PostgreSQL is back the
// queue drains and the views catch up: raw events and every default view
// exact.
func TestPostgresStoppedMidStream(t *testing.T) {
	ctx := context.Background()
	cluster := pgtest.StartCluster(t)
	admin, err := pgx.Connect(ctx, cluster.DSN())
	require.NoError(t, err)
	_, err = admin.Exec(ctx, "CREATE DATABASE glam")
	require.NoError(t, err)
	require.NoError(t, admin.Close(ctx))
	dsn, err := pgtest.WithDatabase(cluster.DSN(), "glam")
	require.NoError(t, err)
	c := startCollector(t, "c", collectorConfig{dsn: dsn, queueDir: filepath.Join(t.TempDir(), "queue"), flush: 500 * time.Millisecond})

	rng := rand.New(rand.NewPCG(41, 42))
	now := time.Now().UTC().Add(-time.Minute)
	// Whole sessions per request: the queue's 4 consumers store requests
	// in any order (see TestSIGKILLUnderLoadWithPersistentQueue).
	requests := clientRequests(rng, liveSessions(rng, "o", 90, now), 3, 0)
	total := totalRequests(requests)
	got := newAcked()
	var sent, duringOutage atomic.Int64
	var down atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		runClients(requests, func(_ int, events []event) {
			if deliver(ctx, t, []string{c.ingest}, otlpLogs(events)) > 0 {
				got.add(events)
				if down.Load() {
					duringOutage.Add(1)
				}
			}
			sent.Add(1)
			time.Sleep(30 * time.Millisecond)
		})
	}()
	waitFor := func(n int64) {
		for deadline := time.Now().Add(30 * time.Second); sent.Load() < n; time.Sleep(5 * time.Millisecond) {
			require.True(t, time.Now().Before(deadline), "the clients did not send %d requests", n)
		}
	}
	waitFor(int64(total / 3))
	db := openDB(t, dsn)
	waitStored(ctx, t, db, 1, 10*time.Second) // the stream reached the database
	db.Close()
	cluster.Stop()
	down.Store(true)
	waitFor(int64(total / 2))
	c.kill() // with events on disk only
	c.start()
	waitFor(int64(2 * total / 3))
	down.Store(false)
	cluster.Start()
	<-done
	if t.Failed() {
		t.FailNow()
	}
	require.Positive(t, duringOutage.Load(), "no request was answered while PostgreSQL was down")

	db = openDB(t, dsn)
	want := got.snapshot()
	waitStored(ctx, t, db, len(want), 60*time.Second)
	waitCaughtUp(ctx, t, db, consumerName, 60*time.Second)
	requireRawExact(ctx, t, db, want, "")
	requireViewsExact(ctx, t, db, "")
	t.Logf("%d events in %d requests, %d of them answered 200 while PostgreSQL was down", len(want), total, duringOutage.Load())
}
