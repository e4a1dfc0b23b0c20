package probebuild

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/probebuild/bigquerybuilder"
)

// Tests against a real BigQuery engine: the emulator, loaded with
// testdata/probebuild/data.yaml.

const (
	desktopHist   = "clients_daily_histogram_aggregates_v1"
	desktopScalar = "clients_daily_scalar_aggregates_v1"
	fenixHist     = "fenix_clients_daily_histogram_aggregates_metrics_v1"
	fenixScalar   = "fenix_clients_daily_scalar_aggregates_metrics_v1"
)

// enqueue queues a build of req as a person would.
func enqueue(t *testing.T, s *Service, req Request) *Job {
	t.Helper()
	require.NoError(t, req.Normalize())
	res, err := s.q.enqueue(context.Background(), req, PriorityInteractive, "")
	require.NoError(t, err)
	return res.Job
}

// refCase is a build whose rows the reference computes (reference_test.go)
// and of which reference_byhand_test.go holds rows computed by hand.
type refCase struct {
	name string
	req  Request
	// src is the table the build reads; scalar when a scalar probe.
	src    refSource
	scalar bool
	// minBuild and minUsers are the thresholds the config gives.
	minBuild, minUsers int64
	// config adjusts testConfig; builder, when set, replaces the service's.
	config  func(cfg *Config)
	builder func(t *testing.T, cfg Config) Builder
	// versions are the versions built.
	versions []int64
}

func (c refCase) want(t *testing.T, b Build) []Row {
	if c.scalar {
		return refScalars(t, c.src, b, c.minBuild, c.minUsers)
	}
	return refHistograms(t, c.src, b, c.minBuild, c.minUsers)
}

// refCases cover every metric kind: desktop exponential and linear
// histograms, sampled release, scalars and booleans; Glean timing, memory
// and custom distributions, labeled counters, counters and booleans, Glean
// release sampling; lookback_days and min_total_users; fenix and FOG tables.
func refCases() []refCase {
	desktop, desktopS := refSource{table: desktopHist}, refSource{table: desktopScalar}
	fenix, fenixS := refSource{table: fenixHist, glean: true}, refSource{table: fenixScalar, glean: true}
	linear := refSource{dataset: "glam_ref", table: desktopHist}
	fog := refSource{dataset: "glam_ref", table: "fog_clients_daily_histogram_aggregates_metrics_v1", glean: true}
	fogS := refSource{dataset: "glam_ref", table: "fog_clients_daily_scalar_aggregates_metrics_v1", glean: true}
	linearTables := func(minUsers int64) func(cfg *Config) {
		return func(cfg *Config) {
			cfg.BigQuery.Tables.Firefox.Histogram = refTable(desktopHist)
			cfg.BigQuery.Tables.Firefox.Scalar = ""
			cfg.BigQuery.Tables.Firefox.MinTotalUsers = minUsers
		}
	}
	lookback := linear
	lookback.since = "2026-11-21" // 10 days before 2026-12-01
	return []refCase{
		{name: "desktop exponential histogram nightly", req: Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"},
			src: desktop, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "desktop exponential histogram release, sampled Windows weighted", req: Request{Product: "firefox", Channel: "release", Probe: "gc_ms"},
			src: desktop, versions: []int64{120, 119, 118}},
		{name: "desktop histogram, two versions", req: Request{Product: "firefox", Channel: "nightly", Probe: "GC_MS", Versions: 2},
			src: desktop, minBuild: 1, versions: []int64{120, 119}},
		{name: "desktop linear histogram", req: Request{Product: "firefox", Channel: "nightly", Probe: "checkerboard_severity"},
			src: linear, minBuild: 1, config: linearTables(0), versions: []int64{121, 120, 119}},
		{name: "desktop linear histogram, min_total_users 1", req: Request{Product: "firefox", Channel: "nightly", Probe: "checkerboard_severity"},
			src: linear, minBuild: 1, minUsers: 1, config: linearTables(1), versions: []int64{121, 120, 119}},
		{name: "desktop linear histogram, lookback_days 10", req: Request{Product: "firefox", Channel: "nightly", Probe: "checkerboard_severity"},
			src: lookback, minBuild: 1, versions: []int64{120, 119, 118},
			config: func(cfg *Config) { linearTables(0)(cfg); cfg.BigQuery.LookbackDays = 10 },
			builder: func(t *testing.T, cfg Config) Builder {
				return bigQueryBuilder(t, cfg, bigquerybuilder.WithClock(func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) }))
			}},
		{name: "desktop scalar", req: Request{Product: "firefox", Channel: "nightly", Probe: "browser_engagement_max_concurrent_tab_count"},
			src: desktopS, scalar: true, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "desktop boolean scalar", req: Request{Product: "firefox", Channel: "nightly", Probe: "a11y_instantiated_flag"},
			src: desktopS, scalar: true, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "glean timing distribution", req: Request{Product: "fenix", Channel: "nightly", Probe: "geckoview_page_load_time"},
			src: fenix, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "glean labeled counter", req: Request{Product: "fenix", Channel: "nightly", Probe: "network_cache_hit"},
			src: fenix, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "glean counter", req: Request{Product: "fenix", Channel: "nightly", Probe: "events_total_uri_count"},
			src: fenixS, scalar: true, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "fog memory distribution", req: Request{Product: "fog", Channel: "nightly", Probe: "memory_total"},
			src: fog, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "fog custom distribution", req: Request{Product: "fog", Channel: "nightly", Probe: "fog_custom"},
			src: fog, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "fog custom distribution, min_total_users 1", req: Request{Product: "fog", Channel: "nightly", Probe: "fog_custom"},
			src: fog, minBuild: 1, minUsers: 1, versions: []int64{120, 119, 118},
			config: func(cfg *Config) { cfg.BigQuery.Tables.FOG.MinTotalUsers = 1 }},
		{name: "fog timing distribution release, sampled Windows weighted from 119", req: Request{Product: "fog", Channel: "release", Probe: "fog_timing"},
			src: fog, versions: []int64{120, 119, 118}},
		{name: "fog boolean", req: Request{Product: "fog", Channel: "nightly", Probe: "fog_flag"},
			src: fogS, scalar: true, minBuild: 1, versions: []int64{120, 119, 118}},
		{name: "fog counter", req: Request{Product: "fog", Channel: "nightly", Probe: "fog_counter"},
			src: fogS, scalar: true, minBuild: 1, versions: []int64{120, 119, 118}},
	}
}

