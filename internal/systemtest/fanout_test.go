package systemtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/forwardconnector"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver"
)

// The Prometheus branch cannot harm the view rows. In the collector's real
// pipeline graph (in process, the service's own fan-out), glam_views feeds
// glam_postgres and, through the forward connector, a branch whose exporter
// refuses every batch permanently; meanwhile glam_postgres refuses view
// batches for a while (their table locked past the exporter's lock_timeout, with
// retries off: what an outage longer than retry_on_failure's
// max_elapsed_time returns). glam_views acts on the fan-out's joined error:
// behind glam_viewcounters it only ever sees the retryable one, keeps the
// batch and sends it again; no point is lost. Without glam_viewcounters
// (the control) the permanent error wins, glam_views drops batches as lost
// and only the event log's offset check brings their events back. Either
// way the rows end exact; the lost points are the difference.
func TestPrometheusBranchCannotHarmViewRows(t *testing.T) {
	for _, tc := range []struct {
		name       string
		processors []string
		wantLost   bool
	}{
		{"through glam_viewcounters", []string{"glam_viewcounters"}, false},
		{"control without it", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lost, refused := runRefusingBranch(t, tc.processors)
			t.Logf("glam_views points lost: %v; glam_viewcounters batches refused downstream: %v", lost, refused)
			if tc.wantLost && lost == 0 {
				t.Fatal("the control lost no view points: the test no longer makes glam_postgres refuse while the branch refuses")
			}
			if !tc.wantLost {
				if lost != 0 {
					t.Errorf("glam_views lost %v view points behind glam_viewcounters, want 0", lost)
				}
				if refused == 0 {
					t.Error("the refusing branch refused nothing: it did not take part")
				}
			}
		})
	}
}

// refuseType is an exporter that refuses every batch as bad data.
var refuseType = component.MustNewType("test_refuse")

type refuseConfig struct{}

func refuseFactory() exporter.Factory {
	return exporter.NewFactory(refuseType, func() component.Config { return &refuseConfig{} },
		exporter.WithMetrics(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
			return exporterhelper.NewMetrics(ctx, set, cfg, func(context.Context, pmetric.Metrics) error {
				return consumererror.NewPermanent(errors.New("test: the Prometheus branch refuses this batch for good"))
			})
		}, component.StabilityLevelDevelopment))
}

