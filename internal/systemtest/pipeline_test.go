package systemtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"
	"github.com/mozilla/otelcol-glam/receiver/glamreceiver"
)

// consumerName is glam_eventlog's default consumer: the offset and lease of
// GLAM's default views.
const consumerName = glameventlogreceiver.DefaultConsumer

// pipelineOptions tune an in-process collector for a test's time scale.
type pipelineOptions struct {
	// flush is glam_views' flush_interval.
	flush time.Duration
	// leaseRetry and backoff are glam_eventlog's.
	leaseRetry, backoff time.Duration
	// logsQueue keeps glam_postgres's default in-memory sending queue for
	// raw events (a 200 then means queued); without it a 200 means
	// committed.
	logsQueue bool
	// noViews builds the raw-events pipeline only.
	noViews bool
}

// replica is one collector built in process from the components' factories,
// as a deployment's config wires them: receiver glam → (logs) →
// glam_postgres, and glam_eventlog → glam_views → glam_postgres. Replicas
// on one database have components of their own (their own ids, so nothing
// is shared between them inside the process).
type replica struct {
	t        testing.TB
	name     string
	dsn      string
	opts     pipelineOptions
	ingest   string
	logs     exporter.Logs
	metrics  exporter.Metrics
	receiver receiver.Logs
	views    *viewConsumer
	// stats is shared by the replicas of a test.
	stats *viewStats
}

// viewConsumer is a replica's reader of the event log and its views
// processor, which a test may crash and start again.
type viewConsumer struct {
	gate   *gate
	tap    *tap
	views  processor.Metrics
	reader receiver.Metrics
	// readerGone: the reader stopped, the processor still runs (loseReader).
	readerGone bool
}

func (c *viewConsumer) stopReader() error {
	if c.readerGone {
		return nil
	}
	c.readerGone = true
	return c.reader.Shutdown(context.Background())
}

// tap counts the events whose measurements the processor took from the
// reader (one glam.events measurement per event).
type tap struct {
	next    consumer.Metrics
	replica string
	stats   *viewStats
	events  atomic.Int64
	// rewinds counts the times the reader started again from the offset.
	rewinds atomic.Int64
}

func (c *tap) Capabilities() consumer.Capabilities { return consumer.Capabilities{MutatesData: true} }

func (c *tap) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	var n int64
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		sms := md.ResourceMetrics().At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				if ms.At(k).Name() == usage.MeasureEvents {
					n += int64(ms.At(k).Gauge().DataPoints().Len())
				}
			}
		}
	}
	what := describeRange(md)
	err := c.next.ConsumeMetrics(ctx, md)
	if err == nil {
		c.events.Add(n)
		if strings.HasSuffix(what, "rewound") {
			c.rewinds.Add(1)
			c.stats.mu.Lock()
			c.stats.reading = c.replica
			c.stats.mu.Unlock()
		}
	}
	if c.stats != nil && (n > 0 || err != nil || strings.HasSuffix(what, "rewound")) {
		c.stats.record("%s reader → views: %s: %v", c.replica, what, err)
	}
	return err
}

// waitFed waits until the processor has taken n events' measurements.
func (c *viewConsumer) waitFed(t testing.TB, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for c.tap.events.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("the views took %d events from the reader in 10 s, want %d", c.tap.events.Load(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// gate passes view batches to the exporter until it is cut: a crashed
// collector sends nothing more. A batch already past the gate when it is
// cut still commits, or not, as one in flight when a process dies does.
type gate struct {
	next    consumer.Metrics
	replica string
	stats   *viewStats
	cut     atomic.Bool
	// hold, when set, keeps every batch waiting until it is released;
	// waiting counts the batches held.
	mu      sync.Mutex
	hold    chan struct{}
	waiting atomic.Int64
}

// holdBatches keeps the batches that come from now on waiting at the gate
// until release is called (or the replica shuts down: a test that fails
// while batches wait must not hang in its cleanup on the processor's final
// flush).
func (g *gate) holdBatches() (release func()) {
	ch := make(chan struct{})
	g.mu.Lock()
	g.hold = ch
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.hold == ch {
			g.hold = nil
		}
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
}

// release lets every waiting batch go.
func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.hold != nil {
		close(g.hold)
		g.hold = nil
	}
}

func (g *gate) held() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hold
}

var errCrashed = errors.New("systemtest: this collector crashed")

func (g *gate) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (g *gate) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	if h := g.held(); h != nil {
		g.waiting.Add(1)
		<-h
	}
	if g.cut.Load() {
		g.stats.lost.Add(1)
		return errCrashed
	}
	what := describeRange(md)
	err := g.next.ConsumeMetrics(ctx, md)
	g.stats.count(g.replica, err)
	g.stats.record("%s views → exporter: %s: %v", g.replica, what, err)
	return err
}

