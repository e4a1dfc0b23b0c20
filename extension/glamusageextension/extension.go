package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/dashboard"
	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/jsonapi"
	"github.com/mozilla/otelcol-glam/internal/probebuild"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
	"github.com/mozilla/otelcol-glam/internal/views"
)

type usageExtension struct {
	cfg       *Config
	telemetry component.TelemetrySettings
	// catalog is filled by the view components as they start
	// (views.Catalog), after this extension.
	catalog *catalog

	pool   *pgxpool.Pool
	builds *probebuild.Service
	server *http.Server
	done   chan struct{}

	// probeTelemetry reports the job table's probe builds (telemetry.go).
	probeTelemetry *metadata.TelemetryBuilder
}

func newExtension(cfg *Config, telemetry component.TelemetrySettings) *usageExtension {
	return &usageExtension{cfg: cfg, telemetry: telemetry, catalog: &catalog{}}
}

var _ views.Catalog = (*usageExtension)(nil)

// AddMeasures records the measures a glam_eventlog receiver records.
func (e *usageExtension) AddMeasures(names []string) { e.catalog.AddMeasures(names) }

// AddConfigViews records the views a glam_views processor has from its
// config.
func (e *usageExtension) AddConfigViews(defs []views.Definition) { e.catalog.AddConfigViews(defs) }

// Start opens the pool (lazily: an unreachable database makes requests
// fail with 503, not the collector), starts the probe-build service and
// serves the API.
func (e *usageExtension) Start(ctx context.Context, host component.Host) error {
	var err error
	if e.pool, err = e.cfg.Postgres.New(ctx, usageapi.ConfigurePool); err != nil {
		return err
	}
	store := usageapi.New(e.pool, e.cfg.Usage)
	if e.builds, err = probebuild.New(e.cfg.ProbeBuilds, e.pool, e.telemetry.Logger, probebuild.BigQuery(e.cfg.ProbeBuilds.BigQuery)); err != nil {
		return err
	}
	e.builds.SetHotlist(hotlistSource(store))
	if err := e.builds.Start(ctx); err != nil {
		return err
	}
	if err := e.startTelemetry(); err != nil {
		return err
	}
	api := &api{cfg: e.cfg, store: store, pool: e.pool, builds: e.builds, logger: e.telemetry.Logger, catalog: e.catalog}
	if wa := e.cfg.RuntimeViews.WriteAuth.Get(); wa != nil {
		if api.writeAuth, err = wa.GetServerAuthenticator(ctx, host.GetExtensions()); err != nil {
			return fmt.Errorf("runtime_views.write_auth: %w", err)
		}
	}
	ln, err := e.cfg.ServerConfig.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", e.cfg.ServerConfig.NetAddr.Endpoint, err)
	}
	e.server, err = e.cfg.ServerConfig.ToServer(ctx, host.GetExtensions(), e.telemetry, api.routes(),
		confighttp.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, msg string, status int) {
			jsonapi.Error(w, status, msg)
		}))
	if err != nil {
		_ = ln.Close()
		return err
	}
	// The dashboard's own files hold no usage data, and a browser opening a
	// URL cannot send a bearer token: they are served before the
	// authenticator, the page's API requests through it.
	e.server.Handler = dashboard.Outside(e.server.Handler)
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		if err := e.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	e.telemetry.Logger.Info("Usage API listening", zap.String("endpoint", ln.Addr().String()))
	return nil
}

// Shutdown stops serving, then the probe builds, then closes the pool.
func (e *usageExtension) Shutdown(ctx context.Context) error {
	var errs []error
	if e.server != nil {
		errs = append(errs, e.server.Shutdown(ctx))
		<-e.done
	}
	e.stopTelemetry()
	if e.builds != nil {
		errs = append(errs, e.builds.Shutdown(ctx))
	}
	if e.pool != nil {
		e.pool.Close()
	}
	return errors.Join(errs...)
}

// hotlistSource lets probe-build prefetch read the hot list.
func hotlistSource(store *usageapi.Store) probebuild.HotlistFunc {
	return func(ctx context.Context, days, limit int) ([]probebuild.Request, error) {
		hot, err := store.Hotlist(ctx, usageapi.HotlistQuery{Days: days, Limit: limit})
		if err != nil {
			return nil, err
		}
		reqs := make([]probebuild.Request, 0, len(hot.Probes))
		for _, p := range hot.Probes {
			reqs = append(reqs, probebuild.Request{Product: p.Product, Channel: p.Channel, Probe: p.Probe})
		}
		return reqs, nil
	}
}
