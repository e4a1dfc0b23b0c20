package probebuild

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// Tests of the HTTP contract and the queue that need no worker: workers: 0
// serves the API and queues jobs, as an extension beside a separate
// glam-probe-builder does.

func idleService(t *testing.T) (*Service, *httptest.Server) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Workers = 0
	s := newService(t, cfg, newPool(t), nil)
	return s, api(t, s)
}

var gcRequest = map[string]any{"product": "firefox", "channel": "nightly", "probe": "gc_ms"}

func TestBadRequestsAre400WithEveryProblem(t *testing.T) {
	_, srv := idleService(t)
	for name, c := range map[string]struct {
		body string
		want []string
	}{
		"not JSON":        {`{"product":`, []string{"not a probe-build request"}},
		"unknown field":   {`{"product":"firefox","channel":"nightly","probe":"gc_ms","colour":"red"}`, []string{`unknown field "colour"`}},
		"two values":      {`{"product":"firefox","channel":"nightly","probe":"gc_ms"} {}`, []string{"more than one JSON value"}},
		"empty":           {`{}`, []string{"product is required", "probe must be"}},
		"desktop channel": {`{"product":"firefox","channel":"aurora","probe":"gc_ms","process":"gpu2"}`, []string{"channel must be nightly, beta or release", "process must be parent, content or gpu"}},
		"injection":       {`{"product":"fenix","channel":"nightly","probe":"x","ping_type":"metrics; DROP TABLE t"}`, []string{"ping_type must be a lowercase identifier"}},
		"versions":        {`{"product":"firefox","channel":"beta","probe":"gc_ms","versions":11,"aggregation_level":"day"}`, []string{"versions must be between 1 and 10", "aggregation_level must be version or build_id"}},
		"glean fields":    {`{"product":"firefox","channel":"beta","probe":"gc_ms","ping_type":"metrics"}`, []string{"ping_type and app_id apply to fenix and fog only"}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := post(t, srv, c.body)
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			for _, w := range c.want {
				assert.Contains(t, body["error"], w)
			}
		})
	}
	resp, body := post(t, srv, `{}`, "Content-Type", "text/csv")
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
	assert.Contains(t, body["error"], "application/json")
}

func TestUnknownJobsAndMethods(t *testing.T) {
	_, srv := idleService(t)
	for _, path := range []string{"/00000000-0000-0000-0000-000000000000", "/not-a-uuid", "/00000000-0000-0000-0000-000000000000/result"} {
		resp, body := call(t, http.MethodGet, srv.URL+PathPrefix+path)
		assert.Equal(t, http.StatusNotFound, resp.StatusCode, path)
		assert.Equal(t, "no such probe build", body["error"])
	}
	resp, _ := call(t, http.MethodPut, srv.URL+PathPrefix)
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	assert.Equal(t, "GET, HEAD, POST", resp.Header.Get("Allow"))
	resp, _ = call(t, http.MethodPut, srv.URL+PathPrefix+"/00000000-0000-0000-0000-000000000000")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, _ = call(t, http.MethodDelete, srv.URL+PathPrefix+"/00000000-0000-0000-0000-000000000000")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestPostQueuesAJobWithLocationAndRetryAfter(t *testing.T) {
	s, srv := idleService(t)
	resp, body := post(t, srv, map[string]any{"product": "firefox", "channel": "nightly", "probe": "gc_ms", "os": "Windows", "process": "parent"})
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	id := body["id"].(string)
	assert.Equal(t, PathPrefix+"/"+id+"?aggregation_level=version&os=Windows&process=parent", resp.Header.Get("Location"))
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, StatusQueued, body["status"])
	assert.Equal(t, "glam_desktop_nightly_aggregation", body["table"])

	resp, body = call(t, http.MethodGet, srv.URL+resp.Header.Get("Location"))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, id, body["id"])
	assert.Equal(t, StatusQueued, body["status"])
	assert.Equal(t, 0.0, body["progress"])

	resp, body = call(t, http.MethodGet, srv.URL+PathPrefix+"/"+id+"/result?os=Windows")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "no result yet: back to the status")
	assert.Equal(t, PathPrefix+"/"+id+"?os=Windows", resp.Header.Get("Location"))
	assert.Equal(t, StatusQueued, body["status"])

	queued, running, err := QueueDepth(context.Background(), s.pool)
	require.NoError(t, err)
	assert.Equal(t, [2]int64{1, 0}, [2]int64{queued, running})
}

