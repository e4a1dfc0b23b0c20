package systemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// The Debian packages' programs (apt-get install prometheus
// prometheus-alertmanager); PROMETHEUS and ALERTMANAGER override them.
var (
	prometheusBin   = envOr("PROMETHEUS", "/usr/bin/prometheus")
	alertmanagerBin = envOr("ALERTMANAGER", "/usr/bin/prometheus-alertmanager")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// alertWindows is how the live test runs deploy/prometheus/glam-alerts.yml:
// the same rules with windows of seconds, so that "a week earlier" is 45 s
// earlier (room for a slow machine: a drop must fire before its own start
// is 45 s old). Every string must be in the shipped file (the test fails when
// one is not: the rules changed their spelling and this list must follow).
var alertWindows = []struct{ shipped, live string }{
	{"offset 1w", "offset 45s"},
	{"[1h]", "[6s]"},
	{"[30m]", "[6s]"},
	{"for: 30m", "for: 3s"},
	{"for: 15m", "for: 3s"},
	{"for: 10m", "for: 3s"},
	{"for: 5m", "for: 3s"},
}

const conversionAlert = "GlamSearchToProbeViewConversionDropped"

// TestPrometheusAlertmanager runs the real collector with testdata/config.yaml's
// Prometheus pipeline, Debian's Prometheus scraping it every second with the
// shipped alerting rules (shortened windows) and Debian's Alertmanager
// delivering to a webhook of the test: the counters Prometheus reads equal
// the events sent, a scripted drop in the search -> probe view conversion
// fires the alert, and it resolves when the conversion recovers. The view
// rows in Postgres stay exact beside it.
func TestPrometheusAlertmanager(t *testing.T) {
	for _, bin := range []string{prometheusBin, alertmanagerBin} {
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %v (apt-get install prometheus prometheus-alertmanager)", bin, err)
			}
			t.Skipf("%s: %v (apt-get install prometheus prometheus-alertmanager)", bin, err)
		}
	}
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db := openDB(t, dsn)

	// The collector: as the system tests run it, plus testdata/config.yaml's
	// view counters, delta_to_cumulative and prometheus exporter, and its
	// own telemetry on a port of its own.
	exporterPort, telemetryPort := freePort(t), freePort(t)
	sample := sampleConfig(t)
	c := startCollector(t, "prom", collectorConfig{dsn: dsn, api: true, tweak: func(cfg map[string]any) {
		procs := cfg["processors"].(map[string]any)
		procs["glam_viewcounters"] = sample.Processors["glam_viewcounters"]
		procs["delta_to_cumulative"] = sample.Processors["delta_to_cumulative"]
		cfg["connectors"] = map[string]any{"forward/prometheus": nil}
		exp := cfg["exporters"].(map[string]any)
		prom := sample.Exporters["prometheus"].(map[string]any)
		prom["endpoint"] = fmt.Sprintf("127.0.0.1:%d", exporterPort)
		exp["prometheus"] = prom
		svc := cfg["service"].(map[string]any)
		svc["telemetry"] = map[string]any{
			"logs": map[string]any{"level": "info"},
			"metrics": map[string]any{"level": "normal", "readers": []any{map[string]any{"pull": map[string]any{
				"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": telemetryPort}}}}}},
		}
		pipes := svc["pipelines"].(map[string]any)
		pipes["metrics"].(map[string]any)["exporters"] = sample.Service.Pipelines["metrics"].Exporters
		pipes["metrics/prometheus"] = sample.Service.Pipelines["metrics/prometheus"]
	}})

	hook := newWebhook(t)
	am := startAlertmanager(t, hook.url)
	prom := startPrometheus(t, am, liveRules(t), []string{
		fmt.Sprintf("127.0.0.1:%d", telemetryPort), fmt.Sprintf("127.0.0.1:%d", exporterPort)})
	prom.waitTargetsUp(t, 2, 30*time.Second)

	// The traffic: every 250 ms, searches and probe views (4 and 4 a tick:
	// a conversion of 1), a page view; 20 sessions take turns. Phase drop
	// sends a quarter of the probe views.
	var sent struct {
		searches, probeViews, pageViews, events int
		sessions                                map[string]bool
	}
	sent.sessions = map[string]bool{}
	seq := 0
	tick := func(probeViews int) {
		var events []event
		add := func(name string, attrs map[string]string) {
			seq++
			sid := fmt.Sprintf("prom-session-%02d", seq%20)
			sent.sessions[sid] = true
			events = append(events, event{id: fmt.Sprintf("prom-%06d", seq), session: sid, name: name, at: time.Now(), attrs: attrs})
		}
		for i := 0; i < 4; i++ {
			add(usage.EventProbeSearch, map[string]string{usage.AttrProduct: "firefox"})
			sent.searches++
		}
		for i := 0; i < probeViews; i++ {
			add(usage.EventProbeView, map[string]string{usage.AttrProduct: "firefox", usage.AttrProbeName: probes[i%len(probes)],
				usage.AttrProbeProcess: "parent", usage.AttrChannel: "release"})
			sent.probeViews++
		}
		add(usage.EventPageView, nil)
		sent.pageViews++
		sent.events += len(events)
		deliver(ctx, t, []string{c.ingest}, otlpLogs(events))
	}
	run := func(d time.Duration, probeViews int, until func() bool) time.Time {
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			tick(probeViews)
			if until != nil && until() {
				return time.Now()
			}
			time.Sleep(250 * time.Millisecond)
		}
		return time.Time{}
	}

	start := time.Now()
	// Baseline: longer than the 45 s "week" plus the 6 s window, so the drop
	// is compared with it.
	run(55*time.Second, 4, nil)
	if a := hook.alert(conversionAlert); a != nil {
		t.Fatalf("%s fired on steady traffic: %+v", conversionAlert, a)
	}
	dropAt := time.Now()
	firedAt := run(40*time.Second, 1, func() bool { return hook.status(conversionAlert) == "firing" })
	if firedAt.IsZero() {
		t.Fatalf("%s did not reach the webhook within 40 s of the drop; Prometheus' alerts: %s", conversionAlert, prom.get(t, "/api/v1/alerts"))
	}
	t.Logf("conversion dropped to 1/4 at +%.1fs; %s delivered firing %.1f s later (rules: [6s] windows, offset 45s, for: 3s; scrape and evaluation every 1 s)",
		dropAt.Sub(start).Seconds(), conversionAlert, firedAt.Sub(dropAt).Seconds())
	recoverAt := time.Now()
	resolvedAt := run(30*time.Second, 4, func() bool { return hook.status(conversionAlert) == "resolved" })
	if resolvedAt.IsZero() {
		t.Fatalf("%s was not resolved within 30 s of the conversion recovering; Prometheus' alerts: %s", conversionAlert, prom.get(t, "/api/v1/alerts"))
	}
	t.Logf("conversion recovered at +%.1fs; %s delivered resolved %.1f s later", recoverAt.Sub(start).Seconds(), conversionAlert, resolvedAt.Sub(recoverAt).Seconds())
	// Before the first events Prometheus may rightly see no intake for the
	// live rules' 3 s; once they flow, never.
	if a := hook.alert("GlamUsageIntakeStopped"); a != nil && (a.Status == "firing" || a.StartsAt.After(start.Add(5*time.Second))) {
		t.Errorf("GlamUsageIntakeStopped fired while events flowed: %+v", a)
	}

	// What Prometheus computed equals what was sent: the counters, once the
	// last flush (200 ms) and scrape (1 s) are in.
	for _, q := range []struct {
		query string
		want  int
	}{
		{`sum(glam_searches_total)`, sent.searches},
		{`sum(glam_probe_views_total)`, sent.probeViews},
		{`sum(glam_page_views_total)`, sent.pageViews},
		{`sum(glam_sessions_total)`, len(sent.sessions)},
		{`sum(otelcol_receiver_accepted_log_records{receiver="glam"})`, sent.events},
	} {
		got := prom.waitValue(t, q.query, float64(q.want), 15*time.Second)
		t.Logf("Prometheus %s = %v; sent %d", q.query, got, q.want)
	}
	// Probe views per search over the baseline's last 6 s, as Prometheus
	// computes it from the counters: 4 views per 4 searches.
	ratio := prom.query(t, `sum(rate(glam_probe_views_total[6s])) / sum(rate(glam_searches_total[6s]))`, dropAt.Add(-time.Second))
	if ratio < 0.9 || ratio > 1.1 {
		t.Errorf("conversion over the baseline = %v, want 1 (4 probe views per 4 searches sent)", ratio)
	}

	// Every metric the shipped rules read exists (but spans, which only a
	// span request makes), so the promtool tests' series are real ones.
	names := prom.metricNames(t)
	for _, n := range ruleMetricNames(t) {
		if n != "otelcol_receiver_accepted_spans" && !names[n] {
			t.Errorf("the rules read %s, which Prometheus does not have from the collector", n)
		}
	}

	// Postgres, beside it all: the view rows equal the raw events.
	waitCaughtUp(ctx, t, db, consumerName, 30*time.Second)
	requireViewsExact(ctx, t, db, "after the Prometheus test's traffic")
	var searches int64
	if err := db.QueryRow(ctx, `SELECT coalesce(sum(count), 0) FROM glam_usage_view_rows WHERE view = 'glam.searches.daily'`).Scan(&searches); err != nil {
		t.Fatal(err)
	}
	if searches != int64(sent.searches) {
		t.Errorf("glam.searches.daily rows add up to %d, want the %d searches sent", searches, sent.searches)
	}
}

