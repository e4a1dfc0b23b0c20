package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"maps"
	"slices"
)

// fixedWindow is one window [start, start+size) of a fixed-window view.
type fixedWindow struct {
	start  int64
	series map[string]*series
	// overflow takes the measurements of tag sets beyond max_series.
	overflow *series
	// dirty lists the series with something to flush, in the order they
	// got it.
	dirty []*series
}

// fixedWindows are a fixed-window view's live windows: from the one that
// closed allowed_lateness ago to the one allowed_lateness ahead.
type fixedWindows struct {
	byStart map[int64]*fixedWindow
	// last is the window the previous measurement went to, which is
	// nearly always the next one's too.
	last *fixedWindow
}

// recordFixed folds a measurement into its window. A window that was already
// flushed and forgotten is made again: it only carries what it gains from
// now on, which downstream adds to the row of that window, so no
// measurement is too late for a fixed window (the event log and the raw
// events' retention bound how late one can come).
func (v *view) recordFixed(t, now int64, value float64, key []byte) outcome {
	start := t - mod(t, v.size)
	w := v.fixed.last
	if w == nil || w.start != start {
		w = v.fixed.byStart[start]
		if w == nil {
			w = &fixedWindow{start: start, series: map[string]*series{}}
			v.fixed.byStart[start] = w
		}
		v.fixed.last = w
	}
	out := recorded
	s := w.series[string(key)]
	switch {
	case s != nil:
	case len(w.series) < v.limit:
		s = newSeries(string(key))
		w.series[s.key] = s
		v.live++
	default:
		out = overflowed
		if w.overflow == nil {
			w.overflow = newSeries("")
			v.overflowLive++
		}
		s = w.overflow
	}
	if v.agg.add(s, value, t) {
		w.dirty = append(w.dirty, s)
		v.changed++
	}
	return out
}

func (v *view) takeFixed() []point {
	n := 0
	for _, w := range v.fixed.byStart {
		n += len(w.dirty)
	}
	if n == 0 {
		return nil
	}
	points := make([]point, 0, n)
	for _, start := range slices.Sorted(maps.Keys(v.fixed.byStart)) {
		w := v.fixed.byStart[start]
		for _, s := range w.dirty {
			points = append(points, point{delta: s.take(), start: start, end: start + v.size, key: s.key, overflow: s == w.overflow})
		}
		clear(w.dirty)
		w.dirty = w.dirty[:0]
	}
	return points
}

// evictFixed forgets the windows no measurement can reach any more. It runs
// right after takeFixed, so they have nothing left to flush.
func (v *view) evictFixed(now int64) {
	for start, w := range v.fixed.byStart {
		if now <= start+v.size+v.lateness {
			continue
		}
		v.live -= len(w.series)
		if w.overflow != nil {
			v.overflowLive--
		}
		delete(v.fixed.byStart, start)
		if v.fixed.last == w {
			v.fixed.last = nil
		}
	}
}

// mod is the non-negative remainder, so windows before 1970 align too.
func mod(t, size int64) int64 {
	r := t % size
	if r < 0 {
		r += size
	}
	return r
}