func TestConcurrentIdenticalRequestsMakeOneJob(t *testing.T) {
	s, srv := idleService(t)
	const n = 16
	ids := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := map[string]any{"product": "firefox", "channel": "nightly", "probe": "gc_ms"}
			if i%2 == 1 {
				req["os"] = "Linux" // another view of the same build
			}
			resp, body := post(t, srv, req)
			codes[i], ids[i] = resp.StatusCode, body["id"].(string)
		}()
	}
	wg.Wait()
	for i := range n {
		assert.Equal(t, http.StatusAccepted, codes[i])
		assert.Equal(t, ids[0], ids[i])
	}
	var jobs int
	require.NoError(t, s.pool.QueryRow(context.Background(), "SELECT count(*) FROM "+pgschema.ProbeBuildJobsTable).Scan(&jobs))
	assert.Equal(t, 1, jobs)

	// Another probe, channel or version count is another build.
	_, other := post(t, srv, map[string]any{"product": "firefox", "channel": "nightly", "probe": "gc_ms", "versions": 2})
	assert.NotEqual(t, ids[0], other["id"])
}

func TestIdempotencyKey(t *testing.T) {
	s, srv := idleService(t)
	resp1, body1 := post(t, srv, gcRequest, "Idempotency-Key", "k-1")
	require.Equal(t, http.StatusAccepted, resp1.StatusCode)
	// Cancelled meanwhile: the retried POST still gets that job, not a new one.
	_, _, err := s.q.cancel(context.Background(), body1["id"].(string))
	require.NoError(t, err)
	resp2, body2 := post(t, srv, gcRequest, "Idempotency-Key", "k-1")
	assert.Equal(t, http.StatusOK, resp2.StatusCode)
	assert.Equal(t, body1["id"], body2["id"])
	assert.Equal(t, StatusCancelled, body2["status"])

	resp3, body3 := post(t, srv, map[string]any{"product": "firefox", "channel": "beta", "probe": "gc_ms"}, "Idempotency-Key", "k-1")
	assert.Equal(t, http.StatusUnprocessableEntity, resp3.StatusCode)
	assert.Contains(t, body3["error"], "Idempotency-Key was already used with a different request")

	// Without the key the same request is a new job, as the first is over.
	resp4, body4 := post(t, srv, gcRequest)
	assert.Equal(t, http.StatusAccepted, resp4.StatusCode)
	assert.NotEqual(t, body1["id"], body4["id"])
}

func TestCancelQueuedJob(t *testing.T) {
	s, srv := idleService(t)
	_, body := post(t, srv, gcRequest)
	id := body["id"].(string)
	resp, body := call(t, http.MethodDelete, srv.URL+PathPrefix+"/"+id)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, StatusCancelled, body["status"])

	resp, body = call(t, http.MethodGet, srv.URL+PathPrefix+"/"+id)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, StatusCancelled, body["status"])
	assert.Empty(t, resp.Header.Get("Retry-After"))

	resp, body = call(t, http.MethodDelete, srv.URL+PathPrefix+"/"+id)
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Contains(t, body["error"], "already cancelled")

	j, err := s.q.claim(context.Background(), "w")
	require.NoError(t, err)
	assert.Nil(t, j, "a cancelled job is never claimed")
}

