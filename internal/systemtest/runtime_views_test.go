package systemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Runtime views (SPEC §7) on real collectors: a view created through one
// collector's API is backfilled from the raw events already stored and then
// counts what comes after, once; both collectors know it, one reads it and
// the other takes over when that one dies; a restart keeps it; once
// deleted it gains no row, and its rows go when purged. Expected rows are
// the test's own counts of the events it sent, and the raw GROUP BY.

const (
	clicksView   = "test.clicks.daily"
	sessionsView = "test.session_probe_views"
	writerToken  = "view-writer"
)

var runtimeViewDefs = map[string]string{
	clicksView: `{"name":"` + clicksView + `","description":"Clicks per day by control: a funnel step",
		"measure":"` + usage.MeasureActions + `","aggregation":"count","tag_keys":["` + usage.AttrAction + `"],"window":{"size":"24h"}}`,
	sessionsView: `{"name":"` + sessionsView + `","measure":"` + usage.MeasureProbeViews + `","aggregation":"count",
		"window":{"session_gap":"30m"}}`,
}

func TestRuntimeViewsBackfillThenFollowTheLogOnce(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	a := startCollector(t, "a", collectorConfig{dsn: dsn, api: true, viewWriter: writerToken})
	b := startCollector(t, "b", collectorConfig{dsn: dsn, api: true, viewWriter: writerToken})
	urls := []string{a.ingest, b.ingest}
	rng := rand.New(rand.NewPCG(71, 72))
	now := time.Now().UTC()
	got := newAcked()
	send := func(sessions [][]event) {
		runClients(clientRequests(rng, sessions, 2, 8), func(_ int, events []event) {
			if deliver(ctx, t, urls, otlpLogs(events)) > 0 {
				got.add(events)
			}
		})
		require.False(t, t.Failed())
	}
	var sent [][]event
	// Before the views exist: sessions over the last five days.
	var before [][]event
	for i := range 30 {
		start := now.Add(-time.Duration(i%6)*24*time.Hour - time.Duration(rng.IntN(3600))*time.Second - time.Hour)
		before = append(before, session(rng, "old", fmt.Sprintf("old%02d", i), start, 10+rng.IntN(20), time.Duration(5+rng.IntN(40))*time.Second))
	}
	send(before)
	sent = append(sent, before...)
	waitStored(ctx, t, db, len(got.snapshot()), 30*time.Second)

	// Created through a; bad definitions are refused.
	status, body := a.postView(t, `{"name":"x","measure":"glam.nope","aggregation":"count","window":{"size":"1h"}}`, writerToken)
	require.Equal(t, http.StatusBadRequest, status, body)
	status, body = a.postView(t, runtimeViewDefs[clicksView], "")
	require.Equal(t, http.StatusForbidden, status, body)
	for _, def := range runtimeViewDefs {
		status, body := a.postView(t, def, writerToken)
		require.Equal(t, http.StatusCreated, status, body)
	}
	// While the backfill runs, more events come: counted once, after it.
	live := liveSessions(rng, "new", 15, now)
	send(live)
	sent = append(sent, live...)
	want := got.snapshot()
	waitStored(ctx, t, db, len(want), 30*time.Second)
	requireRawExact(ctx, t, db, want, "")

	// Both collectors know the views; they turn live.
	for _, c := range []*collector{a, b} {
		for name := range runtimeViewDefs {
			waitViewState(t, c, name, "live")
		}
	}
	for name := range runtimeViewDefs {
		waitCaughtUp(ctx, t, db, runtimeConsumer(ctx, t, db, name), 30*time.Second)
	}
	checkRuntimeViews(ctx, t, db, sent, "after the backfill and live events: ")

	// The collector reading a view dies; the other takes it over.
	holder := viewLeaseHolder(ctx, t, db, clicksView)
	require.Contains(t, []string{"a", "b"}, holder)
	dead, alive := a, b
	if holder == "b" {
		dead, alive = b, a
	}
	dead.kill()
	more := liveSessions(rng, "more", 10, now.Add(time.Minute))
	urls = []string{alive.ingest}
	send(more)
	sent = append(sent, more...)
	waitStored(ctx, t, db, len(got.snapshot()), 30*time.Second)
	for name := range runtimeViewDefs {
		waitCaughtUp(ctx, t, db, runtimeConsumer(ctx, t, db, name), 30*time.Second)
	}
	assert.Equal(t, alive.name, viewLeaseHolder(ctx, t, db, clicksView))
	checkRuntimeViews(ctx, t, db, sent, "after a hand-over: ")

	// A restart keeps the views.
	dead.start()
	waitViewState(t, dead, clicksView, "live")

	// Deleted, the view gains nothing more; its rows are kept until purged.
	status, body = alive.deleteView(t, clicksView, false)
	require.Equal(t, http.StatusOK, status, body)
	kept := viewRows(ctx, t, db, clicksView)
	require.NotEmpty(t, kept)
	after := liveSessions(rng, "after", 10, now.Add(2*time.Minute))
	urls = []string{alive.ingest, dead.ingest}
	send(after)
	sent = append(sent, after...)
	waitStored(ctx, t, db, len(got.snapshot()), 30*time.Second)
	waitCaughtUp(ctx, t, db, runtimeConsumer(ctx, t, db, sessionsView), 30*time.Second)
	waitCaughtUp(ctx, t, db, consumerName, 30*time.Second)
	time.Sleep(time.Second) // two flushes: a batch of the deleted view would be merged by now
	assert.Equal(t, kept, viewRows(ctx, t, db, clicksView), "rows of the deleted view changed")
	checkSessionView(ctx, t, db, sent, "the other view after the delete: ")
	var listed struct {
		Views []struct {
			Name string `json:"name"`
		} `json:"views"`
	}
	alive.getJSON(t, "/api/v1/views", &listed)
	for _, v := range listed.Views {
		assert.NotEqual(t, clicksView, v.Name)
	}
	status, body = dead.deleteView(t, clicksView, true)
	require.Equal(t, http.StatusOK, status, body)
	assert.Empty(t, viewRows(ctx, t, db, clicksView))
}

