package glamreceiver

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadata"
)

// The browser decoder (jsonSpans) is checked against pdata's decoder, an
// implementation of its own: whatever it accepts, pdata decodes without
// error into the same spans, attributes and resources.

// browserBody is what the OTel JS web SDK sends: a span with an int and a
// bool attribute and its own session, one without id or name, one in the
// resource's session.
const browserBodyTemplate = `{"resourceSpans":[{"resource":{"attributes":[
 {"key":"service.name","value":{"stringValue":"glam-frontend"}},
 {"key":"session.id","value":{"stringValue":"s-resource"}},
 {"key":"user_agent.original","value":{"stringValue":"Mozilla/5.0 Firefox/140.0"}}],"droppedAttributesCount":0},
 "scopeSpans":[{"scope":{"name":"glam","version":"1.0"},"spans":[
 {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"eee19b7ec3c1b174","parentSpanId":"","traceState":"",
  "name":"probe.view","kind":1,"startTimeUnixNano":"START","endTimeUnixNano":END,
  "attributes":[{"key":"glam.probe.name","value":{"stringValue":"gc_ms — ünïcode"}},{"key":"n","value":{"intValue":"-42"}},
   {"key":"m","value":{"intValue":7}},{"key":"b","value":{"boolValue":true}},{"key":"session.id","value":{"stringValue":"s-span"}}],
  "droppedAttributesCount":0,"events":[],"droppedEventsCount":0,"links":[],"droppedLinksCount":0,"status":{"code":0},"flags":1},
 {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"0000000000000000","name":"","startTimeUnixNano":"0",
  "attributes":[],"status":{}},
 {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"search","startTimeUnixNano":"START",
  "attributes":[{"key":"glam.search","value":{"stringValue":"gc"}}],"status":{"code":1,"message":"ok"}}]}],"schemaUrl":""}]}`

// browserBody is browserBodyTemplate with the first span a minute old.
func browserBody() []byte {
	start := time.Now().Add(-time.Minute).UnixNano()
	return []byte(strings.NewReplacer("START", strconv.FormatInt(start, 10), "END", strconv.FormatInt(start+2e6, 10)).Replace(browserBodyTemplate))
}

// compactBrowserBody is browserBody without spaces, as the SDK's
// JSON.stringify writes it.
func compactBrowserBody(tb testing.TB) []byte {
	var compact bytes.Buffer
	require.NoError(tb, json.Compact(&compact, browserBody()))
	return compact.Bytes()
}

func TestJSONSpansDecodesAsPdata(t *testing.T) {
	// Spaced, and compact (the form keyValue reads in one go).
	for name, body := range map[string][]byte{"spaced": browserBody(), "compact": compactBrowserBody(t)} {
		t.Run(name, func(t *testing.T) {
			d, ok := decodeJSONSpans(body)
			require.True(t, ok, "the browser decoder takes what the OTel JS SDK sends")
			assertSameAsPdata(t, body, d)
			require.Len(t, d.spans, 3)
			assert.Equal(t, "s-span", mustSession(t, d, d.spans[0].attrs))
			assert.Equal(t, "s-resource", d.resources[0].session)
		})
	}
}

