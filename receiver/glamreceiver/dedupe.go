package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"errors"
	"hash/maphash"
	"sync"
	"time"
)

// errInFlight is returned when a request carries an event id that another
// request, still being processed, carries too: typically a client retry
// racing its own original. Answering 503 lets the retry come back once the
// original has either committed (the retry is then a duplicate) or failed
// (the retry is then processed), so nothing is lost or counted twice.
var errInFlight = errors.New("some events of this request are being processed by another request; retry shortly")

// idKey is a 128-bit hash of an event id. Storing hashes keeps an entry's
// size fixed whatever the client sends as an id.
type idKey [2]uint64

var idSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func keyOf(id string) idKey {
	return idKey{maphash.String(idSeeds[0], id), maphash.String(idSeeds[1], id)}
}

// seenSet remembers the event ids received recently, with bounded memory:
// at most max ids, each for at most ttl. Ids are evicted oldest first, which
// is also expiry order since every id lives for the same ttl. An entry
// costs about 100 bytes (map slot plus ring slot), so the default 100,000
// ids take about 10 MB.
//
// An id goes through two states. reserve marks it pending while its request
// is in the pipelines; commit makes it seen once the pipelines accepted it;
// release forgets it when they refused, so that the client's retry is not
// mistaken for a duplicate.
type seenSet struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	seen    map[idKey]struct{}
	ring    []seenEntry // oldest at head
	head    int
	size    int
	pending map[idKey]uint64 // key → reservation that holds it
	nextRes uint64
}

type seenEntry struct {
	key     idKey
	expires int64 // unix nanoseconds
}

// newSeenSet returns a set remembering up to max ids for ttl; max 0 turns
// deduplication off.
func newSeenSet(maxEntries int, ttl time.Duration) *seenSet {
	return &seenSet{
		max:     maxEntries,
		ttl:     ttl,
		seen:    map[idKey]struct{}{},
		pending: map[idKey]uint64{},
	}
}

// reservation is the ids one request holds pending.
type reservation struct {
	id   uint64
	keys []idKey
}

// reserve looks ids up at time now. duplicate[i] is true when ids[i] was
// already seen, or appears earlier in ids. The other ids are held pending
// in the returned reservation, which the caller must commit or release.
// errInFlight means another request holds one of the ids; nothing is then
// held.
func (s *seenSet) reserve(ids []string, now time.Time) (duplicate []bool, res *reservation, err error) {
	duplicate = make([]bool, len(ids))
	if s.max == 0 {
		return duplicate, &reservation{}, nil
	}
	keys := make([]idKey, len(ids))
	for i, id := range ids {
		keys[i] = keyOf(id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now.UnixNano())
	s.nextRes++
	res = &reservation{id: s.nextRes, keys: make([]idKey, 0, len(ids))}
	for i, k := range keys {
		if _, ok := s.seen[k]; ok {
			duplicate[i] = true
			continue
		}
		switch holder, ok := s.pending[k]; {
		case !ok:
			s.pending[k] = res.id
			res.keys = append(res.keys, k)
		case holder == res.id:
			duplicate[i] = true
		default:
			s.releaseLocked(res)
			return nil, nil, errInFlight
		}
	}
	return duplicate, res, nil
}

// commit marks the reservation's ids seen as of now.
func (s *seenSet) commit(res *reservation, now time.Time) {
	if len(res.keys) == 0 {
		return
	}
	expires := now.Add(s.ttl).UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ring == nil {
		s.ring = make([]seenEntry, s.max)
	}
	for _, k := range res.keys {
		if s.pending[k] != res.id {
			continue
		}
		delete(s.pending, k)
		if s.size == s.max {
			delete(s.seen, s.ring[s.head].key)
			s.head = (s.head + 1) % s.max
			s.size--
		}
		s.ring[(s.head+s.size)%s.max] = seenEntry{key: k, expires: expires}
		s.size++
		s.seen[k] = struct{}{}
	}
	res.keys = nil
}

// release forgets the reservation's ids.
func (s *seenSet) release(res *reservation) {
	if len(res.keys) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(res)
}

func (s *seenSet) releaseLocked(res *reservation) {
	for _, k := range res.keys {
		if s.pending[k] == res.id {
			delete(s.pending, k)
		}
	}
	res.keys = nil
}

// expire drops the ids whose ttl has passed.
func (s *seenSet) expire(now int64) {
	for s.size > 0 && s.ring[s.head].expires <= now {
		delete(s.seen, s.ring[s.head].key)
		s.head = (s.head + 1) % s.max
		s.size--
	}
}

// len is the number of ids remembered as seen.
func (s *seenSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