// describeRange is a batch's log range and size, for the flight record.
func describeRange(md pmetric.Metrics) string {
	if md.ResourceMetrics().Len() == 0 {
		return "empty"
	}
	a := md.ResourceMetrics().At(0).Resource().Attributes()
	from, _ := a.Get(usage.AttrLogFrom)
	to, _ := a.Get(usage.AttrLogTo)
	out := fmt.Sprintf("%s..%s, %d points", from.AsString(), to.AsString(), md.DataPointCount())
	if rw, ok := a.Get(usage.AttrLogRewound); ok && rw.Bool() {
		out += ", rewound"
	}
	return out
}

// viewStats counts what happened to the view batches of a test's replicas,
// so that a test can show its faults were real.
type viewStats struct {
	// merged: batches the exporter took; conflicts: batches it refused as
	// not starting at the offset (a consumer that lost the lease, or a
	// stale read); lost: batches of crashed consumers, refused by the gate;
	// handovers: times the replica whose batches moved the offset changed.
	merged, conflicts, lost, handovers atomic.Int64

	mu   sync.Mutex
	last string
	// reading is the replica whose reader last started from the offset:
	// the lease's holder, as long as that reader runs.
	reading string
	// flight is the last things that went through the gates and taps,
	// for a failure message.
	flight []string
}

func (s *viewStats) record(format string, args ...any) {
	line := time.Now().UTC().Format("15:04:05.000 ") + fmt.Sprintf(format, args...)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flight = append(s.flight, line)
	if len(s.flight) > 120 {
		s.flight = s.flight[len(s.flight)-100:]
	}
}

// flightRecord is the last batches that went between the components.
func (s *viewStats) flightRecord() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.flight, "\n  ")
}

func (s *viewStats) count(replica string, err error) {
	switch {
	case errors.Is(err, usage.ErrLogPositionConflict):
		s.conflicts.Add(1)
	case err == nil:
		s.merged.Add(1)
		s.mu.Lock()
		if s.last != "" && s.last != replica {
			s.handovers.Add(1)
		}
		s.last = replica
		s.mu.Unlock()
	}
}

// holder is the replica whose reader last started from the offset.
func (s *viewStats) holder() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reading
}

func (s *viewStats) add(o *viewStats) {
	s.merged.Add(o.merged.Load())
	s.conflicts.Add(o.conflicts.Load())
	s.lost.Add(o.lost.Load())
	s.handovers.Add(o.handovers.Load())
}

func (s *viewStats) String() string {
	return fmt.Sprintf("%d view batches merged, %d refused as not at the offset, %d lost in crashes, %d hand-overs",
		s.merged.Load(), s.conflicts.Load(), s.lost.Load(), s.handovers.Load())
}

// debugLogEnv, set to a zap level (debug, info, warn), sends the in-process
// components' logs to the test log.
const debugLogEnv = "GLAM_SYSTEMTEST_LOG"

// logger is the components' logger: none unless debugLogEnv asks.
func logger(t testing.TB, name string) *zap.Logger {
	level := os.Getenv(debugLogEnv)
	if level == "" {
		return zap.NewNop()
	}
	l, err := zap.ParseAtomicLevel(level)
	if err != nil {
		t.Fatalf("%s=%q: %v", debugLogEnv, level, err)
	}
	return zaptest.NewLogger(t, zaptest.Level(l)).Named(name)
}

