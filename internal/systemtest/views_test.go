package systemtest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// viewDef is one of GLAM's default views as processor/glamviewsprocessor's
// README defines it, written out here rather than read from the processor,
// so that the expected rows do not come from the code under test.
type viewDef struct {
	name string
	// events are the event names the view's measure records (through
	// glam_eventlog's default measures); nil is every event.
	events []string
	// tags are the view's tag keys (session views add session.id).
	tags []string
	// size is a fixed window's length; 0 is a session window (gap 30m,
	// max_duration 24h, which no test session comes near).
	size time.Duration
}

const sessionGap = 30 * time.Minute

var (
	probeTags = []string{"glam.product", "glam.probe.name", "glam.probe.process", "glam.channel"}
	probeView = []string{"probe.view"}
	click     = []string{"glean.element_click"}
)

// defaultViews are GLAM's default views (processor/glamviewsprocessor
// README, "Configuration"), measures as glam_eventlog's README lists them.
var defaultViews = []viewDef{
	{name: "glam.probe_views.hourly", events: probeView, tags: probeTags, size: time.Hour},
	{name: "glam.probe_views.daily", events: probeView, tags: probeTags, size: 24 * time.Hour},
	{name: "glam.probe_sessions.daily", events: probeView, tags: []string{"glam.product", "glam.probe.name", "session.id"}, size: 24 * time.Hour},
	{name: "glam.sessions", events: nil},
	{name: "glam.session_probes", events: probeView, tags: []string{"glam.product", "glam.probe.name"}},
	{name: "glam.searches.daily", events: []string{"probe.search"}, tags: []string{"glam.product"}, size: 24 * time.Hour},
	{name: "glam.page_views.daily", events: []string{"page.view"}, size: 24 * time.Hour},
	{name: "glam.actions.daily", events: click, tags: []string{"glam.action", "glam.product"}, size: 24 * time.Hour},
	{name: "glam.session_actions", events: click, tags: []string{"glam.action"}},
}

// tagsSQL builds a view's tag set from a raw event's stored attributes: an
// attribute the event lacks is a tag the row lacks.
func tagsSQL(keys []string) string {
	if len(keys) == 0 {
		return `'{}'::jsonb`
	}
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf(`'%s', attributes->>'%s'`, k, k))
	}
	return `jsonb_strip_nulls(jsonb_build_object(` + strings.Join(parts, ", ") + `))`
}

// fixedSQL counts a fixed-window view's events per window (aligned to the
// epoch, a UTC midnight) and tag set. $1 = event names (NULL: all), $2 =
// window size.
func fixedSQL(v viewDef) string {
	return `SELECT date_bin($2::interval, event_time, timestamptz '1970-01-01 00:00:00+00') AS ws,
		` + tagsSQL(v.tags) + `::text AS tags, count(*) AS n
	FROM glam_usage_events WHERE ($1::text[] IS NULL OR event_name = ANY($1))
	GROUP BY 1, 2`
}

// sessionSQL cuts each session.id's events of the view (by event time) into
// windows wherever two follow each other more than the gap apart, and
// counts each window's events per tag set. A window starts at its first
// event and ends at its last; a row (window, tag set) ends between its own
// last event and its window's (what it is depends on which flush carried
// the row's last delta). $1 = event names (NULL: all), $2 = the gap.
func sessionSQL(v viewDef) string {
	return `WITH e AS (
		SELECT attributes->>'session.id' AS sid, event_time AS t, event_id, ` + tagsSQL(v.tags) + ` AS tags
		FROM glam_usage_events
		WHERE ($1::text[] IS NULL OR event_name = ANY($1)) AND coalesce(attributes->>'session.id', '') <> ''
	), b AS (
		SELECT *, CASE WHEN t - lag(t) OVER (PARTITION BY sid ORDER BY t, event_id) <= $2::interval THEN 0 ELSE 1 END AS brk FROM e
	), w AS (
		SELECT *, sum(brk) OVER (PARTITION BY sid ORDER BY t, event_id) AS win FROM b
	), x AS (
		SELECT *, min(t) OVER (PARTITION BY sid, win) AS ws, max(t) OVER (PARTITION BY sid, win) AS we FROM w
	)
	SELECT ws, (tags || jsonb_build_object('session.id', sid))::text, max(t), we, count(*)
	FROM x GROUP BY sid, win, ws, we, tags`
}

