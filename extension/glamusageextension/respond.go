package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgpool"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

// schemaMissing answers a request that came before the schema: glam_postgres
// creates it (create_schema) when it starts, usually just after the API
// opens its port.
const schemaMissing = "the usage tables do not exist yet: glam_postgres creates them when it starts (create_schema: true); retry shortly"

// errorBody is every error's JSON: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

// writeJSON encodes v before writing anything, so that a value that cannot
// be encoded is a 500 with a body rather than a 200 with none.
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		status = http.StatusInternalServerError
		_ = enc.Encode(errorBody{Error: "internal error: the answer could not be encoded as JSON"})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// badRequest is an error in the request itself; its message says what to
// send instead.
type badRequest struct{ msg string }

func (e badRequest) Error() string { return e.msg }

// notFound, conflict and forbidden are the client's errors of 404, 409 and
// 403; their messages say what to do instead.
type (
	notFound  struct{ msg string }
	conflict  struct{ msg string }
	forbidden struct{ msg string }
)

func (e notFound) Error() string  { return e.msg }
func (e conflict) Error() string  { return e.msg }
func (e forbidden) Error() string { return e.msg }

// withStatus is an answer with a status other than 200.
type withStatus struct {
	status int
	body   any
}

// writeFailure maps an error to its status: the client's mistakes to 400
// and 404, the database's absence to 503 (retryable), a slow query to 504,
// anything else to 500 with the detail in the log only.
func (a *api) writeFailure(w http.ResponseWriter, r *http.Request, err error) {
	var br badRequest
	var nf notFound
	var cf conflict
	var fb forbidden
	var ie *usageapi.InputError
	switch {
	case errors.As(err, &br):
		writeError(w, http.StatusBadRequest, br.msg)
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Msg)
	case errors.As(err, &nf):
		writeError(w, http.StatusNotFound, nf.msg)
	case errors.As(err, &cf):
		writeError(w, http.StatusConflict, cf.msg)
	case errors.As(err, &fb):
		writeError(w, http.StatusForbidden, fb.msg)
	case errors.Is(err, usageapi.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case pgpool.TimedOut(err):
		writeError(w, http.StatusGatewayTimeout, "the query took longer than query_timeout: send a shorter from/to range")
	case pgpool.Unavailable(err):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "the usage database is unavailable; retry later")
		a.logger.Warn("Usage database unavailable", zap.String("path", r.URL.Path), zap.Error(err))
	case pgpool.IsSchemaMissing(err):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, schemaMissing)
	default:
		writeError(w, http.StatusInternalServerError, "internal error")
		a.logger.Error("Usage API request failed", zap.String("path", r.URL.Path), zap.Error(err))
	}
}
