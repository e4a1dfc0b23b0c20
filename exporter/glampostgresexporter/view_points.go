package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// rowKey identifies a view row: view, window start and tag set.
type rowKey struct {
	view     string
	start    time.Time
	tagsHash [sha256.Size]byte
}

// utc is k with its start in UTC, so that keys read back from PostgreSQL
// (in the session's time zone) and keys of points compare equal as map keys.
func (k rowKey) utc() rowKey {
	k.start = k.start.UTC()
	return k
}

// viewPoint is one data point on its way to a view row, in
// pgschema.ViewRowColumns order once merged.
type viewPoint struct {
	batchID    string
	key        rowKey
	tags       []byte
	end        time.Time
	metricType string
	count      int64
	sum        float64
	bounds     []float64
	buckets    []int64
	min, max   *float64
	last       *float64
	lastTime   time.Time
}

func (p *viewPoint) values() []any {
	v := []any{p.key.view, p.key.start, p.key.tagsHash[:], p.tags, p.end, p.metricType,
		p.count, p.sum, nil, nil, p.min, p.max, p.last, nil}
	if p.metricType == pgschema.MetricTypeHistogram {
		v[8], v[9] = p.bounds, p.buckets
	}
	if p.last != nil {
		v[13] = p.lastTime
	}
	return v
}

var errIncompatible = errors.New("its metric type or bucket bounds differ from those of the row already stored for this view, window and tag set")

// merge adds q into p as the database does: counts, sums and buckets add
// up, min and max widen, the newest last value wins (the later one on a tie)
// and the window end is the greatest seen.
func (p *viewPoint) merge(q *viewPoint) error {
	if p.metricType != q.metricType || !slices.Equal(p.bounds, q.bounds) {
		return errIncompatible
	}
	p.count += q.count
	p.sum += q.sum
	for i := range p.buckets {
		p.buckets[i] += q.buckets[i]
	}
	p.min = extreme(p.min, q.min, math.Min)
	p.max = extreme(p.max, q.max, math.Max)
	if q.last != nil && (p.last == nil || !q.lastTime.Before(p.lastTime)) {
		p.last, p.lastTime = q.last, q.lastTime
	}
	if q.end.After(p.end) {
		p.end = q.end
	}
	return nil
}

func extreme(a, b *float64, pick func(x, y float64) float64) *float64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	v := pick(*a, *b)
	return &v
}

// viewBatch is what one pmetric.Metrics becomes.
type viewBatch struct {
	points   []viewPoint
	replayed int // repeats of a (batch id, row) within the batch
	rejected rejections
	// log is the range of the event log the batch covers, for batches
	// made from the log; logErr says why the batch's log attributes cannot
	// be used, and then nothing of it is merged.
	log    *logRange
	logErr error
}

// logRange is the part of the event log a view batch covers, and the
// consumer whose offset it moves.
type logRange struct {
	consumer string
	from, to usage.LogPosition
}

func (r *logRange) String() string {
	if r == nil {
		return "no log range"
	}
	return fmt.Sprintf("consumer %q from %s to %s", r.consumer, r.from, r.to)
}

// resourceLogRange reads the log range a resource's data covers, or nil
// when the resource carries none.
func resourceLogRange(attrs pcommon.Map) (*logRange, error) {
	consumer, hasConsumer := attrs.Get(usage.AttrLogConsumer)
	from, hasFrom := attrs.Get(usage.AttrLogFrom)
	to, hasTo := attrs.Get(usage.AttrLogTo)
	if !hasConsumer && !hasFrom && !hasTo {
		return nil, nil
	}
	if !hasConsumer || !hasFrom || !hasTo {
		return nil, fmt.Errorf("resource attributes %s, %s and %s go together: a batch from the event log carries all three",
			usage.AttrLogConsumer, usage.AttrLogFrom, usage.AttrLogTo)
	}
	r := &logRange{consumer: consumer.AsString()}
	if r.consumer == "" {
		return nil, fmt.Errorf("resource attribute %s is empty", usage.AttrLogConsumer)
	}
	if err := checkText("resource attribute "+usage.AttrLogConsumer, r.consumer); err != nil {
		return nil, err
	}
	var err error
	if r.from, err = usage.ParseLogPosition(from.AsString()); err != nil {
		return nil, fmt.Errorf("resource attribute %s: %w", usage.AttrLogFrom, err)
	}
	if r.to, err = usage.ParseLogPosition(to.AsString()); err != nil {
		return nil, fmt.Errorf("resource attribute %s: %w", usage.AttrLogTo, err)
	}
	if r.to.Less(r.from) {
		return nil, fmt.Errorf("log range ends (%s) before it starts (%s)", r.to, r.from)
	}
	return r, nil
}

