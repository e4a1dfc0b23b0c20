package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mozilla/otelcol-glam/internal/probebuild"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

// statusBody is the status answer plus the probe-build queue.
type statusBody struct {
	usageapi.Status
	ProbeBuilds probeBuildQueue `json:"probe_builds"`
}

type probeBuildQueue struct {
	Queued  int64 `json:"queued"`
	Running int64 `json:"running"`
	Workers int   `json:"workers"`
}

func (a *api) status(ctx context.Context, _ *http.Request, _ *params) (any, error) {
	st, err := a.store.Status(ctx)
	if err != nil {
		return nil, err
	}
	body := statusBody{Status: st, ProbeBuilds: probeBuildQueue{Workers: a.cfg.ProbeBuilds.Workers}}
	body.ProbeBuilds.Queued, body.ProbeBuilds.Running, err = probebuild.QueueDepth(ctx, a.pool)
	return body, err
}

func (a *api) topProbes(ctx context.Context, _ *http.Request, p *params) (any, error) {
	r, err := a.timeRange(p)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(p, "limit", defaultTopLimit, a.cfg.MaxLimit)
	if err != nil {
		return nil, err
	}
	return a.store.TopProbes(ctx, usageapi.TopProbesQuery{Range: r, Product: p.get("product"), Limit: limit})
}

type seriesBody struct {
	Product  string            `json:"product"`
	Probe    string            `json:"probe"`
	Interval usageapi.Interval `json:"interval"`
	usageapi.Series
}

func (a *api) probeSeries(ctx context.Context, req *http.Request, p *params) (any, error) {
	r, err := a.timeRange(p)
	if err != nil {
		return nil, err
	}
	interval := usageapi.Interval(p.get("interval"))
	if interval == "" {
		interval = usageapi.Day
	}
	if !slices.Contains(usageapi.Intervals, interval) {
		return nil, badRequest{fmt.Sprintf("interval=%q: send hour, day or week", interval)}
	}
	q := usageapi.SeriesQuery{Range: r, Product: req.PathValue("product"), Probe: req.PathValue("probe"), Interval: interval}
	s, err := a.store.ProbeSeries(ctx, q)
	return seriesBody{Product: q.Product, Probe: q.Probe, Interval: interval, Series: s}, err
}

func (a *api) sessionSummary(ctx context.Context, _ *http.Request, p *params) (any, error) {
	r, err := a.timeRange(p)
	if err != nil {
		return nil, err
	}
	return a.store.SessionSummary(ctx, r)
}

func (a *api) sessionsDaily(ctx context.Context, _ *http.Request, p *params) (any, error) {
	r, err := a.timeRange(p)
	if err != nil {
		return nil, err
	}
	return a.store.SessionsDaily(ctx, r)
}

type sessionBody struct {
	SessionID string           `json:"session_id"`
	Events    []usageapi.Event `json:"events"`
	// More says the session has more events than limit.
	More bool `json:"more"`
}

func (a *api) sessionEvents(ctx context.Context, req *http.Request, p *params) (any, error) {
	limit, err := intParam(p, "limit", a.cfg.MaxLimit, a.cfg.MaxLimit)
	if err != nil {
		return nil, err
	}
	id := req.PathValue("session_id")
	events, more, err := a.store.SessionEvents(ctx, id, limit)
	if errors.Is(err, usageapi.ErrNotFound) {
		return nil, fmt.Errorf("no events of session %q: %w", id, err)
	}
	return sessionBody{SessionID: id, Events: events, More: more}, err
}

type viewsBody struct {
	Views []string `json:"views"`
}

func (a *api) listViews(ctx context.Context, _ *http.Request, _ *params) (any, error) {
	names, err := a.store.ListViews(ctx)
	if names == nil {
		names = []string{}
	}
	return viewsBody{Views: names}, err
}

// view takes from, to, group_by and limit; every other parameter filters on
// the tag it names.
func (a *api) view(ctx context.Context, req *http.Request, p *params) (any, error) {
	r, err := a.timeRange(p)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(p, "limit", defaultViewLimit, a.cfg.MaxLimit)
	if err != nil {
		return nil, err
	}
	q := usageapi.ViewQuery{Range: r, View: req.PathValue("view"), GroupBy: listParam(p, "group_by"), Filters: map[string]string{}, Limit: limit}
	for k, vs := range p.q {
		if slices.Contains(p.used, k) {
			continue
		}
		if len(vs) != 1 {
			return nil, badRequest{fmt.Sprintf("tag %s is given %d times: send one value per tag", k, len(vs))}
		}
		q.Filters[k] = vs[0]
	}
	return a.store.View(ctx, q)
}

