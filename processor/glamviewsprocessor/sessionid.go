package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import "encoding/hex"

// sessionID is a session.id as the session windows keep it. Glean.js and
// the OTel JS SDK make session ids as random UUIDs, written lowercase in 36
// characters: such an id is kept in its 16 bytes, not as a string of its
// own (48 bytes of heap a live session, a quarter of what it costs). Any
// other id is kept as it came.
type sessionID struct {
	uuid  [16]byte
	other *string
}

// parseSessionID reads s; it is never the overflow pseudo-session's id,
// the zero sessionID (so the nil UUID is kept as other ids are).
func parseSessionID(s string) sessionID {
	var id sessionID
	if len(s) != 36 || !lowerUUID(s, &id.uuid) || id.uuid == ([16]byte{}) {
		other := s // on the heap only on this path: taking &s would put every s there
		return sessionID{other: &other}
	}
	return id
}

// lowerUUID decodes s, 36 characters, into u when it is a UUID in
// lowercase hex with dashes at 8, 13, 18 and 23: the one form String
// writes back byte for byte. It runs for every measurement of a session
// view, so without a branch per character.
func lowerUUID(s string, u *[16]byte) bool {
	if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	var bad byte
	for i, at := range uuidHexAt {
		hi, lo := hexValue[s[at]], hexValue[s[at+1]]
		bad |= hi | lo
		u[i] = hi<<4 | lo
	}
	return bad < 16
}

// uuidHexAt is where each byte's two hex digits start in a UUID's string.
var uuidHexAt = [16]uint8{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// hexValue is a lowercase hex digit's value, 0xff for any other byte.
var hexValue = func() (t [256]byte) {
	for c := range t {
		switch {
		case c >= '0' && c <= '9':
			t[c] = byte(c - '0')
		case c >= 'a' && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

func (id sessionID) isOverflow() bool { return id.other == nil && id.uuid == [16]byte{} }

// String is the session.id as it came; empty for the overflow
// pseudo-session.
func (id sessionID) String() string {
	switch {
	case id.other != nil:
		return *id.other
	case id.isOverflow():
		return ""
	}
	var b [36]byte
	hex.Encode(b[0:8], id.uuid[0:4])
	hex.Encode(b[9:13], id.uuid[4:6])
	hex.Encode(b[14:18], id.uuid[6:8])
	hex.Encode(b[19:23], id.uuid[8:10])
	hex.Encode(b[24:36], id.uuid[10:16])
	b[8], b[13], b[18], b[23] = '-', '-', '-', '-'
	return string(b[:])
}
