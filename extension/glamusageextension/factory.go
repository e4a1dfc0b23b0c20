package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/pgpool"
	"github.com/mozilla/otelcol-glam/internal/probebuild"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

// defaultEndpoint is next to the glam receiver's localhost:4380.
const defaultEndpoint = "localhost:4381"

// NewFactory creates the glam_usage extension's factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	// A stalled client must not hold a connection for ever; API requests
	// are GETs and small JSON bodies.
	server.ReadHeaderTimeout = 10 * time.Second
	server.ReadTimeout = 10 * time.Second
	builds := probebuild.NewDefaultConfig()
	// Builds need BigQuery credentials: serve and queue by default, and let
	// a configured worker count (or a glam-probe-builder) build.
	builds.Workers = 0
	return &Config{
		ServerConfig: server,
		Postgres:     pgpool.Config{MaxConns: 4},
		QueryTimeout: 10 * time.Second,
		MaxRange:     366 * 24 * time.Hour,
		DefaultRange: 7 * 24 * time.Hour,
		MaxLimit:     1000,
		Usage:        usageapi.NewDefaultConfig(),
		ProbeBuilds:  builds,
		// A fixed view at the default 10 000 series may hold 6 MB
		// (views.Definition.MaxBytes): 64 MiB is ten such views.
		RuntimeViews: RuntimeViewsConfig{MaxViews: 20, MemoryLimitMiB: 64},
	}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newExtension(cfg.(*Config), set.TelemetrySettings), nil
}
