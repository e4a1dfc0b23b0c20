package systemtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// liveSessions are n sessions of the last 40 minutes, 5 to 30 events each,
// seconds to a minute apart (each within one session window).
func liveSessions(rng *rand.Rand, prefix string, n int, now time.Time) [][]event {
	out := make([][]event, n)
	for i := range out {
		start := now.Add(-40*time.Minute + time.Duration(rng.IntN(900))*time.Second)
		out[i] = session(rng, prefix, fmt.Sprintf("%s%03d", prefix, i), start, 5+rng.IntN(26), time.Duration(1+rng.IntN(50))*time.Second)
	}
	return out
}

// clientRequests deals sessions out to clients and cuts each client's
// events, in event-time order, into requests of 1 to maxBatch events, as a
// browser's SDK batches what it records; maxBatch 0 sends each session
// whole in one request.
func clientRequests(rng *rand.Rand, sessions [][]event, clients, maxBatch int) [][][]event {
	out := make([][][]event, clients)
	if maxBatch == 0 {
		for i, s := range sessions {
			out[i%clients] = append(out[i%clients], s)
		}
		return out
	}
	for c := range out {
		var mine []event
		for i := c; i < len(sessions); i += clients {
			mine = append(mine, sessions[i]...)
		}
		byTime(mine)
		for len(mine) > 0 {
			k := min(1+rng.IntN(maxBatch), len(mine))
			out[c] = append(out[c], mine[:k])
			mine = mine[k:]
		}
	}
	return out
}

// acked is the set of events some receiver answered 200 for, shared by a
// test's clients.
type acked struct {
	mu       sync.Mutex
	ids      map[string]bool
	requests atomic.Int64
}

func newAcked() *acked { return &acked{ids: map[string]bool{}} }

func (a *acked) add(events []event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range events {
		a.ids[e.id] = true
	}
	a.requests.Add(1)
}

func (a *acked) snapshot() map[string]bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[string]bool, len(a.ids))
	for id := range a.ids {
		out[id] = true
	}
	return out
}

// runClients runs one goroutine per client, each sending its requests in
// order with send, and waits for them all.
func runClients(requests [][][]event, send func(client int, events []event)) {
	var wg sync.WaitGroup
	for c, reqs := range requests {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, r := range reqs {
				send(c, r)
			}
		}()
	}
	wg.Wait()
}

func totalRequests(requests [][][]event) int {
	n := 0
	for _, r := range requests {
		n += len(r)
	}
	return n
}

// sessionRow reads the glam.sessions rows of one session.id.
func sessionRows(ctx context.Context, t testing.TB, db *pgxpool.Pool, sid string) []storedSession {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT window_start, window_end, count FROM glam_usage_view_rows
		WHERE view = 'glam.sessions' AND session_id = $1 ORDER BY window_start`, sid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []storedSession
	for rows.Next() {
		var s storedSession
		if err := rows.Scan(&s.start, &s.end, &s.count); err != nil {
			t.Fatal(err)
		}
		s.start, s.end = s.start.UTC(), s.end.UTC()
		out = append(out, s)
	}
	return out
}

type storedSession struct {
	start, end time.Time
	count      int64
}

func (s storedSession) String() string {
	return fmt.Sprintf("{%s..%s: %d events}", s.start.Format("15:04:05.000"), s.end.Format("15:04:05.000"), s.count)
}

// waitIDsStored waits until every one of ids is in the raw event table.
func waitIDsStored(ctx context.Context, t testing.TB, db *pgxpool.Pool, ids []string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	n := 0
	for time.Now().Before(deadline) {
		if err := db.QueryRow(ctx, `SELECT count(*) FROM glam_usage_event_ids WHERE event_id = ANY($1)`, ids).Scan(&n); err == nil && n == len(ids) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d of %d events stored after %s", n, len(ids), timeout)
}
