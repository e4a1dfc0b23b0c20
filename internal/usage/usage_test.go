package usage

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestEventRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	in := Event{ID: "eee19b7ec3c1b174", Name: EventProbeView, SessionID: "s1", Time: at, Observed: at.Add(time.Second), Source: SourceOTLPTraces}
	records := plog.NewLogRecordSlice()
	lr := in.AppendTo(records)
	lr.Attributes().PutStr(AttrProbeName, "gc_ms")

	require.Equal(t, 1, records.Len())
	out, err := EventFromLogRecord(records.At(0))
	require.NoError(t, err)
	assert.Equal(t, in.ID, out.ID)
	assert.Equal(t, in.Name, out.Name)
	assert.Equal(t, in.SessionID, out.SessionID)
	assert.True(t, in.Time.Equal(out.Time))
	assert.True(t, in.Observed.Equal(out.Observed))
	assert.Equal(t, in.Source, out.Source)
	name, _ := records.At(0).Attributes().Get(AttrEventName)
	assert.Equal(t, EventProbeView, name.Str(), "event.name is set for backends that do not read EventName")
}

func TestEventFromForeignLogRecord(t *testing.T) {
	lr := plog.NewLogRecord()
	lr.Attributes().PutStr(AttrEventID, "id-1")
	lr.Attributes().PutStr(AttrEventName, "page.view")
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(time.Unix(100, 0)))
	e, err := EventFromLogRecord(lr)
	require.NoError(t, err)
	assert.Equal(t, "page.view", e.Name, "the event.name attribute stands in for EventName")
	assert.Equal(t, time.Unix(100, 0).UTC(), e.Time.UTC(), "no timestamp: the observed time is the event time")
	assert.Empty(t, e.SessionID)

	_, err = EventFromLogRecord(plog.NewLogRecord())
	assert.ErrorIs(t, err, ErrNotAnEvent)
	noID := plog.NewLogRecord()
	noID.SetEventName("x")
	_, err = EventFromLogRecord(noID)
	assert.ErrorIs(t, err, ErrNotAnEvent)
}

func TestMeasurementWriter(t *testing.T) {
	md := pmetric.NewMetrics()
	w := NewMeasurementWriter(md)
	tags := pcommon.NewMap()
	tags.PutStr(AttrSessionID, "s1")
	views := Measure{Name: MeasureProbeViews, Unit: "{view}"}
	at := time.Unix(1700000000, 0)
	w.Record(views, at, 1, tags)
	w.Record(Measure{Name: MeasureEvents}, at, 1, tags)
	w.Record(views, at.Add(time.Second), 1, tags)
	tags.PutStr(AttrSessionID, "changed after recording")

	assert.Equal(t, 3, w.Len())
	assert.Equal(t, 3, md.DataPointCount())
	sm := md.ResourceMetrics().At(0).ScopeMetrics().At(0)
	assert.True(t, IsMeasurementScope(sm.Scope()))
	require.Equal(t, 2, sm.Metrics().Len(), "one metric per measure")
	m := sm.Metrics().At(0)
	assert.Equal(t, MeasureProbeViews, m.Name())
	assert.Equal(t, "{view}", m.Unit())
	assert.Equal(t, 2, DataPointCount(m))
	dp := m.Gauge().DataPoints().At(1)
	assert.Equal(t, 1.0, dp.DoubleValue())
	assert.Equal(t, pcommon.NewTimestampFromTime(at.Add(time.Second)), dp.Timestamp())
	sid, _ := dp.Attributes().Get(AttrSessionID)
	assert.Equal(t, "s1", sid.Str(), "tags are copied when recorded")
}

func TestDataPointCount(t *testing.T) {
	m := pmetric.NewMetric()
	assert.Equal(t, 0, DataPointCount(m), "an empty metric has none")
	m.SetEmptyHistogram().DataPoints().AppendEmpty()
	assert.Equal(t, 1, DataPointCount(m))
	m.SetEmptySum().DataPoints().EnsureCapacity(3)
	for range 3 {
		m.Sum().DataPoints().AppendEmpty()
	}
	assert.Equal(t, 3, DataPointCount(m))
	m.SetEmptySummary().DataPoints().AppendEmpty()
	assert.Equal(t, 1, DataPointCount(m))
	m.SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	assert.Equal(t, 1, DataPointCount(m))
}

func TestLogPosition(t *testing.T) {
	p, err := ParseLogPosition("7088/2")
	require.NoError(t, err)
	assert.Equal(t, LogPosition{XID: 7088, Seq: 2}, p)
	assert.Equal(t, "7088/2", p.String())
	assert.True(t, LogPosition{}.Less(p), "the zero position is the start of the log")
	assert.True(t, LogPosition{XID: 7088, Seq: 1}.Less(p))
	assert.True(t, LogPosition{XID: 7087, Seq: 9}.Less(p), "the transaction id orders first")
	assert.False(t, p.Less(p))
	for _, bad := range []string{"", "7088", "7088/", "/2", "x/2", "7088/-1", "-1/2"} {
		_, err := ParseLogPosition(bad)
		assert.Error(t, err, bad)
	}
}
