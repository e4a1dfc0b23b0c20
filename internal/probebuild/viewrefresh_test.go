package probebuild

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// GLAM's materialized views, with GLAM's own DDL (mozilla/glam,
// glam/api/migrations/), as its latest migrations leave them:
//
//   - desktop: 0025_non_normalized_aggregations.py, sql_create and
//     sql_rename (the view is made as view_…_temp and renamed; there is no
//     earlier view here for its _old step to drop);
//   - fenix and fog: the last RunSQL operations of 0022_sample_counts.py.
//
// The views are SELECT * over the tables internal/pgschema creates with
// GLAM's columns.
func glamViewsDDL() []string {
	var sql []string
	for _, channel := range []string{"nightly", "beta", "release"} {
		sql = append(sql,
			fmt.Sprintf("CREATE MATERIALIZED VIEW view_glam_desktop_%s_aggregation_temp AS SELECT * FROM glam_desktop_%s_aggregation;", channel, channel),
			fmt.Sprintf("CREATE UNIQUE INDEX ON view_glam_desktop_%s_aggregation_temp (id);", channel),
			fmt.Sprintf("CREATE INDEX ON view_glam_desktop_%s_aggregation_temp (version);", channel),
			fmt.Sprintf("CREATE INDEX ON view_glam_desktop_%s_aggregation_temp USING HASH (metric);", channel),
			fmt.Sprintf("CREATE INDEX ON view_glam_desktop_%s_aggregation_temp (os);", channel),
			fmt.Sprintf("ALTER MATERIALIZED VIEW view_glam_desktop_%s_aggregation_temp rename TO view_glam_desktop_%s_aggregation;", channel, channel),
		)
	}
	return append(sql,
		"CREATE MATERIALIZED VIEW view_glam_fenix_aggregation AS SELECT * FROM glam_fenix_aggregation",
		"CREATE UNIQUE INDEX ON view_glam_fenix_aggregation (id)",
		"CREATE INDEX ON view_glam_fenix_aggregation (version)",
		"CREATE INDEX ON view_glam_fenix_aggregation (app_id)",
		"CREATE INDEX ON view_glam_fenix_aggregation USING HASH (metric)",
		"CREATE MATERIALIZED VIEW view_glam_fog_aggregation AS SELECT * FROM glam_fog_aggregation",
		"CREATE UNIQUE INDEX ON view_glam_fog_aggregation (id)",
		"CREATE INDEX ON view_glam_fog_aggregation (version)",
		"CREATE INDEX ON view_glam_fog_aggregation (app_id)",
		"CREATE INDEX ON view_glam_fog_aggregation USING HASH (metric)",
	)
}

// createGLAMViews runs GLAM's DDL of its views, as GLAM's migrations would
// on a database that already holds its tables.
func createGLAMViews(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	for _, stmt := range glamViewsDDL() {
		_, err := pool.Exec(context.Background(), stmt)
		require.NoError(t, err, stmt)
	}
}

// waitRefresh waits for job id's view refresh to end (refreshed, failed or
// skipped) and returns the job.
func waitRefresh(t testing.TB, pool *pgxpool.Pool, id string) *Job {
	t.Helper()
	j := waitStatus(t, pool, id, StatusSucceeded)
	q := &queue{pool: pool}
	deadline := time.Now().Add(time.Minute)
	for j.ViewRefresh == nil || j.ViewRefresh.Status == RefreshPending {
		if time.Now().After(deadline) {
			vr, _ := json.Marshal(j.ViewRefresh)
			t.Fatalf("job %s: view refresh still pending: %s", id, vr)
		}
		time.Sleep(20 * time.Millisecond)
		var err error
		j, err = q.get(context.Background(), id)
		require.NoError(t, err)
	}
	return j
}