// rowKey identifies a view row: view, window start, tag set (jsonb text,
// which PostgreSQL writes in one canonical form).
type rowKey struct {
	view  string
	start time.Time
	tags  string
}

func (k rowKey) String() string {
	return fmt.Sprintf("%s %s %s", k.view, k.start.UTC().Format(time.RFC3339Nano), k.tags)
}

// expectedRow is what a row must hold: its count, and its window end
// between endMin and endMax.
type expectedRow struct {
	count          int64
	endMin, endMax time.Time
}

// expectedViews derives every default view's rows from the raw events.
func expectedViews(ctx context.Context, t testing.TB, db *pgxpool.Pool) map[rowKey]expectedRow {
	t.Helper()
	out := map[rowKey]expectedRow{}
	for _, v := range defaultViews {
		var events any
		if v.events != nil {
			events = v.events
		}
		if v.size > 0 {
			rows, err := db.Query(ctx, fixedSQL(v), events, v.size)
			require.NoError(t, err, v.name)
			var k rowKey
			var n int64
			_, err = pgx.ForEachRow(rows, []any{&k.start, &k.tags, &n}, func() error {
				k.view = v.name
				k.start = k.start.UTC()
				out[k] = expectedRow{count: n, endMin: k.start.Add(v.size), endMax: k.start.Add(v.size)}
				return nil
			})
			require.NoError(t, err, v.name)
			continue
		}
		rows, err := db.Query(ctx, sessionSQL(v), events, sessionGap)
		require.NoError(t, err, v.name)
		var k rowKey
		var last, end time.Time
		var n int64
		_, err = pgx.ForEachRow(rows, []any{&k.start, &k.tags, &last, &end, &n}, func() error {
			k.view = v.name
			k.start = k.start.UTC()
			out[k] = expectedRow{count: n, endMin: last.UTC(), endMax: end.UTC()}
			return nil
		})
		require.NoError(t, err, v.name)
	}
	return out
}

// storedRow is a row of glam_usage_view_rows.
type storedRow struct {
	end        time.Time
	metricType string
	count      int64
	sum        float64
}

