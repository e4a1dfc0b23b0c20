package main

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"

	"github.com/mozilla/otelcol-glam/internal/pgpool"
	"github.com/mozilla/otelcol-glam/internal/probebuild"
)

// config is the builder's configuration file: the Postgres the queue and
// GLAM's tables live in, and the same `probe_builds:` block the glam_usage
// extension reads, so one block can serve both.
type config struct {
	// Postgres is shared with the collector and the GLAM app (`dsn`); each
	// worker holds at most one connection at a time, plus one for LISTEN.
	Postgres pgpool.Config `mapstructure:",squash"`
	// CreateSchema applies the embedded migrations at start.
	CreateSchema bool              `mapstructure:"create_schema"`
	ProbeBuilds  probebuild.Config `mapstructure:"probe_builds"`
}

func defaultConfig() config {
	return config{Postgres: pgpool.Config{MaxConns: 8}, CreateSchema: true, ProbeBuilds: probebuild.NewDefaultConfig()}
}

func (c *config) Validate() error {
	var errs []error
	if err := c.Postgres.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Postgres.MaxConns < 2 {
		errs = append(errs, fmt.Errorf("max_conns must be at least 2 (one worker and LISTEN), got %d", c.Postgres.MaxConns))
	}
	if c.ProbeBuilds.Workers < 1 {
		errs = append(errs, fmt.Errorf("probe_builds.workers must be at least 1 in glam-probe-builder, got %d", c.ProbeBuilds.Workers))
	}
	if err := c.ProbeBuilds.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("probe_builds: %w", err))
	}
	return errors.Join(errs...)
}

// loadConfig reads uris as the collector does: files, `yaml:` snippets,
// and ${env:VAR} (or ${VAR}) expansion, merged in order.
func loadConfig(ctx context.Context, uris []string) (config, error) {
	cfg := defaultConfig()
	resolver, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs: uris,
		ProviderFactories: []confmap.ProviderFactory{
			fileprovider.NewFactory(), envprovider.NewFactory(), yamlprovider.NewFactory(),
		},
		DefaultScheme: "env",
	})
	if err != nil {
		return cfg, err
	}
	conf, err := resolver.Resolve(ctx)
	if err != nil {
		return cfg, err
	}
	if err := conf.Unmarshal(&cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}
