package probebuild

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.yaml.in/yaml/v3"

	"github.com/mozilla/otelcol-glam/internal/jsonapi"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/probebuild/bigquerybuilder"
)

// EnvEmulator names the BigQuery emulator binary; by default the one
// `make bigquery-emulator` builds at .tools/bigquery-emulator.
const EnvEmulator = "GLAM_BIGQUERY_EMULATOR"

const (
	emulatorProject = "glam-test"
	dataSet         = "../../testdata/probebuild/data.yaml"
	// refDataSet is more data of the reference tests (dataset glam_ref).
	refDataSet = "testdata/reference.yaml"
)

// emulator is one BigQuery emulator for the whole package, loaded with
// testdata/probebuild/data.yaml and testdata/reference.yaml; the tests only
// read it.
var emulator struct {
	once     sync.Once
	cmd      *exec.Cmd
	endpoint string
	dir      string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if emulator.cmd != nil {
		_ = emulator.cmd.Process.Kill()
		_ = emulator.cmd.Wait()
	}
	if builderBin.dir != "" {
		_ = os.RemoveAll(builderBin.dir)
	}
	if emulator.dir != "" {
		_ = os.RemoveAll(emulator.dir)
	}
	os.Exit(code)
}

// emulatorEndpoint starts the emulator on first use. Without the binary the
// test is skipped, or fails when CI is set.
func emulatorEndpoint(t testing.TB) string {
	t.Helper()
	emulator.once.Do(startEmulator)
	if emulator.err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("BigQuery emulator: %v", emulator.err)
		}
		t.Skipf("BigQuery emulator: %v (run `make bigquery-emulator`)", emulator.err)
	}
	return emulator.endpoint
}

func startEmulator() {
	bin := os.Getenv(EnvEmulator)
	if bin == "" {
		bin = "../../.tools/bigquery-emulator"
	}
	bin, _ = filepath.Abs(bin)
	if _, err := os.Stat(bin); err != nil {
		emulator.err = fmt.Errorf("binary not found: %w", err)
		return
	}
	data, err := mergedDataSets()
	if err != nil {
		emulator.err = err
		return
	}
	port, grpcPort := freePort(), freePort()
	cmd := exec.Command(bin, "--project="+emulatorProject, "--host=127.0.0.1",
		fmt.Sprintf("--port=%d", port), fmt.Sprintf("--grpc-port=%d", grpcPort),
		"--data-from-yaml="+data, "--log-level=error")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		emulator.err = err
		return
	}
	emulator.cmd = cmd
	emulator.endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := http.Get(emulator.endpoint + "/bigquery/v2/projects/" + emulatorProject + "/datasets")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	emulator.err = fmt.Errorf("did not answer on %s within 2 minutes", emulator.endpoint)
}

// mergedDataSets writes data.yaml with the datasets of reference.yaml added
// to its project, for the emulator, which loads one file.
func mergedDataSets() (string, error) {
	var docs [2]yaml.Node
	var datasets [2]*yaml.Node
	for i, path := range []string{dataSet, refDataSet} {
		raw, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		if err := yaml.Unmarshal(raw, &docs[i]); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		project := yamlField(yamlField(&docs[i], "projects"), "")
		if id := yamlField(project, "id"); id == nil || id.Value != emulatorProject {
			return "", fmt.Errorf("%s: the first project is not %s", path, emulatorProject)
		}
		if datasets[i] = yamlField(project, "datasets"); datasets[i] == nil {
			return "", fmt.Errorf("%s: no datasets", path)
		}
	}
	datasets[0].Content = append(datasets[0].Content, datasets[1].Content...)
	out, err := yaml.Marshal(&docs[0])
	if err != nil {
		return "", err
	}
	if emulator.dir, err = os.MkdirTemp("", "probebuild-emulator-"); err != nil {
		return "", err
	}
	path := filepath.Join(emulator.dir, "data.yaml")
	return path, os.WriteFile(path, out, 0o600)
}