// runRefusingBranch runs the in-process collector with branch processors in
// front of the refusing exporter, sends events through a lock of the view
// rows, checks the raw events and view rows exact, and returns the
// collector's glam_views points lost and glam_viewcounters refused batches.
func runRefusingBranch(t *testing.T, branch []string) (lost, refused float64) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)
	port, telemetryPort := freePort(t), freePort(t)
	metricsPipe := map[string]any{"receivers": []string{"forward/prometheus"}, "exporters": []string{"test_refuse"}}
	if len(branch) > 0 {
		metricsPipe["processors"] = branch
	}
	cfg := map[string]any{
		"receivers": map[string]any{
			"glam":          map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", port)},
			"glam_eventlog": map[string]any{"dsn": dsn, "backoff": "100ms", "lease_retry": "200ms"},
		},
		"processors": map[string]any{
			"glam_views":        map[string]any{"flush_interval": "200ms"},
			"glam_viewcounters": sampleConfig(t).Processors["glam_viewcounters"],
		},
		"exporters": map[string]any{
			// A write that waits more than 200 ms for a lock fails (lock_timeout,
			// a retryable error): the view rows' table locked makes
			// glam_postgres refuse view batches, however slow the machine.
			"glam_postgres": map[string]any{"dsn": withLockTimeout(t, dsn), "create_schema": true, "timeout": "10s",
				"retry_on_failure": map[string]any{"enabled": false}, "sending_queue": map[string]any{"enabled": false}},
			"test_refuse": nil,
		},
		"connectors": map[string]any{"forward/prometheus": nil},
		"service": map[string]any{
			"telemetry": map[string]any{"logs": map[string]any{"level": "fatal"},
				"metrics": map[string]any{"level": "normal", "readers": []any{map[string]any{"pull": map[string]any{
					"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": telemetryPort}}}}}}},
			"pipelines": map[string]any{
				"logs":               map[string]any{"receivers": []string{"glam"}, "exporters": []string{"glam_postgres"}},
				"metrics":            map[string]any{"receivers": []string{"glam_eventlog"}, "processors": []string{"glam_views"}, "exporters": []string{"glam_postgres", "forward/prometheus"}},
				"metrics/prometheus": metricsPipe,
			},
		},
	}
	body, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.NewDefaultBuildInfo(),
		Factories: func() (otelcol.Factories, error) {
			f := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
			var err error
			if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](glamreceiver.NewFactory(), glameventlogreceiver.NewFactory()); err != nil {
				return f, err
			}
			if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](glamviewsprocessor.NewFactory(), glamviewcountersprocessor.NewFactory()); err != nil {
				return f, err
			}
			if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](glampostgresexporter.NewFactory(), refuseFactory()); err != nil {
				return f, err
			}
			f.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](forwardconnector.NewFactory())
			return f, err
		},
		ConfigProviderSettings: otelcol.ConfigProviderSettings{ResolverSettings: confmap.ResolverSettings{
			URIs: []string{"file:" + path}, ProviderFactories: []confmap.ProviderFactory{fileprovider.NewFactory()},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- col.Run(ctx) }()
	defer func() {
		col.Shutdown()
		if err := <-runDone; err != nil {
			t.Errorf("collector: %v", err)
		}
	}()
	ingest := fmt.Sprintf("http://127.0.0.1:%d/api/v1/ingest/v1/logs", port)
	waitListening(t, port)

	// Probe views and searches, every 50 ms for 3 s; the view rows' table
	// locked from 0.5 s to 2 s, so that glam_postgres refuses the view
	// batches flushed meanwhile.
	accepted := map[string]bool{}
	locked := make(chan struct{})
	unlock := make(chan struct{})
	go func() {
		tx, err := db.Begin(ctx)
		if err != nil {
			t.Errorf("lock: %v", err)
			close(locked)
			return
		}
		defer func() { _ = tx.Rollback(ctx) }()
		time.Sleep(500 * time.Millisecond)
		if _, err := tx.Exec(ctx, "LOCK TABLE glam_usage_view_rows IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Errorf("lock: %v", err)
		}
		close(locked)
		<-unlock
	}()
	start := time.Now()
	for i := 0; time.Since(start) < 3*time.Second; i++ {
		if time.Since(start) > 2*time.Second {
			select {
			case <-unlock:
			default:
				close(unlock)
			}
		}
		evs := []event{
			{id: fmt.Sprintf("f-%04d-v", i), session: "fanout", name: usage.EventProbeView, at: time.Now(),
				attrs: map[string]string{usage.AttrProduct: "firefox", usage.AttrProbeName: "gc_ms", usage.AttrChannel: "release"}},
			{id: fmt.Sprintf("f-%04d-s", i), session: "fanout", name: usage.EventProbeSearch, at: time.Now(),
				attrs: map[string]string{usage.AttrProduct: "firefox"}},
		}
		if deliver(ctx, t, []string{ingest}, otlpLogs(evs)) > 0 {
			for _, e := range evs {
				accepted[e.id] = true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	<-locked
	select {
	case <-unlock:
	default:
		close(unlock)
	}

	waitStored(ctx, t, db, len(accepted), 30*time.Second)
	waitCaughtUp(ctx, t, db, consumerName, 30*time.Second)
	requireRawExact(ctx, t, db, accepted, "")
	requireViewsExact(ctx, t, db, "after glam_postgres refused view batches while the branch refused: ")
	m := scrapeMetrics(t, telemetryPort)
	if m["otelcol_exporter_send_failed_metric_points"] == 0 {
		t.Fatalf("glam_postgres refused no view points while the table was locked: the test no longer makes it refuse")
	}
	t.Logf("glam_postgres refused %v view points while the table was locked", m["otelcol_exporter_send_failed_metric_points"])
	return m["otelcol_processor_glam_views_points_lost"], m["otelcol_processor_glam_viewcounters_refused_batches"]
}

// withLockTimeout sets lock_timeout (200 ms) on a URL DSN's sessions.
func withLockTimeout(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	// pgx passes a parameter it does not know to the server as a setting.
	q.Set("lock_timeout", "200ms")
	u.RawQuery = q.Encode()
	return u.String()
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the in-process collector's receiver did not listen within 30 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scrapeMetrics is the collector's own metrics, each name summed over its
// series.
func scrapeMetrics(t *testing.T, port int) map[string]float64 {
	t.Helper()
	resp, err := httpClient.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("telemetry: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	eachSample(resp.Body, func(name, _ string, v float64) { out[name] += v })
	return out
}

// eachSample calls f with every sample of a Prometheus text exposition: its
// metric name, its labels as written between the braces ("" without), and
// its value.
func eachSample(r io.Reader, f func(name, labels string, v float64)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		// name{labels} value, or name value.
		name := line[:strings.IndexAny(line, "{ ")]
		var labels string
		if rest, ok := strings.CutPrefix(line[len(name):], "{"); ok {
			labels, _, _ = strings.Cut(rest, "}")
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			f(name, labels, v)
		}
	}
}
