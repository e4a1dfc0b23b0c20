package glameventlogreceiver

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// putJSON reads what PostgreSQL writes out of a jsonb column as
// encoding/json (UseNumber) reads it: ints as ints, other numbers as
// doubles, null as an empty value, escapes undone, nesting kept.
func TestPutJSONReadsStoredAttributesAsEncodingJSON(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	for _, in := range []string{
		`{"glam.probe.name":"gc_ms","results":7,"session.id":"3b2f5c1e-1111-4222-8333-444455556666"}`,
		`{"neg":-5,"zero":0,"max":9223372036854775807,"over":9223372036854775808,"half":1.5,"one":1.0,"exp":1e3,"tiny":-2.5E-3}`,
		`{"t":true,"f":false,"n":null,"e":"","empty":{},"none":[]}`,
		`{"esc":"q\"b\\s/\n\t\r\b\f\u0001","uni":"é 😀 \u2028 \ud83d\ude00","k\"ey":1,"ключ":"значение"}`,
		`{"nested":{"k":[1,"two",{"three":3.0,"four":[true,null]}],"m":{"a":{"b":"c"}}}}`,
	} {
		var stored []byte
		require.NoError(t, conn.QueryRow(ctx, `SELECT $1::jsonb::text`, in).Scan(&stored))

		got := pcommon.NewMap()
		putJSON(got, stored)
		want := pcommon.NewMap()
		require.NoError(t, putEncodingJSON(want, stored), "%s", stored)
		assert.Equal(t, want.AsRaw(), got.AsRaw(), "%s", stored)
	}
}

func TestPutJSONAddsNothingForWhatIsNotAnObject(t *testing.T) {
	for _, raw := range []string{``, `[1,2]`, `"s"`, `7`, `null`, `{`, `{"a":}`, `{"a":1}x`} {
		m := pcommon.NewMap()
		m.PutStr("kept", "v")
		putJSON(m, []byte(raw))
		assert.Equal(t, map[string]any{"kept": "v"}, m.AsRaw(), "%q", raw)
	}
}

// putEncodingJSON is the reading by encoding/json, the test's oracle.
func putEncodingJSON(m pcommon.Map, raw []byte) error {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return err
	}
	var put func(dst pcommon.Value, v any)
	put = func(dst pcommon.Value, v any) {
		switch v := v.(type) {
		case string:
			dst.SetStr(v)
		case bool:
			dst.SetBool(v)
		case json.Number:
			if n, err := v.Int64(); err == nil {
				dst.SetInt(n)
			} else if f, err := v.Float64(); err == nil {
				dst.SetDouble(f)
			}
		case map[string]any:
			sub := dst.SetEmptyMap()
			for k, x := range v {
				put(sub.PutEmpty(k), x)
			}
		case []any:
			s := dst.SetEmptySlice()
			for _, x := range v {
				put(s.AppendEmpty(), x)
			}
		}
	}
	for k, v := range obj {
		put(m.PutEmpty(k), v)
	}
	return nil
}
