package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// jsonSpans decodes an OTLP/JSON traces body of the shape browsers send
// (the OTel JS SDK's) straight into what the usage events are written from,
// skipping ptrace.Traces: decoding into pdata costs more than the rest of
// the request, and the spans are only passed on when a traces pipeline takes
// them. Strings are slices of the body.
//
// It knows only the fields and forms it decodes exactly as pdata does; on
// anything else (escapes, snake_case names, arrays, maps, doubles, bytes,
// span events and links, repeated fields or attribute keys, more attributes
// than maxAttributes, invalid UTF-8) it gives up and the request is decoded
// by pdata, which then says what is wrong with it. So what it accepts is
// what pdata would have decoded, and every refusal is pdata's.
type jsonSpans struct {
	src string
	pos int
	// kvs holds every attribute of the request; resources and spans name
	// their part of it.
	kvs       []jsonKV
	resources []jsonResource
	spans     []jsonSpan
}

// jsonKV is a decoded attribute: a string, an int or a bool.
type jsonKV struct {
	key string
	typ pcommon.ValueType
	str string
	num int64
}

func (kv jsonKV) setTo(v pcommon.Value) {
	switch kv.typ {
	case pcommon.ValueTypeStr:
		v.SetStr(kv.str)
	case pcommon.ValueTypeInt:
		v.SetInt(kv.num)
	case pcommon.ValueTypeBool:
		v.SetBool(kv.num != 0)
	}
}

type kvRange struct{ from, to int }

type jsonResource struct {
	attrs   kvRange
	session string
}

type jsonSpan struct {
	resource   int
	traceID    pcommon.TraceID
	spanID     pcommon.SpanID
	name       string
	start, end uint64
	attrs      kvRange
}

func (d *jsonSpans) attrs(r kvRange) []jsonKV { return d.kvs[r.from:r.to] }

// decodeJSONSpans returns the decoded body, or false when pdata must decode
// it.
func decodeJSONSpans(body []byte) (*jsonSpans, bool) {
	// The capacities fit the OTel JS SDK's bodies (about 80 bytes an
	// attribute, 500 a span), so that the slices rarely grow. The strings
	// share the body's memory rather than copying it: readBody's buffer is
	// the request's own and nothing writes to it once read.
	var src string
	if len(body) > 0 {
		src = unsafe.String(&body[0], len(body))
	}
	d := &jsonSpans{src: src, kvs: make([]jsonKV, 0, len(body)/80+4), spans: make([]jsonSpan, 0, len(body)/500+1)}
	ok := d.object(func(key string) bool {
		return key == "resourceSpans" && d.array(d.resourceSpans)
	})
	d.space()
	return d, ok && d.pos == len(d.src)
}

func (d *jsonSpans) resourceSpans() bool {
	res := len(d.resources)
	d.resources = append(d.resources, jsonResource{})
	var seen fields
	return d.object(func(key string) bool {
		switch {
		case !seen.first(key):
			return false
		case key == "resource":
			return d.resource(res)
		case key == "scopeSpans":
			return d.array(func() bool { return d.scopeSpans(res) })
		case key == "schemaUrl":
			_, ok := d.str()
			return ok
		}
		return false
	})
}

func (d *jsonSpans) resource(res int) bool {
	var seen fields
	return d.object(func(key string) bool {
		switch {
		case !seen.first(key):
			return false
		case key == "attributes":
			r, ok := d.attributes()
			if !ok {
				return false
			}
			d.resources[res].attrs = r
			session, ok := d.session(r)
			d.resources[res].session = session
			return ok
		case key == "droppedAttributesCount":
			return d.uint32()
		}
		return false
	})
}

func (d *jsonSpans) scopeSpans(res int) bool {
	var seen fields
	return d.object(func(key string) bool {
		switch {
		case !seen.first(key):
			return false
		case key == "scope":
			return d.scope()
		case key == "spans":
			return d.array(func() bool { return d.span(res) })
		case key == "schemaUrl":
			_, ok := d.str()
			return ok
		}
		return false
	})
}

func (d *jsonSpans) scope() bool {
	var seen fields
	return d.object(func(key string) bool {
		switch {
		case !seen.first(key):
			return false
		case key == "name" || key == "version":
			_, ok := d.str()
			return ok
		case key == "attributes":
			return d.empty()
		case key == "droppedAttributesCount":
			return d.uint32()
		}
		return false
	})
}

