package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/extension/extensionauth"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/jsonapi"
	"github.com/mozilla/otelcol-glam/internal/probebuild"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

// api serves the usage endpoints of SPEC §6 and mounts the probe-build API.
type api struct {
	cfg    *Config
	store  *usageapi.Store
	pool   *pgxpool.Pool
	builds *probebuild.Service
	logger *zap.Logger
	// catalog and writeAuth serve the runtime views (views.go); writeAuth
	// is nil unless runtime_views.write_auth is set.
	catalog   *catalog
	writeAuth extensionauth.Server
}

// Default limits of the endpoints that take one.
const (
	defaultTopLimit  = 20
	defaultViewLimit = 100
)

// handlerFunc is a usage endpoint: it returns the JSON answer or an error
// that writeFailure maps to a status.
type handlerFunc func(ctx context.Context, r *http.Request, p *params) (any, error)

func (a *api) routes() http.Handler {
	mux := http.NewServeMux()
	get := func(pattern string, h handlerFunc) {
		mux.Handle("GET "+pattern, a.endpoint(h, true))
	}
	mux.HandleFunc("GET /api/v1/openapi.json", serveOpenAPI)
	get("/api/v1/usage/status", a.status)
	get("/api/v1/usage/probes/top", a.topProbes)
	get("/api/v1/usage/probes/{product}/{probe}/series", a.probeSeries)
	get("/api/v1/usage/sessions/summary", a.sessionSummary)
	get("/api/v1/usage/sessions/daily", a.sessionsDaily)
	get("/api/v1/usage/releases", a.releases)
	get("/api/v1/usage/sessions/{session_id}", a.sessionEvents)
	get("/api/v1/usage/views", a.listViews)
	mux.Handle("GET /api/v1/usage/views/{view}", a.endpoint(a.view, false))
	get("/api/v1/usage/funnel", a.funnel)
	get("/api/v1/usage/hotlist", a.hotlist)
	get("/api/v1/views", a.listDefinedViews)
	get("/api/v1/views/{name}", a.definedView)
	mux.Handle("POST /api/v1/views", a.endpoint(a.createView, true))
	mux.Handle("DELETE /api/v1/views/{name}", a.endpoint(a.deleteView, true))
	// GLAM's endpoint ignores parameters it does not know; so does ours.
	mux.Handle("GET /api/v1/usage/{$}", a.endpoint(a.glamUsage, false))
	mux.Handle("GET /api/v1/usage", a.endpoint(a.glamUsage, false))
	a.builds.Routes(mux)
	return textOnly(jsonapi.Fallbacks(mux))
}

// textOnly refuses a path or query string that is not text Postgres can
// hold: invalid UTF-8 (a lone surrogate among it) or a NUL character would
// otherwise reach a query and fail there (SQLSTATE 22021) as a 500.
func textOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isText(r.URL.Path) {
			jsonapi.Error(w, http.StatusBadRequest, "the path is not valid UTF-8 text without NUL characters: send it percent-encoded UTF-8")
			return
		}
		for k, vs := range r.URL.Query() {
			for _, v := range append([]string{k}, vs...) {
				if !isText(v) {
					jsonapi.Error(w, http.StatusBadRequest, fmt.Sprintf("parameter %q is not valid UTF-8 text without NUL characters: send it percent-encoded UTF-8", strings.ToValidUTF8(k, "\ufffd")))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func isText(s string) bool { return usage.TextProblem(s) == "" }

// endpoint runs h under query_timeout and writes its answer; strict
// endpoints refuse parameters they do not know.
func (a *api) endpoint(h handlerFunc, strict bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), a.cfg.QueryTimeout)
		defer cancel()
		p := newParams(r.URL)
		out, err := h(ctx, r, p)
		if err == nil && strict {
			err = p.unknown()
		}
		if err != nil {
			a.writeFailure(w, r, err)
			return
		}
		if ws, ok := out.(withStatus); ok {
			jsonapi.Write(w, ws.status, ws.body)
			return
		}
		jsonapi.Write(w, http.StatusOK, out)
	})
}
