package usageapi

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// perSessionFromViewRowsSQL is perSessionFromViewsSQL as it was before the
// per-session rollup: every session of the range grouped from its view
// rows. What the rollup answers must equal it.
const perSessionFromViewRowsSQL = `WITH sess AS (
		SELECT session_id AS sid, min(window_start) AS started, sum(count) AS events,
			extract(epoch FROM max(window_end) - min(window_start)) AS duration
		FROM ` + rowsTable + `
		WHERE view = $1 AND window_start >= $3 AND window_start < $4 AND session_id IS NOT NULL
		GROUP BY 1
	), probes AS (
		SELECT sid, count(*) AS probes
		FROM (
			SELECT DISTINCT session_id AS sid, coalesce(product, ''), probe_name
			FROM ` + rowsTable + `
			WHERE view = $2 AND window_start >= $3 AND window_start < $4 AND session_id IS NOT NULL AND probe_name IS NOT NULL
		) p
		GROUP BY 1
	), per AS (
		SELECT sess.sid, sess.started, sess.events, sess.duration, coalesce(probes.probes, 0) AS probes
		FROM sess LEFT JOIN probes USING (sid)
	)`

// assertSessionRollupMatchesViewRows asks the session summary and sessions
// per day of every range, from the rollup and from the view rows.
func assertSessionRollupMatchesViewRows(t *testing.T, s *Store, ranges []Range) {
	t.Helper()
	ctx := context.Background()
	v := s.cfg.Views
	for _, r := range ranges {
		hours := r.snap(time.Hour)
		got, err := s.SessionSummary(ctx, r)
		require.NoError(t, err)
		want, err := s.summary(ctx, hours, perSessionFromViewRowsSQL, v.Sessions, v.SessionProbes, hours.From, hours.To)
		require.NoError(t, err)
		assert.Equal(t, want.Range, got.Range)
		assert.InDeltaMapValues(t, stats(want.SessionStats), stats(got.SessionStats), 1e-9, "summary %s..%s", hours.From, hours.To)

		days := r.snap(24 * time.Hour)
		gotDaily, err := s.SessionsDaily(ctx, r)
		require.NoError(t, err)
		wantDaily, err := s.daily(ctx, days, perSessionFromViewRowsSQL+dailySQL(5, 6),
			v.Sessions, v.SessionProbes, days.From, days.To, DurationBuckets, ProbesBuckets)
		require.NoError(t, err)
		require.Len(t, gotDaily.Days, len(wantDaily.Days))
		for i := range wantDaily.Days {
			assert.InDeltaMapValues(t, stats(wantDaily.Days[i].SessionStats), stats(gotDaily.Days[i].SessionStats), 1e-9,
				"sessions of %s", wantDaily.Days[i].Start)
		}
		assert.Equal(t, counts(wantDaily.DurationHistogram), counts(gotDaily.DurationHistogram), "durations %s..%s", days.From, days.To)
		assert.Equal(t, counts(wantDaily.ProbesHistogram), counts(gotDaily.ProbesHistogram), "probes %s..%s", days.From, days.To)
	}
}

// sessionRow is a row of a session view as the exporter merges it.
type sessionRow struct {
	view, session, product, probe string
	start, end                    time.Time
	count                         int
}

// mergeSessionRows merges rows into the view rows in one statement, as the
// glam_postgres exporter merges a views batch: a row not there is made, a
// row there (same view, start and tags) gets the count added and its end
// widened.
func mergeSessionRows(t *testing.T, s *Store, rows []sessionRow) {
	t.Helper()
	var views, tags []string
	var starts, ends []time.Time
	var ns []int
	for _, r := range rows {
		tag := fmt.Sprintf(`{%q: %q}`, usage.AttrSessionID, r.session)
		if r.probe != "" {
			tag = fmt.Sprintf(`{%q: %q, %q: %q, %q: %q}`, usage.AttrSessionID, r.session, usage.AttrProduct, r.product, usage.AttrProbeName, r.probe)
		}
		views, tags, starts, ends, ns = append(views, r.view), append(tags, tag), append(starts, r.start), append(ends, r.end), append(ns, r.count)
	}
	_, err := s.db.Exec(context.Background(), `INSERT INTO `+rowsTable+` AS t
		(view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
		SELECT v, w, sha256(convert_to(g::text, 'UTF8')), g, e, 'sum', n, n
		FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[], $4::timestamptz[], $5::bigint[]) AS u(v, g, w, e, n)
		ORDER BY 1, 3
		ON CONFLICT (view, window_start, tags_hash) DO UPDATE SET
			window_end = greatest(t.window_end, excluded.window_end), count = t.count + excluded.count, sum = t.sum + excluded.sum`,
		views, tags, starts, ends, ns)
	require.NoError(t, err)
}

