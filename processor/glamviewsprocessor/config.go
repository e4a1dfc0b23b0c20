package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"errors"
	"fmt"
	"time"

	"github.com/mozilla/otelcol-glam/internal/views"
)

// Aggregation is how a view folds the measurements of one series and window
// into one value (OpenCensus stats aggregations).
type Aggregation = views.Aggregation

// The aggregations, as internal/views defines them.
const (
	AggregationCount        = views.AggregationCount
	AggregationSum          = views.AggregationSum
	AggregationDistribution = views.AggregationDistribution
	AggregationLastValue    = views.AggregationLastValue
)

// Config is the glam_views processor's configuration.
type Config struct {
	// FlushInterval is how often every window's gain since the previous
	// flush goes downstream.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
	// FlushSize flushes a view set early, before the interval is over,
	// once this many of its series have something to flush: a batch must
	// stay small enough to be merged within the exporter's timeout, or it
	// is refused, sent again unchanged and refused forever (a backlog read
	// from the event log at full speed made batches of 80 000 points). 0
	// flushes on the interval only.
	FlushSize int `mapstructure:"flush_size"`
	// AllowedLateness is how long after a window closes its measurements are
	// still accepted, and how far ahead of the processor's clock an event
	// time may be.
	AllowedLateness time.Duration `mapstructure:"allowed_lateness"`
	// Views replaces the default (GLAM) views when set.
	Views []ViewConfig `mapstructure:"views"`

	// Prevent unkeyed literal initialization.
	_ struct{}
}

// ViewConfig is one view: which measure, how it is aggregated, broken down
// by which tags, over which windows. Views created at runtime through the
// usage API have the same definition, validated the same way.
type ViewConfig = views.Definition

// WindowConfig is either a fixed window (Size) or a session window
// (SessionGap, MaxDuration).
type WindowConfig = views.Window

// Validate checks the whole configuration and reports every problem found.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("flush_interval must be positive, got %s", cfg.FlushInterval))
	}
	if cfg.FlushSize < 0 {
		errs = append(errs, fmt.Errorf("flush_size must not be negative, got %d", cfg.FlushSize))
	}
	if cfg.AllowedLateness < 0 {
		errs = append(errs, fmt.Errorf("allowed_lateness must not be negative, got %s", cfg.AllowedLateness))
	}
	if len(cfg.Views) == 0 {
		errs = append(errs, errors.New("views: at least one view is required"))
	}
	names := make(map[string]int, len(cfg.Views))
	for i, v := range cfg.Views {
		if first, dup := names[v.Name]; !dup {
			names[v.Name] = i
		} else if v.Name != "" {
			errs = append(errs, fmt.Errorf("views[%d]: duplicate view name %q (also views[%d])", i, v.Name, first))
		}
		for _, err := range v.Problems() {
			errs = append(errs, fmt.Errorf("views[%d] (%q): %w", i, v.Name, err))
		}
	}
	return errors.Join(errs...)
}