// Every row a build writes equals the reference's, field by field, and the
// rows computed by hand are among them.
func TestBuildsMatchTheReference(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	byHand := handRows()
	for _, c := range refCases() {
		t.Run(c.name, func(t *testing.T) {
			cfg := testConfig(endpoint)
			if c.config != nil {
				c.config(&cfg)
			}
			var builder Builder
			if c.builder != nil {
				builder = c.builder(t, cfg)
			}
			pool := newPool(t)
			s := newService(t, cfg, pool, builder)
			j := enqueue(t, s, c.req)
			done := waitStatus(t, pool, j.ID, StatusSucceeded)
			assert.Equal(t, c.versions, done.VersionsBuilt)
			want := c.want(t, j.Build)
			require.NotEmpty(t, want)
			got := storedRows(t, pool, Build{Product: j.Build.Product, Channel: j.Build.Channel, Probe: want[0].Metric})
			assert.Equal(t, want, got)
			assert.Equal(t, int64(len(want)), *done.RowsWritten)
			assert.Equal(t, 1, done.Attempts)

			hand, ok := byHand[c.name]
			require.True(t, ok, "no rows by hand for %q", c.name)
			if hand.rows != 0 {
				assert.Len(t, got, hand.rows, "rows written")
			}
			gotByID := map[string]Row{}
			for _, r := range got {
				gotByID[rowID(r)] = r
			}
			for _, h := range hand.want {
				assert.Equal(t, h, gotByID[rowID(h)], "row %s, by hand", rowID(h))
			}
			for _, id := range hand.absent {
				assert.NotContains(t, gotByID, id, "row %s, by hand: not written", id)
			}
			if hand.check != nil {
				hand.check(t, gotByID)
			}
		})
	}
}

