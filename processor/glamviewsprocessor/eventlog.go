package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/views"
)

// Measurements read from the committed event log (internal/usage/log.go)
// say which range of the log they cover. The processor cuts its batches
// along the same ranges — a batch covers exactly the measurements fed
// between its from and to — so that the exporter can merge each batch
// together with the consumer's offset, once.

// logState is where a view set stands in its consumer's log. All of it is
// guarded by the processor's mutex.
type logState struct {
	// known: a rewound payload said where the consumer started.
	known    bool
	consumer string
	// cut is where the next batch starts: the end of the last batch taken
	// (merged or still to be sent); fed is the end of what was recorded.
	cut, fed usage.LogPosition
	// mustRewind: a batch was refused as not starting at the offset; what
	// is fed next, until a rewound payload, is refused.
	mustRewind bool
	// gen counts resets: a batch taken before one is dropped, not sent.
	gen uint64
	// watermark is the newest receive time fed: the clock by which
	// log-fed windows close, so that reading a backlog does not close
	// windows its next events still belong to.
	watermark int64
}

// errRewind refuses measurements that do not continue where the processor
// stands; the consumer then reads again from its offset.
var errRewind = errors.New("glam_views: these measurements do not continue the log where the views stand; read again from the offset")

// logRange is the log range of one resource of measurements.
type logRange struct {
	consumer string
	from, to usage.LogPosition
	rewound  bool
	// view is a runtime view's definition (on a rewound range of its
	// consumer); retired says the view was deleted (no range then).
	view    string
	retired bool
}

// readLogRange reads a resource's log attributes; ok is false when it has
// none (measurements not read from the log).
func readLogRange(res pcommon.Resource) (r logRange, ok bool, err error) {
	attrs := res.Attributes()
	c, has := attrs.Get(usage.AttrLogConsumer)
	if !has {
		return r, false, nil
	}
	r.consumer = c.AsString()
	if rt, has := attrs.Get(usage.AttrLogRetired); has && rt.Bool() {
		r.retired = true
		return r, true, nil
	}
	if v, has := attrs.Get(usage.AttrLogView); has {
		r.view = v.AsString()
	}
	// An absent position is "", which does not parse: the error, not a
	// panic on the empty value.
	if r.from, err = usage.ParseLogPosition(usage.StringAttr(attrs, usage.AttrLogFrom)); err != nil {
		return r, true, err
	}
	if r.to, err = usage.ParseLogPosition(usage.StringAttr(attrs, usage.AttrLogTo)); err != nil {
		return r, true, err
	}
	if rw, has := attrs.Get(usage.AttrLogRewound); has {
		r.rewound = rw.Bool()
	}
	return r, true, nil
}

// admitLog finds, with the processor's mutex held, the view set that
// measurements covering r are for — the config's, or the runtime view its
// consumer reads, made from the definition a rewound range brings — and
// decides whether they continue the log where that set stands. A retired
// range forgets its runtime view (nil set).
func (p *viewsProcessor) admitLog(r logRange) (*viewSet, error) {
	if r.retired {
		delete(p.runtime, r.consumer)
		return nil, nil
	}
	set := p.runtime[r.consumer]
	if r.view != "" && (set == nil || set.definition != r.view) {
		def, err := views.Parse([]byte(r.view))
		if err == nil {
			err = errors.Join(def.Problems()...)
		}
		if err != nil {
			return nil, consumererror.NewPermanent(fmt.Errorf("glam_views: runtime view of consumer %q: %w", r.consumer, err))
		}
		set = newViewSet([]ViewConfig{def}, p.cfg.AllowedLateness)
		set.definition = r.view
		p.runtime[r.consumer] = set
	}
	if set == nil {
		set = p.config
	}
	return set, set.admitLog(r)
}

// admitLog decides whether measurements covering r continue the log where
// the set stands: a rewound range restarts the set there (what it held
// beyond it will be read again), one that starts where the last ended is
// recorded, anything else is refused so that the consumer reads again from
// its offset.
func (s *viewSet) admitLog(r logRange) error {
	l := &s.log
	switch {
	case r.rewound:
		s.reset()
		l.known, l.consumer, l.cut, l.fed, l.mustRewind = true, r.consumer, r.from, r.to, false
		return nil
	case !l.known || l.mustRewind || r.consumer != l.consumer || r.from != l.fed:
		return errRewind
	case r.to.Less(r.from):
		return fmt.Errorf("glam_views: log range %s..%s runs backwards", r.from, r.to)
	}
	l.fed = r.to
	return nil
}

// reset forgets every window and the batch waiting to be sent: the log
// will be read again from the offset, and session context resent.
func (s *viewSet) reset() {
	for _, v := range s.views {
		v.reset()
	}
	s.log.gen++
	s.log.watermark = 0
}

// conflict handles a batch the exporter refused as not starting at the
// offset: unless its views were reset since it was taken, they are reset
// and wait for the consumer to read again.
func (p *viewsProcessor) conflict(b *batch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b.gen != b.set.log.gen {
		return
	}
	b.set.reset()
	b.set.log.mustRewind = true
}

// recordContext loads the session rows a consumer sends before reading on
// (usage.SessionContextScope): each becomes an already emitted window of
// its session, so that the session's next events extend that row.
func (p *viewsProcessor) recordContext(set *viewSet, metrics pmetric.MetricSlice, now int64) {
	for i := 0; i < metrics.Len(); i++ {
		m := metrics.At(i)
		v := set.byName[m.Name()]
		if v == nil || !v.isSession() || m.Type() != pmetric.MetricTypeGauge {
			continue
		}
		dps := m.Gauge().DataPoints()
		for j := 0; j < dps.Len(); j++ {
			dp := dps.At(j)
			sid, ok := dp.Attributes().Get(usage.AttrSessionID)
			if !ok || sid.AsString() == "" {
				continue
			}
			p.keyBuf = appendTagKey(p.keyBuf[:0], dp.Attributes(), v.cfg.TagKeys)
			v.loadSession(sid.AsString(), int64(dp.StartTimestamp()), int64(dp.Timestamp()), now, p.keyBuf)
		}
	}
}

// observedTime is when the event behind a measurement was received (its
// StartTimestamp, internal/usage/measurement.go), or 0.
func observedTime(dp pmetric.NumberDataPoint) int64 {
	return int64(dp.StartTimestamp())
}