// sampleConfigFile is the sample configuration the Prometheus branch is
// taken from, so the test runs what `make run` runs.
type sampleConfigFile struct {
	Processors map[string]any `yaml:"processors"`
	Exporters  map[string]any `yaml:"exporters"`
	Service    struct {
		Pipelines map[string]struct {
			Receivers  []string `yaml:"receivers" json:"receivers"`
			Processors []string `yaml:"processors" json:"processors,omitempty"`
			Exporters  []string `yaml:"exporters" json:"exporters"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

func sampleConfig(t *testing.T) sampleConfigFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg sampleConfigFile
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("testdata/config.yaml: %v", err)
	}
	for _, p := range []string{"metrics", "metrics/prometheus"} {
		if _, ok := cfg.Service.Pipelines[p]; !ok {
			t.Fatalf("testdata/config.yaml has no pipeline %s", p)
		}
	}
	return cfg
}

func shippedRules(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "prometheus", "glam-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// liveRules is the shipped rules with alertWindows' substitutions.
func liveRules(t *testing.T) string {
	t.Helper()
	rules := shippedRules(t)
	for _, w := range alertWindows {
		if !strings.Contains(rules, w.shipped) {
			t.Fatalf("deploy/prometheus/glam-alerts.yml has no %q any more: update alertWindows", w.shipped)
		}
		rules = strings.ReplaceAll(rules, w.shipped, w.live)
	}
	return rules
}

// ruleMetricNames are the metric names the shipped rules' expressions read.
func ruleMetricNames(t *testing.T) []string {
	t.Helper()
	var file struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(shippedRules(t)), &file); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\b(glam_[a-z_]+_total|otelcol_[a-z_]+|up)\b`)
	set := map[string]bool{}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			for _, n := range name.FindAllString(r.Expr, -1) {
				set[n] = true
			}
		}
	}
	var out []string
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	if len(out) < 5 {
		t.Fatalf("found only %v in the rules' expressions", out)
	}
	return out
}

