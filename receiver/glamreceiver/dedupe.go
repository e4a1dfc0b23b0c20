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
// size fixed whatever the client sends as an id. It is never zero (the
// table's empty slot).
type idKey [2]uint64

var idSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func keyOf(id string) idKey {
	return idKey{maphash.String(idSeeds[0], id) | 1, maphash.String(idSeeds[1], id)}
}

// seenSet remembers the event ids received recently, with bounded memory:
// at most max ids, each for at most ttl. Ids are evicted oldest first, which
// is also expiry order since every id lives for the same ttl. An entry
// costs 56 to 88 bytes (24 in the ring, a 24-byte slot in a table at most
// three quarters full, sized for max ids when first used), so the default
// 100,000 ids take 9 MB and 1,000,000 take 74 MB, counted in RSS as ids
// land on their pages.
//
// An id goes through two states. reserve marks it pending while its request
// is in the pipelines; commit makes it seen once the pipelines accepted it;
// release forgets it when they refused, so that the client's retry is not
// mistaken for a duplicate.
//
// Both states live in one open-addressing table (linear probing, deletion
// by shifting back): an event costs one probe of it to reserve, and its
// commit finds it where the reserve left it, in cache. With two Go maps
// (seen, pending) it cost three lookups of a million-entry map, each a
// cache miss, and was a fifth of the receiver's CPU.
type seenSet struct {
	mu      sync.Mutex
	max     int
	ttl     time.Duration
	table   []idSlot // len a power of two, or nil until first used
	used    int      // slots holding a key, seen or pending
	ring    []seenEntry
	head    int // oldest at head
	size    int
	nextRes uint64
}

// idSlot is a table slot: empty when key is zero; the id seen when holder
// is zero, else pending in reservation holder.
type idSlot struct {
	key    idKey
	holder uint64
}

type seenEntry struct {
	key     idKey
	expires int64 // unix nanoseconds
}

// newSeenSet returns a set remembering up to max ids for ttl; max 0 turns
// deduplication off.
func newSeenSet(maxEntries int, ttl time.Duration) *seenSet {
	return &seenSet{max: maxEntries, ttl: ttl}
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
	s.makeRoom(len(keys))
	s.nextRes++
	res = &reservation{id: s.nextRes, keys: keys[:0]}
	for i, k := range keys {
		at, found := s.find(k)
		switch {
		case !found:
			s.table[at] = idSlot{key: k, holder: res.id}
			s.used++
			// res.keys shares keys' array, behind i: nothing unread is
			// overwritten.
			res.keys = append(res.keys, k)
		case s.table[at].holder == 0, s.table[at].holder == res.id:
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
		if at, found := s.find(k); !found || s.table[at].holder != res.id {
			continue
		}
		if s.size == s.max {
			s.forgetOldest()
		}
		// Found again: forgetting the oldest may have shifted k's slot.
		at, _ := s.find(k)
		s.table[at].holder = 0
		s.ring[(s.head+s.size)%s.max] = seenEntry{key: k, expires: expires}
		s.size++
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
		if at, found := s.find(k); found && s.table[at].holder == res.id {
			s.remove(at)
		}
	}
	res.keys = nil
}

// expire drops the ids whose ttl has passed.
func (s *seenSet) expire(now int64) {
	for s.size > 0 && s.ring[s.head].expires <= now {
		s.forgetOldest()
	}
}

// forgetOldest drops the oldest seen id. A seen id is in the table until
// it leaves the ring: reserve never takes a seen key.
func (s *seenSet) forgetOldest() {
	if at, found := s.find(s.ring[s.head].key); found {
		s.remove(at)
	}
	s.head = (s.head + 1) % s.max
	s.size--
}

// find returns the slot holding k, or the empty slot where it would go.
func (s *seenSet) find(k idKey) (at uint64, found bool) {
	mask := uint64(len(s.table) - 1)
	for at = k[0] & mask; ; at = (at + 1) & mask {
		switch s.table[at].key {
		case k:
			return at, true
		case idKey{}:
			return at, false
		}
	}
}

// remove empties slot at, shifting back the keys after it that probing
// would no longer reach past the gap.
func (s *seenSet) remove(at uint64) {
	mask := uint64(len(s.table) - 1)
	for next := (at + 1) & mask; s.table[next].key != (idKey{}); next = (next + 1) & mask {
		// The key at next stays unless its home slot is cyclically
		// outside (at, next].
		if home := s.table[next].key[0] & mask; (next-home)&mask >= (next-at)&mask {
			s.table[at] = s.table[next]
			at = next
		}
	}
	s.table[at] = idSlot{}
	s.used--
}

// makeRoom grows the table so that n more keys keep it at most three
// quarters full (linear probing slows down sharply beyond).
func (s *seenSet) makeRoom(n int) {
	need := s.used + n
	if s.table != nil && need <= len(s.table)/4*3 {
		return
	}
	if s.table == nil {
		// Sized for max ids at once rather than grown to it: each doubling
		// rehashed every id under the lock, every request waiting, and
		// zeroed and faulted in a table twice the last.
		need = max(need, s.max)
	}
	size := max(len(s.table), 1024)
	for need > size/4*3 {
		size *= 2
	}
	old := s.table
	s.table = make([]idSlot, size)
	for _, slot := range old {
		if slot.key != (idKey{}) {
			at, _ := s.find(slot.key)
			s.table[at] = slot
		}
	}
}

// len is the number of ids remembered as seen.
func (s *seenSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size
}