// aroundSession are ranges whose ends fall before, inside and after the
// windows of a session starting at start: the range cuts it, holds it, or
// misses it.
func aroundSession(start time.Time) []Range {
	h := start.Truncate(time.Hour)
	var out []Range
	for _, from := range []time.Duration{-2 * time.Hour, -time.Hour, 0, time.Hour, 2 * time.Hour, 3 * time.Hour} {
		for _, length := range []time.Duration{time.Hour, 2 * time.Hour, 4 * time.Hour, 30 * time.Hour} {
			out = append(out, Range{From: h.Add(from), To: h.Add(from + length)})
		}
	}
	return out
}

func TestSessionRollupMatchesViewRows(t *testing.T) {
	s := generatedStore(t, 20_000, 20)
	ctx := context.Background()
	v := s.cfg.Views
	ranges := []Range{
		{From: generatedEnd.AddDate(0, 0, -7), To: generatedEnd},
		{From: generatedEnd.AddDate(0, 0, -30), To: generatedEnd},
		{From: generatedEnd.AddDate(0, 0, -9).Add(7 * time.Hour), To: generatedEnd.AddDate(0, 0, -1).Add(3 * time.Hour)},
		{From: generatedEnd.AddDate(0, 0, -3).Add(13 * time.Hour), To: generatedEnd.AddDate(0, 0, -3).Add(14 * time.Hour)},
	}
	assertSessionRollupMatchesViewRows(t, s, ranges)

	// A generated session to cut: its window and its probes' windows.
	var sess string
	var start, end time.Time
	var events int64
	require.NoError(t, s.db.QueryRow(ctx, `SELECT session_id, window_start, window_end, count FROM `+rowsTable+`
		WHERE view = $1 AND window_start >= $2 ORDER BY window_start LIMIT 1`, v.Sessions, generatedEnd.AddDate(0, 0, -5)).
		Scan(&sess, &start, &end, &events))
	var product, probe string
	require.NoError(t, s.db.QueryRow(ctx, `SELECT product, probe_name FROM `+rowsTable+`
		WHERE view = $1 AND session_id = $2 ORDER BY window_start LIMIT 1`, v.SessionProbes, sess).Scan(&product, &probe))
	later := start.Add(2 * time.Hour)
	// The rows of the merges a collector makes of what comes later: the
	// session's window gets one more event (an update of its row); after a
	// gap it comes back (a second window) to a probe it saw and to a new
	// one; an offline client's late event opens a probe window before the
	// session's start (which a flushed session window keeps); a new session
	// runs over midnight in windows on two days.
	midnight := generatedEnd.AddDate(0, 0, -2)
	mergeSessionRows(t, s, []sessionRow{
		{view: v.Sessions, session: sess, start: start, end: end.Add(time.Minute), count: 1},
		{view: v.SessionProbes, session: sess, product: product, probe: probe, start: start.Add(-10 * time.Minute), end: start.Add(-10 * time.Minute), count: 1},
	})
	// The first merge updated the session's row rather than making another.
	var rows int
	var merged int64
	require.NoError(t, s.db.QueryRow(ctx, `SELECT count(*), sum(count) FROM `+rowsTable+`
		WHERE view = $1 AND session_id = $2 AND window_start = $3`, v.Sessions, sess, start).Scan(&rows, &merged))
	require.Equal(t, []int64{1, events + 1}, []int64{int64(rows), merged})
	mergeSessionRows(t, s, []sessionRow{
		{view: v.Sessions, session: sess, start: later, end: later.Add(10 * time.Minute), count: 4},
		{view: v.SessionProbes, session: sess, product: product, probe: probe, start: later, end: later.Add(5 * time.Minute), count: 2},
		{view: v.SessionProbes, session: sess, product: "fenix", probe: "a_new_probe", start: later.Add(time.Minute), end: later.Add(time.Minute), count: 1},
		{view: v.Sessions, session: "late-night", start: midnight.Add(-20 * time.Minute), end: midnight.Add(-5 * time.Minute), count: 3},
		{view: v.SessionProbes, session: "late-night", product: "fog", probe: "probe_1", start: midnight.Add(-15 * time.Minute), end: midnight.Add(-15 * time.Minute), count: 1},
	})
	mergeSessionRows(t, s, []sessionRow{
		{view: v.Sessions, session: "late-night", start: midnight.Add(50 * time.Minute), end: midnight.Add(70 * time.Minute), count: 2},
		{view: v.SessionProbes, session: "late-night", product: "fog", probe: "probe_1", start: midnight.Add(55 * time.Minute), end: midnight.Add(55 * time.Minute), count: 1},
		{view: v.SessionProbes, session: "late-night", product: "fog", probe: "probe_2", start: midnight.Add(56 * time.Minute), end: midnight.Add(56 * time.Minute), count: 1},
	})
	var cut []Range
	cut = append(cut, ranges...)
	cut = append(cut, aroundSession(start.Add(-10*time.Minute))...)
	cut = append(cut, aroundSession(midnight.Add(-20*time.Minute))...)
	assertSessionRollupMatchesViewRows(t, s, cut)

	// The rollup holds what its rows say, and only those: the session's
	// row, checked by hand against the merges above.
	var windows, count, probes int64
	var first, last time.Time
	require.NoError(t, s.db.QueryRow(ctx, `SELECT windows, count, probes, first_start, last_start FROM `+viewSessionsTable+`
		WHERE view = $1 AND session_id = 'late-night'`, v.SessionProbes).Scan(&windows, &count, &probes, &first, &last))
	assert.Equal(t, []int64{3, 3, 2}, []int64{windows, count, probes})
	assert.Equal(t, []time.Time{midnight.Add(-15 * time.Minute), midnight.Add(56 * time.Minute)}, []time.Time{first.UTC(), last.UTC()})
	var mismatched int
	require.NoError(t, s.db.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT view, session_id, min(window_start), max(window_start), max(window_end), count(*), sum(count),
			count(DISTINCT (coalesce(product, ''), probe_name)) FILTER (WHERE probe_name IS NOT NULL)
		FROM `+rowsTable+` WHERE session_id IS NOT NULL GROUP BY 1, 2
		EXCEPT ALL
		SELECT view, session_id, first_start, last_start, last_end, windows, count, probes FROM `+viewSessionsTable+`) d`).Scan(&mismatched))
	assert.Zero(t, mismatched, "rollup rows that differ from their view rows")

	// Deleting a session's later window leaves the rest; purging a view
	// takes its rollup rows with it.
	_, err := s.db.Exec(ctx, `DELETE FROM `+rowsTable+` WHERE view = $1 AND session_id = $2 AND window_start = $3`, v.Sessions, sess, later)
	require.NoError(t, err)
	assertSessionRollupMatchesViewRows(t, s, aroundSession(start))
	for _, view := range []string{v.SessionProbes, v.Sessions} {
		_, err := s.db.Exec(ctx, `DELETE FROM `+rowsTable+` WHERE view = $1`, view)
		require.NoError(t, err)
		var left int
		require.NoError(t, s.db.QueryRow(ctx, `SELECT count(*) FROM `+viewSessionsTable+` WHERE view = $1`, view).Scan(&left))
		assert.Zero(t, left, view)
	}
	require.NoError(t, s.db.QueryRow(ctx, `SELECT count(*) FROM `+viewSessionsTable+` WHERE view = $1`, v.ProbeSessionsDaily).Scan(&windows))
	assert.Positive(t, windows, "the other views' sessions stay")
}