func TestPersonBeatsPrefetch(t *testing.T) {
	s, srv := idleService(t)
	ctx := context.Background()
	n, err := s.EnqueuePrefetch(ctx, []Request{
		{Product: "firefox", Channel: "nightly", Probe: "cycle_collector"},
		{Product: "firefox", Channel: "nightly", Probe: "gc_ms"},
		{Product: "firefox", Channel: "nightly", Probe: "bad probe"},
	})
	assert.ErrorContains(t, err, "probe must be")
	assert.Equal(t, 2, n)
	n, err = s.EnqueuePrefetch(ctx, []Request{{Product: "firefox", Channel: "nightly", Probe: "gc_ms"}})
	require.NoError(t, err)
	assert.Equal(t, 0, n, "already queued")

	_, body := post(t, srv, map[string]any{"product": "firefox", "channel": "beta", "probe": "a11y_instantiated_flag"})
	person := body["id"].(string)
	// A person now waits for a probe prefetch queued too: it moves up.
	_, joined := post(t, srv, gcRequest)

	first, err := s.q.claim(ctx, "w")
	require.NoError(t, err)
	second, err := s.q.claim(ctx, "w")
	require.NoError(t, err)
	third, err := s.q.claim(ctx, "w")
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{person, joined["id"].(string)}, []string{first.ID, second.ID})
	assert.Equal(t, "cycle_collector", third.Build.Probe)
	assert.Equal(t, PriorityPrefetch, third.Priority)

	queued, running, err := QueueDepth(ctx, s.pool)
	require.NoError(t, err)
	assert.Equal(t, [2]int64{0, 3}, [2]int64{queued, running})
}

// Without BigQuery credentials the service still starts and serves the API;
// builds fail at once with the reason.
func TestStartsWithoutBigQueryCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json")
	cfg := NewDefaultConfig()
	pool := newPool(t)
	s := newService(t, cfg, pool, nil)
	srv := api(t, s)
	resp, body := post(t, srv, gcRequest)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	j := waitStatus(t, pool, body["id"].(string), StatusFailed)
	assert.Equal(t, 1, j.Attempts)
	assert.Contains(t, j.Error, "attempt 1 of 3: bigquery client:")
	assert.Contains(t, j.Error, "/nonexistent/key.json")
}

// With prefetch on, the hotlist's probes not built recently are queued at
// low priority, once.
func TestPrefetchQueuesHotProbesNotBuiltRecently(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Workers = 0
	cfg.Prefetch = PrefetchConfig{Enabled: true, Interval: time.Hour, Days: 30, Limit: 3, NotBuiltWithin: 24 * time.Hour}
	pool := newPool(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, `INSERT INTO `+pgschema.ProbeLastBuiltTable+` (product, channel, probe, built_at, job_id, versions, rows_written)
		VALUES ('firefox', 'nightly', 'recent_probe', now() - interval '1 hour', gen_random_uuid(), '{120}', 5),
		       ('firefox', 'nightly', 'stale_probe', now() - interval '3 days', gen_random_uuid(), '{120}', 5)`)
	require.NoError(t, err)
	asked := make(chan [2]int, 1)
	s, err := New(cfg, pool, zap.NewNop(), builderOf(noopBuilder{}))
	require.NoError(t, err)
	s.SetHotlist(func(_ context.Context, days, limit int) ([]Request, error) {
		asked <- [2]int{days, limit}
		return []Request{
			{Product: "firefox", Channel: "nightly", Probe: "recent_probe"},
			{Product: "firefox", Channel: "nightly", Probe: "stale_probe"},
			{Product: "fenix", Channel: "release", Probe: "never_built"},
		}, nil
	})
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { _ = s.Shutdown(ctx) })
	assert.Equal(t, [2]int{30, 3}, <-asked)
	require.Eventually(t, func() bool {
		queued, _, err := QueueDepth(ctx, pool)
		return err == nil && queued == 2
	}, time.Minute, 10*time.Millisecond)
	rows, err := pool.Query(ctx, `SELECT build->>'probe', priority FROM `+pgschema.ProbeBuildJobsTable+` ORDER BY 1`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var probe string
		var prio int
		require.NoError(t, rows.Scan(&probe, &prio))
		got = append(got, fmt.Sprintf("%s/%d", probe, prio))
	}
	assert.Equal(t, []string{"never_built/0", "stale_probe/0"}, got)
}