// otherProbeRows puts rows of another probe in GLAM's desktop nightly table
// before GLAM's views exist, so the views start with content, as in GLAM.
func otherProbeRows(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `INSERT INTO glam_desktop_nightly_aggregation
		(version, os, build_id, process, metric, metric_key, client_agg_type, metric_type, total_users,
		 histogram, percentiles, total_sample)
		VALUES (121, '*', '*', 'parent', 'other_probe', '', 'summed_histogram', 'histogram-linear', 500,
		 '{"0":0.5,"1":0.5}', '{"50":0}', 1000)`)
	require.NoError(t, err)
}

func TestBuiltProbeIsReadThroughGLAMsMaterializedView(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	pool := newPool(t)
	ctx := context.Background()
	otherProbeRows(t, pool)
	createGLAMViews(t, pool)
	s := newService(t, testConfig(endpoint), pool, nil)
	srv := api(t, s)

	for _, c := range []struct {
		name string
		req  Request
		view string
		src  refSource
	}{
		{"desktop histogram", Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"},
			"view_glam_desktop_nightly_aggregation", refSource{table: desktopHist}},
		{"glean timing distribution", Request{Product: "fenix", Channel: "nightly", Probe: "geckoview_page_load_time"},
			"view_glam_fenix_aggregation", refSource{table: fenixHist, glean: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			probe := Build{Product: c.req.Product, Probe: c.req.Probe}
			require.Empty(t, rowsOf(t, pool, c.view, probe), "the view shows nothing of the probe before the build")
			before := time.Now()
			j := enqueue(t, s, c.req)
			done := waitRefresh(t, pool, j.ID)

			vr := done.ViewRefresh
			require.NotNil(t, vr.View)
			assert.Equal(t, c.view, *vr.View)
			assert.Equal(t, "public", vr.Schema)
			assert.Equal(t, RefreshRefreshed, vr.Status, "error %q", vr.Error)
			assert.Equal(t, j.ID, vr.RefreshedBy)
			assert.Equal(t, 1, vr.Attempts)
			assert.Empty(t, vr.Error)
			require.NotNil(t, vr.DurationMS)
			assert.Greater(t, *vr.DurationMS, 0.0)
			require.NotNil(t, vr.RefreshedAt)
			assert.False(t, vr.RefreshedAt.Before(*done.FinishedAt), "refreshed after the rows committed")
			assert.Less(t, *vr.DurationMS, float64(time.Since(before).Milliseconds()+1))

			// Through the view, the rows of GLAM's math computed by the
			// reference (reference_test.go), the same as in the table.
			want := refHistograms(t, c.src, done.Build, 1, 0)
			require.NotEmpty(t, want)
			b := done.Build
			b.Probe = want[0].Metric
			got := rowsInVersions(rowsOf(t, pool, c.view, b), done.VersionsBuilt)
			assert.Equal(t, want, got)
			assert.Equal(t, rowsOf(t, pool, AggregationTable(b), b), rowsOf(t, pool, c.view, b))
			assert.Equal(t, int64(len(want)), *done.RowsWritten)

			// The status GLAM's app polls shows the refresh.
			resp, body := call(t, http.MethodGet, srv.URL+PathPrefix+"/"+j.ID)
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			assert.Empty(t, resp.Header.Get("Retry-After"), "nothing left to wait for")
			got2 := body["view_refresh"].(map[string]any)
			assert.Equal(t, c.view, got2["view"])
			assert.Equal(t, "refreshed", got2["status"])
			assert.Equal(t, *vr.DurationMS, got2["duration_ms"])
			assert.Equal(t, j.ID, got2["refreshed_by"])
		})
	}

	// GLAM's Postgres read of desktop (get_firefox_aggregations_from_pg in
	// glam/api/views.py): the view's latest 3 versions, os '*', build '*'.
	// It finds the worked example's row (glam-math.md §4, by hand), and
	// the other probe's row is still there.
	var users, sample int64
	var hist, perc string
	require.NoError(t, pool.QueryRow(ctx, `SELECT total_users, total_sample, histogram, percentiles
		FROM view_glam_desktop_nightly_aggregation
		WHERE metric = 'gc_ms' AND os = '*' AND build_id = '*' AND process = 'parent'
			AND version IN (SELECT generate_series(max(version) - 2, max(version))
				FROM view_glam_desktop_nightly_aggregation)
			AND version = 120 AND client_agg_type = 'summed_histogram'`).Scan(&users, &sample, &hist, &perc))
	assert.Equal(t, int64(3), users)
	assert.Equal(t, int64(18), sample)
	assert.Equal(t, `{"0":0.025,"1":0.075,"2":0.175,"3":0.075,"5":0.0875,"9":0.2125,"16":0.0875,"29":0.15,"54":0.0875,"100":0.025}`, hist)
	assert.Equal(t, `{"0.1":0,"1":0,"5":1,"25":2,"50":9,"75":29,"95":54,"99":100,"99.9":100}`, perc)
	var other int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT total_users FROM view_glam_desktop_nightly_aggregation
		WHERE metric = 'other_probe'`).Scan(&other))
	assert.Equal(t, int64(500), other)
}

func TestBuildWithoutGLAMsViewsSaysThereIsNoneToRefresh(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	pool := newPool(t)
	s := newService(t, testConfig(endpoint), pool, nil)
	srv := api(t, s)
	j := enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"})
	done := waitRefresh(t, pool, j.ID)
	assert.Equal(t, &ViewRefresh{Schema: "public", Status: RefreshSkipped,
		Reason: "no materialized view public.view_glam_desktop_nightly_aggregation in this database: nothing to refresh"},
		done.ViewRefresh)
	want := refHistograms(t, refSource{table: desktopHist}, done.Build, 1, 0)
	assert.Equal(t, want, rowsInVersions(storedRows(t, pool, done.Build), done.VersionsBuilt))

	resp, body := call(t, http.MethodGet, srv.URL+PathPrefix+"/"+j.ID)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	vr := body["view_refresh"].(map[string]any)
	assert.Contains(t, vr, "view")
	assert.Nil(t, vr["view"], `"view": null`)
	assert.Equal(t, "skipped", vr["status"])
}

// rowsBuilder builds n made-up desktop rows of any probe, without
// BigQuery, for the refresh's failure paths and the benchmark.
type rowsBuilder struct{ n int }

func (r rowsBuilder) Build(_ context.Context, b Build, _ Progress) (Output, error) {
	return Output{Table: AggregationTable(b), Rows: madeUpRows(b.Probe, r.n), Versions: []int64{120}}, nil
}

// madeUpHistogram is a GLAM histogram of 50 buckets, the size of a real one.
var madeUpHistogram = func() string {
	var sb strings.Builder
	sb.WriteString("{")
	for k := range 50 {
		if k > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `"%d":0.%04d`, k*k, (k*37)%10000)
	}
	sb.WriteString("}")
	return sb.String()
}()

const madeUpPercentiles = `{"0.1":0,"1":1,"5":4,"25":16,"50":36,"75":100,"95":400,"99":900,"99.9":1600}`

func madeUpRows(probe string, n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		rows[i] = Row{Version: 120, OS: "*", BuildID: fmt.Sprintf("%014d", 20260000000000+i), Process: "parent",
			Metric: probe, MetricType: "histogram-exponential", ClientAggType: "summed_histogram",
			TotalUsers: int64(1000 + i), TotalSample: int64(5000 + i), Histogram: madeUpHistogram,
			Percentiles: madeUpPercentiles, NonNormHist: madeUpHistogram, NonNormPercent: madeUpPercentiles}
	}
	return rows
}

func strPtr(s string) *string { return &s }

// A view GLAM's importer could not refresh CONCURRENTLY either (no unique
// index): the job still succeeds with its rows, and says why the view does
// not show them. A later build's refresh shows them, and says so.
func TestFailedRefreshKeepsTheRowsAndALaterRefreshShowsThem(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `CREATE MATERIALIZED VIEW view_glam_desktop_beta_aggregation AS SELECT * FROM glam_desktop_beta_aggregation`)
	require.NoError(t, err)
	cfg := testConfig("http://127.0.0.1:1")
	s := newService(t, cfg, pool, rowsBuilder{n: 3})

	first := waitRefresh(t, pool, enqueue(t, s, Request{Product: "firefox", Channel: "beta", Probe: "first_probe"}).ID)
	vr := first.ViewRefresh
	assert.Equal(t, RefreshFailed, vr.Status)
	assert.Equal(t, strPtr("view_glam_desktop_beta_aggregation"), vr.View)
	assert.Equal(t, 1, vr.Attempts, "not retried: another attempt would fail alike")
	assert.Contains(t, vr.Error, `cannot refresh materialized view "public.view_glam_desktop_beta_aggregation" concurrently`)
	assert.Contains(t, vr.Error, "Create a unique index with no WHERE clause")
	assert.Nil(t, vr.RefreshedAt)
	assert.Equal(t, StatusSucceeded, first.Status)
	assert.Len(t, storedRows(t, pool, first.Build), 3, "the rows are committed")
	assert.Empty(t, rowsOf(t, pool, "view_glam_desktop_beta_aggregation", first.Build))

	_, err = pool.Exec(ctx, `CREATE UNIQUE INDEX ON view_glam_desktop_beta_aggregation (id)`)
	require.NoError(t, err)
	second := waitRefresh(t, pool, enqueue(t, s, Request{Product: "firefox", Channel: "beta", Probe: "second_probe"}).ID)
	assert.Equal(t, RefreshRefreshed, second.ViewRefresh.Status)
	first, err = s.q.get(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, RefreshRefreshed, first.ViewRefresh.Status)
	assert.Equal(t, second.ID, first.ViewRefresh.RefreshedBy, "the second build's refresh showed the first's rows")
	assert.Empty(t, first.ViewRefresh.Error)
	assert.Equal(t, storedRows(t, pool, first.Build), rowsOf(t, pool, "view_glam_desktop_beta_aggregation", first.Build))
	assert.Equal(t, storedRows(t, pool, second.Build), rowsOf(t, pool, "view_glam_desktop_beta_aggregation", second.Build))
}

// holdViewLock runs a refresh of view in an open transaction, as GLAM's
// importer does for a long time, holding the view's EXCLUSIVE lock until
// the returned func is called.
func holdViewLock(t *testing.T, pool *pgxpool.Pool, view string) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `REFRESH MATERIALIZED VIEW CONCURRENTLY `+pgx.Identifier{view}.Sanitize())
	require.NoError(t, err)
	released := false
	release = func() {
		if !released {
			released = true
			require.NoError(t, tx.Commit(ctx))
		}
	}
	t.Cleanup(release)
	return release
}

// GLAM's importer refreshing the view: the worker's refresh times out on
// the lock, says so while it retries, and refreshes once the lock is free.
func TestRefreshWaitsOutGLAMsImporter(t *testing.T) {
	pool := newPool(t)
	createGLAMViews(t, pool)
	cfg := testConfig("http://127.0.0.1:1")
	cfg.ViewRefresh.LockTimeout = 100 * time.Millisecond
	cfg.ViewRefresh.MaxAttempts = 50
	cfg.RetryBackoff, cfg.MaxRetryBackoff = 50*time.Millisecond, 50*time.Millisecond
	release := holdViewLock(t, pool, "view_glam_desktop_nightly_aggregation")
	s := newService(t, cfg, pool, rowsBuilder{n: 3})
	j := enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "waiting_probe"})

	done := waitStatus(t, pool, j.ID, StatusSucceeded)
	for done.ViewRefresh.Attempts < 2 {
		time.Sleep(20 * time.Millisecond)
		var err error
		done, err = s.q.get(context.Background(), j.ID)
		require.NoError(t, err)
	}
	assert.Equal(t, RefreshPending, done.ViewRefresh.Status)
	assert.Contains(t, done.ViewRefresh.Error, "canceling statement due to lock timeout (SQLSTATE 55P03): waited view_refresh.lock_timeout (100ms)")

	// A client polling meanwhile gets the result and a hint to poll on.
	resp, body := call(t, http.MethodGet, api(t, s).URL+PathPrefix+"/"+j.ID)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, "pending", body["view_refresh"].(map[string]any)["status"])

	release()
	done = waitRefresh(t, pool, j.ID)
	assert.Equal(t, RefreshRefreshed, done.ViewRefresh.Status)
	assert.Greater(t, done.ViewRefresh.Attempts, 1)
	assert.Empty(t, done.ViewRefresh.Error, "the retried error is gone once refreshed")
	assert.Len(t, rowsOf(t, pool, "view_glam_desktop_nightly_aggregation", j.Build), 3)
}

func TestRefreshGivesUpAfterMaxAttempts(t *testing.T) {
	pool := newPool(t)
	createGLAMViews(t, pool)
	cfg := testConfig("http://127.0.0.1:1")
	cfg.ViewRefresh.LockTimeout = 50 * time.Millisecond
	cfg.ViewRefresh.MaxAttempts = 2
	holdViewLock(t, pool, "view_glam_desktop_nightly_aggregation")
	s := newService(t, cfg, pool, rowsBuilder{n: 3})
	done := waitRefresh(t, pool, enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "p"}).ID)
	assert.Equal(t, RefreshFailed, done.ViewRefresh.Status)
	assert.Equal(t, 2, done.ViewRefresh.Attempts)
	assert.Contains(t, done.ViewRefresh.Error, "lock timeout")
	assert.Len(t, storedRows(t, pool, done.Build), 3)
}

// Two builds on one table while the first one's refresh waits for GLAM's
// importer: the second worker does not queue a refresh of its own behind
// the lock; the first refreshes again for it once its own refresh is done.
func TestConcurrentBuildsOnATableShareTheRefresher(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	createGLAMViews(t, pool)
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Workers = 2
	cfg.Lease, cfg.Heartbeat = time.Hour, time.Minute // no sweep within the test: the refresher does it all
	cfg.ViewRefresh.LockTimeout = 0                   // wait for the importer as long as it takes
	release := holdViewLock(t, pool, "view_glam_desktop_nightly_aggregation")
	s := newService(t, cfg, pool, rowsBuilder{n: 3})

	first := enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "first_probe"})
	require.Eventually(t, func() bool { // its REFRESH waits on the importer's lock
		var waiting bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'REFRESH%')`).Scan(&waiting))
		return waiting
	}, time.Minute, 10*time.Millisecond)
	second := enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "second_probe"})
	j2 := waitStatus(t, pool, second.ID, StatusSucceeded)
	assert.Equal(t, RefreshPending, j2.ViewRefresh.Status)
	// The second worker is free again: it builds a third job meanwhile.
	third := enqueue(t, s, Request{Product: "firefox", Channel: "beta", Probe: "third_probe"})
	waitRefresh(t, pool, third.ID)

	release()
	d1, d2 := waitRefresh(t, pool, first.ID), waitRefresh(t, pool, second.ID)
	assert.Equal(t, RefreshRefreshed, d1.ViewRefresh.Status)
	assert.Equal(t, RefreshRefreshed, d2.ViewRefresh.Status)
	assert.Equal(t, first.ID, d1.ViewRefresh.RefreshedBy)
	assert.Equal(t, first.ID, d2.ViewRefresh.RefreshedBy, "the first job's worker refreshed for the second")
	assert.True(t, d2.ViewRefresh.RefreshedAt.After(*d1.ViewRefresh.RefreshedAt), "in a refresh of its own, begun after it committed")
	for _, j := range []*Job{d1, d2} {
		assert.Equal(t, storedRows(t, pool, j.Build), rowsOf(t, pool, "view_glam_desktop_nightly_aggregation", j.Build))
	}
}

