package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"

	"github.com/mozilla/otelcol-glam/internal/pgpool"
	"github.com/mozilla/otelcol-glam/internal/probebuild"
	"github.com/mozilla/otelcol-glam/internal/usageapi"
)

// Config is the glam_usage extension's configuration.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, TLS, CORS, auth.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`

	// Postgres is the database the glam_postgres exporter writes (`dsn`)
	// and the pool the usage API and the probe builds share.
	Postgres pgpool.Config `mapstructure:",squash"`
	// QueryTimeout bounds one request's database work.
	QueryTimeout time.Duration `mapstructure:"query_timeout"`

	// MaxRange is the longest from/to range a request may ask for.
	MaxRange time.Duration `mapstructure:"max_range"`
	// DefaultRange is the range of a request that sends no from: the
	// DefaultRange before to (or now).
	DefaultRange time.Duration `mapstructure:"default_range"`
	// MaxLimit is the largest limit a request may ask for, and the most
	// rows an answer from raw events may have.
	MaxLimit int `mapstructure:"max_limit"`

	// Usage names the views and events the answers come from (`usage:`).
	Usage usageapi.Config `mapstructure:"usage"`

	// ProbeBuilds configures the probe-build API and its workers.
	ProbeBuilds probebuild.Config `mapstructure:"probe_builds"`

	// ReleaseDates are marked on the dashboard's probe charts
	// (/api/v1/usage/releases).
	ReleaseDates []ReleaseDate `mapstructure:"release_dates"`

	// RuntimeViews configures the views created at runtime through
	// /api/v1/views.
	RuntimeViews RuntimeViewsConfig `mapstructure:"runtime_views"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// RuntimeViewsConfig bounds and guards the views created at runtime.
type RuntimeViewsConfig struct {
	// WriteAuth names an authenticator extension that a request creating
	// or deleting a view must pass as well as the API's own auth (e.g. a
	// bearertokenauth holding the writers' tokens). Unset, views are not
	// written through the API.
	WriteAuth configoptional.Optional[configauth.Config] `mapstructure:"write_auth"`
	// MaxViews is how many runtime views there may be.
	MaxViews int `mapstructure:"max_views"`
	// MemoryLimitMiB bounds what all runtime views' windows may hold at
	// their series limits; a view that would pass it is refused.
	MemoryLimitMiB int `mapstructure:"memory_limit_mib"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate reports every invalid setting at once.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ServerConfig.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must be set (host:port to serve the usage API on)"))
	}
	if cfg.QueryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("query_timeout must be positive, got %s", cfg.QueryTimeout))
	}
	if cfg.MaxRange < time.Hour {
		errs = append(errs, fmt.Errorf("max_range must be at least 1h, got %s", cfg.MaxRange))
	}
	if cfg.DefaultRange <= 0 || cfg.DefaultRange > cfg.MaxRange {
		errs = append(errs, fmt.Errorf("default_range must be positive and at most max_range (%s), got %s", cfg.MaxRange, cfg.DefaultRange))
	}
	if cfg.MaxLimit < 1 {
		errs = append(errs, fmt.Errorf("max_limit must be at least 1, got %d", cfg.MaxLimit))
	}
	for _, err := range cfg.Usage.Problems() {
		errs = append(errs, fmt.Errorf("usage.%w", err))
	}
	if cfg.RuntimeViews.MaxViews < 0 {
		errs = append(errs, fmt.Errorf("runtime_views.max_views must not be negative, got %d", cfg.RuntimeViews.MaxViews))
	}
	if cfg.RuntimeViews.MemoryLimitMiB < 1 {
		errs = append(errs, fmt.Errorf("runtime_views.memory_limit_mib must be at least 1, got %d", cfg.RuntimeViews.MemoryLimitMiB))
	}
	if err := validateReleaseDates(cfg.ReleaseDates); err != nil {
		errs = append(errs, err)
	}
	if err := cfg.ProbeBuilds.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("probe_builds: %w", err))
	}
	return errors.Join(errs...)
}