func freeEndpoint(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// instances numbers the components of every replica started in this
// process. The glam_postgres exporter (and the glam receiver) share their
// state between components of the same id in a process, as a collector's
// logs and metrics pipelines do: replicas, and the parallel runs of a test,
// must not.
var instances atomic.Int64

// componentID is a component id of its own for replica name.
func componentID(t component.Type, name string) component.ID {
	return component.MustNewIDWithName(t.String(), fmt.Sprintf("%s_%d", name, instances.Add(1)))
}

// startReplica starts a replica named name on dsn and stops it when the test
// ends (its view consumer first, as the collector shuts down receivers and
// processors before exporters).
func startReplica(t testing.TB, dsn, name string, opts pipelineOptions, stats *viewStats) *replica {
	t.Helper()
	ctx := context.Background()
	if stats == nil {
		stats = new(viewStats)
	}
	r := &replica{t: t, name: name, dsn: dsn, opts: opts, stats: stats}

	ef := glampostgresexporter.NewFactory()
	ecfg := ef.CreateDefaultConfig().(*glampostgresexporter.Config)
	ecfg.Postgres.DSN = configopaque.String(dsn)
	if !opts.logsQueue {
		ecfg.QueueConfig = configoptional.None[exporterhelper.QueueBatchConfig]()
	}
	ecfg.BackOffConfig.InitialInterval = 20 * time.Millisecond
	ecfg.BackOffConfig.MaxInterval = 200 * time.Millisecond
	eset := exportertest.NewNopSettings(ef.Type())
	eset.ID = componentID(ef.Type(), name)
	eset.Logger = logger(t, name+".glam_postgres")
	var err error
	r.logs, err = ef.CreateLogs(ctx, eset, ecfg)
	require.NoError(t, err)
	r.metrics, err = ef.CreateMetrics(ctx, eset, ecfg)
	require.NoError(t, err)
	require.NoError(t, r.logs.Start(ctx, componenttest.NewNopHost()))
	require.NoError(t, r.metrics.Start(ctx, componenttest.NewNopHost()))

	rf := glamreceiver.NewFactory()
	rcfg := rf.CreateDefaultConfig().(*glamreceiver.Config)
	rcfg.ServerConfig.NetAddr.Endpoint = freeEndpoint(t)
	rset := receivertest.NewNopSettings(rf.Type())
	rset.ID = componentID(rf.Type(), name)
	rset.Logger = logger(t, name+".glam")
	r.receiver, err = rf.CreateLogs(ctx, rset, rcfg, r.logs)
	require.NoError(t, err)
	require.NoError(t, r.receiver.Start(ctx, componenttest.NewNopHost()))
	r.ingest = "http://" + rcfg.ServerConfig.NetAddr.Endpoint + rcfg.PathPrefix + "/v1/logs"

	t.Cleanup(r.shutdown)
	if !opts.noViews {
		r.startViews()
	}
	return r
}

// startViews starts the replica's view consumer: a views processor and a
// reader of the log feeding it, behind a fresh gate to the exporter.
func (r *replica) startViews() { r.startViewsWith(nil) }

// startViewsWith starts the view consumer with setup applied to its gate
// before anything flows (nil: none).
func (r *replica) startViewsWith(setup func(*gate)) {
	t := r.t
	t.Helper()
	if r.views != nil && r.views.readerGone {
		_ = r.stopViews()
	}
	require.Nil(t, r.views, "replica %s's view consumer is already running", r.name)
	ctx := context.Background()
	c := &viewConsumer{gate: &gate{next: r.metrics, replica: r.name, stats: r.stats}}
	if setup != nil {
		setup(c.gate)
	}

	pf := glamviewsprocessor.NewFactory()
	pcfg := pf.CreateDefaultConfig().(*glamviewsprocessor.Config)
	pcfg.FlushInterval = r.opts.flush
	pset := processortest.NewNopSettings(pf.Type())
	pset.Logger = logger(t, r.name+".glam_views")
	var err error
	c.views, err = pf.CreateMetrics(ctx, pset, pcfg, c.gate)
	require.NoError(t, err)
	require.NoError(t, c.views.Start(ctx, componenttest.NewNopHost()))

	lf := glameventlogreceiver.NewFactory()
	lcfg := lf.CreateDefaultConfig().(*glameventlogreceiver.Config)
	lcfg.DSN = configopaque.String(r.dsn)
	lcfg.LeaseRetry = r.opts.leaseRetry
	lcfg.Backoff = r.opts.backoff
	lset := receivertest.NewNopSettings(lf.Type())
	lset.ID = componentID(lf.Type(), r.name)
	lset.Logger = logger(t, r.name+".glam_eventlog")
	c.tap = &tap{next: c.views, replica: r.name, stats: r.stats}
	c.reader, err = lf.CreateMetrics(ctx, lset, lcfg, c.tap)
	require.NoError(t, err)
	require.NoError(t, c.reader.Start(ctx, componenttest.NewNopHost()))
	r.views = c
	r.stats.record("%s view consumer started", r.name)
}

// crashViews stops the view consumer as a crash would: from now on nothing
// it holds reaches the database (the gate is cut before anything else), its
// reader's connection and so its lease end, and the processor's final flush
// is refused. Raw events already acknowledged stay, in the raw table.
func (r *replica) crashViews() {
	c := r.views
	if c == nil {
		return
	}
	r.views = nil
	r.stats.record("%s view consumer crashes", r.name)
	c.gate.cut.Store(true)
	require.NoError(r.t, c.stopReader())
	_ = c.views.Shutdown(context.Background()) // refused by the gate: lost, as in a crash
}

// loseReader stops the view consumer's reader, and so ends its lease, while
// its processor runs on with what it holds, flushing it: a replica cut off
// from its lease (its connection gone) before it learns so. The processor
// stops, flushing, when the consumer is next started or stopped.
func (r *replica) loseReader() {
	if r.views != nil {
		r.stats.record("%s reader stops, its processor runs on", r.name)
		require.NoError(r.t, r.views.stopReader())
	}
}

// stopViews stops the view consumer gracefully: the reader first, then the
// processor, whose final flush goes out.
func (r *replica) stopViews() error {
	c := r.views
	if c == nil {
		return nil
	}
	r.views = nil
	r.stats.record("%s view consumer stops", r.name)
	return errors.Join(c.stopReader(), c.views.Shutdown(context.Background()))
}

func (r *replica) shutdown() {
	ctx := context.Background()
	if r.views != nil {
		r.views.gate.release()
	}
	err := r.stopViews()
	err = errors.Join(err, r.receiver.Shutdown(ctx), r.logs.Shutdown(ctx), r.metrics.Shutdown(ctx))
	if err != nil {
		r.t.Logf("replica %s: shutdown: %v", r.name, err)
	}
}