func rowsInVersions(rows []Row, versions []int64) []Row {
	var out []Row
	for _, r := range rows {
		for _, v := range versions {
			if r.Version == v {
				out = append(out, r)
			}
		}
	}
	return out
}

// The worked example of glam-math.md §4, computed by hand: clients A, B and
// C of nightly 120, parent process, all os and builds.
func TestWorkedExampleRowByHand(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	pool := newPool(t)
	s := newService(t, testConfig(endpoint), pool, nil)
	j := enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"})
	done := waitStatus(t, pool, j.ID, StatusSucceeded)
	assert.Equal(t, []int64{120, 119, 118}, done.VersionsBuilt)
	var r Row
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT total_users, total_sample, metric_type, histogram, percentiles,
			non_norm_histogram, non_norm_percentiles
		FROM glam_desktop_nightly_aggregation
		WHERE version = 120 AND os = '*' AND build_id = '*' AND process = 'parent' AND metric = 'gc_ms'
			AND metric_key = '' AND client_agg_type = 'summed_histogram'`).
		Scan(&r.TotalUsers, &r.TotalSample, &r.MetricType, &r.Histogram, &r.Percentiles, &r.NonNormHist, &r.NonNormPercent))
	assert.Equal(t, int64(3), r.TotalUsers)
	assert.Equal(t, int64(18), r.TotalSample)
	assert.Equal(t, "histogram-exponential", r.MetricType)
	assert.Equal(t, `{"0":0.025,"1":0.075,"2":0.175,"3":0.075,"5":0.0875,"9":0.2125,"16":0.0875,"29":0.15,"54":0.0875,"100":0.025}`, r.Histogram)
	assert.Equal(t, `{"0.1":0,"1":0,"5":1,"25":2,"50":9,"75":29,"95":54,"99":100,"99.9":100}`, r.Percentiles)
	assert.Equal(t, `{"0":0,"1":2,"2":6,"3":2,"5":1,"9":3,"16":1,"29":2,"54":1,"100":0}`, r.NonNormHist)
	assert.Equal(t, `{"0.1":1,"1":1,"5":1,"25":2,"50":3,"75":9,"95":54,"99":54,"99.9":54}`, r.NonNormPercent)

	// Build B4 has one client (I): below min_build_clients, it has no rows
	// of its own, but I counts in the build '*' rows.
	var b4, content int64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT
			count(*) FILTER (WHERE build_id = '20261103000000'),
			max(total_users) FILTER (WHERE process = 'content' AND os = '*' AND build_id = '*' AND version = 120)
		FROM glam_desktop_nightly_aggregation`).Scan(&b4, &content))
	assert.Equal(t, int64(0), b4)
	assert.Equal(t, int64(2), content, "D and I")

	// Build B2 has C for gc_ms and H for another probe: two clients over the
	// whole table pass min_build_clients 1, so B2 has rows.
	var b2 int64
	require.NoError(t, pool.QueryRow(context.Background(),
		`SELECT count(*) FROM glam_desktop_nightly_aggregation WHERE build_id = '20261102000000'`).Scan(&b2))
	assert.Equal(t, int64(2), b2, "(Darwin, B2) and ('*', B2)")

	var built time.Time
	var rows int64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT built_at, rows_written FROM glam_probe_last_built
		WHERE product = 'firefox' AND channel = 'nightly' AND probe = 'gc_ms'`).Scan(&built, &rows))
	assert.Equal(t, *done.RowsWritten, rows)
	assert.WithinDuration(t, *done.FinishedAt, built, time.Second)
}

// A client following the request-reply pattern as written: POST, wait
// Retry-After, poll, follow the 303, read the rows.
func TestRequestPollResultOverHTTP(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	pool := newPool(t)
	s := newService(t, testConfig(endpoint), pool, nil)
	srv := api(t, s)

	resp, body := post(t, srv, map[string]any{"product": "fenix", "channel": "nightly", "probe": "geckoview_page_load_time", "os": "*"})
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	id := body["id"].(string)
	location := resp.Header.Get("Location")
	require.Equal(t, PathPrefix+"/"+id+"?aggregation_level=version&os=%2A", location)
	var result string
	for polls := 0; result == ""; polls++ {
		require.Less(t, polls, 120, "the build never finished")
		wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		require.NoError(t, err)
		time.Sleep(time.Duration(wait) * time.Second)
		resp, body = call(t, http.MethodGet, srv.URL+location)
		switch resp.StatusCode {
		case http.StatusOK:
			assert.Contains(t, []any{StatusQueued, StatusRunning}, body["status"])
			assert.GreaterOrEqual(t, body["progress"].(float64), 0.0)
			assert.LessOrEqual(t, body["progress"].(float64), 1.0)
		case http.StatusSeeOther:
			result = resp.Header.Get("Location")
		default:
			t.Fatalf("status endpoint answered %d: %v", resp.StatusCode, body)
		}
	}
	assert.Equal(t, PathPrefix+"/"+id+"/result?aggregation_level=version&os=%2A", result)

	// The default client follows the 303 by itself.
	resp, err := http.Get(srv.URL + location)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var got struct {
		ID       string      `json:"id"`
		Table    string      `json:"table"`
		Response []ResultRow `json:"response"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&got))
	assert.Equal(t, id, got.ID)
	assert.Equal(t, "glam_fenix_aggregation", got.Table)
	// os '*', build '*': one row per ping_type (metrics and '*').
	require.Len(t, got.Response, 2)
	for _, r := range got.Response {
		assert.Equal(t, "*", r.OS)
		assert.Equal(t, "*", r.BuildID)
		assert.Equal(t, int64(120), r.Version)
		assert.Equal(t, "nightly", r.AppID)
		assert.Equal(t, int64(2), r.TotalUsers)
		var hist map[string]float64
		require.NoError(t, json.Unmarshal(r.Histogram, &hist), "histogram is a JSON object")
		assert.Len(t, hist, 17, "timing distribution buckets up to 17")
	}
	assert.ElementsMatch(t, []string{"metrics", "*"}, []string{got.Response[0].PingType, got.Response[1].PingType})

	// The same request again: the fresh result, at once.
	resp2, _ := post(t, srv, map[string]any{"product": "fenix", "channel": "nightly", "probe": "geckoview_page_load_time", "os": "*"})
	assert.Equal(t, http.StatusSeeOther, resp2.StatusCode)
	assert.Equal(t, result, resp2.Header.Get("Location"))

	// Another view of the same build: by build, every os.
	_, byBuild := call(t, http.MethodGet, srv.URL+PathPrefix+"/"+id+"/result?aggregation_level=build_id&ping_type=metrics")
	for _, r := range byBuild["response"].([]any) {
		row := r.(map[string]any)
		assert.Equal(t, "2026110100", row["build_id"])
		assert.Equal(t, "metrics", row["ping_type"])
		assert.Equal(t, "2026-11-01T00:00:00Z", row["build_date"])
	}
	assert.Len(t, byBuild["response"], 2, "os Android and '*'")
	resp3, bad := call(t, http.MethodGet, srv.URL+PathPrefix+"/"+id+"/result?process=parent")
	assert.Equal(t, http.StatusBadRequest, resp3.StatusCode)
	assert.Contains(t, bad["error"], "process applies to product firefox only")
}

