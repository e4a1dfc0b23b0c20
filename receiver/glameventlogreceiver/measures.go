package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// measureRule is one compiled `measures` entry.
type measureRule struct {
	measure usage.Measure
	value   string
}

// measureSet finds the rules that apply to an event name without scanning
// every rule.
type measureSet struct {
	byEvent  map[string][]measureRule
	anyEvent []measureRule
}

// compileMeasures checks the `measures` entries and indexes them by event.
// Entries that share a measure name must agree on its unit, since they add to
// one measure; the first non-empty description describes it.
func compileMeasures(cfgs []MeasureConfig) (*measureSet, error) {
	set := &measureSet{byEvent: map[string][]measureRule{}}
	units := map[string]string{}
	descriptions := map[string]string{}
	type ruleKey struct{ name, event, value string }
	seen := map[ruleKey]bool{}
	var errs []error
	for i, m := range cfgs {
		name, event := strings.TrimSpace(m.Name), strings.TrimSpace(m.Event)
		if name == "" || event == "" {
			errs = append(errs, fmt.Errorf("measures[%d]: name and event must not be empty", i))
			continue
		}
		if unit, ok := units[name]; ok && unit != m.Unit {
			errs = append(errs, fmt.Errorf("measures[%d]: measure %q has unit %q here and %q in an earlier entry", i, name, m.Unit, unit))
			continue
		}
		key := ruleKey{name, event, m.Value}
		if seen[key] {
			errs = append(errs, fmt.Errorf("measures[%d]: measure %q for event %q is listed twice and would count every event twice", i, name, event))
			continue
		}
		seen[key] = true
		units[name] = m.Unit
		if descriptions[name] == "" {
			descriptions[name] = m.Description
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, m := range cfgs {
		name, event := strings.TrimSpace(m.Name), strings.TrimSpace(m.Event)
		rule := measureRule{
			measure: usage.Measure{Name: name, Description: descriptions[name], Unit: m.Unit},
			value:   m.Value,
		}
		if event == usage.AnyEvent {
			set.anyEvent = append(set.anyEvent, rule)
		} else {
			set.byEvent[event] = append(set.byEvent[event], rule)
		}
	}
	return set, nil
}

// empty reports whether no measure is configured.
func (s *measureSet) empty() bool {
	return len(s.byEvent) == 0 && len(s.anyEvent) == 0
}

// record derives the measurements of every usage event in logs. It returns
// the measurements and how many were skipped because the event lacked a
// numeric value attribute.
func (s *measureSet) record(logs plog.Logs) (pmetric.Metrics, int) {
	md := pmetric.NewMetrics()
	if s.empty() {
		return md, 0
	}
	w := usage.NewMeasurementWriter(md)
	skipped := 0
	rls := logs.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			records := sls.At(j).LogRecords()
			for k := 0; k < records.Len(); k++ {
				lr := records.At(k)
				t := lr.Timestamp().AsTime()
				received := lr.ObservedTimestamp().AsTime()
				attrs := lr.Attributes()
				for _, rules := range [2][]measureRule{s.byEvent[lr.EventName()], s.anyEvent} {
					for _, rule := range rules {
						value, ok := measureValue(attrs, rule.value)
						if !ok {
							skipped++
							continue
						}
						w.RecordReceived(rule.measure, t, received, value, attrs)
					}
				}
			}
		}
	}
	return md, skipped
}

// measureValue reads the value a measurement records: 1 when the measure
// names no attribute, else the attribute's number. Glean sends extras as
// strings, so numeric strings count as numbers.
func measureValue(attrs pcommon.Map, key string) (float64, bool) {
	if key == "" {
		return 1, true
	}
	v, ok := attrs.Get(key)
	if !ok {
		return 0, false
	}
	var f float64
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return float64(v.Int()), true
	case pcommon.ValueTypeDouble:
		f = v.Double()
	case pcommon.ValueTypeStr:
		parsed, err := strconv.ParseFloat(strings.TrimSpace(v.Str()), 64)
		if err != nil {
			return 0, false
		}
		f = parsed
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// only is the part of s that records on the measure name: a runtime view's
// reader makes no measurement its one view would drop.
func (s *measureSet) only(name string) *measureSet {
	keep := func(rules []measureRule) []measureRule {
		var out []measureRule
		for _, r := range rules {
			if r.measure.Name == name {
				out = append(out, r)
			}
		}
		return out
	}
	out := &measureSet{byEvent: map[string][]measureRule{}, anyEvent: keep(s.anyEvent)}
	for event, rules := range s.byEvent {
		if kept := keep(rules); len(kept) > 0 {
			out.byEvent[event] = kept
		}
	}
	return out
}

// names lists the measures s records on.
func (s *measureSet) names() []string {
	seen := map[string]bool{}
	var out []string
	add := func(rules []measureRule) {
		for _, r := range rules {
			if !seen[r.measure.Name] {
				seen[r.measure.Name] = true
				out = append(out, r.measure.Name)
			}
		}
	}
	add(s.anyEvent)
	for _, rules := range s.byEvent {
		add(rules)
	}
	slices.Sort(out)
	return out
}
