package usage

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A usage event is stored in PostgreSQL text and jsonb columns, which
// cannot hold a NUL character or invalid UTF-8, and as JSON, which cannot
// hold NaN or an infinity. The receiver refuses such an event up front (a
// 200 means the event will be stored) and the exporter refuses it again
// rather than failing its whole batch: both ask these functions.

// TextProblem says what makes s unstorable, or "" when nothing does.
func TextProblem(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL character"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

// ValueProblem finds what in v cannot be stored: the path to it and why,
// or "" when nothing. Paths are only built for the bad value, since the
// check runs on every attribute of every event.
func ValueProblem(v pcommon.Value) (path, problem string) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return "", TextProblem(v.Str())
	case pcommon.ValueTypeDouble:
		if f := v.Double(); math.IsNaN(f) || math.IsInf(f, 0) {
			return "", fmt.Sprintf("is %v, which JSON cannot hold", f)
		}
	case pcommon.ValueTypeMap:
		return MapProblem(v.Map())
	case pcommon.ValueTypeSlice:
		for i := 0; i < v.Slice().Len(); i++ {
			if path, p := ValueProblem(v.Slice().At(i)); p != "" {
				return fmt.Sprintf("[%d]%s", i, path), p
			}
		}
	}
	return "", ""
}

// MapProblem is ValueProblem for a map: its keys and its values.
func MapProblem(m pcommon.Map) (path, problem string) {
	m.Range(func(k string, v pcommon.Value) bool {
		if problem = TextProblem(k); problem != "" {
			path = fmt.Sprintf(" key %q", k)
		} else if path, problem = ValueProblem(v); problem != "" {
			path = fmt.Sprintf("[%q]%s", k, path)
		}
		return problem == ""
	})
	return path, problem
}