func TestProbeWithoutDataFailsAtOnce(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	pool := newPool(t)
	s := newService(t, testConfig(endpoint), pool, nil)
	srv := api(t, s)
	_, body := post(t, srv, map[string]any{"product": "firefox", "channel": "beta", "probe": "gc_ms"})
	j := waitStatus(t, pool, body["id"].(string), StatusFailed)
	assert.Equal(t, 1, j.Attempts, "no retry for a probe without data")
	assert.Equal(t, `attempt 1 of 3: probe "gc_ms" has no data for firefox channel "beta" in `+
		"`glam-test.glam_etl.clients_daily_histogram_aggregates_v1` or `glam-test.glam_etl.clients_daily_scalar_aggregates_v1`", j.Error)
	resp, status := call(t, http.MethodGet, srv.URL+PathPrefix+"/"+j.ID)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, StatusFailed, status["status"])
	assert.Equal(t, j.Error, status["error"])
	// A client following redirects from the result lands on the error.
	resp, err := http.Get(srv.URL + PathPrefix + "/" + j.ID + "/result")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, PathPrefix+"/"+j.ID, resp.Request.URL.Path)
	var followed Job
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&followed))
	assert.Equal(t, j.Error, followed.Error)

	// A missing table is permanent too.
	cfg := testConfig(endpoint)
	cfg.BigQuery.Tables.Fenix.Histogram = "glam-test.glam_etl.nope_{ping_type}"
	cfg.BigQuery.Tables.Fenix.Scalar = ""
	s2 := newService(t, cfg, newPool(t), nil)
	j2 := enqueue(t, s2, Request{Product: "fenix", Channel: "nightly", Probe: "x"})
	failed := waitStatus(t, s2.pool, j2.ID, StatusFailed)
	assert.Equal(t, 1, failed.Attempts)
	assert.Contains(t, failed.Error, "histogram query on `glam-test.glam_etl.nope_metrics`")
}

