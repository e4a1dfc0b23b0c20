package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"

import (
	"strconv"

	"github.com/valyala/fastjson"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

// attributeParsers parse stored attribute objects. Reading them back was a
// fifth of the collector's CPU with encoding/json (a map[string]any per
// event, by reflection, then copied into pdata); fastjson parses into
// memory its parser reuses, visited in the stored order.
var attributeParsers fastjson.ParserPool

// putJSON adds a stored attributes object (jsonb as text) to m; anything
// else adds nothing. Integers come back as ints, as they were sent, so tag
// values read the same as they did live; other numbers as doubles, null as
// an empty value.
func putJSON(m pcommon.Map, raw []byte) {
	p := attributeParsers.Get()
	defer attributeParsers.Put(p)
	v, err := p.ParseBytes(raw)
	if err != nil {
		return
	}
	obj, err := v.Object()
	if err != nil {
		return
	}
	putObject(m, obj)
}

func putObject(m pcommon.Map, obj *fastjson.Object) {
	m.EnsureCapacity(m.Len() + obj.Len())
	obj.Visit(func(key []byte, v *fastjson.Value) {
		putValue(m.PutEmpty(string(key)), v)
	})
}

func putValue(dst pcommon.Value, v *fastjson.Value) {
	switch v.Type() {
	case fastjson.TypeString:
		dst.SetStr(string(v.GetStringBytes()))
	case fastjson.TypeTrue:
		dst.SetBool(true)
	case fastjson.TypeFalse:
		dst.SetBool(false)
	case fastjson.TypeNumber:
		// The number as written; what does not parse as an int64 is a
		// double.
		text := v.String()
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			dst.SetInt(n)
		} else if f, err := strconv.ParseFloat(text, 64); err == nil {
			dst.SetDouble(f)
		}
	case fastjson.TypeObject:
		obj, _ := v.Object()
		putObject(dst.SetEmptyMap(), obj)
	case fastjson.TypeArray:
		s := dst.SetEmptySlice()
		elems, _ := v.Array()
		s.EnsureCapacity(len(elems))
		for _, x := range elems {
			putValue(s.AppendEmpty(), x)
		}
	}
}
