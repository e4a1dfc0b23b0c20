package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// contentID is the event id of a log record that has no log.record.uid: a
// hash of everything a client retry sends again identically — resource
// attributes, event name, timestamps, severity, body, attributes, trace
// context. Attribute order does not matter. Two records identical in all of
// these are one event; clients that can emit such twins should set
// log.record.uid.
func contentID(res pcommon.Resource, lr plog.LogRecord) string {
	h := sha256.New()
	hashMap(h, res.Attributes())
	hashString(h, lr.EventName())
	hashUint(h, uint64(lr.Timestamp()))
	hashUint(h, uint64(lr.ObservedTimestamp()))
	hashUint(h, uint64(lr.SeverityNumber()))
	hashString(h, lr.SeverityText())
	hashValue(h, lr.Body())
	hashMap(h, lr.Attributes())
	traceID, spanID := lr.TraceID(), lr.SpanID()
	h.Write(traceID[:])
	h.Write(spanID[:])
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16])
}

// Every piece is length- or type-prefixed so that different contents
// cannot produce the same byte stream.

func hashUint(h hash.Hash, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	h.Write(b[:])
}

func hashString(h hash.Hash, s string) {
	hashUint(h, uint64(len(s)))
	h.Write([]byte(s))
}

func hashMap(h hash.Hash, m pcommon.Map) {
	keys := make([]string, 0, m.Len())
	for k := range m.All() {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	hashUint(h, uint64(len(keys)))
	for _, k := range keys {
		v, _ := m.Get(k)
		hashString(h, k)
		hashValue(h, v)
	}
}

func hashValue(h hash.Hash, v pcommon.Value) {
	h.Write([]byte{byte(v.Type())})
	switch v.Type() {
	case pcommon.ValueTypeStr:
		hashString(h, v.Str())
	case pcommon.ValueTypeInt:
		hashUint(h, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		hashUint(h, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			h.Write([]byte{1})
		} else {
			h.Write([]byte{0})
		}
	case pcommon.ValueTypeBytes:
		hashString(h, string(v.Bytes().AsRaw()))
	case pcommon.ValueTypeMap:
		hashMap(h, v.Map())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		hashUint(h, uint64(s.Len()))
		for i := 0; i < s.Len(); i++ {
			hashValue(h, s.At(i))
		}
	}
}
