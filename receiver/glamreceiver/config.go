package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/confmap"
)

// Config is the configuration of the glam receiver.
type Config struct {
	// ServerConfig is the HTTP server: endpoint, TLS, CORS, auth,
	// max_request_body_size, compression, timeouts.
	ServerConfig confighttp.ServerConfig `mapstructure:",squash"`

	// PathPrefix is where the receiver's endpoints live:
	// {path_prefix}/v1/traces|logs|metrics and {path_prefix}/submit/...
	PathPrefix string `mapstructure:"path_prefix"`

	// RespectDoNotTrack drops (with a 200 answer) requests carrying
	// `DNT: 1` or `Sec-GPC: 1`.
	RespectDoNotTrack bool `mapstructure:"respect_do_not_track"`

	// Dedupe bounds the memory of event ids already received.
	Dedupe DedupeConfig `mapstructure:"dedupe"`

	// MaxEventAge refuses events older than this, which the raw event
	// table would no longer keep; 0 refuses only events before 2000.
	MaxEventAge time.Duration `mapstructure:"max_event_age"`

	// ClockSkew says how client clocks are corrected.
	ClockSkew ClockSkewConfig `mapstructure:"clock_skew"`

	// Glean configures the endpoint of Glean.js pings.
	Glean GleanConfig `mapstructure:"glean"`

	// Pages says where an event's page URL is and how GLAM's routes map
	// onto attributes; page loads become probe or page views.
	Pages PagesConfig `mapstructure:"pages"`

	// Clicks says which events are clicks and where their action is.
	Clicks ClicksConfig `mapstructure:"clicks"`

	// CountBots counts events from browsers whose user agent says bot,
	// crawler or headless (browser.family "Bot"); off, they are rejected
	// with the reason in the answer.
	CountBots bool `mapstructure:"count_bots"`

	_ struct{}
}

// PagesConfig turns page URLs into GLAM's dimensions.
type PagesConfig struct {
	// LoadEvents are the events that are page loads: each becomes the
	// event of the route its URL matches, or PageViewEvent.
	LoadEvents []string `mapstructure:"load_events"`
	// PageViewEvent is what a page load off every route becomes.
	PageViewEvent string `mapstructure:"page_view_event"`
	// URLAttributes hold an event's page URL, first found first used.
	URLAttributes []string `mapstructure:"url_attributes"`
	// ReferrerAttributes hold the page's referrer.
	ReferrerAttributes []string `mapstructure:"referrer_attributes"`
	// MaxURLLength bounds a stored URL, in bytes.
	MaxURLLength int `mapstructure:"max_url_length"`
	// MaxTitleLength bounds a stored page title, in bytes.
	MaxTitleLength int `mapstructure:"max_title_length"`
	// Routes are tried in order; the first that matches applies.
	Routes []RouteConfig `mapstructure:"routes"`

	_ struct{}
}

// RouteConfig is one route template and the attributes its parts set.
type RouteConfig struct {
	// Path is a template in page.js notation: /:product/probe/:probe/:view(explore|table).
	Path string `mapstructure:"path"`
	// Event is what a page load on this route becomes.
	Event string `mapstructure:"event"`
	// Segments maps named segments to attributes.
	Segments map[string]string `mapstructure:"segments"`
	// Query maps query parameters to attributes; no other parameter is kept.
	Query map[string]string `mapstructure:"query"`
	// Defaults are attribute values for what the URL leaves out.
	Defaults map[string]string `mapstructure:"defaults"`

	_ struct{}
}

// ClicksConfig says which events are clicks.
type ClicksConfig struct {
	// Events are the click events.
	Events []string `mapstructure:"events"`
	// ActionAttribute holds what was clicked; it is copied to glam.action.
	ActionAttribute string `mapstructure:"action_attribute"`

	_ struct{}
}

// GleanConfig configures the endpoint of Glean.js pings.
type GleanConfig struct {
	// SubmitAtRoot also serves {path_prefix}/submit/... at /submit/...:
	// Glean.js's serverEndpoint is an origin without a path, so without a
	// proxy mapping /submit/ to the prefix this is the only route it can
	// reach.
	SubmitAtRoot bool `mapstructure:"submit_at_root"`

	_ struct{}
}

// DedupeConfig bounds the set of event ids already received. An id is
// remembered for TTL or until MaxEntries newer ids push it out, whichever
// comes first.
type DedupeConfig struct {
	// MaxEntries is how many ids are remembered; 0 turns deduplication off.
	MaxEntries int `mapstructure:"max_entries"`
	// TTL is how long an id is remembered.
	TTL time.Duration `mapstructure:"ttl"`

	_ struct{}
}

