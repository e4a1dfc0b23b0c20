package probebuild

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/jsonapi"
	"github.com/mozilla/otelcol-glam/internal/pgpool"
)

// maxRequestBody bounds a POST body; a real request is a few hundred bytes.
const maxRequestBody = 64 << 10

// maxIdempotencyKey bounds the Idempotency-Key header.
const maxIdempotencyKey = 255

type handler struct{ s *Service }

// routes registers the probe-build endpoints on mux: PathPrefix (POST a
// build, GET the latest), PathPrefix/{id} (GET its state, DELETE to cancel)
// and PathPrefix/{id}/result. (GET patterns answer HEAD too.)
func (h *handler) routes(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathPrefix, h.create)
	mux.HandleFunc("GET "+PathPrefix, h.list)
	mux.HandleFunc("GET "+PathPrefix+"/{id}", func(w http.ResponseWriter, r *http.Request) { h.status(w, r, r.PathValue("id")) })
	mux.HandleFunc("DELETE "+PathPrefix+"/{id}", func(w http.ResponseWriter, r *http.Request) { h.cancel(w, r, r.PathValue("id")) })
	mux.HandleFunc("GET "+PathPrefix+"/{id}/result", func(w http.ResponseWriter, r *http.Request) { h.result(w, r, r.PathValue("id")) })
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		jsonapi.Error(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	var req Request
	dec := json.NewDecoder(io.LimitReader(r.Body, maxRequestBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		jsonapi.Error(w, http.StatusBadRequest, "request body is not a probe-build request: "+err.Error())
		return
	}
	if dec.More() {
		jsonapi.Error(w, http.StatusBadRequest, "request body holds more than one JSON value")
		return
	}
	if err := req.Normalize(); err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > maxIdempotencyKey {
		jsonapi.Error(w, http.StatusBadRequest, fmt.Sprintf("Idempotency-Key is longer than %d characters", maxIdempotencyKey))
		return
	}
	ctx := r.Context()
	view := resultView(req)
	if key == "" {
		fresh, err := h.s.q.fresh(ctx, req.Build())
		if err != nil {
			h.internal(w, err)
			return
		}
		if fresh != nil {
			h.redirectToResult(w, fresh, view)
			return
		}
	}
	res, err := h.s.q.enqueue(ctx, req, PriorityInteractive, key)
	switch {
	case errors.Is(err, ErrIdempotencyMismatch):
		jsonapi.Error(w, http.StatusUnprocessableEntity, err.Error())
		return
	case err != nil:
		h.internal(w, err)
		return
	}
	if res.Job.Status != StatusSucceeded {
		w.Header().Set("Location", statusURL(res.Job.ID, view))
	}
	h.respondJob(w, res.Job, view, http.StatusAccepted)
}

// respondJob answers with a job's state: 303 to the result when it
// succeeded, else the job, with Retry-After and pendingCode while it is
// queued or running.
func (h *handler) respondJob(w http.ResponseWriter, j *Job, view url.Values, pendingCode int) {
	switch {
	case j.Status == StatusSucceeded:
		h.redirectToResult(w, j, view)
	case j.Done():
		jsonapi.Write(w, http.StatusOK, jobBody(j, view))
	default:
		h.retryAfter(w)
		jsonapi.Write(w, pendingCode, jobBody(j, view))
	}
}

// Bounds of a list's limit: a page of builds is for people to read.
const (
	defaultListLimit = 20
	maxListLimit     = 100
)

// list answers the latest builds, newest first, optionally of some
// statuses only: what the dashboard shows, with each build's progress.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "status" && k != "limit" {
			jsonapi.Error(w, http.StatusBadRequest, "unknown parameter "+k+": this endpoint takes limit, status")
			return
		}
	}
	var statuses []string
	for _, v := range q["status"] {
		for _, s := range strings.Split(v, ",") {
			switch s = strings.TrimSpace(s); s {
			case "":
			case StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled:
				statuses = append(statuses, s)
			default:
				jsonapi.Error(w, http.StatusBadRequest, fmt.Sprintf("status=%q: send queued, running, succeeded, failed or cancelled, comma-separated", s))
				return
			}
		}
	}
	limit := defaultListLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxListLimit {
			jsonapi.Error(w, http.StatusBadRequest, fmt.Sprintf("limit=%q: send a whole number from 1 to %d", v, maxListLimit))
			return
		}
		limit = n
	}
	jobs, err := h.s.q.list(r.Context(), statuses, limit)
	if err != nil {
		h.internal(w, err)
		return
	}
	body := struct {
		ProbeBuilds []jobView `json:"probe_builds"`
	}{ProbeBuilds: make([]jobView, 0, len(jobs))}
	for _, j := range jobs {
		body.ProbeBuilds = append(body.ProbeBuilds, jobBody(j, resultView(j.Request)))
	}
	jsonapi.Write(w, http.StatusOK, body)
}