func (d *jsonSpans) span(res int) bool {
	s := jsonSpan{resource: res}
	var seen fields
	ok := d.object(func(key string) bool {
		var ok bool
		switch {
		case !seen.first(key):
			return false
		case key == "traceId":
			ok = d.id(s.traceID[:])
		case key == "spanId":
			ok = d.id(s.spanID[:])
		case key == "parentSpanId":
			var parent pcommon.SpanID
			ok = d.id(parent[:])
		case key == "name":
			s.name, ok = d.str()
		case key == "traceState":
			_, ok = d.str()
		case key == "startTimeUnixNano":
			s.start, ok = d.uint64()
		case key == "endTimeUnixNano":
			s.end, ok = d.uint64()
		case key == "attributes":
			if s.attrs, ok = d.attributes(); ok {
				_, ok = d.session(s.attrs)
			}
		case key == "events" || key == "links":
			ok = d.empty()
		case key == "status":
			ok = d.status()
		case key == "kind" || key == "flags" || key == "droppedAttributesCount" ||
			key == "droppedEventsCount" || key == "droppedLinksCount":
			ok = d.uint32()
		}
		return ok
	})
	d.spans = append(d.spans, s)
	return ok
}

func (d *jsonSpans) status() bool {
	var seen fields
	return d.object(func(key string) bool {
		switch {
		case !seen.first(key):
			return false
		case key == "code":
			return d.uint32()
		case key == "message":
			_, ok := d.str()
			return ok
		}
		return false
	})
}

// attributes decodes a list of key-value pairs into d.kvs. It is written
// out rather than through object, since it runs for every attribute.
func (d *jsonSpans) attributes() (kvRange, bool) {
	r := kvRange{from: len(d.kvs)}
	ok := d.array(func() bool {
		kv, ok := d.keyValue()
		if !ok {
			return false
		}
		for _, prev := range d.kvs[r.from:] {
			if prev.key == kv.key {
				return false
			}
		}
		d.kvs = append(d.kvs, kv)
		return len(d.kvs)-r.from <= maxAttributes
	})
	r.to = len(d.kvs)
	return r, ok
}

// The form of nearly every attribute the OTel JS SDK sends, which
// keyValue reads without going field by field.
const (
	jsonKeyOpen   = `{"key":`
	jsonStrValue  = `,"value":{"stringValue":`
	jsonValueDone = `}}`
)

func (d *jsonSpans) keyValue() (jsonKV, bool) {
	if kv, ok := d.compactStringKV(); ok {
		return kv, true
	}
	kv := jsonKV{typ: pcommon.ValueTypeEmpty}
	if !d.next('{') {
		return kv, false
	}
	var haveKey, haveValue bool
	for {
		field, ok := d.str()
		if !ok || !d.next(':') {
			return kv, false
		}
		switch {
		case field == "key" && !haveKey:
			haveKey = true
			kv.key, ok = d.str()
		case field == "value" && !haveValue:
			haveValue = true
			ok = d.value(&kv)
		default:
			return kv, false
		}
		if !ok {
			return kv, false
		}
		if !d.next(',') {
			return kv, d.next('}') && kv.typ != pcommon.ValueTypeEmpty
		}
	}
}

// compactStringKV reads a string attribute written without spaces, key
// first; on anything else it leaves the reader where it was.
func (d *jsonSpans) compactStringKV() (jsonKV, bool) {
	at := d.pos
	if !strings.HasPrefix(d.src[at:], jsonKeyOpen) {
		return jsonKV{}, false
	}
	d.pos += len(jsonKeyOpen)
	key, ok := d.str()
	if ok && strings.HasPrefix(d.src[d.pos:], jsonStrValue) {
		d.pos += len(jsonStrValue)
		var val string
		if val, ok = d.str(); ok && strings.HasPrefix(d.src[d.pos:], jsonValueDone) {
			d.pos += len(jsonValueDone)
			return jsonKV{key: key, typ: pcommon.ValueTypeStr, str: val}, true
		}
	}
	d.pos = at
	return jsonKV{}, false
}

