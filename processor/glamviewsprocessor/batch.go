package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// attrOverflow marks the overflow series, as the OpenTelemetry SDKs do when
// a cardinality limit is reached.
const attrOverflow = "otel.metric.overflow"

// point is one data point of a flush: what a series gained in a window.
type point struct {
	delta
	start, end int64
	key        string
	session    string
	overflow   bool
}

// batch is one flush: its identity and its points, per view. It is kept
// until the next consumer accepts it, and sent again unchanged (same id)
// when it does not, so that a consumer that applied part of it can tell.
type batch struct {
	id     string
	views  []*view
	points [][]point
	// units are the views' units, copied when the batch is taken: a view's
	// unit is set under the processor's mutex, which sending does not hold.
	units []string
	// scopeVersion is the collector's version, set on the output scope.
	scopeVersion string
	// fromLog: the batch covers the log range log; gen is the views'
	// generation it was taken in (logState.gen).
	fromLog bool
	log     logRange
	gen     uint64
	// set is the view set the batch was taken from.
	set *viewSet
}

func (b *batch) pointCount() int {
	n := 0
	for _, pts := range b.points {
		n += len(pts)
	}
	return n
}

// metrics renders the batch as OpenTelemetry delta metrics: one resource
// carrying the batch id, one scope, one metric per view.
func (b *batch) metrics() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr(usage.AttrBatchID, b.id)
	if b.fromLog {
		rm.Resource().Attributes().PutStr(usage.AttrLogConsumer, b.log.consumer)
		rm.Resource().Attributes().PutStr(usage.AttrLogFrom, b.log.from.String())
		rm.Resource().Attributes().PutStr(usage.AttrLogTo, b.log.to.String())
	}
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(usage.ViewScope)
	sm.Scope().SetVersion(b.scopeVersion)
	sm.Metrics().EnsureCapacity(len(b.views))
	for i, v := range b.views {
		v.appendMetric(sm.Metrics().AppendEmpty(), b.units[i], b.points[i])
	}
	return md
}

func (v *view) appendMetric(m pmetric.Metric, unit string, points []point) {
	m.SetName(v.cfg.Name)
	m.SetDescription(v.cfg.Description)
	m.SetUnit(unit)
	switch v.agg.kind {
	case AggregationCount, AggregationSum:
		sum := m.SetEmptySum()
		sum.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		sum.SetIsMonotonic(true)
		dps := sum.DataPoints()
		dps.EnsureCapacity(len(points))
		for i := range points {
			dp := dps.AppendEmpty()
			v.setPoint(dp, &points[i])
			if v.agg.kind == AggregationCount {
				dp.SetIntValue(points[i].count)
			} else {
				dp.SetDoubleValue(points[i].sum)
			}
		}
	case AggregationDistribution:
		h := m.SetEmptyHistogram()
		h.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		dps := h.DataPoints()
		dps.EnsureCapacity(len(points))
		for i := range points {
			p := &points[i]
			dp := dps.AppendEmpty()
			v.setPoint(dp, p)
			dp.SetCount(uint64(p.count))
			dp.SetSum(p.sum)
			dp.SetMin(p.dist.min)
			dp.SetMax(p.dist.max)
			dp.ExplicitBounds().FromRaw(v.agg.bounds)
			dp.BucketCounts().FromRaw(p.dist.buckets)
		}
	case AggregationLastValue:
		dps := m.SetEmptyGauge().DataPoints()
		dps.EnsureCapacity(len(points))
		for i := range points {
			dp := dps.AppendEmpty()
			v.setPoint(dp, &points[i])
			dp.SetDoubleValue(points[i].sum)
		}
	}
}

// dataPoint is what number and histogram data points share.
type dataPoint interface {
	SetStartTimestamp(pcommon.Timestamp)
	SetTimestamp(pcommon.Timestamp)
	Attributes() pcommon.Map
}

// setPoint sets the window bounds and the tag set.
func (v *view) setPoint(dp dataPoint, p *point) {
	dp.SetStartTimestamp(pcommon.Timestamp(p.start))
	dp.SetTimestamp(pcommon.Timestamp(p.end))
	attrs := dp.Attributes()
	if p.overflow {
		attrs.PutBool(attrOverflow, true)
		return
	}
	attrs.EnsureCapacity(len(v.cfg.TagKeys) + 1)
	if p.session != "" {
		attrs.PutStr(usage.AttrSessionID, p.session)
	}
	putTags(attrs, v.cfg.TagKeys, p.key)
}
