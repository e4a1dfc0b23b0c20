package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// The soak's load, overridable from the environment: GLAM_SOAK (how long,
// a Go duration), GLAM_SOAK_WARMUP (how much of it comes before RSS is
// judged; default a sixth), GLAM_SOAK_RATE (events per second in all).
const (
	soakDefault     = 2 * time.Minute
	soakDefaultRate = benchRate
	// soakEvery is how often RSS is read.
	soakEvery = 10 * time.Second
	// soakSenders post concurrently, as many browsers do: enough that a
	// slow answer does not hold the pace back.
	soakSenders = 16
	// soakSessions are the sessions open at any time; each lasts
	// soakSessionEvents events on average, then a new one takes its place.
	soakSessions      = 400
	soakSessionEvents = 100
	// soakMaxBatch bounds a request's events (1 to it, uniformly): what a
	// page's batch of page loads and clicks is, not the exporter's 1 000.
	soakMaxBatch = 20
)

// BenchmarkSoak runs the collector as `make run` does — the plain binary
// (no race detector) with testdata/config.yaml as shipped, only its ports
// moved to free ones — against a fresh database and sends it browser-shaped
// usage at a steady rate for GLAM_SOAK (default 2 minutes; README.md,
// "Memory over time", has the long runs): soakSessions sessions open at once, each about
// soakSessionEvents events long, 1 to soakMaxBatch events per request, event
// times now. It reads the collector's RSS (VmRSS) every 10 s, and the views'
// live series and Go heap from its own telemetry, and logs the timeline.
//
// Metrics: RSS after the warm-up (GLAM_SOAK_WARMUP, by default the first
// sixth of the run: the schema, the pools, the views filling up to their
// max_series), at the end and at its highest; how
// far RSS strays from its mean after the warm-up (rss_dev_pct: the run is
// flat within ±that); events/s accepted; requests refused (a 503 the
// sender retried). At the end every accepted event must be in the raw table
// and covered by the views' offset.
//
//	GLAM_SOAK=30m go test -run '^$' -bench BenchmarkSoak -benchtime 1x -timeout 60m -v ./internal/systemtest/
//
// (-v: without it go test cuts a benchmark's log to its first lines.)
func BenchmarkSoak(b *testing.B) {
	duration := soakDefault
	if s := os.Getenv("GLAM_SOAK"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute {
			b.Fatalf("GLAM_SOAK=%q: want a duration of a minute or more", s)
		}
		duration = d
	}
	warm := duration / 6
	if s := os.Getenv("GLAM_SOAK_WARMUP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 0 || d > duration-2*soakEvery {
			b.Fatalf("GLAM_SOAK_WARMUP=%q: want a duration shorter than GLAM_SOAK by 20 s or more", s)
		}
		warm = d
	}
	rate := float64(soakDefaultRate)
	if s := os.Getenv("GLAM_SOAK_RATE"); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r <= 0 {
			b.Fatalf("GLAM_SOAK_RATE=%q: want events per second, more than 0", s)
		}
		rate = r
	}
	ctx := context.Background()
	dsn := withAppName(b, pgtest.NewDatabase(b), "soak")
	db := openDB(b, dsn)
	c := startShippedConfig(b, dsn)
	pid := c.cmd.Process.Pid

	var (
		sent, accepted, refused atomic.Int64
		samples                 []soakSample
		sampleMu                sync.Mutex
	)
	start := time.Now()
	sampleDone := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampleDone)
		tick := time.NewTicker(soakEvery)
		defer tick.Stop()
		for {
			s := soakSample{at: time.Since(start), accepted: accepted.Load()}
			s.rss = vmRSS(pid)
			s.heap, s.views = collectorTelemetry(c.telemetry)
			for _, n := range s.views {
				s.series += n
			}
			// The GLAM app asks meanwhile, as its pages do.
			s.apiOK = apiAnswers(c.api + "/api/v1/usage/probes/top")
			sampleMu.Lock()
			samples = append(samples, s)
			sampleMu.Unlock()
			select {
			case <-tick.C:
			case <-stopSampling:
				return
			}
		}
	}()

	// The generator paces requests (request i when the events before it
	// are due at rate) and makes them when due, so event times are now.
	rng := rand.New(rand.NewPCG(71, 1))
	type live struct {
		id   string
		left int // events it has still to send
	}
	newSession := func() live {
		return live{id: uuidFrom(rng), left: 1 + rng.IntN(2*soakSessionEvents)}
	}
	open := make([]live, soakSessions)
	for i := range open {
		open[i] = newSession()
	}
	type request struct {
		body   []byte
		events int
	}
	requests := make(chan request, soakSenders)
	b.ResetTimer()
	var wg sync.WaitGroup
	for range soakSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range requests {
				ok, refusals := soakPost(ctx, b, c.ingest, r.body)
				refused.Add(int64(refusals))
				if ok {
					accepted.Add(int64(r.events))
				}
			}
		}()
	}
	due := 0.0 // events generated so far
	for time.Since(start) < duration {
		if !c.running() {
			close(requests)
			wg.Wait()
			b.Fatalf("the collector exited %s into the soak:\n%s", time.Since(start).Truncate(time.Second), c.tail(8000))
		}
		time.Sleep(time.Until(start.Add(time.Duration(due / rate * float64(time.Second)))))
		k := 1 + rng.IntN(soakMaxBatch)
		j := rng.IntN(len(open))
		s := &open[j]
		now := time.Now().UTC().Truncate(time.Millisecond)
		events := make([]event, k)
		for i := range events {
			events[i] = randomEvent(rng, uuidFrom(rng), s.id, now)
		}
		if s.left -= k; s.left <= 0 {
			open[j] = newSession()
		}
		requests <- request{otlpLogs(events), k}
		sent.Add(int64(k))
		due += float64(k)
	}
	close(requests)
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSampling)
	<-sampleDone
	b.StopTimer()

	if err := caughtUp(ctx, db, 2*time.Minute); err != nil {
		b.Fatal(err)
	}
	var stored int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM glam_usage_events`).Scan(&stored); err != nil {
		b.Fatal(err)
	}
	if stored != sent.Load() || accepted.Load() != sent.Load() {
		b.Fatalf("sent %d events, %d accepted, %d stored", sent.Load(), accepted.Load(), stored)
	}
	if errs := c.errorLines(); len(errs) > 0 {
		b.Errorf("the collector logged %d errors, first: %s", len(errs), errs[0])
	}

	var after []soakSample
	for _, s := range samples {
		if s.at >= warm {
			after = append(after, s)
		}
	}
	if len(after) < 2 {
		b.Fatalf("only %d RSS samples after the warm-up", len(after))
	}
	var timeline strings.Builder
	fmt.Fprintf(&timeline, "%8s %9s %9s %10s %9s %s\n", "t", "RSS MiB", "heap MiB", "series", "events", "API")
	for _, s := range samples {
		fmt.Fprintf(&timeline, "%8s %9.1f %9.1f %10d %9d %v\n", s.at.Truncate(time.Second), mib(s.rss), mib(s.heap), s.series, s.accepted, s.apiOK)
		if !s.apiOK {
			b.Errorf("at %s the usage API did not answer 200", s.at.Truncate(time.Second))
		}
	}
	last := samples[len(samples)-1]
	var views []string
	for v := range last.views {
		views = append(views, v)
	}
	slices.Sort(views)
	fmt.Fprintf(&timeline, "live series at the end (at %s):", after[0].at.Truncate(time.Second))
	for _, v := range views {
		fmt.Fprintf(&timeline, " %s %d (%d)", v, last.views[v], after[0].views[v])
	}
	b.Logf("%s at %.0f events/s, RSS judged after %s (%d events, %d requests refused and retried):\n%s", duration, rate, warm, sent.Load(), refused.Load(), timeline.String())
	var sum, hi, lo float64 = 0, 0, math.Inf(1)
	for _, s := range after {
		v := float64(s.rss)
		sum += v
		hi, lo = max(hi, v), min(lo, v)
	}
	mean := sum / float64(len(after))
	b.ReportMetric(mib(after[0].rss), "rss_warm_MiB")
	b.ReportMetric(mib(after[len(after)-1].rss), "rss_end_MiB")
	b.ReportMetric(mib(int64(hi)), "rss_max_MiB")
	b.ReportMetric(float64(after[0].series), "series_warm")
	b.ReportMetric(float64(after[len(after)-1].series), "series_end")
	b.ReportMetric(100*max(hi-mean, mean-lo)/mean, "rss_dev_pct")
	b.ReportMetric(float64(accepted.Load())/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(refused.Load()), "refused_requests")
}

// soakSample is the collector at one moment of the soak.
type soakSample struct {
	at        time.Duration
	rss, heap int64
	series    int64            // the views' live series, all views
	views     map[string]int64 // live series by view
	accepted  int64
	apiOK     bool
}

// shippedCollector is the collector run with testdata/config.yaml.
type shippedCollector struct {
	*collector
	telemetry string // the collector's own metrics, Prometheus text
}

// startShippedConfig starts the plain binary with testdata/config.yaml,
// its listening ports moved to free ones (each must be where the file is
// known to have it: a changed file fails here rather than measuring
// something else) and GLAM_POSTGRES_DSN set to dsn.
func startShippedConfig(b *testing.B, dsn string) shippedCollector {
	b.Helper()
	shipped, err := os.ReadFile(filepath.Join("..", "..", "testdata", "config.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := string(shipped)
	ports := map[string]int{}
	for _, from := range []string{"localhost:4380", "localhost:4381", "localhost:8889", "localhost:13133", "port: 8888"} {
		if !strings.Contains(cfg, from) {
			b.Fatalf("testdata/config.yaml no longer has %q", from)
		}
		p := freePort(b)
		ports[from] = p
		to := fmt.Sprintf("127.0.0.1:%d", p)
		if strings.HasPrefix(from, "port:") {
			to = fmt.Sprintf("port: %d", p)
		}
		cfg = strings.ReplaceAll(cfg, from, to)
	}
	path := filepath.Join(b.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv("GLAM_POSTGRES_DSN", dsn)
	c := &collector{t: b, name: "soak", config: path, port: ports["localhost:4380"], log: new(bytes.Buffer), bin: plainCollectorBinary(b)}
	c.ingest = fmt.Sprintf("http://127.0.0.1:%d/api/v1/ingest/v1/logs", c.port)
	c.api = fmt.Sprintf("http://127.0.0.1:%d", ports["localhost:4381"])
	b.Cleanup(func() {
		c.kill()
		if b.Failed() {
			b.Logf("collector %s's log (last 6000 bytes):\n%s", c.name, c.tail(6000))
		}
	})
	c.start()
	return shippedCollector{collector: c, telemetry: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports["port: 8888"])}
}

// soakPost sends body until it is accepted (a 503 or a lost connection is
// retried after 100 ms, for up to a minute) and returns whether it was
// and how many times it was refused.
func soakPost(ctx context.Context, b *testing.B, url string, body []byte) (bool, int) {
	deadline := time.Now().Add(time.Minute)
	for refusals := 0; ; refusals++ {
		ok, err := postOnce(ctx, b, url, body)
		if ok {
			return true, refusals
		}
		if time.Now().After(deadline) {
			b.Errorf("a request was not accepted within a minute: %v", err)
			return false, refusals
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// vmRSS is the process's resident set, from /proc/<pid>/status.
func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// collectorTelemetry reads, from the collector's own metrics, its Go heap
// in use and the views' live series by view.
func collectorTelemetry(url string) (heap int64, views map[string]int64) {
	views = map[string]int64{}
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, views
	}
	defer resp.Body.Close()
	eachSample(resp.Body, func(name, labels string, v float64) {
		switch name {
		case "otelcol_process_runtime_heap_alloc_bytes":
			heap = int64(v)
		case "otelcol_processor_glam_views_series":
			_, view, _ := strings.Cut(labels, `view="`)
			view, _, _ = strings.Cut(view, `"`)
			views[view] += int64(v)
		}
	})
	return heap, views
}

// apiAnswers is whether GET url answers 200.
func apiAnswers(url string) bool {
	resp, err := httpClient.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// uuidFrom is a random lowercase UUID (version 4), as Glean.js and the
// OpenTelemetry JS SDK make session and event ids, drawn from rng so that a
// run is repeatable.
func uuidFrom(rng *rand.Rand) string {
	hi, lo := rng.Uint64(), rng.Uint64()
	hi = hi&^0xf000 | 0x4000         // version 4
	lo = lo&^(0xc<<60) | (0x8 << 60) // variant 10
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, (hi>>16)&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