// Attributes that start as the compact string form and then are not one
// take the field-by-field way: refused where it refuses them, read as pdata
// reads them where it takes them.
func TestJSONSpansCompactFormOnlyWhenWhole(t *testing.T) {
	span := func(attrs string) []byte {
		return []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"eee19b7ec3c1b174","attributes":[` + attrs + `]}]}]}]}`)
	}
	for _, attrs := range []string{
		`{"key":"a","value":{"stringValue":"x"},"key":"b"}`,
		`{"key":"a","value":{"stringValue":"x","intValue":"1"}}`,
		`{"key":"a","value":{"stringValue":"x\u0041"}}`,
		`{"key":"a\n","value":{"stringValue":"x"}}`,
	} {
		_, ok := decodeJSONSpans(span(attrs))
		assert.False(t, ok, "%s is left to pdata", attrs)
	}
	body := span(`{"key":"a","value":{"stringValue":"x"} },{"key":"b","value":{"intValue":"2"}},{"key":"c","value":{"stringValue":"y"}}`)
	d, ok := decodeJSONSpans(body)
	require.True(t, ok)
	assertSameAsPdata(t, body, d)
	assert.Equal(t, []jsonKV{
		{key: "a", typ: pcommon.ValueTypeStr, str: "x"},
		{key: "b", typ: pcommon.ValueTypeInt, num: 2},
		{key: "c", typ: pcommon.ValueTypeStr, str: "y"},
	}, d.attrs(d.spans[0].attrs))
}

// TestJSONSpansLeavesTheRestToPdata lists bodies the browser decoder must
// not take: pdata decodes them differently from a plain reading, or
// refuses them, or the request checks (UTF-8, nesting) must see them.
func TestJSONSpansLeavesTheRestToPdata(t *testing.T) {
	span := func(fields string) string {
		return `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"a"` + fields + `}]}]}]}`
	}
	for name, body := range map[string]string{
		"escaped string":       span(`,"attributes":[{"key":"k","value":{"stringValue":"a\u0000b"}}]`),
		"control character":    span(",\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"a\tb\"}}]"),
		"invalid UTF-8":        span(",\"attributes\":[{\"key\":\"k\",\"value\":{\"stringValue\":\"\xff\"}}]"),
		"double":               span(`,"attributes":[{"key":"k","value":{"doubleValue":1.5}}]`),
		"map value":            span(`,"attributes":[{"key":"k","value":{"kvlistValue":{"values":[]}}}]`),
		"empty value":          span(`,"attributes":[{"key":"k","value":{}}]`),
		"two values":           span(`,"attributes":[{"key":"k","value":{"stringValue":"a","intValue":1}}]`),
		"repeated key":         span(`,"attributes":[{"key":"k","value":{"stringValue":"a"}},{"key":"k","value":{"stringValue":"b"}}]`),
		"repeated field":       span(`,"attributes":[],"attributes":[]`),
		"snake_case field":     span(`,"start_time_unix_nano":"1"`),
		"unknown field":        span(`,"colour":"red"`),
		"span event":           span(`,"events":[{"name":"e"}]`),
		"kind by name":         span(`,"kind":"SPAN_KIND_CLIENT"`),
		"leading zero":         span(`,"startTimeUnixNano":01`),
		"fraction":             span(`,"startTimeUnixNano":1.0`),
		"short id":             `{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"eee1"}]}]}]}`,
		"non-hex id":           `{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"zzzzzzzzzzzzzzzz"}]}]}]}`,
		"int session":          span(`,"attributes":[{"key":"session.id","value":{"intValue":5}}]`),
		"null":                 span(`,"name":null`),
		"trailing data":        span(``) + `x`,
		"scope attributes":     `{"resourceSpans":[{"scopeSpans":[{"scope":{"attributes":[{"key":"k","value":{"stringValue":"v"}}]}}]}]}`,
		"too many attributes":  span(`,"attributes":[` + manyAttributes(maxAttributes+1) + `]`),
		"top-level snake_case": `{"resource_spans":[]}`,
		"not an object":        `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			_, ok := decodeJSONSpans([]byte(body))
			assert.False(t, ok)
		})
	}
	_, ok := decodeJSONSpans([]byte(span(`,"attributes":[` + manyAttributes(maxAttributes) + `]`)))
	assert.True(t, ok, "maxAttributes attributes are within the limit")
}

