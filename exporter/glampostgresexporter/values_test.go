package glampostgresexporter

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
)

func TestUnstorableValuesAreNamed(t *testing.T) {
	m := pcommon.NewMap()
	m.PutStr("ok", "fine")
	assert.NoError(t, checkMap("attributes", m))

	for name, fill := range map[string]func(pcommon.Map){
		`attributes key "a\x00b" contains a NUL character`:  func(m pcommon.Map) { m.PutStr("a\x00b", "v") },
		`attributes["s"] is not valid UTF-8`:                func(m pcommon.Map) { m.PutStr("s", "\xc3") },
		`attributes["inf"] is +Inf, which JSON cannot hold`: func(m pcommon.Map) { m.PutDouble("inf", math.Inf(1)) },
		`attributes["m"]["n"][1] contains a NUL character`: func(m pcommon.Map) {
			sl := m.PutEmptyMap("m").PutEmptySlice("n")
			sl.AppendEmpty().SetStr("x")
			sl.AppendEmpty().SetStr("\x00")
		},
		`attributes["deep"]["k"] is NaN, which JSON cannot hold`: func(m pcommon.Map) { m.PutEmptyMap("deep").PutDouble("k", math.NaN()) },
	} {
		m := pcommon.NewMap()
		m.PutStr("ok", "fine")
		fill(m)
		assert.EqualError(t, checkMap("attributes", m), name)
		_, err := mapJSON("attributes", m)
		assert.EqualError(t, err, name)
	}
}
