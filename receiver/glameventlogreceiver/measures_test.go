package glameventlogreceiver

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Every event records one measurement per measure that names it (or "*");
// value reads a numeric attribute, numeric strings included (Glean's extras
// are strings); an event without a usable value records nothing and is
// counted as skipped.
func TestMeasuresOfEvents(t *testing.T) {
	set, err := compileMeasures([]MeasureConfig{
		{Name: "glam.probe_views", Unit: "{view}", Event: "probe.view"},
		{Name: "glam.load_time", Unit: "ms", Event: "page.view", Value: "load_ms"},
		{Name: "glam.events", Unit: "{event}", Event: "*"},
	})
	require.NoError(t, err)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	add := func(name string, attrs map[string]any) {
		lr := records.AppendEmpty()
		lr.SetEventName(name)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(at))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(at.Add(2 * time.Second)))
		require.NoError(t, lr.Attributes().FromRaw(attrs))
	}
	add("probe.view", map[string]any{usage.AttrProbeName: "gc_ms"})
	add("page.view", map[string]any{"load_ms": "125.5"})
	add("page.view", map[string]any{"load_ms": int64(80)})
	add("page.view", map[string]any{"load_ms": "slow"})
	add("page.view", map[string]any{})
	add("probe.search", nil)

	md, skipped := set.record(ld)
	assert.Equal(t, 2, skipped, "a non-numeric and a missing load_ms")
	got := map[string][]float64{}
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
	assert.True(t, usage.IsMeasurementScope(ms.Scope()))
	for i := 0; i < ms.Metrics().Len(); i++ {
		m := ms.Metrics().At(i)
		for j := 0; j < m.Gauge().DataPoints().Len(); j++ {
			dp := m.Gauge().DataPoints().At(j)
			got[m.Name()] = append(got[m.Name()], dp.DoubleValue())
			assert.Equal(t, at, dp.Timestamp().AsTime().UTC(), "the event time")
			assert.Equal(t, at.Add(2*time.Second), dp.StartTimestamp().AsTime().UTC(), "the receive time")
		}
	}
	assert.Equal(t, map[string][]float64{
		"glam.probe_views": {1},
		"glam.load_time":   {125.5, 80},
		"glam.events":      {1, 1, 1, 1, 1, 1},
	}, got)
}

// A runtime view's reader records its view's measure only.
func TestOnlyKeepsOneMeasure(t *testing.T) {
	set, err := compileMeasures(defaultMeasures())
	require.NoError(t, err)
	assert.Equal(t, []string{usage.MeasureActions, usage.MeasureEvents, usage.MeasurePageViews, usage.MeasureProbeViews, usage.MeasureSearches}, set.names())
	only := set.only(usage.MeasureProbeViews)
	assert.Equal(t, []string{usage.MeasureProbeViews}, only.names())
	assert.Equal(t, []string{usage.MeasureEvents}, set.only(usage.MeasureEvents).names(), "a measure of every event")
	assert.True(t, set.only("glam.nothing").empty())
}
