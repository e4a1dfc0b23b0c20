package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

// sessionWindow is one session of one session.id: from its first event to
// its last, for as long as events follow each other within session_gap and
// the whole lasts at most max_duration. With its first tag set's series it
// fills a 112-byte allocation: what few windows need (an id that is no
// UUID, more tag sets) sits behind rare.
type sessionWindow struct {
	// uuid is the session.id when it is a UUID (sessionID); zero for the
	// overflow pseudo-session and for ids kept in rare.
	uuid       [16]byte
	start, end int64
	// seen is when the window last took a measurement, by the clock
	// lateness is judged by (a measurement's receive time, for the log):
	// a window is kept session_gap + allowed_lateness after that too, so
	// that a session sent late in several requests stays one window.
	seen int64
	// older is the previous window of the same session.id.
	older *sessionWindow
	rare  *sessionRare
	// one is the window's first tag set; most session views have only one.
	one series
	// emitted: a flush carried the window, so rows downstream are filed
	// under its start, which therefore no longer moves.
	emitted bool
	// queued: the window is in sessionWindows.dirty.
	queued bool
}

// sessionRare is what few session windows hold.
type sessionRare struct {
	// other is the session.id when it is no UUID.
	other string
	// more holds the tag sets after the first.
	more map[string]*series
}

// newSessionWindow opens a window of session id over [start, end] with
// key as its first tag set.
func newSessionWindow(id sessionID, start, end int64, key string, older *sessionWindow) *sessionWindow {
	w := &sessionWindow{uuid: id.uuid, start: start, end: end, older: older, one: seriesOf(key)}
	if id.other != nil {
		w.rare = &sessionRare{other: *id.other}
	}
	return w
}

// id is the window's session.id.
func (w *sessionWindow) id() sessionID {
	if w.rare != nil && w.rare.other != "" {
		return sessionID{other: &w.rare.other}
	}
	return sessionID{uuid: w.uuid}
}

// sessionWindows are a session view's live windows.
type sessionWindows struct {
	// byUUID and byOther hold the newest window of each session.id, by
	// the form it is kept in (sessionID).
	byUUID  map[[16]byte]*sessionWindow
	byOther map[string]*sessionWindow
	// overflow holds the overflow pseudo-session's windows, newest first.
	overflow *sessionWindow
	// dirty lists the windows with something to flush.
	dirty []*sessionWindow
}

func newSessionWindows() sessionWindows {
	return sessionWindows{byUUID: map[[16]byte]*sessionWindow{}, byOther: map[string]*sessionWindow{}}
}

// newest is the newest window of session id, nil when it has none.
func (ws *sessionWindows) newest(id sessionID) *sessionWindow {
	if id.other != nil {
		return ws.byOther[*id.other]
	}
	return ws.byUUID[id.uuid]
}

// setNewest makes w the newest window of its session.id.
func (ws *sessionWindows) setNewest(w *sessionWindow) {
	if id := w.id(); id.other != nil {
		ws.byOther[*id.other] = w
	} else {
		ws.byUUID[id.uuid] = w
	}
}

func (v *view) recordSession(t, now int64, value float64, sid string, key []byte) outcome {
	id := parseSessionID(sid)
	w := v.findSession(v.sessions.newest(id), t)
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
			w = newSessionWindow(id, t, t, string(key), v.sessions.newest(id))
			v.sessions.setNewest(w)
			s = &w.one
		} else {
			s = newSeries(string(key))
			w.putMore(s)
		}
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
	id := parseSessionID(sid)
	for x := v.sessions.newest(id); x != nil; x = x.older {
		if x.start == start {
			w = x
			break
		}
	}
	if w == nil {
		if v.live >= v.limit {
			return
		}
		w = newSessionWindow(id, start, end, string(key), v.sessions.newest(id))
		w.emitted = true
		v.sessions.setNewest(w)
		v.live++
	}
	w.end = max(w.end, end)
	// Restored now: kept session_gap + allowed_lateness from here, so the
	// rest of a session sent late still finds it.
	w.seen = max(w.seen, now)
	if w.get(key) == nil {
		if v.live >= v.limit {
			return
		}
		w.putMore(newSeries(string(key)))
		v.live++
	}
}

// recordOverflowSession counts a measurement of a session beyond max_series
// in the overflow pseudo-session, which has no session.id but the same gap
// and duration rules, so its rows keep a stable start.
func (v *view) recordOverflowSession(t int64, value float64) {
	w := v.findSession(v.sessions.overflow, t)
	if w == nil {
		w = newSessionWindow(sessionID{}, t, t, "", v.sessions.overflow)
		v.sessions.overflow = w
		v.overflowLive++
	}
	v.addSession(w, &w.one, value, t)
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
		id := w.id()
		sid := id.String()
		w.each(func(s *series) {
			if s.count > 0 {
				points = append(points, point{delta: s.take(), start: w.start, end: w.end, key: s.key, session: sid, overflow: id.isOverflow()})
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
	evictEach(v, v.sessions.byUUID, now)
	evictEach(v, v.sessions.byOther, now)
	v.sessions.overflow = v.evictChain(v.sessions.overflow, now)
}

func evictEach[K comparable](v *view, byID map[K]*sessionWindow, now int64) {
	for id, head := range byID {
		switch kept := v.evictChain(head, now); {
		case kept == nil:
			delete(byID, id)
		case kept != head:
			byID[id] = kept
		}
	}
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
		if w.id().isOverflow() {
			v.overflowLive--
		} else {
			v.live -= w.len()
		}
	}
	return head
}

func (w *sessionWindow) get(key []byte) *series {
	if w.one.key == string(key) {
		return &w.one
	}
	if w.rare == nil {
		return nil
	}
	return w.rare.more[string(key)]
}

// putMore adds a tag set after the first.
func (w *sessionWindow) putMore(s *series) {
	if w.rare == nil {
		w.rare = &sessionRare{}
	}
	if w.rare.more == nil {
		w.rare.more = map[string]*series{}
	}
	w.rare.more[s.key] = s
}

func (w *sessionWindow) len() int {
	if w.rare == nil {
		return 1
	}
	return 1 + len(w.rare.more)
}

func (w *sessionWindow) each(f func(*series)) {
	f(&w.one)
	if w.rare != nil {
		for _, s := range w.rare.more {
			f(s)
		}
	}
}
