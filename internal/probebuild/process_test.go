package probebuild

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of the standalone glam-probe-builder as a process: killed mid-job,
// and stopped with SIGTERM.

var builderBin struct {
	once sync.Once
	path string
	err  error
	dir  string
}

// probeBuilderBinary builds cmd/glam-probe-builder once per test run.
func probeBuilderBinary(t *testing.T) string {
	t.Helper()
	builderBin.once.Do(func() {
		builderBin.dir, builderBin.err = os.MkdirTemp("", "glam-probe-builder-")
		if builderBin.err != nil {
			return
		}
		builderBin.path = filepath.Join(builderBin.dir, "glam-probe-builder")
		out, err := exec.Command("go", "build", "-race", "-o", builderBin.path, "../../cmd/glam-probe-builder").CombinedOutput()
		if err != nil {
			builderBin.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, builderBin.err)
	return builderBin.path
}

// blackHole accepts connections and never answers: a BigQuery that keeps a
// build running for as long as the test needs.
func blackHole(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String()
}

// startBuilder runs glam-probe-builder with one worker against dsn and a
// BigQuery at endpoint.
func startBuilder(t *testing.T, dsn, endpoint string) *exec.Cmd {
	cmd := exec.Command(probeBuilderBinary(t),
		"--config", "yaml:dsn: "+dsn,
		"--config", "yaml:probe_builds::workers: 1",
		"--config", "yaml:probe_builds::lease: 2s",
		"--config", "yaml:probe_builds::heartbeat: 200ms",
		"--config", "yaml:probe_builds::bigquery::project_id: "+emulatorProject,
		"--config", "yaml:probe_builds::bigquery::endpoint: "+endpoint)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func dsnOf(pool *pgxpool.Pool) string { return pool.Config().ConnString() }

func TestWorkerProcessKilledMidJob(t *testing.T) {
	endpoint := emulatorEndpoint(t)
	pool := newPool(t)
	cfg := testConfig(endpoint)
	cfg.Workers = 0
	srv := api(t, newService(t, cfg, pool, nil))

	proc := startBuilder(t, dsnOf(pool), blackHole(t))
	resp, body := post(t, srv, gcRequest)
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	id := body["id"].(string)
	running := waitStatus(t, pool, id, StatusRunning)
	assert.Equal(t, 1, running.Attempts)
	require.NoError(t, proc.Process.Signal(syscall.SIGKILL))
	_, _ = proc.Process.Wait()

	// Another worker, with BigQuery this time, takes the job once the dead
	// worker's lease expires.
	cfg.Workers = 1
	newService(t, cfg, pool, nil)
	done := waitStatus(t, pool, id, StatusSucceeded)
	assert.Equal(t, 2, done.Attempts)
	want := refHistograms(t, refSource{table: desktopHist}, done.Build, 1, 0)
	assert.Equal(t, want, storedRows(t, pool, done.Build))
	assert.Equal(t, int64(len(want)), *done.RowsWritten)

	resp, _ = call(t, http.MethodGet, srv.URL+PathPrefix+"/"+id)
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

func TestWorkerProcessHandsItsJobBackOnSIGTERM(t *testing.T) {
	pool := newPool(t)
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Workers = 0
	s := newService(t, cfg, pool, nil)
	proc := startBuilder(t, dsnOf(pool), blackHole(t))
	j := enqueue(t, s, Request{Product: "firefox", Channel: "nightly", Probe: "gc_ms"})
	waitStatus(t, pool, j.ID, StatusRunning)
	require.NoError(t, proc.Process.Signal(syscall.SIGTERM))
	state, err := proc.Process.Wait()
	require.NoError(t, err)
	assert.Equal(t, 0, state.ExitCode())
	back, err := s.q.get(context.Background(), j.ID)
	require.NoError(t, err)
	assert.Equal(t, StatusQueued, back.Status)
	assert.Equal(t, 0, back.Attempts, "a handed-back attempt does not count")
	assert.WithinDuration(t, time.Now(), back.RunAfter, 5*time.Second, "runnable at once")
}
