package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// PostgreSQL text and jsonb cannot hold a NUL character or invalid UTF-8;
// catching them here refuses one record instead of failing its whole batch.
func checkText(what, s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s contains a NUL character", what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

func checkValue(what string, v pcommon.Value) error {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return checkText(what, v.Str())
	case pcommon.ValueTypeDouble:
		if math.IsNaN(v.Double()) || math.IsInf(v.Double(), 0) {
			return fmt.Errorf("%s is %v, which JSON cannot hold", what, v.Double())
		}
	case pcommon.ValueTypeMap:
		return checkMap(what, v.Map())
	case pcommon.ValueTypeSlice:
		for i := 0; i < v.Slice().Len(); i++ {
			if err := checkValue(fmt.Sprintf("%s[%d]", what, i), v.Slice().At(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkMap(what string, m pcommon.Map) error {
	var err error
	m.Range(func(k string, v pcommon.Value) bool {
		if err = checkText(what+" key "+fmt.Sprintf("%q", k), k); err == nil {
			err = checkValue(fmt.Sprintf("%s[%q]", what, k), v)
		}
		return err == nil
	})
	return err
}

// mapJSON is m as a JSON object for a jsonb column: keys sorted, so that
// equal maps give equal bytes.
func mapJSON(what string, m pcommon.Map) ([]byte, error) {
	if err := checkMap(what, m); err != nil {
		return nil, err
	}
	b, err := json.Marshal(m.AsRaw())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

// valueJSON is v as JSON, or nil (SQL NULL) when v is empty.
func valueJSON(what string, v pcommon.Value) ([]byte, error) {
	if v.Type() == pcommon.ValueTypeEmpty {
		return nil, nil
	}
	if err := checkValue(what, v); err != nil {
		return nil, err
	}
	b, err := json.Marshal(v.AsRaw())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

var errNotFinite = errors.New("value is not a finite number")

func finite(vs ...float64) error {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errNotFinite
		}
	}
	return nil
}
