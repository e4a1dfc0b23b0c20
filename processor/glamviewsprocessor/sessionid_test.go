package glamviewsprocessor

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// Every session.id reads back as it came; only the lowercase UUID form
// (as the regular expression below says it, RFC 9562's string form) is
// kept in 16 bytes.
func TestSessionIDsReadBackAsTheyCame(t *testing.T) {
	canonical := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	ids := []string{
		"8f3c2a1e-5b7d-4e9f-a0c1-000000000042",
		"8F3C2A1E-5B7D-4E9F-A0C1-000000000042", // uppercase: another session
		"00000000-0000-0000-0000-000000000000", // the nil UUID is no overflow
		"8f3c2a1e-5b7d-4e9f-a0c1-00000000004g",
		"8f3c2a1e5b7d-4e9f-a0c1-0000000000042",
		"8f3c2a1e-5b7d-4e9f-a0c1-00000000004",
		"{8f3c2a1e-5b7d-4e9f-a0c1-000000004}",
		"8f3c2a1e-5b7d-4e9f-a0c1_000000000042",
		"1700000000000-abc", "x", "é",
	}
	for range 200 {
		var b [16]byte
		_, _ = rand.Read(b[:])
		ids = append(ids, fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
	}
	for _, s := range ids {
		id := parseSessionID(s)
		assert.Equal(t, s, id.String())
		assert.Equal(t, canonical.MatchString(s) && s != "00000000-0000-0000-0000-000000000000", id.other == nil, "%q kept in 16 bytes", s)
		assert.False(t, id.isOverflow(), s)
	}
	assert.True(t, sessionID{}.isOverflow())
	assert.Empty(t, sessionID{}.String())
	assert.NotEqual(t, parseSessionID(ids[0]), parseSessionID(strings.ToUpper(ids[0])))
}

// A live series costs its allocation, its key and its map entry
// (BenchmarkMemoryPerSeries): a field more in series or sessionWindow moves
// each up a size class of Go's allocator, 16 bytes a series.
func TestSeriesFitTheirAllocations(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(series{}), uintptr(48))
	assert.LessOrEqual(t, unsafe.Sizeof(sessionWindow{}), uintptr(112))
}
