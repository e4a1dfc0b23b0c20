package systemtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The collector binaries, each built once per test run (by the first test
// that needs it) into binDir, removed by TestMain: the tests' one with the
// race detector, and a plain one for what measures the process (BenchmarkSoak:
// the race detector's shadow memory would be most of its RSS).
var (
	binDir   string
	binMu    sync.Mutex
	binRace  = &collectorBuild{race: true}
	binPlain = &collectorBuild{}
)

type collectorBuild struct {
	race bool
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// collectorEnv names a collector binary already built from this repository
// (make test passes its race-built one, as to the browser tests), which the
// tests then use instead of linking their own.
const collectorEnv = "OTELCOL_GLAM_BIN"

// collectorBinary returns $OTELCOL_GLAM_BIN, or builds cmd/otelcol-glam
// with -race from the repository this package is in (go on PATH) and returns
// its path.
func collectorBinary(t testing.TB) string {
	t.Helper()
	if bin := os.Getenv(collectorEnv); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("%s: %v", collectorEnv, err)
		}
		return abs
	}
	return binRace.get(t)
}

// plainCollectorBinary is cmd/otelcol-glam built without the race detector.
func plainCollectorBinary(t testing.TB) string {
	t.Helper()
	return binPlain.get(t)
}

func (b *collectorBuild) get(t testing.TB) string {
	t.Helper()
	b.once.Do(func() {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			b.err = err
			return
		}
		binMu.Lock()
		if binDir == "" {
			binDir, err = os.MkdirTemp("", "glam-systemtest-")
		}
		dir := binDir
		binMu.Unlock()
		if err != nil {
			b.err = err
			return
		}
		args := []string{"build"}
		name := "otelcol-glam"
		if b.race {
			args = append(args, "-race")
			name += "-race"
		}
		b.path = filepath.Join(dir, name)
		cmd := exec.Command("go", append(args, "-o", b.path, "./cmd/otelcol-glam")...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s ./cmd/otelcol-glam: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// withAppName sets application_name in a URL DSN.
func withAppName(t testing.TB, dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("DSN: %v", err)
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// leaseHolder is the application_name of the connection holding the
// default view consumer's lease ("" when none does).
func leaseHolder(ctx context.Context, db *pgxpool.Pool) string {
	return consumerLeaseHolder(ctx, db, consumerName)
}

// consumerLeaseHolder is the application_name of the connection holding a
// log consumer's lease ("" when none does).
func consumerLeaseHolder(ctx context.Context, db *pgxpool.Pool, consumer string) string {
	var name string
	_ = db.QueryRow(ctx, `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND l.classid = ((hashtextextended($1, 0) >> 32) & 4294967295)::oid
		  AND l.objid = (hashtextextended($1, 0) & 4294967295)::oid`, "glam_usage_log:"+consumer).Scan(&name)
	return name
}

// waitLeaseHolder waits (up to 10 s) until one of names holds the lease.
func waitLeaseHolder(ctx context.Context, t testing.TB, db *pgxpool.Pool, names ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h := leaseHolder(ctx, db)
		for _, n := range names {
			if h == n {
				return h
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lease is held by %q after 10 s, want one of %v", h, names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePort is a loopback port nothing listens on (yet).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// collectorConfig is what a test's collector differs in; the rest is the
// shape of testdata/config.yaml and testdata/config-persistent-queue.yaml.
type collectorConfig struct {
	dsn string
	// queueDir, when set, puts the raw events behind a persistent
	// sending_queue (file_storage in queueDir, fsync), as
	// config-persistent-queue.yaml does; else they go without a queue, so
	// that a 200 means committed.
	queueDir string
	// api serves the usage API (glam_usage) too.
	api bool
	// flush is glam_views' flush_interval.
	flush time.Duration
	// tweak, when set, changes the configuration (decoded YAML) before it
	// is written: components, pipelines and telemetry of the test's own.
	tweak func(cfg map[string]any)
	// viewWriter, with api, is the bearer token that may create and
	// delete runtime views (runtime_views.write_auth).
	viewWriter string
}

// collector is one otelcol-glam process of a test, which it may stop, kill
// and start again with the same configuration, ports and storage.
type collector struct {
	t      testing.TB
	name   string
	config string
	ingest string // the receiver's OTLP logs URL
	api    string // the usage API's origin, if any
	port   int    // the receiver's port
	log    *bytes.Buffer
	logMu  sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	runs   int
	// bin is the binary to run; collectorBinary's when empty.
	bin string
}

// startCollector writes the configuration and starts the collector,
// waiting until its receiver answers. The process is killed, if still
// running, when the test ends; its log is shown if the test failed.
func startCollector(t testing.TB, name string, cc collectorConfig) *collector {
	t.Helper()
	dir := t.TempDir()
	c := &collector{t: t, name: name, port: freePort(t), log: new(bytes.Buffer)}
	// Its connections say whose they are (leaseHolder).
	cc.dsn = withAppName(t, cc.dsn, name)
	c.ingest = fmt.Sprintf("http://127.0.0.1:%d/api/v1/ingest/v1/logs", c.port)
	flush := cc.flush
	if flush == 0 {
		flush = 200 * time.Millisecond
	}
	exporter := map[string]any{
		"dsn":           cc.dsn,
		"create_schema": true,
		"timeout":       "5s",
		// Back within a second of PostgreSQL coming back; never given up.
		"retry_on_failure": map[string]any{"enabled": true, "initial_interval": "50ms", "max_interval": "500ms", "max_elapsed_time": "0s"},
		"sending_queue":    map[string]any{"enabled": false},
	}
	extensions := map[string]any{}
	var service []string
	if cc.queueDir != "" {
		extensions["file_storage/queue"] = map[string]any{"directory": cc.queueDir, "create_directory": true, "fsync": true}
		service = append(service, "file_storage/queue")
		exporter["sending_queue"] = map[string]any{"enabled": true, "storage": "file_storage/queue", "num_consumers": 4,
			"queue_size": 10000, "block_on_overflow": true}
	}
	if cc.api {
		apiPort := freePort(t)
		c.api = fmt.Sprintf("http://127.0.0.1:%d", apiPort)
		usageCfg := map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", apiPort), "dsn": cc.dsn}
		if cc.viewWriter != "" {
			extensions["bearertokenauth/view_writers"] = map[string]any{"token": cc.viewWriter}
			service = append(service, "bearertokenauth/view_writers")
			usageCfg["runtime_views"] = map[string]any{"write_auth": map[string]any{"authenticator": "bearertokenauth/view_writers"}}
		}
		extensions["glam_usage"] = usageCfg
		service = append(service, "glam_usage")
	}
	cfg := map[string]any{
		"extensions": extensions,
		"receivers": map[string]any{
			"glam":          map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", c.port)},
			"glam_eventlog": map[string]any{"dsn": cc.dsn, "backoff": "100ms", "lease_retry": "200ms"},
		},
		"processors": map[string]any{"glam_views": map[string]any{"flush_interval": flush.String()}},
		"exporters":  map[string]any{"glam_postgres": exporter},
		"service": map[string]any{
			"extensions": service,
			// No self-metrics server: collectors side by side would fight
			// over :8888.
			"telemetry": map[string]any{"metrics": map[string]any{"level": "none"}, "logs": map[string]any{"level": "info"}},
			"pipelines": map[string]any{
				"logs":    map[string]any{"receivers": []string{"glam"}, "exporters": []string{"glam_postgres"}},
				"metrics": map[string]any{"receivers": []string{"glam_eventlog"}, "processors": []string{"glam_views"}, "exporters": []string{"glam_postgres"}},
			},
		},
	}
	if cc.tweak != nil {
		cc.tweak(cfg)
	}
	body, err := json.MarshalIndent(cfg, "", "  ") // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	c.config = filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(c.config, body, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("collector %s's log (last 6000 bytes):\n%s", c.name, c.tail(6000))
		}
	})
	c.start()
	return c
}

type logWriter struct{ c *collector }

func (w logWriter) Write(p []byte) (int, error) {
	w.c.logMu.Lock()
	defer w.c.logMu.Unlock()
	return w.c.log.Write(p)
}

// tail is the end of the collector's log, every run of it.
func (c *collector) tail(n int) string {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	s := c.log.String()
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

// start runs the collector and waits (up to 30 s) until its receiver
// accepts connections.
func (c *collector) start() {
	c.t.Helper()
	c.runs++
	fmt.Fprintf(logWriter{c}, "=== run %d of collector %s\n", c.runs, c.name)
	bin := c.bin
	if bin == "" {
		bin = collectorBinary(c.t)
	}
	c.cmd = exec.Command(bin, "--config", c.config)
	c.cmd.Stdout, c.cmd.Stderr = logWriter{c}, logWriter{c}
	if err := c.cmd.Start(); err != nil {
		c.t.Fatalf("start collector %s: %v", c.name, err)
	}
	exited := make(chan struct{})
	c.exited = exited
	go func(cmd *exec.Cmd) {
		_ = cmd.Wait()
		close(exited)
	}(c.cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			c.t.Fatalf("collector %s exited at start:\n%s", c.name, c.tail(4000))
		default:
		}
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", c.port), 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("collector %s's receiver did not listen within 30 s:\n%s", c.name, c.tail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *collector) running() bool {
	if c.cmd == nil {
		return false
	}
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// kill ends the collector with SIGKILL, as a crash or the OOM killer would:
// nothing of it runs after, no flush, no clean close.
func (c *collector) kill() {
	if !c.running() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.exited
}

// stop ends the collector with SIGTERM, as an orderly restart does, and
// waits up to 30 s for it to exit (then kills it and fails).
func (c *collector) stop() {
	c.t.Helper()
	if !c.running() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.kill()
		c.t.Errorf("collector %s did not stop within 30 s of SIGTERM", c.name)
	}
}

// getJSON asks the usage API and decodes its 200 answer.
func (c *collector) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := httpClient.Get(c.api + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body.String())
	}
	if err := json.Unmarshal(body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body.String())
	}
}

// errorLines are the lines of the collector's log at error level.
func (c *collector) errorLines() []string {
	var out []string
	for _, l := range strings.Split(c.tail(1<<30), "\n") {
		if strings.Contains(l, "\terror\t") {
			out = append(out, l)
		}
	}
	return out
}