func TestFinishedJobsAreDeletedAfterRetention(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Workers = 0
	cfg.FreshFor = time.Hour
	cfg.JobRetention = 2 * time.Hour
	pool := newPool(t)
	s := newService(t, cfg, pool, nil)
	ctx := context.Background()
	var ids []string
	for _, probe := range []string{"old_done", "recent_done", "old_queued"} {
		ids = append(ids, enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: probe}).ID)
	}
	_, err := pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET status = 'succeeded', finished_at = now() - interval '3 hours' WHERE id = $1`, ids[0])
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET status = 'failed', finished_at = now() - interval '1 hour' WHERE id = $1`, ids[1])
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET created_at = now() - interval '3 hours' WHERE id = $1`, ids[2])
	require.NoError(t, err)
	n, err := s.q.deleteExpired(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	_, err = s.q.get(ctx, ids[0])
	assert.ErrorIs(t, err, ErrNotFound)
	for _, id := range ids[1:] {
		_, err := s.q.get(ctx, id)
		assert.NoError(t, err)
	}
}

// GET on the collection lists the latest builds, newest first, each with
// its stage and progress, filtered by status.
func TestListShowsTheLatestBuildsWithTheirProgress(t *testing.T) {
	s, srv := idleService(t)
	ctx := context.Background()
	var ids []string
	for i, probe := range []string{"gc_ms", "cpu", "a11y_instantiated_flag"} {
		_, body := post(t, srv, map[string]any{"product": "firefox", "channel": "nightly", "probe": probe})
		ids = append(ids, body["id"].(string))
		// Minutes apart, so that the order is the creation order whatever
		// the clock's resolution.
		_, err := s.pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET created_at = now() - $2::interval WHERE id = $1`, ids[i], fmt.Sprintf("%d minutes", 10-i))
		require.NoError(t, err)
	}
	running, err := s.q.claim(ctx, "w")
	require.NoError(t, err)
	require.Equal(t, ids[0], running.ID, "the oldest is claimed first")
	require.NoError(t, s.q.heartbeat(ctx, running, "aggregating", 0.4))
	_, _, err = s.q.cancel(ctx, ids[2])
	require.NoError(t, err)

	list := func(query string) []map[string]any {
		t.Helper()
		resp, body := call(t, http.MethodGet, srv.URL+PathPrefix+query)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %v", query, body)
		var out []map[string]any
		for _, j := range body["probe_builds"].([]any) {
			out = append(out, j.(map[string]any))
		}
		return out
	}
	summary := func(jobs []map[string]any) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, fmt.Sprintf("%s %s %s %v", j["build"].(map[string]any)["probe"], j["status"], j["stage"], j["progress"]))
		}
		return out
	}
	all := list("")
	assert.Equal(t, []string{"a11y_instantiated_flag cancelled cancelled 0", "cpu queued queued 0", "gc_ms running aggregating 0.4"}, summary(all))
	assert.Equal(t, []any{ids[2], ids[1], ids[0]}, []any{all[0]["id"], all[1]["id"], all[2]["id"]})
	assert.Equal(t, PathPrefix+"/"+ids[0]+"?aggregation_level=version", all[2]["links"].(map[string]any)["status"])

	assert.Equal(t, []string{"cpu queued queued 0", "gc_ms running aggregating 0.4"}, summary(list("?status=queued,running")))
	assert.Equal(t, []string{"a11y_instantiated_flag cancelled cancelled 0", "gc_ms running aggregating 0.4"}, summary(list("?status=running&status=cancelled")))
	assert.Equal(t, []string{"a11y_instantiated_flag cancelled cancelled 0"}, summary(list("?limit=1")))
	assert.Empty(t, list("?status=succeeded"))

	for query, want := range map[string]string{
		"?status=done":   `status="done": send queued, running, succeeded, failed or cancelled`,
		"?limit=0":       `limit="0": send a whole number from 1 to 100`,
		"?limit=101":     `limit="101"`,
		"?colour=red":    "unknown parameter colour: this endpoint takes limit, status",
		"?limit=1&x=%00": "unknown parameter x",
	} {
		resp, body := call(t, http.MethodGet, srv.URL+PathPrefix+query)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, query)
		assert.Contains(t, body["error"], want, query)
	}
}
