package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"fmt"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// maxAttributes bounds the attributes of one resource, scope, span, span
// event, link, log record, data point or Glean event, and the entries of
// one map value. Usage events become measurement tags and table rows;
// hundreds of attributes on one is an attack or a bug, not usage.
const maxAttributes = 128

// A request that breaks these rules is refused whole (400), not trimmed:
// protobuf strings are not checked for UTF-8 by the decoder, and downstream
// stores (Postgres text) would refuse them later, where the client can no
// longer be told.

// place names an item of a request in error messages; it is formatted only
// when there is an error.
type place struct {
	kind  string
	index int
}

func (p place) String() string { return fmt.Sprintf("%s %d", p.kind, p.index) }

func checkString(s string, field string, at place) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: %s is not valid UTF-8", at, field)
	}
	return nil
}

// checkStrings checks field/value pairs.
func checkStrings(at place, fieldValues ...string) error {
	for i := 0; i+1 < len(fieldValues); i += 2 {
		if err := checkString(fieldValues[i+1], fieldValues[i], at); err != nil {
			return err
		}
	}
	return nil
}

func checkAttributes(m pcommon.Map, at place) error {
	if m.Len() > maxAttributes {
		return fmt.Errorf("%s has %d attributes; at most %d are accepted", at, m.Len(), maxAttributes)
	}
	for k, v := range m.All() {
		if err := checkString(k, "an attribute key", at); err != nil {
			return err
		}
		if err := checkValue(v, at); err != nil {
			return err
		}
	}
	return nil
}

func checkValue(v pcommon.Value, at place) error {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return checkString(v.Str(), "a string value", at)
	case pcommon.ValueTypeMap:
		return checkAttributes(v.Map(), at)
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		for i := 0; i < s.Len(); i++ {
			if err := checkValue(s.At(i), at); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkResource(res pcommon.Resource, schemaURL string, at place) error {
	if err := checkString(schemaURL, "schemaUrl", at); err != nil {
		return err
	}
	return checkAttributes(res.Attributes(), at)
}

func checkScope(scope pcommon.InstrumentationScope, schemaURL string, at place) error {
	if err := checkStrings(at, "scope name", scope.Name(), "scope version", scope.Version(), "schemaUrl", schemaURL); err != nil {
		return err
	}
	return checkAttributes(scope.Attributes(), at)
}

func checkSpan(span ptrace.Span, at place) error {
	if err := checkStrings(at, "name", span.Name(), "traceState", span.TraceState().AsRaw(), "status message", span.Status().Message()); err != nil {
		return err
	}
	if err := checkAttributes(span.Attributes(), at); err != nil {
		return err
	}
	for e := 0; e < span.Events().Len(); e++ {
		ev := span.Events().At(e)
		if err := checkString(ev.Name(), "an event name", at); err != nil {
			return err
		}
		if err := checkAttributes(ev.Attributes(), at); err != nil {
			return err
		}
	}
	for l := 0; l < span.Links().Len(); l++ {
		link := span.Links().At(l)
		if err := checkString(link.TraceState().AsRaw(), "a link's traceState", at); err != nil {
			return err
		}
		if err := checkAttributes(link.Attributes(), at); err != nil {
			return err
		}
	}
	return nil
}

func checkRecord(lr plog.LogRecord, at place) error {
	if err := checkStrings(at, "eventName", lr.EventName(), "severityText", lr.SeverityText()); err != nil {
		return err
	}
	if err := checkValue(lr.Body(), at); err != nil {
		return err
	}
	return checkAttributes(lr.Attributes(), at)
}

// checkMetric checks m's strings and counts its data points; with scrub it
// also removes the private attributes of its points and exemplars, after
// checking them.
func checkMetric(m pmetric.Metric, at place, scrubbing bool) (points int, err error) {
	if err := checkStrings(at, "name", m.Name(), "description", m.Description(), "unit", m.Unit()); err != nil {
		return 0, err
	}
	if err := checkAttributes(m.Metadata(), at); err != nil {
		return 0, err
	}
	forEachPoint(m, func(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) bool {
		if err = checkAttributes(attrs, at); err != nil {
			return false
		}
		for e := 0; e < exemplars.Len(); e++ {
			if err = checkAttributes(exemplars.At(e).FilteredAttributes(), at); err != nil {
				return false
			}
		}
		if scrubbing {
			scrub(attrs)
			for e := 0; e < exemplars.Len(); e++ {
				scrub(exemplars.At(e).FilteredAttributes())
			}
		}
		points++
		return true
	})
	return points, err
}

// forEachPoint calls f with the attributes and exemplars of each data point
// of m, whatever its type, until f returns false.
func forEachPoint(m pmetric.Metric, f func(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) bool) {
	noExemplars := pmetric.NewExemplarSlice()
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		forPoints(m.Gauge().DataPoints(), f)
	case pmetric.MetricTypeSum:
		forPoints(m.Sum().DataPoints(), f)
	case pmetric.MetricTypeHistogram:
		forPoints(m.Histogram().DataPoints(), f)
	case pmetric.MetricTypeExponentialHistogram:
		forPoints(m.ExponentialHistogram().DataPoints(), f)
	case pmetric.MetricTypeSummary:
		points := m.Summary().DataPoints()
		for i := 0; i < points.Len(); i++ {
			if !f(points.At(i).Attributes(), noExemplars) {
				return
			}
		}
	}
}

// point is what the data point types with exemplars have in common.
type point interface {
	Attributes() pcommon.Map
	Exemplars() pmetric.ExemplarSlice
}

type pointSlice[P point] interface {
	Len() int
	At(int) P
}

func forPoints[P point, S pointSlice[P]](points S, f func(pcommon.Map, pmetric.ExemplarSlice) bool) {
	for i := 0; i < points.Len(); i++ {
		p := points.At(i)
		if !f(p.Attributes(), p.Exemplars()) {
			return
		}
	}
}