// ClockSkewConfig bounds how client event times are corrected.
type ClockSkewConfig struct {
	// Tolerance is the clock difference left uncorrected.
	Tolerance time.Duration `mapstructure:"tolerance"`
	// MaxCorrection is the largest clock difference corrected; events
	// further in the future are rejected.
	MaxCorrection time.Duration `mapstructure:"max_correction"`

	_ struct{}
}

var (
	_ component.Config    = (*Config)(nil)
	_ confmap.Unmarshaler = (*Config)(nil)
)

// Unmarshal refuses the `measures` option, which moved to the glam_eventlog
// receiver: measurements are derived from the committed event log, not
// here. It has to be checked by name: ServerConfig, squashed in, has its own
// Unmarshal, and then confmap ignores the keys Config does not know, so an
// old config's measures would otherwise be dropped without a word.
func (cfg *Config) Unmarshal(conf *confmap.Conf) error {
	if conf.IsSet("measures") {
		return errors.New("measures: no longer an option of the glam receiver; measurements are derived from the committed event log by the glam_eventlog receiver, so configure measures there")
	}
	return conf.Unmarshal(cfg)
}

// adBlockWords are path fragments that EasyPrivacy-style lists match; a
// prefix containing one would get the receiver blocked in many browsers.
var adBlockWords = []string{"analytics", "telemetry", "track", "collect", "beacon"}

// Validate checks the receiver configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.ServerConfig.NetAddr.Endpoint == "" {
		errs = append(errs, errors.New("endpoint must not be empty"))
	}
	if err := validatePathPrefix(cfg.PathPrefix); err != nil {
		errs = append(errs, err)
	}
	if cfg.Glean.SubmitAtRoot && (cfg.PathPrefix == gleanSubmit || strings.HasPrefix(cfg.PathPrefix, gleanSubmit+"/")) {
		errs = append(errs, fmt.Errorf("path_prefix %q must not be %s or under it when glean::submit_at_root is on: root Glean pings and the receiver's own paths would overlap", cfg.PathPrefix, gleanSubmit))
	}
	if _, err := compilePages(cfg.Pages, cfg.Clicks); err != nil {
		errs = append(errs, err)
	}
	if cfg.Dedupe.MaxEntries < 0 {
		errs = append(errs, errors.New("dedupe::max_entries must not be negative"))
	}
	if cfg.Dedupe.MaxEntries > 0 && cfg.Dedupe.TTL <= 0 {
		errs = append(errs, errors.New("dedupe::ttl must be positive when dedupe::max_entries is set"))
	}
	if cfg.MaxEventAge < 0 {
		errs = append(errs, errors.New("max_event_age must not be negative"))
	}
	if cfg.ClockSkew.Tolerance < 0 {
		errs = append(errs, errors.New("clock_skew::tolerance must not be negative"))
	}
	if cfg.ClockSkew.MaxCorrection < cfg.ClockSkew.Tolerance || cfg.ClockSkew.MaxCorrection <= 0 {
		errs = append(errs, errors.New("clock_skew::max_correction must be positive and at least clock_skew::tolerance"))
	}
	if cors := cfg.ServerConfig.CORS.Get(); cors != nil {
		for _, origin := range cors.AllowedOrigins {
			if strings.Count(origin, "*") > 1 {
				errs = append(errs, fmt.Errorf("cors::allowed_origins: %q has more than one wildcard", origin))
			}
		}
	}
	return errors.Join(errs...)
}

func validatePathPrefix(prefix string) error {
	switch {
	case prefix == "" || prefix[0] != '/':
		return fmt.Errorf("path_prefix %q must start with '/'", prefix)
	case prefix == "/" || strings.HasSuffix(prefix, "/"):
		return fmt.Errorf("path_prefix %q must not end with '/'", prefix)
	case path.Clean(prefix) != prefix:
		return fmt.Errorf("path_prefix %q must be a clean path (no '//', '.' or '..' segments)", prefix)
	case strings.ContainsAny(prefix, "?#{}*% \t"):
		return fmt.Errorf("path_prefix %q must not contain '?', '#', '{', '}', '*', '%%' or spaces", prefix)
	}
	lower := strings.ToLower(prefix)
	for _, word := range adBlockWords {
		if strings.Contains(lower, word) {
			return fmt.Errorf("path_prefix %q contains %q, which ad-block lists match", prefix, word)
		}
	}
	return nil
}
