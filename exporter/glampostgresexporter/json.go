package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"encoding/base64"
	"slices"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// The JSON written to jsonb columns is encoded here rather than through
// AsRaw and encoding/json, which built a Go map per record and cost more than
// a third of the exporter's CPU. appendMap's keys come out sorted, so equal
// maps give equal bytes (the view rows' tags hash relies on it). Values must have
// passed usage.ValueProblem: no NaN, no invalid UTF-8.

func appendMap(b []byte, m pcommon.Map) []byte {
	type entry struct {
		k string
		v pcommon.Value
	}
	entries := make([]entry, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		entries = append(entries, entry{k, v})
		return true
	})
	// Stable, so that of repeated keys the last one wins, as in AsRaw.
	slices.SortStableFunc(entries, func(x, y entry) int {
		switch {
		case x.k < y.k:
			return -1
		case x.k > y.k:
			return 1
		}
		return 0
	})
	b = append(b, '{')
	first := true
	for i, e := range entries {
		if i+1 < len(entries) && entries[i+1].k == e.k {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, e.k)
		b = append(b, ':')
		b = appendValue(b, e.v)
	}
	return append(b, '}')
}

// appendMapAsIs is appendMap without sorting the keys, for a jsonb column
// whose bytes nothing compares: PostgreSQL orders the keys itself and, as
// appendMap does, keeps the last of a repeated key. Sorting was a quarter
// of the exporter's CPU on raw events.
func appendMapAsIs(b []byte, m pcommon.Map) []byte {
	b = append(b, '{')
	first := true
	m.Range(func(k string, v pcommon.Value) bool {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, v)
		return true
	})
	return append(b, '}')
}

func appendValue(b []byte, v pcommon.Value) []byte {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return appendString(b, v.Str())
	case pcommon.ValueTypeInt:
		return strconv.AppendInt(b, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		return strconv.AppendFloat(b, v.Double(), 'g', -1, 64)
	case pcommon.ValueTypeBool:
		return strconv.AppendBool(b, v.Bool())
	case pcommon.ValueTypeMap:
		return appendMap(b, v.Map())
	case pcommon.ValueTypeSlice:
		b = append(b, '[')
		for i := 0; i < v.Slice().Len(); i++ {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendValue(b, v.Slice().At(i))
		}
		return append(b, ']')
	case pcommon.ValueTypeBytes:
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, v.Bytes().AsRaw())
		return append(b, '"')
	}
	return append(b, "null"...)
}

const hexDigits = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