// webhook is Alertmanager's receiver: the last status it was told of, per
// alert name.
type webhook struct {
	url    string
	mu     sync.Mutex
	alerts map[string]webhookAlert
}

type webhookAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &webhook{url: "http://" + l.Addr().String() + "/alerts", alerts: map[string]webhookAlert{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []webhookAlert `json:"alerts"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			t.Errorf("webhook: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		for _, a := range msg.Alerts {
			h.alerts[a.Labels["alertname"]] = a
		}
		h.mu.Unlock()
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h
}

func (h *webhook) status(name string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.alerts[name].Status
}

func (h *webhook) alert(name string) *webhookAlert {
	h.mu.Lock()
	defer h.mu.Unlock()
	if a, ok := h.alerts[name]; ok {
		return &a
	}
	return nil
}

// startProgram runs bin with args until the test ends, its output kept for
// a failing test's log; ready is polled (up to 30 s) until it answers.
func startProgram(t *testing.T, bin string, args []string, ready string) {
	t.Helper()
	var out lockedBuffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s's output (last 4000 bytes):\n%s", filepath.Base(bin), out.tail(4000))
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited at start:\n%s", bin, out.tail(4000))
		default:
		}
		if resp, err := httpClient.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s within 30 s:\n%s", bin, ready, out.tail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.b) > n {
		return "…" + string(b.b[len(b.b)-n:])
	}
	return string(b.b)
}

// startServer writes files into a directory of the test's, runs bin with
// the flags args gives for that directory and a free loopback address, and
// waits until its /-/ready answers; it returns the address.
func startServer(t *testing.T, bin string, files map[string]string, args func(dir, addr string) []string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	startProgram(t, bin, args(dir, addr), "http://"+addr+"/-/ready")
	return addr
}

// startAlertmanager runs Alertmanager, without clustering, sending every
// alert at once (and its resolution) to webhookURL; it returns its address.
func startAlertmanager(t *testing.T, webhookURL string) string {
	t.Helper()
	cfg := fmt.Sprintf(`route:
  receiver: test
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: test
    webhook_configs:
      - url: %q
        send_resolved: true
`, webhookURL)
	return startServer(t, alertmanagerBin, map[string]string{"alertmanager.yml": cfg}, func(dir, addr string) []string {
		return []string{
			"--config.file=" + filepath.Join(dir, "alertmanager.yml"),
			"--storage.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			"--cluster.listen-address=",
		}
	})
}

type prometheus struct{ base string }

// startPrometheus runs Prometheus scraping targets (job otelcol-glam, as
// deploy/prometheus/prometheus.yml) and evaluating rules every second,
// alerting to alertmanager.
func startPrometheus(t *testing.T, alertmanager, rules string, targets []string) *prometheus {
	t.Helper()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [glam-alerts.yml]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [%q]
scrape_configs:
  - job_name: otelcol-glam
    static_configs:
      - targets: [%s]
`, alertmanager, strings.Join(quoted, ", "))
	addr := startServer(t, prometheusBin, map[string]string{"prometheus.yml": cfg, "glam-alerts.yml": rules}, func(dir, addr string) []string {
		return []string{
			"--config.file=" + filepath.Join(dir, "prometheus.yml"),
			"--storage.tsdb.path=" + filepath.Join(dir, "data"),
			"--web.listen-address=" + addr,
			// Resolved and firing alerts go out at once, not a minute later.
			"--rules.alert.resend-delay=1s",
		}
	})
	return &prometheus{base: "http://" + addr}
}

