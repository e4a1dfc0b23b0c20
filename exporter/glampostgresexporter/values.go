package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"errors"
	"fmt"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// PostgreSQL text and jsonb cannot hold a NUL character or invalid UTF-8;
// catching them here refuses one record instead of failing its whole batch.
func checkText(what, s string) error {
	if p := usage.TextProblem(s); p != "" {
		return fmt.Errorf("%s %s", what, p)
	}
	return nil
}

func checkValue(what string, v pcommon.Value) error {
	if path, p := usage.ValueProblem(v); p != "" {
		return fmt.Errorf("%s%s %s", what, path, p)
	}
	return nil
}

func checkMap(what string, m pcommon.Map) error {
	if path, p := usage.MapProblem(m); p != "" {
		return fmt.Errorf("%s%s %s", what, path, p)
	}
	return nil
}

// mapJSON is m as a JSON object for a jsonb column: keys sorted, so that
// equal maps give equal bytes.
func mapJSON(what string, m pcommon.Map) ([]byte, error) {
	if err := checkMap(what, m); err != nil {
		return nil, err
	}
	return appendMap(nil, m), nil
}

// jsonbMap is m as a JSON object for a jsonb column whose bytes nothing
// compares (an event's attributes and resource), in m's order.
func jsonbMap(what string, m pcommon.Map) ([]byte, error) {
	if err := checkMap(what, m); err != nil {
		return nil, err
	}
	return appendMapAsIs(nil, m), nil
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
