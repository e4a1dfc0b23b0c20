package glamviewsprocessor

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadatatest"
)

var errQueueFull = errors.New("sending queue is full")

// refusingConsumer refuses batches with the errors it is given, in order,
// and passes the rest to a sink. It records every attempt.
type refusingConsumer struct {
	sink     *consumertest.MetricsSink
	mu       sync.Mutex
	errs     []error
	always   error
	attempts []pmetric.Metrics
	// during, when set, runs inside the first attempt, before it answers.
	during func()
}

func (c *refusingConsumer) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (c *refusingConsumer) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	c.mu.Lock()
	attempt := pmetric.NewMetrics()
	md.CopyTo(attempt)
	c.attempts = append(c.attempts, attempt)
	err := c.always
	if len(c.errs) > 0 {
		err, c.errs = c.errs[0], c.errs[1:]
	}
	during := c.during
	c.during = nil
	c.mu.Unlock()
	if during != nil {
		during()
	}
	if err != nil {
		return err
	}
	return c.sink.ConsumeMetrics(ctx, md)
}

func newRefusing(t *testing.T, cfg *Config, errs ...error) (*harness, *refusingConsumer) {
	sink := new(consumertest.MetricsSink)
	rc := &refusingConsumer{sink: sink, errs: errs}
	return newHarnessTo(t, cfg, sink, rc), rc
}

func TestRefusedBatchIsSentAgainUnchanged(t *testing.T) {
	h, rc := newRefusing(t, testConfig(hourly("views", measureViews, AggregationCount)), errQueueFull)
	h.consume(m{measureViews, t0, 1, nil}, m{measureViews, t0, 1, nil})
	h.clock.set(t0.Add(time.Minute))
	require.ErrorIs(t, h.vp.flush(context.Background()), errQueueFull)
	assert.Empty(t, h.sink.AllMetrics())

	h.consume(m{measureViews, t0, 1, nil})
	h.flushAt(t0.Add(2 * time.Minute))

	require.Len(t, rc.attempts, 3)
	sent := h.sink.AllMetrics()
	require.Len(t, sent, 2)
	assertSameMetrics(t, rc.attempts[0], sent[0], "the refused batch goes again as it was, batch id included")
	points := h.points()
	assert.Equal(t, int64(2), points[0].count)
	assert.Equal(t, int64(1), points[1].count)
	assert.NotEqual(t, points[0].batch, points[1].batch)
}

// While the next consumer refuses, newer gains stay in the views, so a
// long refusal costs no more memory than the views already hold.
func TestRefusalHoldsBackNewerGains(t *testing.T) {
	h, rc := newRefusing(t, testConfig(hourly("views", measureViews, AggregationCount)), errQueueFull, errQueueFull)
	h.consume(m{measureViews, t0, 1, nil})
	h.clock.set(t0.Add(time.Minute))
	require.Error(t, h.vp.flush(context.Background()))
	h.consume(m{measureViews, t0, 1, nil})
	require.Error(t, h.vp.flush(context.Background()))
	h.consume(m{measureViews, t0, 1, nil})
	h.flushAt(t0.Add(2 * time.Minute))

	assert.Len(t, rc.attempts, 4, "first batch three times, then the second")
	points := h.points()
	require.Len(t, points, 2)
	assert.Equal(t, []int64{1, 2}, []int64{points[0].count, points[1].count})
}

func TestPermanentRefusalIsCountedAndDropped(t *testing.T) {
	h, _ := newRefusing(t, testConfig(hourly("views", measureViews, AggregationCount, usage.AttrProbeName)),
		consumererror.NewPermanent(errors.New("bad data")))
	h.consume(m{measureViews, t0, 1, probe("a")}, m{measureViews, t0, 1, probe("b")})
	h.flushAt(t0.Add(time.Minute))
	h.consume(m{measureViews, t0, 1, probe("a")})
	h.flushAt(t0.Add(2 * time.Minute))

	points := h.points()
	require.Len(t, points, 1, "the refused batch is not sent again, and does not block the next")
	assert.Equal(t, int64(1), points[0].count)
	metadatatest.AssertEqualProcessorGlamViewsPointsLost(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, ignoreTime...)
}

func TestShutdownFlushesEverything(t *testing.T) {
	h := newHarness(t, testConfig(
		hourly("hourly", measureViews, AggregationCount),
		sessionView("sessions", measureViews, AggregationCount),
	))
	ctx := context.Background()
	require.NoError(t, h.proc.Start(ctx, componenttest.NewNopHost()))
	h.consume(m{measureViews, t0, 1, session("a")}, m{measureViews, t0.Add(time.Minute), 1, session("a")})
	require.NoError(t, h.proc.Shutdown(ctx))

	assert.Equal(t, []out{
		{view: "hourly", start: t0, end: t0.Add(time.Hour), tags: map[string]string{}, count: 2},
		{view: "sessions", start: t0, end: t0.Add(time.Minute), tags: map[string]string{usage.AttrSessionID: "a"}, count: 2},
	}, withoutBatch(h.points()))

	md := pmetric.NewMetrics()
	usage.NewMeasurementWriter(md).Record(usage.Measure{Name: measureViews}, t0, 1, pcommon.NewMap())
	assert.ErrorIs(t, h.proc.ConsumeMetrics(ctx, md), errShutDown, "after the final flush nothing is silently lost")
}

