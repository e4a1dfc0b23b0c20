package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"
)

// Config is the configuration of the glam_eventlog receiver.
type Config struct {
	// DSN is the PostgreSQL database glam_postgres stores raw events in.
	DSN configopaque.String `mapstructure:"dsn"`
	// Consumer names the view set this reader feeds: its offset in the
	// log, and its lease. Collectors sharing a database and a view set use
	// the same name; one of them reads at a time.
	Consumer string `mapstructure:"consumer"`
	// Measures say which events record a measurement on which measure.
	Measures []MeasureConfig `mapstructure:"measures"`
	// BatchSize is how many events one read takes.
	BatchSize int `mapstructure:"batch_size"`
	// LeaseRetry is how often a collector whose replica holds the lease
	// tries to take it.
	LeaseRetry time.Duration `mapstructure:"lease_retry"`
	// Backoff is the wait after a failure (a lost connection, a refused
	// batch) before reading again from the offset.
	Backoff time.Duration `mapstructure:"backoff"`
	// SessionContext is how far back, before the offset was last moved,
	// merged session rows are restored when reading starts: a session
	// view's max_duration plus its session_gap at least.
	SessionContext time.Duration `mapstructure:"session_context"`
	// RuntimeViews reads the views created at runtime through the usage
	// API, each from the log's beginning with a consumer and lease of its
	// own, into the same pipeline.
	RuntimeViews bool `mapstructure:"runtime_views"`

	_ struct{}
}

// MeasureConfig records, for every event named Event (or every event when
// Event is "*"), one measurement on the measure Name.
type MeasureConfig struct {
	Name        string `mapstructure:"name"`
	Description string `mapstructure:"description"`
	Unit        string `mapstructure:"unit"`
	Event       string `mapstructure:"event"`
	// Value names the event attribute holding the recorded value; empty
	// records 1.
	Value string `mapstructure:"value"`

	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Validate reports every invalid setting.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.DSN == "" {
		errs = append(errs, errors.New("dsn must be set"))
	} else if _, err := pgx.ParseConfig(string(cfg.DSN)); err != nil {
		errs = append(errs, fmt.Errorf("dsn: %w", err))
	}
	if strings.TrimSpace(cfg.Consumer) == "" {
		errs = append(errs, errors.New("consumer must name the view set this reader feeds"))
	}
	if _, err := compileMeasures(cfg.Measures); err != nil {
		errs = append(errs, err)
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > 100_000 {
		errs = append(errs, fmt.Errorf("batch_size must be from 1 to 100000, got %d", cfg.BatchSize))
	}
	if cfg.LeaseRetry <= 0 {
		errs = append(errs, fmt.Errorf("lease_retry must be positive, got %s", cfg.LeaseRetry))
	}
	if cfg.Backoff <= 0 {
		errs = append(errs, fmt.Errorf("backoff must be positive, got %s", cfg.Backoff))
	}
	if cfg.SessionContext < 0 {
		errs = append(errs, fmt.Errorf("session_context must not be negative, got %s", cfg.SessionContext))
	}
	return errors.Join(errs...)
}
