package systemtest

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// A session sent wholly late — an offline client's queue, 3 hours after —
// in two requests, the views flushing between them, is one session: one
// glam.sessions row from its first event to its last (processor README,
// "Late data": "a session an offline client sends wholly late is one
// session, with its true start and end").
// A session window is kept session_gap + allowed_lateness after it last
// took a measurement (by receive time) as well as after it closed, so the
// window the first request opened is still there for the second.
func TestLateSessionInTwoRequestsIsOneSession(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	r := startReplica(t, dsn, "a", pipelineOptions{flush: 20 * time.Millisecond, leaseRetry: 20 * time.Millisecond, backoff: 20 * time.Millisecond}, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	late := session(rng, "late", "offline", time.Now().UTC().Add(-3*time.Hour), 10, 30*time.Second)
	deliver(ctx, t, []string{r.ingest}, otlpLogs(late[:5]))
	require.NoError(t, caughtUp(ctx, db, 10*time.Second))
	deliver(ctx, t, []string{r.ingest}, otlpLogs(late[5:]))
	require.NoError(t, caughtUp(ctx, db, 10*time.Second))
	requireViewsExact(ctx, t, db, "")
}
