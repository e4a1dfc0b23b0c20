package pgtest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// runScript runs scripts/postgres-dsn.sh with env added and returns its
// stdout (the DSN) and stderr (what it picked).
func runScript(t *testing.T, env []string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join("..", "..", "scripts", "postgres-dsn.sh"), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("postgres-dsn.sh %v: %v\n%s", args, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), stderr.String()
}

func assertConnects(t *testing.T, dsn string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatalf("connect to %s: %v", dsn, err)
	}
	defer conn.Close(context.Background())
	var db string
	if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&db); err != nil || db != "glam" {
		t.Fatalf("current_database() = %q, %v; want glam", db, err)
	}
}

func TestScriptPrefersTheEnvironmentVariable(t *testing.T) {
	dsn, picked := runScript(t, []string{"GLAM_POSTGRES_DSN=postgres://u@db.example:6543/usage"})
	if dsn != "postgres://u@db.example:6543/usage" || !strings.Contains(picked, "using $GLAM_POSTGRES_DSN") {
		t.Fatalf("got %q, %q", dsn, picked)
	}
}

func TestScriptUsesTheLocalServer(t *testing.T) {
	// The script's local server is the test server's default one.
	if os.Getenv(EnvDSN) != "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is set under CI: the script's local server (127.0.0.1:5432) would go untested", EnvDSN)
		}
		t.Skipf("%s points the tests elsewhere; the script only looks at 127.0.0.1:5432", EnvDSN)
	}
	if err := exec.Command("pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432").Run(); err != nil {
		unreachable(t, DefaultDSN, err)
	}
	// The script makes the database make run uses; one the test made goes
	// again, one that was there (a developer's) stays.
	admin, err := pgx.Connect(context.Background(), DefaultDSN)
	if err != nil {
		unreachable(t, DefaultDSN, err)
	}
	var existed bool
	err = admin.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'glam')").Scan(&existed)
	admin.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !existed {
		t.Cleanup(func() { dropDatabase(t, DefaultDSN, "glam") })
	}
	dsn, picked := runScript(t, []string{"GLAM_POSTGRES_DSN="})
	if dsn != "postgres://postgres@127.0.0.1:5432/glam?sslmode=disable" || !strings.Contains(picked, "using the local server on 127.0.0.1:5432") {
		t.Fatalf("got %q, %q", dsn, picked)
	}
	assertConnects(t, dsn)
}

func TestScriptStartsAThrowawayCluster(t *testing.T) {
	if _, err := BinDir(); err != nil {
		unreachable(t, "a throwaway cluster", err)
	}
	// The postgres user must reach the run directory.
	runDir, err := os.MkdirTemp("", "glam-run-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"GLAM_POSTGRES_DSN=", "GLAM_RUN_DIR=" + runDir, "GLAM_POSTGRES_LOCAL_PORT=1"}
	t.Cleanup(func() {
		runScript(t, env, "stop")
		_ = os.RemoveAll(runDir)
	})

	// The script's ports lie within the kernel's ephemeral range, so a
	// client connection may hold the first one as its own port: the
	// server's bind then fails, and the script must move on to the next.
	first := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 54320}}
	if conn, err := first.Dial("tcp", "127.0.0.1:5432"); err == nil {
		defer conn.Close()
	} else {
		t.Logf("port 54320 is taken otherwise (%v): the script's retry goes untried", err)
	}
	dsn, picked := runScript(t, env)
	if !strings.Contains(picked, "started the throwaway cluster in "+filepath.Join(runDir, "postgres")) {
		t.Fatalf("stderr: %s", picked)
	}
	assertConnects(t, dsn)
	// A second run finds it running and prints the same DSN.
	again, picked := runScript(t, env)
	if again != dsn || strings.Contains(picked, "started") {
		t.Fatalf("second run: %q (first %q), %s", again, dsn, picked)
	}
	_, stopped := runScript(t, env, "stop")
	if !strings.Contains(stopped, "stopped the throwaway cluster") {
		t.Fatalf("stop: %s", stopped)
	}
	if err := exec.Command("pg_isready", "-q", "-d", dsn).Run(); err == nil {
		t.Fatal("the cluster still answers after stop")
	}
}