// maxFunnelWithin bounds a funnel's window: the longest session.
const maxFunnelWithin = 24 * time.Hour

func (a *api) funnel(ctx context.Context, _ *http.Request, p *params) (any, error) {
	r, err := a.timeRange(p)
	if err != nil {
		return nil, err
	}
	steps := listParam(p, "steps")
	if len(steps) < 2 || len(steps) > usageapi.MaxFunnelSteps {
		return nil, badRequest{fmt.Sprintf("steps has %d events: send 2 to %d event names, comma-separated (steps=page.view,probe.view)", len(steps), usageapi.MaxFunnelSteps)}
	}
	within := 30 * time.Minute
	if v := p.get("within"); v != "" {
		if within, err = time.ParseDuration(v); err != nil || within <= 0 || within > maxFunnelWithin {
			return nil, badRequest{fmt.Sprintf("within=%q: send a duration from 1s to %s, like 30m or 2h", v, maxFunnelWithin)}
		}
	}
	return a.store.Funnel(ctx, usageapi.FunnelQuery{Range: r, Steps: steps, Within: within})
}

func (a *api) hotlist(ctx context.Context, _ *http.Request, p *params) (any, error) {
	maxDays := int(a.cfg.MaxRange / (24 * time.Hour))
	days, err := intParam(p, "days", min(90, maxDays), maxDays)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(p, "limit", defaultViewLimit, a.cfg.MaxLimit)
	if err != nil {
		return nil, err
	}
	return a.store.Hotlist(ctx, usageapi.HotlistQuery{Days: days, Product: p.get("product"), Limit: limit})
}

// glamUsage is GLAM's GET /api/v1/usage/: fromDate, toDate, actionType,
// product, fields, agg=count.
func (a *api) glamUsage(ctx context.Context, _ *http.Request, p *params) (any, error) {
	q := usageapi.GLAMUsageQuery{ActionType: p.get("actionType"), Product: p.get("product"), MaxRows: a.cfg.MaxLimit}
	for _, b := range []struct {
		name string
		dst  **time.Time
	}{{"fromDate", &q.From}, {"toDate", &q.To}} {
		if v := p.get(b.name); v != "" {
			t, err := parseGLAMDate(b.name, v)
			if err != nil {
				return nil, err
			}
			*b.dst = &t
		}
	}
	if v := p.get("fields"); v != "" {
		for _, f := range strings.Split(v, ",") {
			q.Fields = append(q.Fields, strings.TrimSpace(f))
		}
	}
	switch agg := p.get("agg"); agg {
	case "":
	case "count":
		q.Count = len(q.Fields) > 0
	default:
		return nil, badRequest{fmt.Sprintf("agg=%q: send agg=count (with fields), or no agg for individual rows", agg)}
	}
	if err := usageapi.CheckFields(q.Fields); err != nil {
		return nil, err
	}
	if !q.ViewAnswers() {
		if q.From == nil || q.To == nil || q.To.Sub(*q.From) > a.cfg.MaxRange {
			return nil, badRequest{fmt.Sprintf("rows from raw events need fromDate and toDate at most %s apart: send both, or fields from probe_name, action_type, context__product, context__probe, context__process, context__channel with agg=count (answered for any range)", a.cfg.MaxRange)}
		}
	}
	return a.store.GLAMUsage(ctx, q)
}

// parseGLAMDate accepts what GLAM's dateutil parsing is used with: YYYYMMDD,
// YYYY-MM-DD, and ISO date-times (UTC when they carry no zone). A date is
// its midnight, at both ends, as in GLAM.
func parseGLAMDate(name, v string) (time.Time, error) {
	for _, layout := range []string{"20060102", dateLayout, time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, badRequest{fmt.Sprintf("%s=%q is not a date: send YYYYMMDD (20240501), YYYY-MM-DD or an ISO 8601 time", name, v)}
}