func TestShutdownSendsTheRefusedBatchFirst(t *testing.T) {
	h, rc := newRefusing(t, testConfig(hourly("views", measureViews, AggregationCount)), errQueueFull)
	h.consume(m{measureViews, t0, 1, nil})
	require.Error(t, h.vp.flush(context.Background()))
	h.consume(m{measureViews, t0, 1, nil}, m{measureViews, t0, 1, nil})
	require.NoError(t, h.proc.Shutdown(context.Background()))

	require.Len(t, rc.attempts, 3)
	assertSameMetrics(t, rc.attempts[0], h.sink.AllMetrics()[0])
	points := h.points()
	require.Len(t, points, 2)
	assert.Equal(t, []int64{1, 2}, []int64{points[0].count, points[1].count})
}

func TestShutdownReportsWhatIsLost(t *testing.T) {
	h, rc := newRefusing(t, testConfig(hourly("views", measureViews, AggregationCount, usage.AttrProbeName)))
	rc.always = errQueueFull
	h.consume(m{measureViews, t0, 1, probe("a")}, m{measureViews, t0, 1, probe("b")}, m{measureViews, t0, 1, probe("c")})
	err := h.proc.Shutdown(context.Background())
	require.ErrorIs(t, err, errQueueFull)
	metadatatest.AssertEqualProcessorGlamViewsPointsLost(t, h.tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, ignoreTime...)
}

func TestFlushLoopFlushesOnEveryTick(t *testing.T) {
	cfg := testConfig(hourly("views", measureViews, AggregationCount))
	cfg.FlushInterval = 7 * time.Second
	h := newHarness(t, cfg)
	ctx := context.Background()
	require.NoError(t, h.proc.Start(ctx, componenttest.NewNopHost()))
	h.clock.mu.Lock()
	assert.Equal(t, 7*time.Second, h.clock.every, "flush_interval is the ticker's period")
	h.clock.mu.Unlock()
	h.consume(m{measureViews, t0, 1, nil})
	h.clock.tick <- t0
	require.Eventually(t, func() bool { return len(h.sink.AllMetrics()) == 1 }, 5*time.Second, time.Millisecond)
	h.consume(m{measureViews, t0, 1, nil})
	h.clock.tick <- t0
	require.Eventually(t, func() bool { return len(h.sink.AllMetrics()) == 2 }, 5*time.Second, time.Millisecond)
	require.NoError(t, h.proc.Shutdown(ctx))
	assert.Len(t, h.sink.AllMetrics(), 2, "nothing left for the final flush")
}

func TestOtherMetricsPassThrough(t *testing.T) {
	h := newHarness(t, testConfig(hourly("views", measureViews, AggregationCount)))
	md := pmetric.NewMetrics()
	w := usage.NewMeasurementWriter(md)
	w.Record(usage.Measure{Name: measureViews}, t0, 1, pcommon.NewMap())
	// A scope of other telemetry beside the measurements, in the same
	// resource, and a resource of other telemetry only.
	other := md.ResourceMetrics().At(0).ScopeMetrics().AppendEmpty()
	other.Scope().SetName("app")
	other.Metrics().AppendEmpty().SetName("http.server.duration")
	other.Metrics().At(0).SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(5)
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "glam")
	rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("process.cpu.time")
	rm.ScopeMetrics().At(0).Metrics().At(0).SetEmptySum().DataPoints().AppendEmpty().SetDoubleValue(1.5)

	want := pmetric.NewMetrics()
	md.CopyTo(want)
	want.ResourceMetrics().At(0).ScopeMetrics().RemoveIf(func(sm pmetric.ScopeMetrics) bool { return usage.IsMeasurementScope(sm.Scope()) })

	require.NoError(t, h.proc.ConsumeMetrics(context.Background(), md))
	require.Len(t, h.sink.AllMetrics(), 1)
	assertSameMetrics(t, want, h.sink.AllMetrics()[0])

	h.sink.Reset()
	h.consume(m{measureViews, t0, 1, nil})
	assert.Empty(t, h.sink.AllMetrics(), "a batch of measurements only goes no further")
	h.flushAt(t0.Add(time.Minute))
	assert.Equal(t, int64(2), h.points()[0].count)
}

