package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

// sessionWindow is one session of one session.id: from its first event to
// its last, for as long as events follow each other within session_gap and
// the whole lasts at most max_duration.
type sessionWindow struct {
	// id is the session.id; empty for the overflow pseudo-session.
	id         string
	start, end int64
	// emitted: a flush carried the window, so rows downstream are filed
	// under its start, which therefore no longer moves.
	emitted bool
	// seen is when the window last took a measurement, by the clock
	// lateness is judged by (a measurement's receive time, for the log):
	// a window is kept session_gap + allowed_lateness after that too, so
	// that a session sent late in several requests stays one window.
	seen int64
	// queued: the window is in sessionWindows.dirty.
	queued bool
	// one is the window's first tag set; most session views have only one.
	one  *series
	more map[string]*series
	// older is the previous window of the same session.id.
	older *sessionWindow
}

// sessionWindows are a session view's live windows.
type sessionWindows struct {
	// byID holds the newest window of each session.id.
	byID map[string]*sessionWindow
	// overflow holds the overflow pseudo-session's windows, newest first.
	overflow *sessionWindow
	// dirty lists the windows with something to flush.
	dirty []*sessionWindow
}

func (v *view) recordSession(t, now int64, value float64, sid string, key []byte) outcome {
	w := v.findSession(v.sessions.byID[sid], t)
	var s *series
	if w != nil {
		s = w.get(key)
	}
	out := recorded
	if s == nil {
		if w == nil && t+v.gap+v.lateness < now {
			// Its session's window, if it had one, may have been merged
			// and forgotten: the event opens a window of its own rather
			// than being left out (a session sent wholly late, by an
			// offline client, is one session; one sent partly late may
			// become two rows). Counted as late.
			out = tooLate
		}
		if v.live >= v.limit {
			v.recordOverflowSession(t, value)
			return overflowed
		}
		if w == nil {
			w = &sessionWindow{id: sid, start: t, end: t, older: v.sessions.byID[sid]}
			v.sessions.byID[sid] = w
		}
		s = &series{key: string(key)}
		w.put(s)
		v.live++
	}
	v.addSession(w, s, value, t)
	w.seen = max(w.seen, now)
	return out
}

// loadSession restores a session row already merged downstream as an
// emitted window of session sid, [start, end], holding the tag set key with
// nothing to flush: the session's next events extend it (the same row)
// instead of opening another. Beyond max_series it is not restored.
func (v *view) loadSession(sid string, start, end, now int64, key []byte) {
	var w *sessionWindow
	for x := v.sessions.byID[sid]; x != nil; x = x.older {
		if x.start == start {
			w = x
			break
		}
	}
	if w == nil {
		if v.live >= v.limit {
			return
		}
		w = &sessionWindow{id: sid, start: start, end: end, emitted: true, older: v.sessions.byID[sid]}
		v.sessions.byID[sid] = w
	}
	w.end = max(w.end, end)
	// Restored now: kept session_gap + allowed_lateness from here, so the
	// rest of a session sent late still finds it.
	w.seen = max(w.seen, now)
	if w.get(key) == nil {
		if w.one != nil && v.live >= v.limit {
			return
		}
		w.put(&series{key: string(key)})
		v.live++
	}
}

// recordOverflowSession counts a measurement of a session beyond max_series
// in the overflow pseudo-session, which has no session.id but the same gap
// and duration rules, so its rows keep a stable start.
func (v *view) recordOverflowSession(t int64, value float64) {
	w := v.findSession(v.sessions.overflow, t)
	if w == nil {
		w = &sessionWindow{start: t, end: t, one: &series{overflow: true}, older: v.sessions.overflow}
		v.sessions.overflow = w
		v.overflowLive++
	}
	v.addSession(w, w.one, value, t)
}

func (v *view) addSession(w *sessionWindow, s *series, value float64, t int64) {
	w.end = max(w.end, t)
	if t < w.start && !w.emitted {
		w.start = t
	}
	if v.agg.add(s, value, t) && !w.queued {
		w.queued = true
		v.sessions.dirty = append(v.sessions.dirty, w)
		v.changed++
	}
}

// findSession returns the window in the chain from w that an event at t
// belongs to: within session_gap of it, and not stretching it beyond
// max_duration.
func (v *view) findSession(w *sessionWindow, t int64) *sessionWindow {
	for ; w != nil; w = w.older {
		if t >= w.start-v.gap && t <= w.end+v.gap && max(w.end, t)-min(w.start, t) <= v.maxDur {
			return w
		}
	}
	return nil
}

func (v *view) takeSessions() []point {
	var points []point
	for _, w := range v.sessions.dirty {
		w.each(func(s *series) {
			if s.count > 0 {
				points = append(points, point{delta: s.take(), start: w.start, end: w.end, key: s.key, session: w.id, overflow: s.overflow})
			}
		})
		w.queued, w.emitted = false, true
	}
	clear(v.sessions.dirty)
	v.sessions.dirty = v.sessions.dirty[:0]
	return points
}

// evictSessions forgets the windows no measurement can reach any more: an
// event that would have joined one is itself older than session_gap plus
// allowed_lateness by then, so it is late whether the window is kept or not
// — unless the window itself took measurements that recently (a session
// sent late), which keeps it for the rest of that session.
func (v *view) evictSessions(now int64) {
	for id, head := range v.sessions.byID {
		switch kept := v.evictChain(head, now); {
		case kept == nil:
			delete(v.sessions.byID, id)
		case kept != head:
			v.sessions.byID[id] = kept
		}
	}
	v.sessions.overflow = v.evictChain(v.sessions.overflow, now)
}

func (v *view) evictChain(head *sessionWindow, now int64) *sessionWindow {
	link := &head
	for w := head; w != nil; w = w.older {
		closed := min(w.end+v.gap, w.start+v.maxDur)
		if now <= closed+v.gap+v.lateness || now <= w.seen+v.gap+v.lateness {
			link = &w.older
			continue
		}
		*link = w.older
		if w.id == "" {
			v.overflowLive--
		} else {
			v.live -= w.len()
		}
	}
	return head
}

func (w *sessionWindow) get(key []byte) *series {
	if w.one != nil && w.one.key == string(key) {
		return w.one
	}
	return w.more[string(key)]
}

func (w *sessionWindow) put(s *series) {
	if w.one == nil {
		w.one = s
		return
	}
	if w.more == nil {
		w.more = map[string]*series{}
	}
	w.more[s.key] = s
}

func (w *sessionWindow) len() int { return 1 + len(w.more) }

func (w *sessionWindow) each(f func(*series)) {
	f(w.one)
	for _, s := range w.more {
		f(s)
	}
}