func (p *prometheus) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := httpClient.Get(p.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	return string(body)
}

func (p *prometheus) waitTargetsUp(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var r struct {
			Data struct {
				ActiveTargets []struct {
					Health    string `json:"health"`
					LastError string `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		body := p.get(t, "/api/v1/targets")
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		up := 0
		for _, tg := range r.Data.ActiveTargets {
			if tg.Health == "up" {
				up++
			}
		}
		if up >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d targets up after %s: %s", up, n, timeout, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// query evaluates an instant query at time at (zero: now) and returns its
// single value; -1 when the result is empty.
func (p *prometheus) query(t *testing.T, q string, at time.Time) float64 {
	t.Helper()
	v := url.Values{"query": {q}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64))
	}
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	body := p.get(t, "/api/v1/query?"+v.Encode())
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("%s: %v in %s", q, err, body)
	}
	if len(r.Data.Result) == 0 {
		return -1
	}
	if len(r.Data.Result) > 1 {
		t.Fatalf("%s: %d results, want one: %s", q, len(r.Data.Result), body)
	}
	f, err := strconv.ParseFloat(r.Data.Result[0].Value[1].(string), 64)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return f
}

// waitValue waits until q evaluates to want, failing with the last value.
func (p *prometheus) waitValue(t *testing.T, q string, want float64, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := p.query(t, q, time.Time{})
		if got == want {
			return got
		}
		if time.Now().After(deadline) {
			t.Errorf("Prometheus %s = %v after %s, want %v", q, got, timeout, want)
			return got
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (p *prometheus) metricNames(t *testing.T) map[string]bool {
	t.Helper()
	var r struct {
		Data []string `json:"data"`
	}
	if err := json.Unmarshal([]byte(p.get(t, "/api/v1/label/__name__/values")), &r); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, n := range r.Data {
		out[n] = true
	}
	return out
}
