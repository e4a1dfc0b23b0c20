package usageapi

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// Store answers usage questions from one database.
type Store struct {
	db  *pgxpool.Pool
	cfg Config
	// now is the clock of the status endpoint and the hot list.
	now func() time.Time
}

// Config says which views and events the Store reads. The defaults are the
// glam_views processor's default views and the glam receiver's default
// events.
type Config struct {
	Views Views `mapstructure:"views"`
	// ProbeViewEvent is the event a probe view is, for the questions only
	// raw events answer.
	ProbeViewEvent string `mapstructure:"probe_view_event"`
	// ActiveWithin is how recent a session's last event must be for the
	// session to count as active.
	ActiveWithin time.Duration `mapstructure:"active_within"`
}

// Views names the views the Store answers from.
type Views struct {
	// ProbeViewsHourly counts probe views per hour by product and probe
	// (further tags are summed over).
	ProbeViewsHourly string `mapstructure:"probe_views_hourly"`
	// ProbeViewsDaily is the same per UTC day.
	ProbeViewsDaily string `mapstructure:"probe_views_daily"`
	// ProbeSessionsDaily counts probe views per day by product, probe and
	// session.id: a probe's rows of a day are its distinct sessions.
	ProbeSessionsDaily string `mapstructure:"probe_sessions_daily"`
	// Sessions is a session view counting every event: one row per
	// session window, from its first to its last event.
	Sessions string `mapstructure:"sessions"`
	// SessionProbes is a session view counting probe views by product and
	// probe: a session's rows are the probes it looked at.
	SessionProbes string `mapstructure:"session_probes"`
}

// NewDefaultConfig matches the glam_views processor's default views.
func NewDefaultConfig() Config {
	return Config{
		Views: Views{
			ProbeViewsHourly:   usage.ViewProbeViewsHourly,
			ProbeViewsDaily:    usage.ViewProbeViewsDaily,
			ProbeSessionsDaily: usage.ViewProbeSessionsDaily,
			Sessions:           usage.ViewSessions,
			SessionProbes:      usage.ViewSessionProbes,
		},
		ProbeViewEvent: usage.EventProbeView,
		ActiveWithin:   30 * time.Minute,
	}
}

// Problems are every invalid setting, each naming its key within the
// block (the extension puts them under its own key). Not a Validate, so
// that the collector's config walk does not report them a second time.
func (c *Config) Problems() []error {
	var errs []error
	for name, v := range map[string]string{
		"views.probe_views_hourly": c.Views.ProbeViewsHourly, "views.probe_views_daily": c.Views.ProbeViewsDaily,
		"views.probe_sessions_daily": c.Views.ProbeSessionsDaily, "views.sessions": c.Views.Sessions,
		"views.session_probes": c.Views.SessionProbes, "probe_view_event": c.ProbeViewEvent,
	} {
		if v == "" {
			errs = append(errs, fmt.Errorf("%s must name a view or event", name))
		}
	}
	if c.ActiveWithin <= 0 {
		errs = append(errs, fmt.Errorf("active_within must be positive, got %s", c.ActiveWithin))
	}
	return errs
}

// ConfigurePool tunes a pool for the Store's queries: they are short and
// planned with generic costs, where Postgres' JIT compilation costs more
// time than it saves; and the session questions hash and sort a row per
// session of the range (170 000 over 30 days at 10 M events), which spill
// to disk within the default 4 MB of work_mem and not within 32 MB.
func ConfigurePool(cfg *pgxpool.Config) {
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["jit"] = "off"
	cfg.ConnConfig.RuntimeParams["work_mem"] = "32MB"
}

// New returns a Store reading db.
func New(db *pgxpool.Pool, cfg Config) *Store {
	return &Store{db: db, cfg: cfg, now: time.Now}
}

// Range is a half-open time range [From, To).
type Range struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// snap widens r to whole steps (UTC-aligned), the resolution views answer at.
func (r Range) snap(step time.Duration) Range {
	from := r.From.UTC().Truncate(step)
	to := r.To.UTC().Truncate(step)
	if to.Before(r.To) {
		to = to.Add(step)
	}
	return Range{From: from, To: to}
}

// dayAligned reports whether both ends are UTC midnights.
func (r Range) dayAligned() bool {
	return r.From.Equal(r.From.UTC().Truncate(24*time.Hour)) && r.To.Equal(r.To.UTC().Truncate(24*time.Hour))
}

// ErrNotFound is returned when the thing asked for (a session, a view) has
// no data at all.
var ErrNotFound = errors.New("not found")

// InputError is a request the store cannot answer as asked; its message says
// what to send instead.
type InputError struct{ Msg string }

func (e *InputError) Error() string { return e.Msg }

func inputErrorf(format string, args ...any) error {
	return &InputError{Msg: fmt.Sprintf(format, args...)}
}

// Table names, short for the SQL below.
const (
	eventsTable = pgschema.EventsTable
	idsTable    = pgschema.EventIDsTable
	rowsTable   = pgschema.ViewRowsTable
)

// Tag keys the views carry. The view rows hold product, probe and session
// also as typed columns (pgschema.ViewRowTagColumns, named as the raw
// events' columns), which the queries read instead of the jsonb.
const (
	tagProduct = usage.AttrProduct
	tagProbe   = usage.AttrProbeName
	tagChannel = usage.AttrChannel
)