func (h *handler) status(w http.ResponseWriter, r *http.Request, id string) {
	j, err := h.s.q.get(r.Context(), id)
	if h.notFoundOr(w, err) {
		return
	}
	h.respondJob(w, j, r.URL.Query(), http.StatusOK)
}

func (h *handler) cancel(w http.ResponseWriter, r *http.Request, id string) {
	j, cancelled, err := h.s.q.cancel(r.Context(), id)
	if h.notFoundOr(w, err) {
		return
	}
	if !cancelled {
		jsonapi.Error(w, http.StatusConflict, "probe build "+j.ID+" already "+j.Status+"; only a queued or running build can be cancelled")
		return
	}
	jsonapi.Write(w, http.StatusOK, jobBody(j, nil))
}

func (h *handler) result(w http.ResponseWriter, r *http.Request, id string) {
	j, err := h.s.q.get(r.Context(), id)
	if h.notFoundOr(w, err) {
		return
	}
	view := r.URL.Query()
	if j.Status != StatusSucceeded {
		// No result (yet): back to the status, which says why.
		w.Header().Set("Location", statusURL(j.ID, view))
		jsonapi.Write(w, http.StatusSeeOther, jobBody(j, view))
		return
	}
	f, err := parseFilter(view, j.Build.Product)
	if err != nil {
		jsonapi.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	rows, err := readResult(r.Context(), h.s.pool, j, f)
	if err != nil {
		h.internal(w, err)
		return
	}
	jsonapi.Write(w, http.StatusOK, map[string]any{"id": j.ID, "table": j.Table, "response": rows})
}

// redirectToResult answers 303 to the result. While GLAM's view is still
// being refreshed it adds Retry-After: a client waiting for GLAM's own
// Postgres read path polls the status until view_refresh says refreshed.
func (h *handler) redirectToResult(w http.ResponseWriter, j *Job, view url.Values) {
	if j.ViewRefresh != nil && j.ViewRefresh.Status == RefreshPending {
		h.retryAfter(w)
	}
	w.Header().Set("Location", resultURL(j.ID, view))
	jsonapi.Write(w, http.StatusSeeOther, jobBody(j, view))
}

func (h *handler) retryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.s.cfg.RetryAfter.Seconds()))))
}

func (h *handler) notFoundOr(w http.ResponseWriter, err error) bool {
	switch {
	case errors.Is(err, ErrNotFound):
		jsonapi.Error(w, http.StatusNotFound, ErrNotFound.Error())
	case err != nil:
		h.internal(w, err)
	default:
		return false
	}
	return true
}

func (h *handler) internal(w http.ResponseWriter, err error) {
	h.s.logger.Warn("probe builds API", zap.Error(err))
	if pgpool.Unavailable(err) {
		w.Header().Set("Retry-After", "5")
		jsonapi.Error(w, http.StatusServiceUnavailable, "the probe-build store is unavailable; retry later")
		return
	}
	if pgpool.IsSchemaMissing(err) {
		w.Header().Set("Retry-After", "5")
		jsonapi.Error(w, http.StatusServiceUnavailable, "the probe-build tables do not exist yet: glam_postgres creates them when it starts (create_schema: true); retry shortly")
		return
	}
	jsonapi.Error(w, http.StatusInternalServerError, "internal error")
}

// resultView is the part of a request that chooses rows of a build, carried
// in the status and result URLs so that a client sharing a build with others
// still gets the rows it asked for.
func resultView(r Request) url.Values {
	v := url.Values{}
	v.Set("aggregation_level", r.AggregationLevel)
	if r.OS != "" {
		v.Set("os", r.OS)
	}
	if r.Process != "" {
		v.Set("process", r.Process)
	}
	return v
}

func statusURL(id string, view url.Values) string { return withQuery(PathPrefix+"/"+id, view) }
func resultURL(id string, view url.Values) string {
	return withQuery(PathPrefix+"/"+id+"/result", view)
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// jobView is the status body: the job and where to go next.
type jobView struct {
	*Job
	Links map[string]string `json:"links"`
}

func jobBody(j *Job, view url.Values) jobView {
	links := map[string]string{"status": statusURL(j.ID, view)}
	if j.Status == StatusSucceeded {
		links["result"] = resultURL(j.ID, view)
	}
	return jobView{Job: j, Links: links}
}
