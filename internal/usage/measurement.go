package usage

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// A measurement (OpenCensus stats: a value recorded on a measure) travels as
// one data point of a Gauge metric named after the measure, in a scope named
// MeasurementScope. The data point's time is the event time and its
// attributes are the event's attributes, which views use as tags
// (session.id among them, for session windows). Its start time, when set,
// is when the event was received: measurements read from the event log
// are late or early by that, not by when the log was read.

// Measure describes what a measurement measures.
type Measure struct {
	Name        string
	Description string
	Unit        string
}

// MeasurementWriter appends measurements to one metrics batch, keeping one
// metric per measure.
type MeasurementWriter struct {
	metrics pmetric.MetricSlice
	points  map[string]pmetric.NumberDataPointSlice
}

// NewMeasurementWriter starts a resource and a MeasurementScope scope in md
// and returns a writer that appends measurements to it.
func NewMeasurementWriter(md pmetric.Metrics) *MeasurementWriter {
	sm := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(MeasurementScope)
	return &MeasurementWriter{metrics: sm.Metrics(), points: map[string]pmetric.NumberDataPointSlice{}}
}

// Record appends one measurement of value on m at time t, tagged with a copy
// of tags.
func (w *MeasurementWriter) Record(m Measure, t time.Time, value float64, tags pcommon.Map) {
	points, ok := w.points[m.Name]
	if !ok {
		metric := w.metrics.AppendEmpty()
		metric.SetName(m.Name)
		metric.SetDescription(m.Description)
		metric.SetUnit(m.Unit)
		points = metric.SetEmptyGauge().DataPoints()
		w.points[m.Name] = points
	}
	dp := points.AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t))
	dp.SetDoubleValue(value)
	tags.CopyTo(dp.Attributes())
}

// RecordReceived is Record for an event received at received.
func (w *MeasurementWriter) RecordReceived(m Measure, t, received time.Time, value float64, tags pcommon.Map) {
	w.Record(m, t, value, tags)
	points := w.points[m.Name]
	points.At(points.Len() - 1).SetStartTimestamp(pcommon.NewTimestampFromTime(received))
}

// Len is the number of measurements recorded so far.
func (w *MeasurementWriter) Len() int {
	n := 0
	for _, points := range w.points {
		n += points.Len()
	}
	return n
}

// IsMeasurementScope reports whether a scope holds measurements.
func IsMeasurementScope(scope pcommon.InstrumentationScope) bool {
	return scope.Name() == MeasurementScope
}

// DataPointCount is the number of data points of m, whatever its type: what
// a component reports as dropped or refused when it cannot take m.
func DataPointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	}
	return 0
}
