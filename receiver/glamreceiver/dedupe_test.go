package glamreceiver

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSeenSetCommitRelease(t *testing.T) {
	s := newSeenSet(10, time.Hour)
	now := time.Unix(1_700_000_000, 0)

	dup, res, err := s.reserve([]string{"a", "b", "a"}, now)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false, true}, dup, "a repeat within one request is a duplicate")

	_, _, err = s.reserve([]string{"c", "b"}, now)
	assert.ErrorIs(t, err, errInFlight, "b is held by the first request")
	dup, other, err := s.reserve([]string{"c"}, now)
	require.NoError(t, err, "the refused reservation held nothing")
	assert.Equal(t, []bool{false}, dup)
	s.release(other)

	s.release(res)
	dup, res, err = s.reserve([]string{"a", "b"}, now)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false}, dup, "released ids are not seen")
	s.commit(res, now)
	assert.Equal(t, 2, s.len())

	dup, res, err = s.reserve([]string{"b", "c"}, now.Add(time.Minute))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false}, dup)
	s.commit(res, now.Add(time.Minute))
	assert.Equal(t, 3, s.len())
}

func TestSeenSetForgetsAfterTTL(t *testing.T) {
	s := newSeenSet(10, time.Hour)
	now := time.Unix(1_700_000_000, 0)
	_, res, _ := s.reserve([]string{"a"}, now)
	s.commit(res, now)
	_, res, _ = s.reserve([]string{"b"}, now.Add(30*time.Minute))
	s.commit(res, now.Add(30*time.Minute))

	dup, res, err := s.reserve([]string{"a", "b"}, now.Add(time.Hour-time.Nanosecond))
	require.NoError(t, err)
	assert.Equal(t, []bool{true, true}, dup)
	s.release(res)

	dup, res, err = s.reserve([]string{"a", "b"}, now.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true}, dup, "a expired, b has half an hour left")
	s.release(res)
	assert.Equal(t, 1, s.len())
}

func TestSeenSetIsBounded(t *testing.T) {
	s := newSeenSet(100, 24*time.Hour)
	now := time.Unix(1_700_000_000, 0)
	for i := 0; i < 250; i++ {
		_, res, err := s.reserve([]string{fmt.Sprint(i)}, now)
		require.NoError(t, err)
		s.commit(res, now)
	}
	assert.Equal(t, 100, s.len())
	assert.Equal(t, 100, s.used, "the evicted ids left the table")
	dup, res, _ := s.reserve([]string{"149", "150", "249"}, now)
	assert.Equal(t, []bool{false, true, true}, dup, "the oldest ids were evicted first")
	s.release(res)
	assert.Equal(t, 100, s.used, "a released id leaves the table")
}

// The table is made once, for max ids, by the first request: filling the
// set never rehashes it under the lock.
func TestSeenSetTableSizedOnce(t *testing.T) {
	const maxEntries = 5000
	s := newSeenSet(maxEntries, time.Hour)
	now := time.Unix(1_700_000_000, 0)
	var first []idSlot
	for i := range 3 * maxEntries / 20 {
		ids := make([]string, 20)
		for j := range ids {
			ids[j] = fmt.Sprint(i, "-", j)
		}
		_, res, err := s.reserve(ids, now)
		require.NoError(t, err)
		s.commit(res, now)
		if first == nil {
			first = s.table
		}
	}
	require.Equal(t, maxEntries, s.len())
	assert.Same(t, &first[0], &s.table[0], "the first table is still the table")
	assert.GreaterOrEqual(t, len(s.table)/4*3, maxEntries, "room for max ids")
	assert.Less(t, len(s.table)/8*3, maxEntries, "not larger than needed")
}

func TestSeenSetDisabled(t *testing.T) {
	s := newSeenSet(0, 0)
	now := time.Now()
	for range 2 {
		dup, res, err := s.reserve([]string{"a", "a"}, now)
		require.NoError(t, err)
		assert.Equal(t, []bool{false, false}, dup)
		s.commit(res, now)
	}
	assert.Equal(t, 0, s.len())
}

