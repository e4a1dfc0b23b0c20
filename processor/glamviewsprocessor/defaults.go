package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"time"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/views"
)

const (
	// DefaultFlushInterval keeps a daily view fresh within seconds while
	// writing each hot series at most a few times a minute.
	DefaultFlushInterval = 10 * time.Second
	// DefaultFlushSize bounds a batch to what PostgreSQL merges well
	// within glam_postgres's default 5 s timeout, rollups included.
	DefaultFlushSize = 10000
	// DefaultAllowedLateness covers browser batching and retries and a
	// collector restart; older measurements only reach the raw event table.
	DefaultAllowedLateness = time.Hour
	// DefaultMaxSeries is the series limit of a view that sets none.
	DefaultMaxSeries = views.DefaultMaxSeries
	// DefaultSessionMaxDuration is the longest a session window may last,
	// as in PostHog's and Glean's session definitions.
	DefaultSessionMaxDuration = views.DefaultSessionMaxDuration
)

// Names of GLAM's default views (defined with the event contract, in
// internal/usage, where the usage extension reads them too).
const (
	ViewProbeViewsHourly   = usage.ViewProbeViewsHourly
	ViewProbeViewsDaily    = usage.ViewProbeViewsDaily
	ViewProbeSessionsDaily = usage.ViewProbeSessionsDaily
	ViewSessions           = usage.ViewSessions
	ViewSessionProbes      = usage.ViewSessionProbes
	ViewSearchesDaily      = usage.ViewSearchesDaily
	ViewPageViewsDaily     = usage.ViewPageViewsDaily
	ViewActionsDaily       = usage.ViewActionsDaily
	ViewSessionActions     = usage.ViewSessionActions
)

// glamViews answers GLAM's questions (SPEC §1): which probes are looked at,
// per hour and per day; by how many sessions; how long sessions last and how
// many probes they look at; how much people search and browse; which of
// GLAM's controls they use, and in which sessions. They are the
// default views and are also published as testdata/glam_views.yaml.
func glamViews() []ViewConfig {
	probeTags := []string{usage.AttrProduct, usage.AttrProbeName, usage.AttrProbeProcess, usage.AttrChannel}
	hour, day := WindowConfig{Size: time.Hour}, WindowConfig{Size: 24 * time.Hour}
	session := WindowConfig{SessionGap: 30 * time.Minute, MaxDuration: 24 * time.Hour}
	return []ViewConfig{
		{
			Name:        ViewProbeViewsHourly,
			Description: "Probe views per hour by product, probe, process and channel.",
			Measure:     usage.MeasureProbeViews, Aggregation: AggregationCount,
			TagKeys: probeTags, Window: hour, MaxSeries: 20_000,
		},
		{
			Name:        ViewProbeViewsDaily,
			Description: "Probe views per day by product, probe, process and channel.",
			Measure:     usage.MeasureProbeViews, Aggregation: AggregationCount,
			TagKeys: probeTags, Window: day, MaxSeries: 50_000,
		},
		{
			Name:        ViewProbeSessionsDaily,
			Description: "Probe views per day by product, probe and session: the rows of a probe and day are its distinct sessions.",
			Measure:     usage.MeasureProbeViews, Aggregation: AggregationCount,
			TagKeys: []string{usage.AttrProduct, usage.AttrProbeName, usage.AttrSessionID},
			Window:  day, MaxSeries: 100_000,
		},
		{
			Name:        ViewSessions,
			Description: "Events per session; a row's start and end are the session's first and last event.",
			Measure:     usage.MeasureEvents, Aggregation: AggregationCount,
			Window: session, MaxSeries: 50_000,
		},
		{
			Name:        ViewSessionProbes,
			Description: "Probe views per session by product and probe: a session's rows are the probes it looked at.",
			Measure:     usage.MeasureProbeViews, Aggregation: AggregationCount,
			TagKeys: []string{usage.AttrProduct, usage.AttrProbeName},
			Window:  session, MaxSeries: 100_000,
		},
		{
			Name:        ViewSearchesDaily,
			Description: "Probe searches per day by product.",
			Measure:     usage.MeasureSearches, Aggregation: AggregationCount,
			TagKeys: []string{usage.AttrProduct}, Window: day,
		},
		{
			Name:        ViewPageViewsDaily,
			Description: "GLAM page views per day.",
			Measure:     usage.MeasurePageViews, Aggregation: AggregationCount,
			Window: day,
		},
		{
			Name:        ViewActionsDaily,
			Description: "Clicks per day by action (the element's data-glean-id) and product.",
			Measure:     usage.MeasureActions, Aggregation: AggregationCount,
			TagKeys: []string{usage.AttrAction, usage.AttrProduct}, Window: day, MaxSeries: 10_000,
		},
		{
			Name:        ViewSessionActions,
			Description: "Clicks per session by action: a session's rows are the controls it used.",
			Measure:     usage.MeasureActions, Aggregation: AggregationCount,
			TagKeys: []string{usage.AttrAction}, Window: session, MaxSeries: 100_000,
		},
	}
}
