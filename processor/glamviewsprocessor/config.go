package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Aggregation is how a view folds the measurements of one series and window
// into one value (OpenCensus stats aggregations).
type Aggregation string

const (
	// AggregationCount counts measurements, whatever their value.
	AggregationCount Aggregation = "count"
	// AggregationSum adds the measurements' values.
	AggregationSum Aggregation = "sum"
	// AggregationDistribution counts values into explicit buckets and
	// keeps their count, sum, min and max.
	AggregationDistribution Aggregation = "distribution"
	// AggregationLastValue keeps the value with the latest event time.
	AggregationLastValue Aggregation = "last_value"
)

var aggregations = []Aggregation{AggregationCount, AggregationSum, AggregationDistribution, AggregationLastValue}

// Config is the glam_views processor's configuration.
type Config struct {
	// FlushInterval is how often every window's gain since the previous
	// flush goes downstream.
	FlushInterval time.Duration `mapstructure:"flush_interval"`
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
// by which tags, over which windows.
type ViewConfig struct {
	// Name names the output metric; unique among the views.
	Name        string `mapstructure:"name"`
	Description string `mapstructure:"description"`
	// Measure is the name of the measure (the input metric) the view reads.
	Measure     string      `mapstructure:"measure"`
	Aggregation Aggregation `mapstructure:"aggregation"`
	// Buckets are the explicit upper bounds of a distribution's buckets.
	Buckets []float64 `mapstructure:"buckets"`
	// TagKeys are the measurement attributes each series is broken down by.
	TagKeys []string     `mapstructure:"tag_keys"`
	Window  WindowConfig `mapstructure:"window"`
	// MaxSeries bounds the series of one fixed window, or the live session
	// series of a session view; 0 means DefaultMaxSeries.
	MaxSeries int `mapstructure:"max_series"`
}

// WindowConfig is either a fixed window (Size) or a session window
// (SessionGap, MaxDuration).
type WindowConfig struct {
	// Size of fixed windows, aligned to UTC midnight.
	Size time.Duration `mapstructure:"size"`
	// SessionGap is the idle time after which a session window closes.
	SessionGap time.Duration `mapstructure:"session_gap"`
	// MaxDuration caps a session window's length; 0 means
	// DefaultSessionMaxDuration.
	MaxDuration time.Duration `mapstructure:"max_duration"`
}

// IsSession reports whether the window is a session window.
func (w WindowConfig) IsSession() bool { return w.SessionGap > 0 }

// Validate checks the whole configuration and reports every problem found.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("flush_interval must be positive, got %s", cfg.FlushInterval))
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
		for _, err := range v.validate() {
			errs = append(errs, fmt.Errorf("views[%d] (%q): %w", i, v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// validate checks one view. It is not Validate, which confmap would call
// again on its own and report every problem twice.
func (v *ViewConfig) validate() []error {
	var errs []error
	if strings.TrimSpace(v.Name) == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if strings.TrimSpace(v.Measure) == "" {
		errs = append(errs, errors.New("measure is required"))
	}
	if err := v.validateAggregation(); err != nil {
		errs = append(errs, err)
	}
	if err := v.validateTagKeys(); err != nil {
		errs = append(errs, err)
	}
	if err := v.Window.validate(); err != nil {
		errs = append(errs, fmt.Errorf("window: %w", err))
	}
	if v.MaxSeries < 0 {
		errs = append(errs, fmt.Errorf("max_series must not be negative, got %d", v.MaxSeries))
	}
	return errs
}

func (v *ViewConfig) validateAggregation() error {
	known := false
	for _, a := range aggregations {
		known = known || v.Aggregation == a
	}
	if !known {
		return fmt.Errorf("unknown aggregation %q: want one of count, sum, distribution, last_value", v.Aggregation)
	}
	if v.Aggregation != AggregationDistribution {
		if len(v.Buckets) > 0 {
			return fmt.Errorf("buckets are only allowed with aggregation distribution, not %s", v.Aggregation)
		}
		return nil
	}
	if len(v.Buckets) == 0 {
		return errors.New("aggregation distribution needs buckets (explicit upper bounds)")
	}
	for i, b := range v.Buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("buckets[%d] is %v: bounds must be finite", i, b)
		}
		if i > 0 && b <= v.Buckets[i-1] {
			return fmt.Errorf("buckets must be strictly ascending: buckets[%d]=%v follows %v", i, b, v.Buckets[i-1])
		}
	}
	return nil
}

func (v *ViewConfig) validateTagKeys() error {
	seen := make(map[string]bool, len(v.TagKeys))
	for i, k := range v.TagKeys {
		switch {
		case k == "":
			return fmt.Errorf("tag_keys[%d] is empty", i)
		case seen[k]:
			return fmt.Errorf("tag_keys: %q is listed twice", k)
		case k == usage.AttrSessionID && v.Window.IsSession():
			return fmt.Errorf("tag_keys: %q is always a tag of a session view; remove it", k)
		}
		seen[k] = true
	}
	return nil
}

// validate checks that exactly one kind of window is set, with sane sizes.
func (w WindowConfig) validate() error {
	fixed, session := w.Size != 0, w.SessionGap != 0 || w.MaxDuration != 0
	switch {
	case fixed && session:
		return errors.New("set either size (fixed window) or session_gap/max_duration (session window), not both")
	case !fixed && !session:
		return errors.New("set size (fixed window) or session_gap (session window)")
	case fixed:
		return validateSize(w.Size)
	case w.SessionGap <= 0:
		return fmt.Errorf("session_gap must be positive, got %s", w.SessionGap)
	case w.MaxDuration < 0:
		return fmt.Errorf("max_duration must not be negative, got %s", w.MaxDuration)
	case w.MaxDuration > 0 && w.MaxDuration < w.SessionGap:
		return fmt.Errorf("max_duration (%s) must not be shorter than session_gap (%s)", w.MaxDuration, w.SessionGap)
	}
	return nil
}

// validateSize keeps windows aligned to UTC days: windows are aligned to the
// Unix epoch, which is a UTC midnight, so a size that divides a day (or is a
// whole number of days) starts windows at midnight.
func validateSize(size time.Duration) error {
	const day = 24 * time.Hour
	switch {
	case size < 0:
		return fmt.Errorf("size must be positive, got %s", size)
	case size < time.Second || size%time.Second != 0:
		return fmt.Errorf("size must be a whole number of seconds, got %s", size)
	case size < day && day%size != 0:
		return fmt.Errorf("size %s does not divide a day, so windows would drift off UTC midnight", size)
	case size > day && size%day != 0:
		return fmt.Errorf("size %s is longer than a day but not a whole number of days", size)
	}
	return nil
}

// maxSeries is the effective series limit of a view.
func (v *ViewConfig) maxSeries() int {
	if v.MaxSeries == 0 {
		return DefaultMaxSeries
	}
	return v.MaxSeries
}

// maxDuration is the effective maximum length of a session window.
func (w WindowConfig) maxDuration() time.Duration {
	if w.MaxDuration == 0 {
		return DefaultSessionMaxDuration
	}
	return w.MaxDuration
}
