package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/jsonapi"
	"github.com/mozilla/otelcol-glam/internal/pgpool"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

// schemaMissing answers a request that came before the schema: glam_postgres
// creates it (create_schema) when it starts, usually just after the API
// opens its port.
const schemaMissing = "the usage tables do not exist yet: glam_postgres creates them when it starts (create_schema: true); retry shortly"

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
		jsonapi.Error(w, http.StatusBadRequest, br.msg)
	case errors.As(err, &ie):
		jsonapi.Error(w, http.StatusBadRequest, ie.Msg)
	case errors.As(err, &nf):
		jsonapi.Error(w, http.StatusNotFound, nf.msg)
	case errors.As(err, &cf):
		jsonapi.Error(w, http.StatusConflict, cf.msg)
	case errors.As(err, &fb):
		jsonapi.Error(w, http.StatusForbidden, fb.msg)
	case errors.Is(err, usageapi.ErrNotFound):
		jsonapi.Error(w, http.StatusNotFound, err.Error())
	case pgpool.TimedOut(err):
		jsonapi.Error(w, http.StatusGatewayTimeout, "the query took longer than query_timeout: send a shorter from/to range")
	case pgpool.Unavailable(err):
		w.Header().Set("Retry-After", "5")
		jsonapi.Error(w, http.StatusServiceUnavailable, "the usage database is unavailable; retry later")
		a.logger.Warn("Usage database unavailable", zap.String("path", r.URL.Path), zap.Error(err))
	case pgpool.IsSchemaMissing(err):
		w.Header().Set("Retry-After", "5")
		jsonapi.Error(w, http.StatusServiceUnavailable, schemaMissing)
	default:
		jsonapi.Error(w, http.StatusInternalServerError, "internal error")
		a.logger.Error("Usage API request failed", zap.String("path", r.URL.Path), zap.Error(err))
	}
}
