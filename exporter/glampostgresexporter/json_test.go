package glampostgresexporter

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// The hand-written encoder must say what encoding/json says of AsRaw.
func TestJSONEncodingMatchesEncodingJSON(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("z", "quote \" backslash \\ newline \n tab \t cr \r ctl \x01 \x1f é 日本 <&>")
	m.PutStr("", "empty key")
	m.PutInt("int", math.MinInt64)
	m.PutDouble("pi", math.Pi)
	m.PutDouble("big", 1e21)
	m.PutDouble("small", -1.5e-9)
	m.PutDouble("whole", 3)
	m.PutBool("yes", true)
	m.PutEmptyBytes("bytes").FromRaw([]byte{0, 1, 2, 250})
	m.PutEmpty("nothing")
	inner := m.PutEmptyMap("map")
	inner.PutStr("b", "2")
	inner.PutStr("a", "1")
	sl := m.PutEmptySlice("slice")
	sl.AppendEmpty().SetInt(1)
	sl.AppendEmpty().SetEmptyMap().PutBool("k", false)
	sl.AppendEmpty()

	got := appendMap(nil, m)
	want, err := json.Marshal(m.AsRaw())
	require.NoError(t, err)
	var g, w any
	require.NoError(t, json.Unmarshal(got, &g), string(got))
	require.NoError(t, json.Unmarshal(want, &w))
	assert.Equal(t, w, g)
}

func TestJSONEncodingIsCanonical(t *testing.T) {
	a, b := pcommon.NewMap(), pcommon.NewMap()
	a.PutStr("glam.product", "fog")
	a.PutStr("glam.probe.name", "gc_ms")
	b.PutStr("glam.probe.name", "gc_ms")
	b.PutStr("glam.product", "fog")
	assert.Equal(t, `{"glam.probe.name":"gc_ms","glam.product":"fog"}`, string(appendMap(nil, a)))
	assert.Equal(t, appendMap(nil, a), appendMap(nil, b))
	assert.Equal(t, `{}`, string(appendMap(nil, pcommon.NewMap())))
}

// Written as is, a map is the same jsonb as written sorted: PostgreSQL
// orders keys and keeps the last of a repeated one.
func TestJSONAsIsIsTheSameJSONB(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(ctx) })
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[
		{"key":"k","value":{"stringValue":"first"}},
		{"key":"zz","value":{"kvlistValue":{"values":[{"key":"y","value":{"intValue":"2"}},{"key":"x","value":{"boolValue":true}}]}}},
		{"key":"a","value":{"intValue":"1"}},
		{"key":"","value":{"doubleValue":1.5}},
		{"key":"é","value":{"stringValue":"quote \" backslash \\ ctl \u0001"}},
		{"key":"k","value":{"stringValue":"last"}}]}]}]}]}`))
	require.NoError(t, err)
	attrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	require.Equal(t, 6, attrs.Len())
	var sorted, asIs string
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::jsonb::text, $2::jsonb::text`,
		string(appendMap(nil, attrs)), string(appendMapAsIs(nil, attrs))).Scan(&sorted, &asIs))
	assert.Equal(t, sorted, asIs)
	assert.Contains(t, asIs, `"k": "last"`)
	assert.NotContains(t, asIs, "first")
}

func TestJSONRepeatedKeyKeepsTheLast(t *testing.T) {
	// Only wire data can repeat a key in a map.
	ld, err := (&plog.JSONUnmarshaler{}).UnmarshalLogs([]byte(`{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"attributes":[
		{"key":"k","value":{"stringValue":"first"}},
		{"key":"a","value":{"intValue":"1"}},
		{"key":"k","value":{"stringValue":"last"}}]}]}]}]}`))
	require.NoError(t, err)
	attrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	require.Equal(t, 3, attrs.Len())
	assert.Equal(t, `{"a":1,"k":"last"}`, string(appendMap(nil, attrs)))
	want, err := json.Marshal(attrs.AsRaw())
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(appendMap(nil, attrs)))
}
