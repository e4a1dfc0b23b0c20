package glamviewcountersprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

// What a counter adds up.
const (
	// CountValue adds the view's values: measurements for a count view, the
	// summed values for a sum view.
	CountValue = "value"
	// CountSessions counts the view's session windows: one per distinct
	// session.id and window start, however many deltas carry it.
	CountSessions = "sessions"
)

const (
	// DefaultMaxSeries bounds each counter's series: the backends it feeds
	// hold every series in memory, and a low-cardinality view has far fewer.
	DefaultMaxSeries = 1000
	// DefaultForgetSessionsAfter outlasts glam_views' own memory of a
	// session window with its defaults (session_gap 30m + allowed_lateness
	// 1h after the window last took a measurement), so a window is
	// forgotten here only once glam_views can no longer send it.
	DefaultForgetSessionsAfter = 2 * time.Hour
)

// Config is the glam_viewcounters processor's configuration.
type Config struct {
	// Counters are the views passed on; every other view, and every metric
	// that is not a view, is dropped.
	Counters []CounterConfig `mapstructure:"counters"`
	// MaxSeries is the most series one counter keeps; measurements beyond
	// go to its overflow series.
	MaxSeries int `mapstructure:"max_series"`
	// ForgetSessionsAfter is how long a session window is remembered after
	// its last delta, for `count: sessions` counters.
	ForgetSessionsAfter time.Duration `mapstructure:"forget_sessions_after"`

	// Prevent unkeyed literal initialization.
	_ struct{}
}

// CounterConfig is one view passed on as a counter.
type CounterConfig struct {
	// View is the glam_views view (its metric name).
	View string `mapstructure:"view"`
	// Name is the counter's metric name; the view's name when empty.
	Name string `mapstructure:"name"`
	// Description of the counter; the view's when empty.
	Description string `mapstructure:"description"`
	// TagKeys are the view's tags the counter keeps: one series per
	// distinct combination of their values; the rest are summed over.
	TagKeys []string `mapstructure:"tag_keys"`
	// Count is CountValue (default) or CountSessions.
	Count string `mapstructure:"count"`

	// Prevent unkeyed literal initialization.
	_ struct{}
}

// metricName is the counter's output metric name.
func (c CounterConfig) metricName() string {
	if c.Name != "" {
		return c.Name
	}
	return c.View
}

func (c CounterConfig) countSessions() bool { return c.Count == CountSessions }

// Validate reports every problem of the configuration, with the counter it
// is in.
func (cfg *Config) Validate() error {
	var errs []error
	if len(cfg.Counters) == 0 {
		errs = append(errs, errors.New("counters: at least one counter is required"))
	}
	if cfg.MaxSeries <= 0 {
		errs = append(errs, fmt.Errorf("max_series must be positive, got %d", cfg.MaxSeries))
	}
	if cfg.ForgetSessionsAfter <= 0 {
		errs = append(errs, fmt.Errorf("forget_sessions_after must be positive, got %s", cfg.ForgetSessionsAfter))
	}
	views := map[string]int{}
	names := map[string]int{}
	for i, c := range cfg.Counters {
		where := fmt.Sprintf("counters[%d]", i)
		if strings.TrimSpace(c.View) == "" {
			errs = append(errs, fmt.Errorf("%s: view must not be empty", where))
			continue
		}
		where = fmt.Sprintf("counters[%d] (view %q)", i, c.View)
		// One view feeds at most one counter: each batch is counted once
		// per view, and two counters of one view would need two states of
		// which deltas they have seen.
		if j, ok := views[c.View]; ok {
			errs = append(errs, fmt.Errorf("%s: view listed twice (also counters[%d])", where, j))
		}
		views[c.View] = i
		if j, ok := names[c.metricName()]; ok {
			errs = append(errs, fmt.Errorf("%s: duplicate counter name %q (also counters[%d])", where, c.metricName(), j))
		}
		names[c.metricName()] = i
		if c.Count != "" && c.Count != CountValue && c.Count != CountSessions {
			errs = append(errs, fmt.Errorf("%s: unknown count %q: want %s or %s", where, c.Count, CountValue, CountSessions))
		}
		seen := map[string]bool{}
		for _, k := range c.TagKeys {
			switch {
			case k == usage.AttrSessionID:
				errs = append(errs, fmt.Errorf("%s: tag_keys: %s would make a series per session; use count: %s to count sessions", where, usage.AttrSessionID, CountSessions))
			case strings.TrimSpace(k) == "":
				errs = append(errs, fmt.Errorf("%s: tag_keys: empty tag key", where))
			case seen[k]:
				errs = append(errs, fmt.Errorf("%s: tag_keys: %q listed twice", where, k))
			}
			seen[k] = true
		}
	}
	return errors.Join(errs...)
}
