package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// outcome is what a view did with one measurement.
type outcome uint8

const (
	recorded outcome = iota
	overflowed
	// tooLate: recorded, but its session's window was already forgotten,
	// so it opened one of its own.
	tooLate
	tooEarly
	// notApplicable: a session view and a measurement without session.id.
	notApplicable
)

// view is a configured view and the state of its live windows. All of it is
// guarded by the processor's mutex.
type view struct {
	cfg      ViewConfig
	agg      aggregator
	size     int64 // fixed windows; 0 for session windows
	gap      int64 // session windows
	maxDur   int64 // session windows
	lateness int64
	limit    int
	// unit is the measure's unit, from the first measurement seen.
	unit string

	fixed    fixedWindows
	sessions sessionWindows
	// live counts the series max_series bounds; overflowLive the overflow
	// series beside them.
	live, overflowLive int
	// changed counts the series that gained something since the last
	// take (flush_size).
	changed int

	// Counts since they were last reported to the collector's telemetry.
	nLate, nEarly, nOverflowed int64
	// attrs is the view attribute of this view's telemetry.
	attrs metric.MeasurementOption
}

func newView(cfg ViewConfig, lateness int64) *view {
	v := &view{
		cfg:      cfg,
		agg:      aggregator{kind: cfg.Aggregation, bounds: cfg.Buckets},
		size:     int64(cfg.Window.Size),
		lateness: lateness,
		limit:    cfg.EffectiveMaxSeries(),
		attrs:    metric.WithAttributeSet(attribute.NewSet(attribute.String("view", cfg.Name))),
	}
	if cfg.Window.IsSession() {
		v.gap, v.maxDur = int64(cfg.Window.SessionGap), int64(cfg.Window.EffectiveMaxDuration())
		v.sessions = newSessionWindows()
	} else {
		v.fixed.byStart = map[int64]*fixedWindow{}
	}
	return v
}

func (v *view) isSession() bool { return v.size == 0 }

// reset forgets every window (the views start again from the log).
func (v *view) reset() {
	v.fixed = fixedWindows{byStart: map[int64]*fixedWindow{}}
	v.sessions = newSessionWindows()
	v.live, v.overflowLive, v.changed = 0, 0, 0
}

// record folds one measurement at event time t into the view. buf is
// scratch space for the tag key; the grown buffer is returned for reuse.
func (v *view) record(t, now int64, value float64, attrs pcommon.Map, buf []byte) (outcome, []byte) {
	if t > now+v.lateness {
		v.nEarly++
		return tooEarly, buf
	}
	var out outcome
	buf = appendTagKey(buf[:0], attrs, v.cfg.TagKeys)
	if v.isSession() {
		sid, ok := attrs.Get(usage.AttrSessionID)
		if !ok || sid.AsString() == "" {
			return notApplicable, buf
		}
		out = v.recordSession(t, now, value, sid.AsString(), buf)
	} else {
		out = v.recordFixed(t, now, value, buf)
	}
	switch out {
	case tooLate:
		v.nLate++
	case overflowed:
		v.nOverflowed++
	}
	return out, buf
}

// take moves every series' gain since the last flush into points and
// forgets the windows that can no longer change.
func (v *view) take(now int64) []point {
	v.changed = 0
	var points []point
	if v.isSession() {
		points = v.takeSessions()
		v.evictSessions(now)
	} else {
		points = v.takeFixed()
		v.evictFixed(now)
	}
	return points
}

// seriesCount is the number of series the view holds in memory.
func (v *view) seriesCount() int { return v.live + v.overflowLive }