func TestUnreachableBigQueryIsRetriedThenFails(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:" + strconv.Itoa(freePort()))
	cfg.MaxAttempts = 2
	// The BigQuery client retries a refused connection itself, until the
	// attempt's deadline.
	cfg.JobTimeout = 2 * time.Second
	pool := newPool(t)
	s := newService(t, cfg, pool, nil)
	j := enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"})
	failed := waitStatus(t, pool, j.ID, StatusFailed)
	assert.Equal(t, 2, failed.Attempts)
	assert.Contains(t, failed.Error, "attempt 2 of 2: build timed out after 2s: histogram query on")
}

// gatedBuilder holds builds at a gate until the test opens it.
type gatedBuilder struct {
	inner   Builder
	started chan string
	release chan struct{}
	// quiet hides the inner build's progress, so that it sends no heartbeat.
	quiet bool
}

func newGate(inner Builder) *gatedBuilder {
	return &gatedBuilder{inner: inner, started: make(chan string, 8), release: make(chan struct{})}
}

func (g *gatedBuilder) Build(ctx context.Context, b Build, progress Progress) (Output, error) {
	progress("at the gate", 0.01)
	g.started <- b.Key()
	select {
	case <-g.release:
	case <-ctx.Done():
		return Output{}, ctx.Err()
	}
	if g.quiet {
		progress = func(string, float64) {}
	}
	return g.inner.Build(ctx, b, progress)
}

