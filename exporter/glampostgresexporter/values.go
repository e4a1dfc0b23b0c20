package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
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
	if p := badText(s); p != "" {
		return fmt.Errorf("%s %s", what, p)
	}
	return nil
}

// badText says what makes s unstorable, or "" when nothing does.
func badText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL character"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

func checkValue(what string, v pcommon.Value) error {
	if path, p := badValue(v); p != "" {
		return fmt.Errorf("%s%s %s", what, path, p)
	}
	return nil
}

func checkMap(what string, m pcommon.Map) error {
	if path, p := badMap(m); p != "" {
		return fmt.Errorf("%s%s %s", what, path, p)
	}
	return nil
}

// badValue finds what in v cannot be stored: the path to it and why, or ""
// when nothing. Paths are only built for the bad value, since the check runs
// on every attribute of every record.
func badValue(v pcommon.Value) (path, problem string) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return "", badText(v.Str())
	case pcommon.ValueTypeDouble:
		if f := v.Double(); math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Sprintf("is %v, which JSON cannot hold", f)
		}
	case pcommon.ValueTypeMap:
		return badMap(v.Map())
	case pcommon.ValueTypeSlice:
		for i := 0; i < v.Slice().Len(); i++ {
			if path, p := badValue(v.Slice().At(i)); p != "" {
				return fmt.Sprintf("[%d]%s", i, path), p
			}
		}
	}
	return "", ""
}

func badMap(m pcommon.Map) (path, problem string) {
	m.Range(func(k string, v pcommon.Value) bool {
		if problem = badText(k); problem != "" {
			path = fmt.Sprintf(" key %q", k)
		} else if path, problem = badValue(v); problem != "" {
			path = fmt.Sprintf("[%q]%s", k, path)
		}
		return problem == ""
	})
	return path, problem
}

// mapJSON is m as a JSON object for a jsonb column: keys sorted, so that
// equal maps give equal bytes.
func mapJSON(what string, m pcommon.Map) ([]byte, error) {
	if err := checkMap(what, m); err != nil {
		return nil, err
	}
	return appendMap(nil, m), nil
}

// valueJSON is v as JSON, or nil (SQL NULL) when v is empty.
func valueJSON(what string, v pcommon.Value) ([]byte, error) {
	if v.Type() == pcommon.ValueTypeEmpty {
		return nil, nil
	}
	if err := checkValue(what, v); err != nil {
		return nil, err
	}
	return appendValue(nil, v), nil
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
