package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"encoding/binary"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A tag set is kept as one string, the series' map key: for each tag key in
// the view's order, 0 when the measurement lacks it, or 1, the value's
// length and the value. The encoding is unambiguous (no separator a value
// could contain) and costs no allocation to look up, which matters because
// every measurement is looked up once per view.

// appendTagKey appends the tag set of attrs for keys to buf.
func appendTagKey(buf []byte, attrs pcommon.Map, keys []string) []byte {
	for _, k := range keys {
		v, ok := attrs.Get(k)
		if !ok {
			buf = append(buf, 0)
			continue
		}
		buf = append(buf, 1)
		var s string
		if v.Type() == pcommon.ValueTypeStr {
			s = v.Str()
		} else {
			// OpenCensus tag values are strings; other types are kept in
			// their string form so that 1 and "1" are one series.
			s = v.AsString()
		}
		buf = binary.AppendUvarint(buf, uint64(len(s)))
		buf = append(buf, s...)
	}
	return buf
}

// putTags writes the tag set encoded in key into attrs. A tag the
// measurement lacked is omitted.
func putTags(attrs pcommon.Map, keys []string, key string) {
	for _, k := range keys {
		present := key[0]
		key = key[1:]
		if present == 0 {
			continue
		}
		n, w := uvarint(key)
		key = key[w:]
		attrs.PutStr(k, key[:n])
		key = key[n:]
	}
}

// uvarint is binary.Uvarint for a string, which spares converting the key
// to a byte slice for every tag of every flushed point.
func uvarint(s string) (value uint64, width int) {
	var shift uint
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b < 0x80 {
			return value | uint64(b)<<shift, i + 1
		}
		value |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