func TestCancelRunningJob(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	cfg := testConfig(endpoint)
	pool := newPool(t)
	gate := newGate(bigQueryBuilder(t, cfg))
	core, logs := observer.New(zap.InfoLevel)
	s, err := New(cfg, pool, zap.New(core), builderOf(gate))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	srv := api(t, s)

	_, body := post(t, srv, gcRequest)
	id := body["id"].(string)
	<-gate.started
	require.Eventually(t, func() bool {
		j, err := s.q.get(context.Background(), id)
		return err == nil && j.Status == StatusRunning && j.Stage == "at the gate" && j.Progress == 0.01
	}, time.Minute, 10*time.Millisecond, "the status shows the build's stage and progress")
	resp, body := call(t, http.MethodDelete, srv.URL+PathPrefix+"/"+id)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, StatusCancelled, body["status"])
	require.Eventually(t, func() bool {
		return logs.FilterMessage("probe build abandoned: the job was cancelled or taken over").Len() == 1
	}, time.Minute, 10*time.Millisecond)
	var rows int64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM glam_desktop_nightly_aggregation`).Scan(&rows))
	assert.Equal(t, int64(0), rows)
	j := waitStatus(t, pool, id, StatusCancelled)
	assert.Nil(t, j.RowsWritten)
}

// A worker that stalls mid-job (its heartbeats stop, as when it is killed or
// cut off) loses the job when its lease expires; another worker builds it.
// When the stalled one wakes and finishes, its rows are discarded: the job
// completes once and its rows are written once.
func TestStalledWorkerLosesItsJobAndItsRowsAreNotWritten(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	cfg := testConfig(endpoint)
	cfg.Lease = time.Second
	pool := newPool(t)

	stalled := newGate(bigQueryBuilder(t, cfg))
	stalled.quiet = true
	core, logs := observer.New(zap.InfoLevel)
	a, err := New(cfg, pool, zap.New(core), builderOf(stalled))
	require.NoError(t, err)
	a.cfg.Heartbeat = time.Hour // a's heartbeats stop once it holds the job
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })

	j := enqueue(t, a, Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"})
	<-stalled.started
	first := waitStatus(t, pool, j.ID, StatusRunning)
	assert.Equal(t, 1, first.Attempts)

	newService(t, cfg, pool, bigQueryBuilder(t, cfg))
	done := waitStatus(t, pool, j.ID, StatusSucceeded)
	assert.Equal(t, 2, done.Attempts, "taken again after the lease expired")
	want := storedRows(t, pool, j.Build)
	require.Len(t, want, int(*done.RowsWritten))

	close(stalled.release) // a wakes up and finishes its build
	require.Eventually(t, func() bool {
		return logs.FilterMessage("probe build finished but the job was cancelled or taken over: rows discarded").Len() == 1
	}, 2*time.Minute, 10*time.Millisecond)
	after := waitStatus(t, pool, j.ID, StatusSucceeded)
	assert.Equal(t, done.FinishedAt, after.FinishedAt, "completed once")
	assert.Equal(t, 2, after.Attempts)
	assert.Equal(t, want, storedRows(t, pool, j.Build))
	var updatedSince int64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM glam_desktop_nightly_aggregation
		WHERE xmin::text::bigint > (SELECT xmin::text::bigint FROM `+pgschema.ProbeBuildJobsTable+` WHERE id = $1)`, j.ID).Scan(&updatedSince))
	assert.Equal(t, int64(0), updatedSince, "no row written after the job completed")
}

// Shutdown hands a running job back without counting the attempt; another
// worker builds it.
func TestShutdownHandsTheJobBack(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	cfg := testConfig(endpoint)
	cfg.MaxAttempts = 1
	pool := newPool(t)
	gate := newGate(bigQueryBuilder(t, cfg))
	a, err := New(cfg, pool, zap.NewNop(), builderOf(gate))
	require.NoError(t, err)
	require.NoError(t, a.Start(context.Background()))
	j := enqueue(t, a, Request{Product: "fenix", Channel: "nightly", Probe: "events_total_uri_count"})
	<-gate.started
	waitStatus(t, pool, j.ID, StatusRunning)
	require.NoError(t, a.Shutdown(context.Background()))
	back := waitStatus(t, pool, j.ID, StatusQueued)
	assert.Equal(t, 0, back.Attempts)

	newService(t, cfg, pool, bigQueryBuilder(t, cfg))
	done := waitStatus(t, pool, j.ID, StatusSucceeded)
	assert.Equal(t, 1, done.Attempts, "with max_attempts 1, the handed-back attempt did not count")
}

// A job whose worker stops heart-beating on its last attempt fails, with
// the reason.
func TestLeaseExpiryOnTheLastAttemptFailsTheJob(t *testing.T) {
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Lease = time.Second
	cfg.MaxAttempts = 1
	pool := newPool(t)
	gate := newGate(noopBuilder{})
	t.Cleanup(func() { close(gate.release) })
	a, err := New(cfg, pool, zap.NewNop(), builderOf(gate))
	require.NoError(t, err)
	a.cfg.Heartbeat = time.Hour
	a.name = "stalled-host:1:abc"
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(func() { _ = a.Shutdown(context.Background()) })
	j := enqueue(t, a, Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"})
	<-gate.started

	idle := cfg
	idle.Workers = 1 // a second worker, whose lease checks find the expiry
	newService(t, idle, pool, noopBuilder{})
	failed := waitStatus(t, pool, j.ID, StatusFailed)
	assert.Equal(t, "attempt 1 of 1: lease expired: worker stalled-host:1:abc#0 stopped sending heartbeats", failed.Error)
	assert.NotNil(t, failed.FinishedAt)
}
