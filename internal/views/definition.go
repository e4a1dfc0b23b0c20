// Package views holds what a view is — its definition and the rules a valid
// one follows — shared by the glam_views processor, which aggregates views
// from its config, and the usage API, which creates views at runtime: one
// definition, validated one way, whichever way a view comes.
package views // import "github.com/mozilla/otelcol-glam/internal/views"

import (
	"errors"
	"fmt"
	"math"
	"slices"
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

const (
	// DefaultMaxSeries is the series limit of a view that sets none.
	DefaultMaxSeries = 10_000
	// DefaultSessionMaxDuration is the longest a session window may last,
	// as in PostHog's and Glean's session definitions.
	DefaultSessionMaxDuration = 24 * time.Hour
)

// Definition is one view: which measure, how it is aggregated, broken down
// by which tags, over which windows.
type Definition struct {
	// Name names the output metric; unique among the views.
	Name        string `mapstructure:"name" json:"name"`
	Description string `mapstructure:"description" json:"description,omitempty"`
	// Measure is the name of the measure (the input metric) the view reads.
	Measure     string      `mapstructure:"measure" json:"measure"`
	Aggregation Aggregation `mapstructure:"aggregation" json:"aggregation"`
	// Buckets are the explicit upper bounds of a distribution's buckets.
	Buckets []float64 `mapstructure:"buckets" json:"buckets,omitempty"`
	// TagKeys are the measurement attributes each series is broken down by.
	TagKeys []string `mapstructure:"tag_keys" json:"tag_keys,omitempty"`
	Window  Window   `mapstructure:"window" json:"window"`
	// MaxSeries bounds the series of one fixed window, or the live session
	// series of a session view; 0 means DefaultMaxSeries.
	MaxSeries int `mapstructure:"max_series" json:"max_series,omitempty"`
}

// Window is either a fixed window (Size) or a session window (SessionGap,
// MaxDuration).
type Window struct {
	// Size of fixed windows, aligned to UTC midnight.
	Size time.Duration `mapstructure:"size"`
	// SessionGap is the idle time after which a session window closes.
	SessionGap time.Duration `mapstructure:"session_gap"`
	// MaxDuration caps a session window's length; 0 means
	// DefaultSessionMaxDuration.
	MaxDuration time.Duration `mapstructure:"max_duration"`
}

// IsSession reports whether the window is a session window.
func (w Window) IsSession() bool { return w.SessionGap > 0 }

// Problems checks one view and returns every problem found. It is not
// Validate, which confmap would call again on its own and report every
// problem twice.
func (d *Definition) Problems() []error {
	var errs []error
	if strings.TrimSpace(d.Name) == "" {
		errs = append(errs, errors.New("name is required"))
	}
	if strings.TrimSpace(d.Measure) == "" {
		errs = append(errs, errors.New("measure is required"))
	}
	if err := d.validateAggregation(); err != nil {
		errs = append(errs, err)
	}
	if err := d.validateTagKeys(); err != nil {
		errs = append(errs, err)
	}
	if err := d.Window.validate(); err != nil {
		errs = append(errs, fmt.Errorf("window: %w", err))
	}
	if d.MaxSeries < 0 {
		errs = append(errs, fmt.Errorf("max_series must not be negative, got %d", d.MaxSeries))
	}
	return errs
}

func (d *Definition) validateAggregation() error {
	if !slices.Contains(aggregations, d.Aggregation) {
		return fmt.Errorf("unknown aggregation %q: want one of count, sum, distribution, last_value", d.Aggregation)
	}
	if d.Aggregation != AggregationDistribution {
		if len(d.Buckets) > 0 {
			return fmt.Errorf("buckets are only allowed with aggregation distribution, not %s", d.Aggregation)
		}
		return nil
	}
	if len(d.Buckets) == 0 {
		return errors.New("aggregation distribution needs buckets (explicit upper bounds)")
	}
	for i, b := range d.Buckets {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return fmt.Errorf("buckets[%d] is %v: bounds must be finite", i, b)
		}
		if i > 0 && b <= d.Buckets[i-1] {
			return fmt.Errorf("buckets must be strictly ascending: buckets[%d]=%v follows %v", i, b, d.Buckets[i-1])
		}
	}
	return nil
}

func (d *Definition) validateTagKeys() error {
	seen := make(map[string]bool, len(d.TagKeys))
	for i, k := range d.TagKeys {
		switch {
		case k == "":
			return fmt.Errorf("tag_keys[%d] is empty", i)
		case seen[k]:
			return fmt.Errorf("tag_keys: %q is listed twice", k)
		case k == usage.AttrSessionID && d.Window.IsSession():
			return fmt.Errorf("tag_keys: %q is always a tag of a session view; remove it", k)
		}
		seen[k] = true
	}
	return nil
}

// validate checks that exactly one kind of window is set, with sane sizes.
func (w Window) validate() error {
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

// EffectiveMaxSeries is the view's series limit, its default applied.
func (d *Definition) EffectiveMaxSeries() int {
	if d.MaxSeries == 0 {
		return DefaultMaxSeries
	}
	return d.MaxSeries
}

// EffectiveMaxDuration is the longest a session window lasts, its default
// applied.
func (w Window) EffectiveMaxDuration() time.Duration {
	if w.MaxDuration == 0 {
		return DefaultSessionMaxDuration
	}
	return w.MaxDuration
}

// Normalized is d with its defaults written out, so that two definitions
// meaning the same view compare equal.
func (d Definition) Normalized() Definition {
	d.MaxSeries = d.EffectiveMaxSeries()
	if d.Window.IsSession() {
		d.Window.MaxDuration = d.Window.EffectiveMaxDuration()
	}
	if len(d.Buckets) == 0 {
		d.Buckets = nil
	}
	if len(d.TagKeys) == 0 {
		d.TagKeys = nil
	}
	return d
}

// Equal reports whether a and b define the same view.
func Equal(a, b Definition) bool {
	a, b = a.Normalized(), b.Normalized()
	return a.Name == b.Name && a.Description == b.Description && a.Measure == b.Measure &&
		a.Aggregation == b.Aggregation && slices.Equal(a.Buckets, b.Buckets) &&
		slices.Equal(a.TagKeys, b.TagKeys) && a.Window == b.Window && a.MaxSeries == b.MaxSeries
}

// seriesBytes is what one live series of a count, sum or last-value view
// holds in the processor, measured (the processor's BenchmarkMemoryPerSeries:
// 243 to 289 bytes); a distribution adds a count per bucket.
const seriesBytes = 300

// MaxBytes bounds the memory the view's windows hold at its series limit: a
// fixed view keeps the current window and the one before (still taking late
// measurements) full, a session view its live sessions.
func (d *Definition) MaxBytes() int64 {
	per := int64(seriesBytes)
	if d.Aggregation == AggregationDistribution {
		per += 8 * int64(len(d.Buckets)+1)
	}
	windows := int64(2)
	if d.Window.IsSession() {
		windows = 1
	}
	return int64(d.EffectiveMaxSeries()) * windows * per
}