func manyAttributes(n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"key":"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `","value":{"boolValue":false}}`)
	}
	return b.String()
}

func mustSession(t *testing.T, d *jsonSpans, r kvRange) string {
	s, ok := d.session(r)
	require.True(t, ok)
	return s
}

// assertSameAsPdata decodes body with pdata and compares it with d.
func assertSameAsPdata(t testing.TB, body []byte, d *jsonSpans) {
	req := ptraceotlp.NewExportRequest()
	require.NoError(t, req.UnmarshalJSON(body), "pdata refuses what the browser decoder took")
	rss := req.Traces().ResourceSpans()
	require.Equal(t, rss.Len(), len(d.resources))
	n := 0
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		assert.Equal(t, rs.Resource().Attributes().AsRaw(), kvsMap(d.attrs(d.resources[i].attrs)).AsRaw())
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				require.Less(t, n, len(d.spans))
				want, got := spans.At(k), d.spans[n]
				n++
				assert.Equal(t, i, got.resource)
				assert.Equal(t, want.TraceID(), got.traceID)
				assert.Equal(t, want.SpanID(), got.spanID)
				assert.Equal(t, want.Name(), got.name)
				assert.Equal(t, uint64(want.StartTimestamp()), got.start)
				assert.Equal(t, uint64(want.EndTimestamp()), got.end)
				assertSameMap(t, want.Attributes(), kvsMap(d.attrs(got.attrs)))
			}
		}
	}
	assert.Equal(t, n, len(d.spans))
}

// assertSameMap compares in order, types included.
func assertSameMap(t testing.TB, want, got pcommon.Map) {
	type kv struct {
		k string
		v any
		t pcommon.ValueType
	}
	list := func(m pcommon.Map) (out []kv) {
		for k, v := range m.All() {
			out = append(out, kv{k, v.AsRaw(), v.Type()})
		}
		return out
	}
	assert.Equal(t, list(want), list(got))
}

func kvsMap(kvs []jsonKV) pcommon.Map {
	m := pcommon.NewMap()
	putKVs(m, kvs)
	return m
}

// TestEventsOnlyMatchesPassThrough sends the same body to a receiver whose
// only pipeline takes usage events (the browser decoder) and to one that
// also passes spans on (pdata): the events written are the same.
func TestEventsOnlyMatchesPassThrough(t *testing.T) {
	body := browserBody()
	eventsOnly, both := postTraces(t, body, false), postTraces(t, body, true)
	assert.Equal(t, both.code, eventsOnly.code)
	assert.Equal(t, both.body, eventsOnly.body)
	require.Equal(t, 2, eventsOnly.logs.LogRecordCount(), "the second span has no id and no name")
	assertSameLogs(t, both.logs, eventsOnly.logs)
	records := eventsOnly.logs.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	assert.Equal(t, "s-span", records.At(0).Attributes().AsRaw()["session.id"])
	assert.Equal(t, "eee19b7ec3c1b174", records.At(0).Attributes().AsRaw()["log.record.uid"])
	assert.Equal(t, "s-resource", records.At(1).Attributes().AsRaw()["session.id"])
	_, hasUA := eventsOnly.logs.ResourceLogs().At(0).Resource().Attributes().Get("user_agent.original")
	assert.False(t, hasUA, "private resource attributes are scrubbed")
}

type tracesAnswer struct {
	code int
	body string
	logs plog.Logs
}

func postTraces(t *testing.T, body []byte, passThrough bool) tracesAnswer {
	cfg := createDefaultConfig().(*Config)
	r, err := newGlamReceiver(receivertest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	logs := new(consumertest.LogsSink)
	r.next.logs = logs
	if passThrough {
		r.next.traces = new(consumertest.TracesSink)
	}
	req := httptest.NewRequest(http.MethodPost, cfg.PathPrefix+"/v1/traces", bytes.NewReader(body))
	req.Header.Set("Content-Type", mediaJSON)
	rec := httptest.NewRecorder()
	r.routes().ServeHTTP(rec, req)
	out := plog.NewLogs()
	for _, ld := range logs.AllLogs() {
		ld.ResourceLogs().MoveAndAppendTo(out.ResourceLogs())
	}
	r.telemetry.Shutdown()
	return tracesAnswer{rec.Code, rec.Body.String(), out}
}

// assertSameLogs compares two receivers' events, but for the receive time.
func assertSameLogs(t *testing.T, want, got plog.Logs) {
	for _, ld := range []plog.Logs{want, got} {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			sls := ld.ResourceLogs().At(i).ScopeLogs()
			for j := 0; j < sls.Len(); j++ {
				for k := 0; k < sls.At(j).LogRecords().Len(); k++ {
					sls.At(j).LogRecords().At(k).SetObservedTimestamp(0)
				}
			}
		}
	}
	wantJSON, err := (&plog.JSONMarshaler{}).MarshalLogs(want)
	require.NoError(t, err)
	gotJSON, err := (&plog.JSONMarshaler{}).MarshalLogs(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(wantJSON), string(gotJSON))
	assert.Equal(t, string(wantJSON), string(gotJSON), "attributes in the same order")
}

// FuzzJSONSpans: whatever the browser decoder takes, pdata decodes the same.
func FuzzJSONSpans(f *testing.F) {
	f.Add(browserBody())
	f.Add(compactBrowserBody(f))
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"eee19b7ec3c1b174","attributes":[{"key":"a","value":{"intValue":"9223372036854775807"}}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if d, ok := decodeJSONSpans(body); ok {
			assertSameAsPdata(t, body, d)
		}
	})
}

// Every byte that ends or refuses a plain string, at every offset of
// strings up to 26 bytes long. The expected reading is encoding/json's: a string is taken
// when json decodes it to exactly its bytes (no escape, no control
// character, valid UTF-8).
func TestJSONStringAtEveryOffset(t *testing.T) {
	for _, c := range []string{`"`, `\`, "\x00", "\x1f", " ", "\x7f", "é", "\xff", "\xe2\x82"} {
		for n := 0; n <= 25; n++ {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + c + strings.Repeat("b", n-at)
				d := &jsonSpans{src: `"` + s + `",`}
				got, ok := d.str()

				end := strings.IndexByte(s, '"')
				if end < 0 {
					end = len(s)
				}
				var want string
				wantOK := json.Unmarshal([]byte(`"`+s[:end]+`"`), &want) == nil && want == s[:end]
				require.Equal(t, wantOK, ok, "%q", s)
				if ok {
					assert.Equal(t, s[:end], got, "%q", s)
					assert.Equal(t, end+2, d.pos, "%q: past the closing quote", s)
				}
			}
		}
	}
	for _, s := range []string{`"`, `"abc`, `"abcdefghijklmnop`, `"abcdefgh`} {
		_, ok := (&jsonSpans{src: s}).str()
		assert.False(t, ok, "%q has no closing quote", s)
	}
}
