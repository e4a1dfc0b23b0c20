package glamviewsprocessor

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Tag values of any length and content, missing ones included, come back
// out of a series key exactly as they went in.
func TestTagKeyRoundTrip(t *testing.T) {
	keys := []string{"a", "b", "c", "d"}
	in := pcommon.NewMap()
	in.PutStr("a", strings.Repeat("x", 300)) // a two-byte length
	in.PutStr("c", "")
	in.PutStr("d", "with\x00and\x01bytes")
	in.PutStr("not a tag key", "ignored")

	key := string(appendTagKey(nil, in, keys))
	out := pcommon.NewMap()
	putTags(out, keys, key)

	assert.Equal(t, map[string]any{"a": strings.Repeat("x", 300), "c": "", "d": "with\x00and\x01bytes"}, out.AsRaw())
}

// Values that would collide if joined with a separator are distinct keys.
func TestTagKeysAreUnambiguous(t *testing.T) {
	keys := []string{"a", "b"}
	one, two := pcommon.NewMap(), pcommon.NewMap()
	one.PutStr("a", "x\x01")
	one.PutStr("b", "y")
	two.PutStr("a", "x")
	two.PutStr("b", "\x01y")
	assert.NotEqual(t, string(appendTagKey(nil, one, keys)), string(appendTagKey(nil, two, keys)))
	missing, empty := pcommon.NewMap(), pcommon.NewMap()
	empty.PutStr("a", "")
	assert.NotEqual(t, string(appendTagKey(nil, missing, keys)), string(appendTagKey(nil, empty, keys)))
}
