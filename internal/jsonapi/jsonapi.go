// Package jsonapi writes the JSON answers and errors of the HTTP API
// glam_usage serves (the usage endpoints and the probe builds mounted
// beside them), so that every endpoint answers, and fails, in one shape:
// a JSON body, errors as {"error": "..."}, unknown paths 404 and wrong
// methods 405 in that shape too.
package jsonapi // import "github.com/mozilla/otelcol-glam/internal/jsonapi"

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// ErrorBody is every error's JSON: {"error": "..."}.
type ErrorBody struct {
	Error string `json:"error"`
}

// Write encodes v before writing anything, so that a value that cannot be
// encoded is a 500 with a body rather than a 200 with none.
func Write(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		_ = enc.Encode(ErrorBody{Error: "internal error: the answer could not be encoded as JSON"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Error writes {"error": msg} with status.
func Error(w http.ResponseWriter, status int, msg string) {
	Write(w, status, ErrorBody{Error: msg})
}

// Fallbacks serves mux, answering what no pattern of it takes in the
// API's JSON error shape instead of the mux's plain text: 404 for a path
// no pattern matches, 405 with Allow for a method the path does not take.
func Fallbacks(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) == 0 {
			Error(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+"; the endpoints are listed in /api/v1/openapi.json")
			return
		}
		if slices.Contains(allowed, http.MethodGet) {
			// A GET pattern of http.ServeMux serves HEAD too.
			allowed = slices.Insert(allowed, 1, http.MethodHead)
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		Error(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+r.URL.Path+": send "+strings.Join(allowed, " or "))
	})
}