func TestOriginList(t *testing.T) {
	l := newOriginList([]string{"https://GLAM.example", "https://*.preview.glam.example"})
	for origin, want := range map[string]bool{
		"https://glam.example":              true,
		"https://Glam.Example":              true,
		"https://pr-1.preview.glam.example": true,
		"https://preview.glam.example":      false,
		"https://glam.example.evil.example": false,
		"http://glam.example":               false,
		"":                                  false,
		"null":                              false,
	} {
		assert.Equal(t, want, l.allows(origin), origin)
	}
	assert.True(t, newOriginList([]string{"*"}).allows("https://any.example"))
	assert.False(t, newOriginList([]string{"*"}).allows(""), "a request without Origin is not a browser's cross-origin beacon")
	assert.False(t, newOriginList(nil).allows("https://glam.example"))
}

// seenModel is the seen set as its doc says it behaves, in plain maps and
// a queue: the reference the table is checked against.
type seenModel struct {
	max     int
	ttl     time.Duration
	seen    map[string]int64
	order   []string // seen ids, oldest first
	pending map[string]int
}

func (m *seenModel) expire(now int64) {
	for len(m.order) > 0 && m.seen[m.order[0]] <= now {
		delete(m.seen, m.order[0])
		m.order = m.order[1:]
	}
}

func (m *seenModel) reserve(res int, ids []string, now time.Time) ([]bool, []string, bool) {
	m.expire(now.UnixNano())
	dup := make([]bool, len(ids))
	var held []string
	for i, id := range ids {
		_, seen := m.seen[id]
		holder, pending := m.pending[id]
		switch {
		case seen || (pending && holder == res):
			dup[i] = true
		case pending:
			for _, h := range held {
				delete(m.pending, h)
			}
			return nil, nil, false
		default:
			m.pending[id] = res
			held = append(held, id)
		}
	}
	return dup, held, true
}

func (m *seenModel) commit(res int, held []string, now time.Time) {
	for _, id := range held {
		if m.pending[id] != res {
			continue
		}
		delete(m.pending, id)
		if len(m.order) == m.max {
			delete(m.seen, m.order[0])
			m.order = m.order[1:]
		}
		m.seen[id] = now.Add(m.ttl).UnixNano()
		m.order = append(m.order, id)
	}
}

func (m *seenModel) release(res int, held []string) {
	for _, id := range held {
		if m.pending[id] == res {
			delete(m.pending, id)
		}
	}
}

// TestSeenSetAgainstAModel runs random requests (repeats inside one,
// retries racing their original, commits, refusals, expiry, eviction)
// through the seen set and through seenModel: every answer the same. Ids
// are many for a small table, so that probe chains grow long and removals
// shift keys back across them.
func TestSeenSetAgainstAModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const maxEntries, ttl = 3000, time.Minute
	s := newSeenSet(maxEntries, ttl)
	m := &seenModel{max: maxEntries, ttl: ttl, seen: map[string]int64{}, pending: map[string]int{}}
	now := time.Unix(1_700_000_000, 0)
	type open struct {
		res  *reservation
		id   int
		held []string
	}
	var inFlight []open
	for step := range 40_000 {
		now = now.Add(time.Duration(rng.IntN(20)) * time.Millisecond)
		if len(inFlight) > 8 || (len(inFlight) > 0 && rng.IntN(2) == 0) {
			i := rng.IntN(len(inFlight))
			o := inFlight[i]
			inFlight = append(inFlight[:i], inFlight[i+1:]...)
			if rng.IntN(5) == 0 {
				s.release(o.res)
				m.release(o.id, o.held)
			} else {
				s.commit(o.res, now)
				m.commit(o.id, o.held, now)
			}
		} else {
			ids := make([]string, 1+rng.IntN(20))
			for i := range ids {
				ids[i] = fmt.Sprint(rng.IntN(6000))
			}
			dup, res, err := s.reserve(ids, now)
			wantDup, held, ok := m.reserve(step+1, ids, now)
			require.Equal(t, ok, err == nil, "step %d: in flight", step)
			if ok {
				require.Equal(t, wantDup, dup, "step %d", step)
				inFlight = append(inFlight, open{res, step + 1, held})
			}
		}
		require.Equal(t, len(m.seen), s.len(), "step %d: seen", step)
		require.Equal(t, len(m.seen)+len(m.pending), s.used, "step %d: in the table", step)
	}
}