// checkRuntimeViews compares both runtime views with the events sent and
// with the raw GROUP BY.
func checkRuntimeViews(ctx context.Context, t *testing.T, db *pgxpool.Pool, sent [][]event, context string) {
	t.Helper()
	want := map[string]int64{}
	for _, s := range sent {
		for _, e := range s {
			if e.name == usage.EventGleanElementClick {
				want[e.at.Truncate(24*time.Hour).Format(time.DateOnly)+" "+e.attrs[usage.AttrAction]]++
			}
		}
	}
	require.NotEmpty(t, want)
	assert.Equal(t, want, viewRows(ctx, t, db, clicksView), "%sclicks per day and control, from the events sent", context)
	raw := map[string]int64{}
	rows, err := db.Query(ctx, `SELECT to_char(date_trunc('day', event_time AT TIME ZONE 'UTC'), 'YYYY-MM-DD') || ' ' || (attributes->>$1), count(*)
		FROM glam_usage_events WHERE event_name = $2 GROUP BY 1`, usage.AttrAction, usage.EventGleanElementClick)
	require.NoError(t, err)
	var k string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { raw[k] = n; return nil })
	require.NoError(t, err)
	assert.Equal(t, raw, viewRows(ctx, t, db, clicksView), "%sclicks per day and control, from the raw GROUP BY", context)
	checkSessionView(ctx, t, db, sent, context)
}

// checkSessionView compares the session view (probe views per session)
// with the events sent: every test session is one session window.
func checkSessionView(ctx context.Context, t *testing.T, db *pgxpool.Pool, sent [][]event, context string) {
	t.Helper()
	want := map[string]int64{}
	for _, s := range sent {
		for _, e := range s {
			if e.name == usage.EventProbeView {
				want[e.session]++
			}
		}
	}
	assert.Equal(t, want, viewRows(ctx, t, db, sessionsView), "%sprobe views per session", context)
}

// viewRows is a view's counts: by "day tag" for the clicks view, by
// session for the session view.
func viewRows(ctx context.Context, t *testing.T, db *pgxpool.Pool, view string) map[string]int64 {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT CASE WHEN session_id IS NULL
			THEN to_char(window_start AT TIME ZONE 'UTC', 'YYYY-MM-DD') || ' ' || (tags->>$2)
			ELSE session_id END, sum(count)::bigint
		FROM glam_usage_view_rows WHERE view = $1 GROUP BY 1`, view, usage.AttrAction)
	require.NoError(t, err)
	out := map[string]int64{}
	var k string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&k, &n}, func() error { out[k] = n; return nil })
	require.NoError(t, err)
	return out
}

func runtimeConsumer(ctx context.Context, t *testing.T, db *pgxpool.Pool, view string) string {
	t.Helper()
	var c string
	require.NoError(t, db.QueryRow(ctx, `SELECT consumer FROM glam_usage_views WHERE name = $1`, view).Scan(&c))
	return c
}

// viewLeaseHolder is the collector reading a runtime view (waiting up to
// 10 s for one to).
func viewLeaseHolder(ctx context.Context, t *testing.T, db *pgxpool.Pool, view string) string {
	t.Helper()
	consumer := runtimeConsumer(ctx, t, db, view)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if name := consumerLeaseHolder(ctx, db, consumer); name != "" || time.Now().After(deadline) {
			return name
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitViewState waits (up to 30 s) until c's API says the view is in state.
func waitViewState(t *testing.T, c *collector, view, state string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var v struct {
			State      string  `json:"state"`
			Backfilled float64 `json:"backfilled"`
		}
		status, body := c.request(t, http.MethodGet, "/api/v1/views/"+view, "", "")
		if status == http.StatusOK {
			require.NoError(t, json.Unmarshal([]byte(body), &v))
			if v.State == state {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("collector %s: view %s is not %s after 30 s: %d %s", c.name, view, state, status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *collector) postView(t *testing.T, def, token string) (int, string) {
	return c.request(t, http.MethodPost, "/api/v1/views", def, token)
}

func (c *collector) deleteView(t *testing.T, view string, purge bool) (int, string) {
	return c.request(t, http.MethodDelete, fmt.Sprintf("/api/v1/views/%s?purge=%t", view, purge), "", writerToken)
}

func (c *collector) request(t *testing.T, method, path, body, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.api+path, bytes.NewReader([]byte(body)))
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}
