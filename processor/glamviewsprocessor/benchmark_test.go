package glamviewsprocessor

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadata"
)

// Run with:
//
//	go test -run '^$' -bench 'Consume' -benchtime 300x -cpu 1 -timeout 30m ./processor/glamviewsprocessor/
//	go test -run '^$' -bench 'Flush|Memory' -benchtime 3x -cpu 1 -timeout 30m ./processor/glamviewsprocessor/
//
// -cpu 1 makes the figures per core. A Consume op is a batch of benchBatch
// measurements; measurements/s is reported beside ns/op.

const benchBatch = 1000

var seriesCounts = []int{10, 10_000, 1_000_000}

// benchView is a GLAM-like view: a count per hour by four tags.
func benchView(kind string, maxSeries int) ViewConfig {
	if kind == "session" {
		v := sessionView("sessions", usage.MeasureProbeViews, AggregationCount)
		v.Window.MaxDuration = 24 * time.Hour
		v.MaxSeries = maxSeries
		return v
	}
	v := hourly("probe_views", usage.MeasureProbeViews, AggregationCount,
		usage.AttrProduct, usage.AttrProbeName, usage.AttrProbeProcess, usage.AttrChannel)
	v.MaxSeries = maxSeries
	return v
}

// benchTags are the attributes the receiver puts on a probe view, for
// series i of a fixed view (probe name varies) or a session view
// (session.id varies).
func benchTags(kind string, i int) pcommon.Map {
	tags := pcommon.NewMap()
	tags.PutStr(usage.AttrEventID, "0123456789abcdef")
	tags.PutStr(usage.AttrEventName, usage.EventProbeView)
	tags.PutStr(usage.AttrSource, usage.SourceOTLPTraces)
	tags.PutStr(usage.AttrProduct, "firefox")
	tags.PutStr(usage.AttrProbeProcess, "content")
	tags.PutStr(usage.AttrChannel, "nightly")
	tags.PutStr(usage.AttrOS, "Linux")
	if kind == "session" {
		tags.PutStr(usage.AttrProbeName, "gc_ms")
		tags.PutStr(usage.AttrSessionID, fmt.Sprintf("8f3c2a1e-5b7d-4e9f-a0c1-%012d", i))
	} else {
		tags.PutStr(usage.AttrProbeName, fmt.Sprintf("javascript_gc_slice_during_idle_%d", i))
		tags.PutStr(usage.AttrSessionID, "8f3c2a1e-5b7d-4e9f-a0c1-000000000000")
	}
	return tags
}

// benchInput is one batch of measurements for series first, first+1, ...
// (mod n), a second apart in event time.
func benchInput(kind string, first, n int) pmetric.Metrics {
	md := pmetric.NewMetrics()
	w := usage.NewMeasurementWriter(md)
	for j := range benchBatch {
		w.Record(usage.Measure{Name: usage.MeasureProbeViews}, t0.Add(time.Duration(j)*time.Millisecond), 1, benchTags(kind, (first+j)%n))
	}
	return md
}

func newBenchProcessor(b *testing.B, views ...ViewConfig) (*viewsProcessor, func(pmetric.Metrics)) {
	cfg := testConfig(views...)
	set := processortest.NewNopSettings(metadata.Type)
	vp, err := newViewsProcessor(set, cfg, consumertest.NewNop(), &fakeClock{now: t0.Add(time.Minute)})
	require.NoError(b, err)
	proc, err := wrapProcessor(context.Background(), set, cfg, consumertest.NewNop(), vp)
	require.NoError(b, err)
	return vp, func(md pmetric.Metrics) { require.NoError(b, proc.ConsumeMetrics(context.Background(), md)) }
}

// warmUp creates every one of n series, batch by batch, and returns a
// pool of batches to replay, each starting at another series.
func warmUp(consume func(pmetric.Metrics), kind string, n int) []pmetric.Metrics {
	for first := 0; first < n; first += benchBatch {
		consume(benchInput(kind, first, n))
	}
	pool := make([]pmetric.Metrics, 16)
	for i := range pool {
		pool[i] = benchInput(kind, (i*7919*benchBatch)%n, n)
	}
	return pool
}

// replay times consume over copies of the pool's batches (consuming takes
// the measurements out of a batch) and reports measurements/s.
func replay(b *testing.B, consume func(pmetric.Metrics), pool []pmetric.Metrics) {
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		md := pmetric.NewMetrics()
		pool[i%len(pool)].CopyTo(md)
		b.StartTimer()
		before := processCPU()
		consume(md)
		cpu += processCPU() - before
	}
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "measurements/s")
	b.ReportMetric(float64(b.N*benchBatch)/cpu.Seconds(), "measurements/cpu-s")
}

// processCPU is the CPU time the process has used. On a shared machine
// the wall-clock figures depend on the neighbours; CPU time does much less.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConsume measures measurements/s into one view that holds n live
// series, every series already known (the steady state).
func BenchmarkConsume(b *testing.B) {
	for _, kind := range []string{"fixed", "session"} {
		for _, n := range seriesCounts {
			b.Run(fmt.Sprintf("%s/series=%d", kind, n), func(b *testing.B) {
				_, consume := newBenchProcessor(b, benchView(kind, n))
				replay(b, consume, warmUp(consume, kind, n))
			})
		}
	}
}

// BenchmarkConsumeGLAMViews measures measurements/s through GLAM's seven
// default views (a probe view measurement feeds four of them), 10 000
// probes.
func BenchmarkConsumeGLAMViews(b *testing.B) {
	_, consume := newBenchProcessor(b, glamViews()...)
	replay(b, consume, warmUp(consume, "fixed", 10_000))
}

// BenchmarkFlush measures one flush of n series that all gained since the
// previous flush, sent to a no-op consumer.
func BenchmarkFlush(b *testing.B) {
	for _, n := range seriesCounts {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
			vp, consume := newBenchProcessor(b, benchView("fixed", n))
			warmUp(consume, "fixed", n)
			v := vp.config.views[0]
			var cpu time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				// Give every series a gain again without rebuilding input.
				for _, w := range v.fixed.byStart {
					for _, s := range w.series {
						if v.agg.add(s, 1, w.start) {
							w.dirty = append(w.dirty, s)
						}
					}
				}
				b.StartTimer()
				before := processCPU()
				require.NoError(b, vp.flush(context.Background()))
				cpu += processCPU() - before
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/series")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/series")
		})
	}
}

// BenchmarkMemoryPerSeries reports the heap a live series costs, measured
// as the heap growth from creating n series (and flushing them once, so
// the flush's buffers are counted too), divided by n.
func BenchmarkMemoryPerSeries(b *testing.B) {
	for _, kind := range []string{"fixed", "session"} {
		for _, n := range seriesCounts {
			b.Run(fmt.Sprintf("%s/series=%d", kind, n), func(b *testing.B) {
				var perSeries float64
				for i := 0; i < b.N; i++ {
					before := heapInUse()
					vp, consume := newBenchProcessor(b, benchView(kind, n))
					for first := 0; first < n; first += benchBatch {
						consume(benchInput(kind, first, n))
					}
					require.NoError(b, vp.flush(context.Background()))
					perSeries = float64(heapInUse()-before) / float64(n)
					require.Equal(b, n, vp.config.views[0].seriesCount())
					runtime.KeepAlive(vp)
				}
				b.ReportMetric(perSeries, "bytes/series")
			})
		}
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
