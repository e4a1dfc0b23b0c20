package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"math"
	"sort"
)

// delta is what one series gained since it was last flushed. It is kept
// small (a live series costs its delta, its key and its map entry): what
// only distributions need sits behind dist.
type delta struct {
	// count is the number of measurements folded in; 0 means nothing to
	// flush.
	count int64
	// sum is the sum of a sum or distribution view, and the value of a
	// last_value view, from the measurement with the latest event time.
	sum float64
	// dist is a distribution's min, max and bucket counts; nil for the
	// other aggregations.
	dist *distribution
}

// distribution is what a distribution view's delta holds besides count and
// sum.
type distribution struct {
	min, max float64
	// buckets holds the bucket counts, len(bounds)+1 of them.
	buckets []uint64
}

// series is one tag set in one window. It fills a 48-byte allocation
// exactly: whether it is its window's overflow series is known from where
// it is kept, not from a field.
type series struct {
	delta
	// key is the encoded tag set (see tags.go).
	key string
	// lastTime is the event time of the value a last_value series holds:
	// its pending value's while count > 0, and the last value flushed's
	// after — an older value arriving later must not overwrite either,
	// downstream or here, so it is ignored. noTime before any value.
	lastTime int64
}

// noTime is the lastTime of a series that never held a value: every
// measurement is newer.
const noTime = math.MinInt64

// seriesOf is a new series of tag set key, holding nothing.
func seriesOf(key string) series { return series{key: key, lastTime: noTime} }

func newSeries(key string) *series {
	s := seriesOf(key)
	return &s
}

// aggregator folds measurements into a series the way a view says.
type aggregator struct {
	kind   Aggregation
	bounds []float64
}

// add folds one measurement in and reports whether the series went from
// nothing to flush to something to flush.
func (a *aggregator) add(s *series, value float64, t int64) (becameDirty bool) {
	becameDirty = s.count == 0
	switch a.kind {
	case AggregationSum:
		s.sum += value
	case AggregationDistribution:
		d := s.dist
		if d == nil {
			d = &distribution{min: value, max: value, buckets: make([]uint64, len(a.bounds)+1)}
			s.dist = d
		}
		if value < d.min {
			d.min = value
		}
		if value > d.max {
			d.max = value
		}
		s.sum += value
		// Bucket i holds (bounds[i-1], bounds[i]], as OTLP explicit
		// bucket histograms define it.
		d.buckets[sort.SearchFloat64s(a.bounds, value)]++
	case AggregationLastValue:
		if t < s.lastTime {
			return false
		}
		s.sum, s.lastTime = value, t
	}
	s.count++
	return becameDirty
}

// take moves the series' delta out, leaving the series with nothing to
// flush (and lastTime as it was: the time of what was flushed).
func (s *series) take() delta {
	d := s.delta
	s.delta = delta{}
	return d
}
