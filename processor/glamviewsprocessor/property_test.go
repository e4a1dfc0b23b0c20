package glamviewsprocessor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// row is what a store that merges deltas additively would hold for one
// (view, window start, tag set).
type row struct {
	count   int64
	sum     float64
	buckets []uint64
}

func (r *row) add(o row) {
	r.count += o.count
	r.sum += o.sum
	if r.buckets == nil && o.buckets != nil {
		r.buckets = make([]uint64, len(o.buckets))
	}
	for i, b := range o.buckets {
		r.buckets[i] += b
	}
}

// Whatever the measurements, their order, the flushes between them and
// the refusals downstream, the deltas merged per (view, window, tag set)
// equal the aggregates computed straight from the input: nothing is lost,
// nothing counted twice.
func TestPropertyDeltasAddUpToInputTotals(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkDeltasAddUp(t, seed) })
	}
}

func checkDeltasAddUp(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	bounds := []float64{1, 10, 100}
	dist := hourly("dist", measureLoad, AggregationDistribution)
	dist.Buckets = bounds
	daily := hourly("daily_sum", measureLoad, AggregationSum, "a", "b")
	daily.Window.Size = 24 * time.Hour
	sessCount := sessionView("session_count", measureLoad, AggregationCount, "a")
	sessSum := sessionView("session_sum", measureLoad, AggregationSum)
	cfg := testConfig(hourly("hourly_count", measureLoad, AggregationCount, "a"), daily, dist, sessCount, sessSum)
	cfg.AllowedLateness = 48 * time.Hour

	h, rc := newRefusing(t, cfg)
	n := 1 + rng.IntN(400)
	var ms []m
	for range n {
		tags := map[string]any{usage.AttrSessionID: fmt.Sprint("s", rng.IntN(6))}
		if rng.IntN(4) > 0 {
			tags["a"] = fmt.Sprint("a", rng.IntN(3))
		}
		tags["b"] = int64(rng.IntN(2))
		at := t0.Add(time.Duration(rng.Int64N(int64(30 * time.Hour))))
		// Quarters add up exactly in float64, so sums compare exactly.
		ms = append(ms, m{measureLoad, at, float64(rng.IntN(800)) / 4, tags})
	}
	// Arrival order: by event time, then shuffled locally (out of order by
	// up to ~20 measurements).
	sort.Slice(ms, func(i, j int) bool { return ms[i].at.Before(ms[j].at) })
	for i := range ms {
		j := min(len(ms)-1, i+rng.IntN(20))
		ms[i], ms[j] = ms[j], ms[i]
	}

	want := map[string]map[string]*row{}
	sessionTotals := map[string]map[string]*row{}
	for _, v := range cfg.Views {
		want[v.Name], sessionTotals[v.Name] = map[string]*row{}, map[string]*row{}
	}
	for _, x := range ms {
		one := row{count: 1, sum: x.value}
		for _, v := range cfg.Views {
			if v.Window.IsSession() {
				key := x.tags[usage.AttrSessionID].(string)
				addRow(sessionTotals[v.Name], key, one)
				continue
			}
			start := x.at.Truncate(v.Window.Size)
			r := one
			if v.Aggregation == AggregationDistribution {
				r.buckets = make([]uint64, len(bounds)+1)
				r.buckets[sort.SearchFloat64s(bounds, x.value)]++
			}
			addRow(want[v.Name], start.String()+"|"+expectedTags(x.tags, v.TagKeys), r)
		}
	}

	for _, x := range ms {
		if x.at.After(h.clock.Now()) {
			h.clock.set(x.at)
		}
		h.consume(x)
		switch rng.IntN(30) {
		case 0:
			_ = h.vp.flush(context.Background())
		case 1:
			rc.mu.Lock()
			rc.errs = append(rc.errs, errQueueFull)
			rc.mu.Unlock()
		}
	}
	// The final flush has no later flush to retry it.
	rc.mu.Lock()
	rc.errs = nil
	rc.mu.Unlock()
	require.NoError(t, h.proc.Shutdown(context.Background()))

	got := map[string]map[string]*row{}
	gotSessions := map[string]map[string]*row{}
	for _, v := range cfg.Views {
		got[v.Name], gotSessions[v.Name] = map[string]*row{}, map[string]*row{}
	}
	for _, p := range h.points() {
		r := row{count: p.count, sum: p.sum, buckets: p.buckets}
		switch p.view {
		case "session_count", "session_sum":
			if p.view == "session_sum" {
				r.count = 0
			}
			addRow(gotSessions[p.view], p.tags[usage.AttrSessionID], r)
		default:
			if p.view == "daily_sum" {
				r.count = 0
			}
			addRow(got[p.view], p.start.String()+"|"+tagString(p.tags), r)
		}
	}
	for name, rows := range want {
		for _, r := range rows {
			switch name {
			case "daily_sum":
				r.count = 0
			case "hourly_count":
				r.sum = 0
			}
		}
	}
	for name, rows := range sessionTotals {
		for _, r := range rows {
			if name == "session_count" {
				r.sum = 0
			} else {
				r.count = 0
			}
		}
	}
	for _, v := range cfg.Views {
		if v.Window.IsSession() {
			assert.Equal(t, sessionTotals[v.Name], gotSessions[v.Name], "view %s", v.Name)
		} else {
			assert.Equal(t, want[v.Name], got[v.Name], "view %s", v.Name)
		}
	}
}

func addRow(rows map[string]*row, key string, r row) {
	if rows[key] == nil {
		rows[key] = &row{}
	}
	rows[key].add(r)
}

// expectedTags renders a measurement's tags as the view should output them.
func expectedTags(tags map[string]any, keys []string) string {
	res := map[string]string{}
	for _, k := range keys {
		if v, ok := tags[k]; ok {
			res[k] = fmt.Sprint(v)
		}
	}
	return tagString(res)
}