// value reads an AnyValue holding exactly one string, int or bool.
func (d *jsonSpans) value(kv *jsonKV) bool {
	if !d.next('{') {
		return false
	}
	field, ok := d.str()
	if !ok || !d.next(':') {
		return false
	}
	switch field {
	case "stringValue":
		kv.typ = pcommon.ValueTypeStr
		kv.str, ok = d.str()
	case "intValue":
		kv.typ = pcommon.ValueTypeInt
		kv.num, ok = d.int64()
	case "boolValue":
		kv.typ = pcommon.ValueTypeBool
		var b bool
		b, ok = d.bool()
		if b {
			kv.num = 1
		}
	default:
		return false
	}
	return ok && d.next('}')
}

// session is the session.id among attrs, which must be a string for
// sessionOf's answer to be the attribute as sent.
func (d *jsonSpans) session(r kvRange) (string, bool) {
	for _, kv := range d.attrs(r) {
		if kv.key == "session.id" {
			return kv.str, kv.typ == pcommon.ValueTypeStr
		}
	}
	return "", true
}

// fields notes which fields of an object were seen: pdata appends repeated
// list fields rather than replacing them, which the decoder does not copy.
// Objects the decoder knows have at most 16 fields.
type fields struct {
	keys [16]string
	n    int
}

func (f *fields) first(key string) bool {
	for _, k := range f.keys[:f.n] {
		if k == key {
			return false
		}
	}
	if f.n == len(f.keys) {
		return false
	}
	f.keys[f.n] = key
	f.n++
	return true
}

func (d *jsonSpans) space() {
	for d.pos < len(d.src) {
		switch d.src[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jsonSpans) next(c byte) bool {
	d.space()
	if d.pos < len(d.src) && d.src[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// object reads an object, calling field for each key with the reader at
// the key's value.
func (d *jsonSpans) object(field func(key string) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		key, ok := d.str()
		if !ok || !d.next(':') || !field(key) {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next('}')
	}
}

func (d *jsonSpans) array(elem func() bool) bool {
	if !d.next('[') {
		return false
	}
	if d.next(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next(']')
	}
}

func (d *jsonSpans) empty() bool { return d.next('[') && d.next(']') }

// str reads a string without escapes or control characters, in valid
// UTF-8.
func (d *jsonSpans) str() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	start, ascii := d.pos, true
	for d.pos < len(d.src) {
		c := d.src[d.pos]
		if !plainByte[c] {
			switch {
			case c == '"':
				s := d.src[start:d.pos]
				d.pos++
				return s, ascii || utf8.ValidString(s)
			case c >= utf8.RuneSelf:
				ascii = false
			default: // an escape or a control character
				return "", false
			}
		}
		d.pos++
	}
	return "", false
}

// plainByte says which bytes str passes over without a second look.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// digits reads a JSON integer without sign, fraction or exponent.
func (d *jsonSpans) digits() (string, bool) {
	d.space()
	start := d.pos
	for d.pos < len(d.src) && d.src[d.pos] >= '0' && d.src[d.pos] <= '9' {
		d.pos++
	}
	s := d.src[start:d.pos]
	return s, s != "" && (s == "0" || s[0] != '0')
}

// uint64 reads a number or a decimal string, as pdata's ReadUint64.
func (d *jsonSpans) uint64() (uint64, bool) {
	var s string
	var ok bool
	if d.quoted() {
		s, ok = d.str()
	} else {
		s, ok = d.digits()
	}
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

// int64 reads a number or a decimal string, as pdata's ReadInt64.
func (d *jsonSpans) int64() (int64, bool) {
	var s string
	var ok bool
	if d.quoted() {
		s, ok = d.str()
	} else {
		neg := d.next('-')
		s, ok = d.digits()
		if neg {
			s = "-" + s
		}
	}
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil
}

// uint32 reads a small unsigned number whose value the events do not use.
func (d *jsonSpans) uint32() bool {
	s, ok := d.digits()
	return ok && len(s) < 10
}

func (d *jsonSpans) bool() (bool, bool) {
	d.space()
	for _, lit := range [...]string{"true", "false"} {
		if len(d.src)-d.pos >= len(lit) && d.src[d.pos:d.pos+len(lit)] == lit {
			d.pos += len(lit)
			return lit == "true", true
		}
	}
	return false, false
}

func (d *jsonSpans) quoted() bool {
	d.space()
	return d.pos < len(d.src) && d.src[d.pos] == '"'
}

// id reads a hex trace or span id into dst; "" leaves it empty.
func (d *jsonSpans) id(dst []byte) bool {
	s, ok := d.str()
	if !ok || s == "" {
		return ok
	}
	if len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, []byte(s))
	return err == nil
}