// batchLogRange is the one log range all resources of md cover, or nil
// when none carries one. Resources that differ (in range, or some with a
// range and some without) are an error: one export is one log batch.
func batchLogRange(md pmetric.Metrics) (*logRange, error) {
	var first *logRange
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		r, err := resourceLogRange(md.ResourceMetrics().At(i).Resource().Attributes())
		if err != nil {
			return nil, fmt.Errorf("resource %d: %w", i, err)
		}
		if i == 0 {
			first = r
			continue
		}
		if (first == nil) != (r == nil) || first != nil && *first != *r {
			return nil, fmt.Errorf("resources 0 and %d cover different log ranges (%s; %s): one export holds one batch of the event log", i, first, r)
		}
	}
	return first, nil
}

func newViewBatch(md pmetric.Metrics) *viewBatch {
	b := &viewBatch{rejected: rejections{kind: "data points", total: md.DataPointCount()}}
	b.log, b.logErr = batchLogRange(md)
	if b.logErr != nil {
		return b
	}
	// A batch from the log is deduplicated by its consumer's offset: its
	// batch id is not needed, and its points add up as any delta does.
	// Unless it covers no events: then merging it leaves the offset where
	// it was, and only its batch id tells a retry from new points.
	useBatchID := b.log == nil || b.log.from == b.log.to
	type batchRow struct {
		batchID string
		key     rowKey
	}
	seen := map[batchRow]bool{}
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		rm := md.ResourceMetrics().At(i)
		batchID := ""
		if v, ok := rm.Resource().Attributes().Get(usage.AttrBatchID); ok && useBatchID {
			batchID = v.AsString()
		}
		for j := 0; j < rm.ScopeMetrics().Len(); j++ {
			ms := rm.ScopeMetrics().At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				eachPoint(m, func(p viewPoint, err error) {
					if err == nil && batchID != "" {
						err = checkText("resource attribute "+usage.AttrBatchID, batchID)
					}
					if err != nil {
						b.rejected.add(fmt.Errorf("metric %q: %w", m.Name(), err))
						return
					}
					p.batchID = batchID
					if batchID != "" {
						if seen[batchRow{batchID, p.key}] {
							b.replayed++
							return
						}
						seen[batchRow{batchID, p.key}] = true
					}
					b.points = append(b.points, p)
				})
			}
		}
	}
	return b
}

// eachPoint calls f with each data point of m as a viewPoint, or with the
// reason it cannot be one.
func eachPoint(m pmetric.Metric, f func(viewPoint, error)) {
	if err := checkText("metric name", m.Name()); err != nil || m.Name() == "" {
		if err == nil {
			err = errors.New("metric has no name")
		}
		for range usage.DataPointCount(m) {
			f(viewPoint{}, err)
		}
		return
	}
	switch m.Type() {
	case pmetric.MetricTypeSum:
		dps := m.Sum().DataPoints()
		temporality := m.Sum().AggregationTemporality()
		for i := 0; i < dps.Len(); i++ {
			if !noValue(dps.At(i).Flags()) {
				f(sumPoint(m.Name(), temporality, dps.At(i)))
			}
		}
	case pmetric.MetricTypeGauge:
		dps := m.Gauge().DataPoints()
		for i := 0; i < dps.Len(); i++ {
			if !noValue(dps.At(i).Flags()) {
				f(gaugePoint(m.Name(), dps.At(i)))
			}
		}
	case pmetric.MetricTypeHistogram:
		dps := m.Histogram().DataPoints()
		temporality := m.Histogram().AggregationTemporality()
		for i := 0; i < dps.Len(); i++ {
			if !noValue(dps.At(i).Flags()) {
				f(histogramPoint(m.Name(), temporality, dps.At(i)))
			}
		}
	default:
		err := fmt.Errorf("metric type %s is not supported: only Sum, Gauge and explicit-bucket Histogram are", m.Type())
		for range usage.DataPointCount(m) {
			f(viewPoint{}, err)
		}
	}
}

// noValue marks a point that says a series had no value then (a staleness
// marker): there is nothing to merge.
func noValue(flags pmetric.DataPointFlags) bool { return flags.NoRecordedValue() }

func checkDelta(t pmetric.AggregationTemporality) error {
	if t != pmetric.AggregationTemporalityDelta {
		return fmt.Errorf("aggregation temporality is %s: only delta can be merged additively (put a cumulativetodelta processor before this exporter)", t)
	}
	return nil
}