// A worker that stopped between its commit and its refresh (here: another
// refresher seemed busy, then went away) leaves its job pending; the
// workers' lease check finds it and refreshes, once for all such jobs.
func TestPendingRefreshesWithoutARefresherAreSwept(t *testing.T) {
	pool := newPool(t)
	ctx := context.Background()
	createGLAMViews(t, pool)
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Workers = 2
	// The test must not let go of the lock before both workers have tried
	// it: a worker tries only after its job's status committed.
	core, logs := observer.New(zap.DebugLevel)
	s := newServiceLogging(t, cfg, pool, rowsBuilder{n: 3}, zap.New(core))

	// Hold the view's refresher lock, as a refresher that then dies.
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	var got bool
	require.NoError(t, tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`,
		refreshLockName("public", "view_glam_desktop_nightly_aggregation")).Scan(&got))
	require.True(t, got)
	a := waitStatus(t, pool, enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "a"}).ID, StatusSucceeded)
	b := waitStatus(t, pool, enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "b"}).ID, StatusSucceeded)
	assert.Equal(t, RefreshPending, a.ViewRefresh.Status)
	assert.Equal(t, RefreshPending, b.ViewRefresh.Status)
	require.Eventually(t, func() bool {
		return logs.FilterMessageSnippet("another session is refreshing GLAM's view").Len() >= 2
	}, 10*time.Second, 10*time.Millisecond, "both workers left their jobs pending for the lock's holder")
	require.NoError(t, tx.Rollback(ctx))

	// Swept a lease (2 s here) after they finished.
	a, b = waitRefresh(t, pool, a.ID), waitRefresh(t, pool, b.ID)
	assert.Equal(t, RefreshRefreshed, a.ViewRefresh.Status)
	assert.Equal(t, RefreshRefreshed, b.ViewRefresh.Status)
	assert.Equal(t, a.ViewRefresh.RefreshedAt, b.ViewRefresh.RefreshedAt, "one refresh for both")
	assert.Equal(t, a.ID, b.ViewRefresh.RefreshedBy, "in the name of the oldest")
	assert.GreaterOrEqual(t, a.ViewRefresh.RefreshedAt.Sub(*a.FinishedAt), cfg.Lease)
	assert.Len(t, rowsOf(t, pool, "view_glam_desktop_nightly_aggregation", b.Build), 3)
}

func TestViewRefreshDisabledLeavesGLAMsViewAlone(t *testing.T) {
	pool := newPool(t)
	createGLAMViews(t, pool)
	cfg := testConfig("http://127.0.0.1:1")
	cfg.ViewRefresh.Enabled = false
	s := newService(t, cfg, pool, rowsBuilder{n: 2})
	done := waitRefresh(t, pool, enqueue(t, s, Request{Product: "firefox", Channel: "release", Probe: "p"}).ID)
	assert.Equal(t, RefreshSkipped, done.ViewRefresh.Status)
	assert.Equal(t, strPtr("view_glam_desktop_release_aggregation"), done.ViewRefresh.View)
	assert.Contains(t, done.ViewRefresh.Reason, "view_refresh.enabled is false")
	assert.Empty(t, rowsOf(t, pool, "view_glam_desktop_release_aggregation", done.Build))
}

// The view_refresh document round-trips through the job table and the API
// as the README shows it.
func TestViewRefreshJSON(t *testing.T) {
	at := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)
	ms := 812.5
	b, err := json.Marshal(&ViewRefresh{Schema: "public", View: strPtr("view_glam_fog_aggregation"), Status: RefreshRefreshed,
		RefreshedAt: &at, DurationMS: &ms, RefreshedBy: "j1", Attempts: 1})
	require.NoError(t, err)
	assert.JSONEq(t, `{"schema":"public","view":"view_glam_fog_aggregation","status":"refreshed",
		"refreshed_at":"2026-11-05T10:00:00Z","duration_ms":812.5,"refreshed_by":"j1","attempts":1}`, string(b))
	b, err = json.Marshal(&ViewRefresh{Schema: "public", Status: RefreshSkipped, Reason: "no materialized view"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"schema":"public","view":null,"status":"skipped","reason":"no materialized view"}`, string(b))
}