func storedViews(ctx context.Context, t testing.TB, db *pgxpool.Pool) map[rowKey]storedRow {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT view, window_start, tags::text, window_end, metric_type, coalesce(count, -1), coalesce(sum, -1)
		FROM glam_usage_view_rows`)
	require.NoError(t, err)
	out := map[rowKey]storedRow{}
	var k rowKey
	var r storedRow
	_, err = pgx.ForEachRow(rows, []any{&k.view, &k.start, &k.tags, &r.end, &r.metricType, &r.count, &r.sum}, func() error {
		k.start = k.start.UTC()
		r.end = r.end.UTC()
		out[k] = r
		return nil
	})
	require.NoError(t, err)
	return out
}

// viewDiff compares the stored view rows with the rows derived from the raw
// events and describes every difference (at most 25), or returns "".
func viewDiff(ctx context.Context, t testing.TB, db *pgxpool.Pool) string {
	t.Helper()
	want := expectedViews(ctx, t, db)
	got := storedViews(ctx, t, db)
	known := map[string]bool{}
	for _, v := range defaultViews {
		known[v.name] = true
	}
	var diffs []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("missing row %s: want count %d", k, w.count))
		case g.metricType != "sum" || g.count != w.count || g.sum != float64(w.count):
			diffs = append(diffs, fmt.Sprintf("row %s: count %d (sum %g, %s), want %d", k, g.count, g.sum, g.metricType, w.count))
		case g.end.Before(w.endMin) || g.end.After(w.endMax):
			diffs = append(diffs, fmt.Sprintf("row %s: window_end %s, want %s..%s", k, g.end.Format(time.RFC3339Nano),
				w.endMin.Format(time.RFC3339Nano), w.endMax.Format(time.RFC3339Nano)))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			what := "extra row"
			if !known[k.view] {
				what = "row of a view that is not a default view"
			}
			diffs = append(diffs, fmt.Sprintf("%s %s: count %d, window_end %s", what, k, g.count, g.end.Format(time.RFC3339Nano)))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	sort.Strings(diffs)
	n := len(diffs)
	if n > 25 {
		diffs = append(diffs[:25], "…")
	}
	return fmt.Sprintf("%d differences between the view rows and the raw GROUP BY (%d rows derived, %d stored):\n  %s",
		n, len(want), len(got), strings.Join(diffs, "\n  "))
}

// requireViewsExact fails unless every default view equals the raw GROUP BY.
func requireViewsExact(ctx context.Context, t testing.TB, db *pgxpool.Pool, context string) {
	t.Helper()
	if d := viewDiff(ctx, t, db); d != "" {
		t.Fatalf("%s%s", context, d)
	}
}

// rawDiff compares the raw events with the ids the test had accepted:
// each stored exactly once, nothing else stored.
func rawDiff(ctx context.Context, t testing.TB, db *pgxpool.Pool, want map[string]bool) string {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT event_id, count(*) FROM glam_usage_events GROUP BY 1`)
	require.NoError(t, err)
	var id string
	var n int
	var diffs []string
	seen := 0
	_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error {
		switch {
		case !want[id]:
			diffs = append(diffs, fmt.Sprintf("event %s stored but never sent", id))
		case n != 1:
			diffs = append(diffs, fmt.Sprintf("event %s stored %d times", id, n))
		}
		if want[id] {
			seen++
		}
		return nil
	})
	require.NoError(t, err)
	var ids int
	require.NoError(t, db.QueryRow(ctx, `SELECT count(*) FROM glam_usage_event_ids`).Scan(&ids))
	if seen != len(want) {
		diffs = append(diffs, fmt.Sprintf("%d of %d accepted events stored", seen, len(want)))
	}
	if ids != len(want) {
		diffs = append(diffs, fmt.Sprintf("glam_usage_event_ids holds %d ids for %d events", ids, len(want)))
	}
	if len(diffs) > 25 {
		diffs = append(diffs[:25], "…")
	}
	return strings.Join(diffs, "\n  ")
}

func requireRawExact(ctx context.Context, t testing.TB, db *pgxpool.Pool, want map[string]bool, context string) {
	t.Helper()
	if d := rawDiff(ctx, t, db, want); d != "" {
		t.Fatalf("%sraw events are not the accepted events, once each:\n  %s", context, d)
	}
}

// openDB is a pool on dsn, closed when the test ends.
func openDB(t testing.TB, dsn string) *pgxpool.Pool {
	t.Helper()
	db, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	return db
}

// waitStored waits until the raw event table holds n events (bounded by
// timeout).
func waitStored(ctx context.Context, t testing.TB, db *pgxpool.Pool, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := -1
	for time.Now().Before(deadline) {
		if err := db.QueryRow(ctx, `SELECT count(*) FROM glam_usage_events`).Scan(&got); err == nil && got >= n {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("the raw event table holds %d events after %s, want %d", got, timeout, n)
}

// lag is how many stored events lie beyond consumer's offset (all of them
// when it has none yet).
func lag(ctx context.Context, db *pgxpool.Pool, consumer string) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT count(*) FROM glam_usage_events e
		WHERE NOT EXISTS (SELECT 1 FROM glam_usage_log_offsets o
			WHERE o.consumer = $1 AND (e.log_xid, e.log_seq) <= (o.log_xid, o.log_seq))`, consumer).Scan(&n)
	return n, err
}

// waitCaughtUp waits until consumer's offset has reached the last stored
// event's position in the log (glam_usage_events log_xid/log_seq): every
// view batch covering the events stored so far is merged.
func waitCaughtUp(ctx context.Context, t testing.TB, db *pgxpool.Pool, consumer string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	n, err := -1, error(nil)
	for time.Now().Before(deadline) {
		if n, err = lag(ctx, db, consumer); err == nil && n == 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("consumer %s's offset still %d events behind the log after %s (last error: %v)", consumer, n, timeout, err)
}
