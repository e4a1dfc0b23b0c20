package glamviewcountersprocessor

import (
	"context"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// The counters' delta streams are what deltatocumulative accumulates: fed
// through the real processor, each series' cumulative value after every
// batch is the running total of the view deltas sent so far. (glam_views'
// own points would not do: every delta of a window has the window's end as
// its timestamp, which deltatocumulative drops as out of order after the
// first.)
func TestDeltatocumulativeTakesTheCounters(t *testing.T) {
	sink := new(consumertest.MetricsSink)
	f := deltatocumulativeprocessor.NewFactory()
	d2c, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, d2c.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, d2c.Shutdown(context.Background())) })
	h := newHarness(t, config(CounterConfig{View: viewSearches, Name: "glam.searches", TagKeys: []string{usage.AttrProduct}}), d2c)

	today := day0
	ff := map[string]string{usage.AttrProduct: "firefox"}
	batches := []int64{2, 3, 1, 4}
	want := []int64{}
	var running int64
	for i, n := range batches {
		// Every delta is for the same window, as glam_views sends a day's
		// gains every flush; one is for yesterday, late.
		start := today
		if i == 2 {
			start = today.Add(-24 * time.Hour)
		}
		h.consume(viewBatch("d-"+string(rune('a'+i)), vp{viewSearches, start, start.Add(24 * time.Hour), ff, n}))
		running += n
		want = append(want, running)
	}

	var got []int64
	for _, md := range sink.AllMetrics() {
		m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
		require.Equal(t, pmetric.AggregationTemporalityCumulative, m.Sum().AggregationTemporality())
		got = append(got, m.Sum().DataPoints().At(0).IntValue())
	}
	assert.Equal(t, want, got)
}
