package systemtest

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// The comparisons every system test rests on see each kind of difference:
// a count off by one, a missing row, an extra row, a row of a view that is
// not a default view, a session's end moved, a wrong window start, an event
// missing, one never sent. (A comparison that saw nothing would make every
// test here pass.)
func TestComparisonsSeeEveryDifference(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	r := startReplica(t, dsn, "a", pipelineOptions{flush: 20 * time.Millisecond, leaseRetry: 20 * time.Millisecond, backoff: 20 * time.Millisecond}, nil)
	rng := rand.New(rand.NewPCG(5, 6))
	now := time.Now().UTC().Add(-time.Minute)
	events := append(session(rng, "o", "s1", now.Add(-20*time.Minute), 12, 20*time.Second),
		session(rng, "o", "s2", now.Add(-3*time.Hour), 8, 40*time.Second)...)
	deliver(ctx, t, []string{r.ingest}, otlpLogs(events))
	require.NoError(t, caughtUp(ctx, db, 10*time.Second))
	require.Empty(t, viewDiff(ctx, t, db))
	sent := ids(events)
	require.Empty(t, rawDiff(ctx, t, db, sent))
	require.NoError(t, r.stopViews())

	const cols = `view, window_start, tags_hash, tags, window_end, metric_type, count, sum, bucket_bounds, bucket_counts, min, max, last_value, last_value_time, updated_at`
	_, err := db.Exec(ctx, `CREATE TABLE kept AS SELECT `+cols+` FROM glam_usage_view_rows`)
	require.NoError(t, err)
	for _, c := range []struct{ corrupt, want string }{
		{`UPDATE glam_usage_view_rows SET count = count + 1, sum = sum + 1 WHERE ctid = (SELECT min(ctid) FROM glam_usage_view_rows WHERE view = 'glam.probe_views.hourly')`, "want"},
		{`DELETE FROM glam_usage_view_rows WHERE ctid = (SELECT min(ctid) FROM glam_usage_view_rows WHERE view = 'glam.page_views.daily')`, "missing row glam.page_views.daily"},
		{`INSERT INTO glam_usage_view_rows (view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
			VALUES ('glam.searches.daily', '2001-01-01', '\x00', '{"glam.product": "x"}', '2001-01-02', 'sum', 1, 1)`, "extra row glam.searches.daily"},
		{`INSERT INTO glam_usage_view_rows (view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
			VALUES ('someone.elses', '2001-01-01', '\x00', '{}', '2001-01-02', 'sum', 1, 1)`, "not a default view"},
		{`UPDATE glam_usage_view_rows SET window_end = window_end + interval '1 second' WHERE view = 'glam.sessions' AND session_id = 's1'`, "window_end"},
		{`UPDATE glam_usage_view_rows SET window_start = window_start - interval '1 second' WHERE view = 'glam.sessions' AND session_id = 's2'`, "missing row glam.sessions"},
		{`UPDATE glam_usage_view_rows SET metric_type = 'gauge' WHERE view = 'glam.actions.daily' OR view = 'glam.probe_views.daily'`, "gauge"},
	} {
		_, err := db.Exec(ctx, c.corrupt)
		require.NoError(t, err, c.corrupt)
		assert.Contains(t, viewDiff(ctx, t, db), c.want, c.corrupt)
		_, err = db.Exec(ctx, `DELETE FROM glam_usage_view_rows; INSERT INTO glam_usage_view_rows (`+cols+`) SELECT `+cols+` FROM kept`)
		require.NoError(t, err)
		require.Empty(t, viewDiff(ctx, t, db), "restored")
	}

	delete(sent, events[0].id)
	assert.Contains(t, rawDiff(ctx, t, db, sent), "stored but never sent")
	sent[events[0].id] = true
	sent["never-stored"] = true
	assert.Contains(t, rawDiff(ctx, t, db, sent), "accepted events stored")
}