// basePoint reads what every data point type shares: the row key and the
// window. A point without a start time is its own window starting at its
// time.
func basePoint(view string, start, end pcommon.Timestamp, attrs pcommon.Map) (viewPoint, error) {
	if end == 0 {
		return viewPoint{}, errors.New("data point has no timestamp")
	}
	if start == 0 {
		start = end
	}
	if start > end {
		return viewPoint{}, errors.New("data point starts after it ends")
	}
	tags, err := mapJSON("attributes", attrs)
	if err != nil {
		return viewPoint{}, err
	}
	// timestamptz keeps microseconds: keys must match what comes back.
	return viewPoint{
		key:  rowKey{view: view, start: start.AsTime().Truncate(time.Microsecond), tagsHash: sha256.Sum256(tags)},
		tags: tags,
		end:  end.AsTime().Truncate(time.Microsecond),
	}, nil
}

func sumPoint(view string, t pmetric.AggregationTemporality, dp pmetric.NumberDataPoint) (viewPoint, error) {
	if err := checkDelta(t); err != nil {
		return viewPoint{}, err
	}
	p, err := basePoint(view, dp.StartTimestamp(), dp.Timestamp(), dp.Attributes())
	if err != nil {
		return viewPoint{}, err
	}
	p.metricType = pgschema.MetricTypeSum
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		// Count views send integer sums: count keeps them exact past 2^53.
		p.count, p.sum = dp.IntValue(), float64(dp.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		p.sum = dp.DoubleValue()
	default:
		return viewPoint{}, errors.New("data point has no value")
	}
	if err := finite(p.sum); err != nil {
		return viewPoint{}, err
	}
	return p, nil
}

func gaugePoint(view string, dp pmetric.NumberDataPoint) (viewPoint, error) {
	p, err := basePoint(view, dp.StartTimestamp(), dp.Timestamp(), dp.Attributes())
	if err != nil {
		return viewPoint{}, err
	}
	p.metricType = pgschema.MetricTypeGauge
	var v float64
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		v = float64(dp.IntValue())
	case pmetric.NumberDataPointValueTypeDouble:
		v = dp.DoubleValue()
	default:
		return viewPoint{}, errors.New("data point has no value")
	}
	if err := finite(v); err != nil {
		return viewPoint{}, err
	}
	p.last, p.lastTime = &v, p.end
	return p, nil
}

func histogramPoint(view string, t pmetric.AggregationTemporality, dp pmetric.HistogramDataPoint) (viewPoint, error) {
	if err := checkDelta(t); err != nil {
		return viewPoint{}, err
	}
	p, err := basePoint(view, dp.StartTimestamp(), dp.Timestamp(), dp.Attributes())
	if err != nil {
		return viewPoint{}, err
	}
	p.metricType = pgschema.MetricTypeHistogram
	p.bounds = dp.ExplicitBounds().AsRaw()
	if p.bounds == nil {
		p.bounds = []float64{}
	}
	if err := finite(p.bounds...); err != nil {
		return viewPoint{}, fmt.Errorf("bucket bound: %w", err)
	}
	if !slices.IsSorted(p.bounds) {
		return viewPoint{}, errors.New("bucket bounds are not in ascending order")
	}
	counts := dp.BucketCounts().AsRaw()
	if len(p.bounds) == 0 && len(counts) == 0 {
		// OTLP allows a histogram without buckets: it is one bucket
		// holding every value.
		counts = []uint64{dp.Count()}
	}
	if len(counts) != len(p.bounds)+1 {
		return viewPoint{}, fmt.Errorf("%d bucket counts for %d bounds: there must be one more count than bounds", len(counts), len(p.bounds))
	}
	if dp.Count() > math.MaxInt64 {
		return viewPoint{}, errors.New("count exceeds the range of bigint")
	}
	p.count = int64(dp.Count())
	p.buckets = make([]int64, len(counts))
	var total uint64
	for i, c := range counts {
		if c > math.MaxInt64 {
			return viewPoint{}, errors.New("bucket count exceeds the range of bigint")
		}
		p.buckets[i] = int64(c)
		total += c
	}
	if total != dp.Count() {
		return viewPoint{}, fmt.Errorf("bucket counts add up to %d, not to the count %d", total, dp.Count())
	}
	if dp.HasSum() {
		p.sum = dp.Sum()
	}
	if dp.HasMin() {
		v := dp.Min()
		p.min = &v
	}
	if dp.HasMax() {
		v := dp.Max()
		p.max = &v
	}
	if err := finite(p.sum, dp.Min(), dp.Max()); err != nil {
		return viewPoint{}, err
	}
	return p, nil
}