// yamlField is the value of key in a mapping node, or with key "" the
// first item of a sequence node (a document node is looked through).
func yamlField(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	switch {
	case n == nil:
		return nil
	case key == "" && n.Kind == yaml.SequenceNode && len(n.Content) > 0:
		return n.Content[0]
	case n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
	}
	return nil
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// testConfig reads the emulator's tables with thresholds small enough for
// the data set, and short timings so that leases expire within a test.
func testConfig(endpoint string) Config {
	cfg := NewDefaultConfig()
	cfg.Workers = 1
	cfg.BigQuery.ProjectID = emulatorProject
	cfg.BigQuery.Endpoint = endpoint
	cfg.BigQuery.LookbackDays = 0
	table := func(name string) string { return emulatorProject + ".glam_etl." + name }
	cfg.BigQuery.Tables = TablesConfig{
		Firefox: SourceTables{
			Histogram:       table("clients_daily_histogram_aggregates_v1"),
			Scalar:          table("clients_daily_scalar_aggregates_v1"),
			MinBuildClients: map[string]int64{"nightly": 1, "beta": 1, "release": 0},
		},
		Fenix: SourceTables{
			Histogram:       table("fenix_clients_daily_histogram_aggregates_{ping_type}_v1"),
			Scalar:          table("fenix_clients_daily_scalar_aggregates_{ping_type}_v1"),
			MinBuildClients: map[string]int64{"nightly": 1},
		},
		FOG: SourceTables{
			Histogram:       refTable("fog_clients_daily_histogram_aggregates_{ping_type}_v1"),
			Scalar:          refTable("fog_clients_daily_scalar_aggregates_{ping_type}_v1"),
			MinBuildClients: map[string]int64{"nightly": 1, "release": 0},
		},
	}
	cfg.Lease = 2 * time.Second
	cfg.Heartbeat = 200 * time.Millisecond
	cfg.RetryBackoff = 50 * time.Millisecond
	cfg.MaxRetryBackoff = 200 * time.Millisecond
	cfg.RetryAfter = time.Second
	return cfg
}

// refTable names a table of testdata/reference.yaml in the emulator.
func refTable(name string) string { return emulatorProject + ".glam_ref." + name }

// newPool gives the test a migrated database of its own.
func newPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pgschema.Migrate(ctx, pool))
	return pool
}

// builderOf connects a service to b.
func builderOf(b Builder) Connect {
	return func(context.Context) (Builder, error) { return b, nil }
}

// newService starts a service on pool building with builder (nil: the
// BigQuery builder cfg says); Shutdown runs at cleanup.
func newService(t testing.TB, cfg Config, pool *pgxpool.Pool, builder Builder) *Service {
	t.Helper()
	return newServiceLogging(t, cfg, pool, builder, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
}

// newServiceLogging is newService logging to logger, for a test that waits
// on what the service logs.
func newServiceLogging(t testing.TB, cfg Config, pool *pgxpool.Pool, builder Builder, logger *zap.Logger) *Service {
	t.Helper()
	connect := BigQuery(cfg.BigQuery)
	if builder != nil {
		connect = builderOf(builder)
	}
	s, err := New(cfg, pool, logger, connect)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, s.Shutdown(ctx))
	})
	return s
}

// bigQueryBuilder connects to the emulator.
func bigQueryBuilder(t testing.TB, cfg Config, opts ...bigquerybuilder.Option) *bigquerybuilder.Builder {
	t.Helper()
	b, err := bigquerybuilder.New(context.Background(), cfg.BigQuery, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// api serves s over real HTTP.
func api(t testing.TB, s *Service) *httptest.Server {
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(jsonapi.Fallbacks(mux))
	t.Cleanup(srv.Close)
	return srv
}

// noRedirect is a client that shows 303s instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func post(t testing.TB, srv *httptest.Server, body any, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	var buf bytes.Buffer
	switch b := body.(type) {
	case string:
		buf.WriteString(b)
	default:
		require.NoError(t, json.NewEncoder(&buf).Encode(b))
	}
	req, err := http.NewRequest(http.MethodPost, srv.URL+PathPrefix, &buf)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, noRedirect, req)
}

func call(t testing.TB, method, url string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	require.NoError(t, err)
	return do(t, noRedirect, req)
}

func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	if resp.StatusCode != http.StatusNoContent {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "%s %s: body is not JSON", req.Method, req.URL)
	}
	return resp, body
}

// waitStatus polls the job table until job id reaches status.
func waitStatus(t testing.TB, pool *pgxpool.Pool, id, status string) *Job {
	t.Helper()
	q := &queue{pool: pool}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		j, err := q.get(context.Background(), id)
		require.NoError(t, err)
		if j.Status == status {
			return j
		}
		if j.Done() {
			t.Fatalf("job %s is %s (error %q), not %s", id, j.Status, j.Error, status)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s (stage %q, error %q), never %s", id, j.Status, j.Stage, j.Error, status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