func TestBatchIdentity(t *testing.T) {
	cfg := testConfig(hourly("views", measureViews, AggregationCount, usage.AttrProbeName), sessionView("sessions", measureViews, AggregationCount))
	h := newHarness(t, cfg)
	for i := range 3 {
		h.consumeLive(m{measureViews, t0.Add(time.Duration(i) * time.Minute), 1, probe("a")}, m{measureViews, t0.Add(time.Duration(i) * time.Minute), 1, probe("b")})
		h.flushAt(t0.Add(time.Duration(i)*time.Minute + time.Second))
	}
	other := newHarness(t, cfg)
	other.consume(m{measureViews, t0, 1, nil})
	other.flushAt(t0.Add(time.Second))

	format := regexp.MustCompile(`^[0-9a-f]{16}-[1-9][0-9]*$`)
	ids := map[string]bool{}
	instances := map[string]bool{}
	for _, md := range append(h.sink.AllMetrics(), other.sink.AllMetrics()...) {
		id, _ := md.ResourceMetrics().At(0).Resource().Attributes().Get(usage.AttrBatchID)
		require.Regexp(t, format, id.Str())
		assert.False(t, ids[id.Str()], "batch id %s used twice", id.Str())
		ids[id.Str()] = true
		instances[strings.Split(id.Str(), "-")[0]] = true
		// Within a batch, each (view, window start, tag set) at most once.
		seen := map[string]bool{}
		for _, p := range parse(t, md) {
			k := p.view + "|" + p.start.String() + "|" + tagString(p.tags)
			assert.False(t, seen[k], "%s twice in batch %s", k, id.Str())
			seen[k] = true
		}
	}
	assert.Len(t, ids, 4)
	assert.Len(t, instances, 2, "two processors never share batch ids")
}

// assertSameMetrics compares two batches by their OTLP encoding.
func assertSameMetrics(t *testing.T, want, got pmetric.Metrics, msg ...any) {
	t.Helper()
	var enc pmetric.JSONMarshaler
	w, err := enc.MarshalMetrics(want)
	require.NoError(t, err)
	g, err := enc.MarshalMetrics(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(w), string(g), msg...)
}

// Measurements arriving from many goroutines while the flush loop runs are
// all counted exactly once (run with -race).
func TestConcurrentConsumeAndFlush(t *testing.T) {
	h := newHarness(t, testConfig(
		hourly("hourly", measureViews, AggregationCount, usage.AttrProbeName),
		sessionView("sessions", measureViews, AggregationCount),
	))
	ctx := context.Background()
	require.NoError(t, h.proc.Start(ctx, componenttest.NewNopHost()))
	const workers, perWorker = 4, 250
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				tags := probe(fmt.Sprint("p", i%7))
				tags[usage.AttrSessionID] = fmt.Sprint("s", w)
				h.consume(m{measureViews, t0.Add(time.Duration(i) * time.Second), 1, tags})
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			h.clock.tick <- t0
		}
	}()
	wg.Wait()
	<-done
	require.NoError(t, h.proc.Shutdown(ctx))

	totals := map[string]int64{}
	for _, p := range h.points() {
		totals[p.view] += p.count
	}
	assert.Equal(t, map[string]int64{"hourly": workers * perWorker, "sessions": workers * perWorker}, totals)
}

// A view's unit, learnt from the measurements, is read by flushes running
// beside them: a unitless measure (whose sum view keeps asking for its unit)
// consumed while the flush loop sends must not race (run with -race).
func TestConcurrentConsumeAndFlushOfUnitlessMeasure(t *testing.T) {
	h := newHarness(t, testConfig(hourly("load", measureLoad, AggregationSum)))
	ctx := context.Background()
	require.NoError(t, h.proc.Start(ctx, componenttest.NewNopHost()))
	const measurements = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			h.clock.tick <- t0
		}
	}()
	for i := range measurements {
		md := pmetric.NewMetrics()
		usage.NewMeasurementWriter(md).Record(usage.Measure{Name: measureLoad}, t0.Add(time.Duration(i)*time.Second), 2, pcommon.NewMap())
		require.NoError(t, h.proc.ConsumeMetrics(ctx, md))
	}
	<-done
	require.NoError(t, h.proc.Shutdown(ctx))

	var total float64
	for _, p := range h.points() {
		total += p.sum
	}
	assert.Equal(t, float64(2*measurements), total)
}

// flush_size: once that many series have something to flush, the views
// flush without waiting for the tick, so that a backlog read at full speed
// goes out in batches the exporter can merge.
func TestFlushSizeFlushesBeforeTheTick(t *testing.T) {
	cfg := testConfig(hourly("views", measureViews, AggregationCount, usage.AttrProbeName))
	cfg.FlushInterval = time.Hour
	cfg.FlushSize = 3
	h := newHarness(t, cfg)
	ctx := context.Background()
	require.NoError(t, h.proc.Start(ctx, componenttest.NewNopHost()))
	h.consume(m{measureViews, t0, 1, probe("a")}, m{measureViews, t0, 1, probe("a")}, m{measureViews, t0, 1, probe("b")})
	assert.Empty(t, h.sink.AllMetrics(), "two series changed: no flush yet")
	h.consume(m{measureViews, t0, 1, probe("c")})
	require.Eventually(t, func() bool { return len(h.sink.AllMetrics()) == 1 }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 3, h.sink.AllMetrics()[0].DataPointCount())
	require.NoError(t, h.proc.Shutdown(ctx))
}
