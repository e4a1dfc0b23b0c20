package glamusageextension

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The OpenAPI document's schemas use a small subset of JSON Schema: $ref,
// type (one or a list), properties, required, additionalProperties, items,
// enum and format date-time. schemaChecker checks a decoded JSON value
// against one of them; it fails on any keyword it does not know, so the
// document cannot grow past what the test checks.

type schemaChecker struct {
	doc map[string]any
}

func loadOpenAPI(t testing.TB) schemaChecker {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	return schemaChecker{doc: doc}
}

// responseSchema is the schema of the GET answer of path (as written in
// the document) for a status.
func (c schemaChecker) responseSchema(path string, status int) (map[string]any, error) {
	return c.methodResponseSchema(http.MethodGet, path, status)
}

// methodResponseSchema is the schema of the answer of method on path for a
// status.
func (c schemaChecker) methodResponseSchema(method, path string, status int) (map[string]any, error) {
	op, ok := dig(c.doc, "paths", path, strings.ToLower(method)).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("no %s %s in the document", method, path)
	}
	schema, ok := dig(op, "responses", fmt.Sprint(status), "content", "application/json", "schema").(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s %s documents no JSON answer for %d", method, path, status)
	}
	return schema, nil
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

var knownKeywords = []string{"$ref", "type", "properties", "required", "additionalProperties", "items", "enum", "format", "description", "minimum"}

func (c schemaChecker) check(schema map[string]any, v any, at string) error {
	for k := range schema {
		if !slices.Contains(knownKeywords, k) {
			return fmt.Errorf("%s: schema keyword %q is not checked by this test", at, k)
		}
	}
	if ref, ok := schema["$ref"].(string); ok {
		target, ok := dig(c.doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...).(map[string]any)
		if !ok {
			return fmt.Errorf("%s: dangling $ref %s", at, ref)
		}
		return c.check(target, v, at)
	}
	if t, ok := schema["type"]; ok {
		var types []string
		switch t := t.(type) {
		case string:
			types = []string{t}
		case []any:
			for _, x := range t {
				types = append(types, x.(string))
			}
		}
		if !slices.Contains(types, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(types, "number")) {
			return fmt.Errorf("%s: %s is not of type %v", at, jsonType(v), types)
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	if schema["format"] == "date-time" {
		if s, ok := v.(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, s)
			}
		}
	}
	if min, ok := schema["minimum"].(float64); ok {
		if n, isNum := v.(float64); isNum && n < min {
			return fmt.Errorf("%s: %v is below %v", at, n, min)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		return c.checkObject(schema, v, at)
	case []any:
		items, ok := schema["items"].(map[string]any)
		if !ok {
			return nil
		}
		for i, item := range v {
			if err := c.check(items, item, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c schemaChecker) checkObject(schema, v map[string]any, at string) error {
	props, _ := schema["properties"].(map[string]any)
	if req, ok := schema["required"].([]any); ok {
		for _, r := range req {
			if _, ok := v[r.(string)]; !ok {
				return fmt.Errorf("%s: required property %q is missing", at, r)
			}
		}
	}
	for k, val := range v {
		if p, ok := props[k].(map[string]any); ok {
			if err := c.check(p, val, at+"."+k); err != nil {
				return err
			}
			continue
		}
		switch extra := schema["additionalProperties"].(type) {
		case bool:
			if !extra {
				return fmt.Errorf("%s: property %q is not in the document", at, k)
			}
		case map[string]any:
			if err := c.check(extra, val, at+"."+k); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func TestSchemaCheckerCatchesMismatches(t *testing.T) {
	c := loadOpenAPI(t)
	schema, err := c.responseSchema("/api/v1/usage/probes/top", 200)
	require.NoError(t, err)
	ok := map[string]any{"from": "2024-05-06T00:00:00Z", "to": "2024-05-08T00:00:00Z", "probes": []any{
		map[string]any{"product": "fog", "probe": "gc_ms", "views": 6.0, "sessions": 3.0},
	}}
	require.NoError(t, c.check(schema, ok, "$"))
	for name, bad := range map[string]map[string]any{
		"missing":    {"from": "2024-05-06T00:00:00Z", "probes": []any{}},
		"extra":      {"from": "2024-05-06T00:00:00Z", "to": "2024-05-08T00:00:00Z", "probes": []any{}, "x": 1.0},
		"wrong type": {"from": "2024-05-06T00:00:00Z", "to": "2024-05-08T00:00:00Z", "probes": []any{map[string]any{"product": "fog", "probe": "gc_ms", "views": "6", "sessions": 3.0}}},
		"not a time": {"from": "yesterday", "to": "2024-05-08T00:00:00Z", "probes": []any{}},
		"fraction":   {"from": "2024-05-06T00:00:00Z", "to": "2024-05-08T00:00:00Z", "probes": []any{map[string]any{"product": "fog", "probe": "gc_ms", "views": 6.5, "sessions": 3.0}}},
	} {
		require.Error(t, c.check(schema, bad, "$"), name)
	}
}
