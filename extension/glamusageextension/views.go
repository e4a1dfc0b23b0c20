package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mozilla/otelcol-glam/internal/views"
	"github.com/mozilla/otelcol-glam/internal/viewstore"
)

// Views created and deleted at runtime (SPEC §7), as OpenCensus allows:
// POST /api/v1/views registers one (validated as config views are), every
// collector's glam_eventlog receiver starts reading it from the log's
// beginning — its backfill — and then live; DELETE unregisters it.

// catalog is what this collector's view components told the API when they
// started (views.Catalog): the measures there are, and the config's views.
type catalog struct {
	mu       sync.Mutex
	measures []string
	config   []views.Definition
}

func (c *catalog) AddMeasures(names []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range names {
		if !slices.Contains(c.measures, n) {
			c.measures = append(c.measures, n)
		}
	}
	slices.Sort(c.measures)
}

func (c *catalog) AddConfigViews(defs []views.Definition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range defs {
		if !slices.ContainsFunc(c.config, func(x views.Definition) bool { return x.Name == d.Name }) {
			c.config = append(c.config, d)
		}
	}
}

func (c *catalog) snapshot() (measures []string, config []views.Definition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.measures), slices.Clone(c.config)
}

func (c *catalog) configView(name string) (views.Definition, bool) {
	_, config := c.snapshot()
	i := slices.IndexFunc(config, func(d views.Definition) bool { return d.Name == name })
	if i < 0 {
		return views.Definition{}, false
	}
	return config[i], true
}

// viewBody is one view in the answers of /api/v1/views.
type viewBody struct {
	views.Definition
	// Source is "config" or "runtime".
	Source string `json:"source"`
	// State is "live" or "backfilling".
	State string `json:"state"`
	// Backfilled is the share of the backfill merged (1 when live).
	Backfilled float64    `json:"backfilled"`
	CreatedAt  *time.Time `json:"created_at,omitempty"`
}

type viewListBody struct {
	Views []viewBody `json:"views"`
}

func configViewBody(d views.Definition) viewBody {
	return viewBody{Definition: d, Source: "config", State: "live", Backfilled: 1}
}

func (a *api) runtimeViewBody(ctx context.Context, v viewstore.View) (viewBody, error) {
	pr, err := viewstore.ProgressOf(ctx, a.pool, v)
	body := viewBody{Definition: v.Definition, Source: "runtime", State: "backfilling", Backfilled: pr.Fraction, CreatedAt: &v.CreatedAt}
	if pr.Live {
		body.State = "live"
	}
	return body, err
}

func (a *api) listDefinedViews(ctx context.Context, _ *http.Request, _ *params) (any, error) {
	_, config := a.catalog.snapshot()
	out := viewListBody{Views: []viewBody{}}
	for _, d := range config {
		out.Views = append(out.Views, configViewBody(d))
	}
	runtime, err := viewstore.List(ctx, a.pool)
	if err != nil {
		return nil, err
	}
	for _, v := range runtime {
		body, err := a.runtimeViewBody(ctx, v)
		if err != nil {
			return nil, err
		}
		out.Views = append(out.Views, body)
	}
	return out, nil
}

func (a *api) definedView(ctx context.Context, r *http.Request, _ *params) (any, error) {
	name := r.PathValue("name")
	if d, ok := a.catalog.configView(name); ok {
		return configViewBody(d), nil
	}
	v, ok, err := viewstore.Get(ctx, a.pool, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound{fmt.Sprintf("no view named %s: GET /api/v1/views lists them", name)}
	}
	return a.runtimeViewBody(ctx, v)
}

// maxDefinitionBytes bounds a view definition's body: a few hundred bytes
// in practice.
const maxDefinitionBytes = 64 << 10

func (a *api) createView(ctx context.Context, r *http.Request, _ *params) (any, error) {
	if err := a.mayWriteViews(ctx, r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, maxDefinitionBytes))
	if err != nil {
		return nil, badRequest{fmt.Sprintf("the view definition could not be read (at most %d bytes): %v", maxDefinitionBytes, err)}
	}
	def, err := views.Parse(body)
	if err != nil {
		return nil, badRequest{"the body is not a view definition: " + err.Error()}
	}
	if problems := def.Problems(); len(problems) > 0 {
		msgs := make([]string, len(problems))
		for i, p := range problems {
			msgs[i] = p.Error()
		}
		return nil, badRequest{"invalid view definition: " + strings.Join(msgs, "; ")}
	}
	measures, _ := a.catalog.snapshot()
	if !slices.Contains(measures, def.Measure) {
		if len(measures) == 0 {
			return nil, badRequest{fmt.Sprintf("unknown measure %q: this collector runs no glam_eventlog receiver, which records the measures runtime views read; create views through a collector that does", def.Measure)}
		}
		return nil, badRequest{fmt.Sprintf("unknown measure %q: the glam_eventlog receiver records %s", def.Measure, strings.Join(measures, ", "))}
	}
	if _, ok := a.catalog.configView(def.Name); ok {
		return nil, conflict{fmt.Sprintf("view %s is defined in the collector's config; choose another name", def.Name)}
	}
	limits := viewstore.Limits{MaxViews: a.cfg.RuntimeViews.MaxViews, MaxBytes: int64(a.cfg.RuntimeViews.MemoryLimitMiB) << 20}
	v, created, err := viewstore.Create(ctx, a.pool, def, limits)
	var over *viewstore.OverLimitError
	switch {
	case errors.Is(err, viewstore.ErrExists), errors.Is(err, viewstore.ErrRowsRemain):
		return nil, conflict{err.Error()}
	case errors.As(err, &over):
		return nil, badRequest{"view refused: " + over.Msg}
	case err != nil:
		return nil, err
	}
	out, err := a.runtimeViewBody(ctx, v)
	if err != nil {
		return nil, err
	}
	if created {
		return withStatus{http.StatusCreated, out}, nil
	}
	return out, nil
}

type deletedBody struct {
	Deleted    string `json:"deleted"`
	PurgedRows int64  `json:"purged_rows"`
}

func (a *api) deleteView(ctx context.Context, r *http.Request, p *params) (any, error) {
	if err := a.mayWriteViews(ctx, r); err != nil {
		return nil, err
	}
	name := r.PathValue("name")
	purge := false
	switch v := p.get("purge"); v {
	case "", "false":
	case "true":
		purge = true
	default:
		return nil, badRequest{fmt.Sprintf("purge must be true or false, got %q", v)}
	}
	if _, ok := a.catalog.configView(name); ok {
		return nil, conflict{fmt.Sprintf("view %s is defined in the collector's config: remove it there", name)}
	}
	d, err := viewstore.Delete(ctx, a.pool, name, purge)
	if err != nil {
		return nil, err
	}
	if !d.View && d.PurgedRows == 0 {
		return nil, notFound{fmt.Sprintf("no runtime view named %s", name)}
	}
	return deletedBody{Deleted: name, PurgedRows: d.PurgedRows}, nil
}

// mayWriteViews checks the request against runtime_views.write_auth.
func (a *api) mayWriteViews(ctx context.Context, r *http.Request) error {
	if a.writeAuth == nil {
		return forbidden{"writing views is not enabled: set runtime_views.write_auth to an authenticator holding the writers' tokens"}
	}
	if _, err := a.writeAuth.Authenticate(ctx, r.Header); err != nil {
		return forbidden{"these credentials may read the API but not write views: " + err.Error()}
	}
	return nil
}
