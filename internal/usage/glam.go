package usage

// Names of the events the GLAM app sends, and of the measures the receiver
// derives from them by default. The receiver's default `measures` and the
// sample views in testdata/ are written against these names.
const (
	// EventProbeView: a person looked at a probe. Carries glam.product,
	// glam.probe.name, glam.probe.process, glam.channel and glam.os.
	EventProbeView = "probe.view"
	// EventProbeSearch: a person searched for probes.
	EventProbeSearch = "probe.search"
	// EventPageView: a page of the GLAM app was shown.
	EventPageView = "page.view"
	// EventGleanPageLoad is Glean.js's automatic page-load event; the
	// receiver names it after the page it loaded (EventProbeView or
	// EventPageView).
	EventGleanPageLoad = "glean.page_load"
	// EventGleanElementClick is Glean.js's automatic click event, on an
	// element with a data-glean-id, -type or -label; its id is the
	// event's AttrAction.
	EventGleanElementClick = "glean.element_click"
	// EventDocumentLoad is the span the OpenTelemetry JS document-load
	// instrumentation records for a full page load.
	EventDocumentLoad = "documentLoad"

	// AnyEvent in a measure's `event` matches every event.
	AnyEvent = "*"
)

// Default measures.
const (
	MeasureProbeViews = "glam.probe_views"
	MeasureSearches   = "glam.searches"
	MeasurePageViews  = "glam.page_views"
	MeasureEvents     = "glam.events"
	MeasureActions    = "glam.actions"
)

// Names of GLAM's default views (the glam_views processor's defaults): the
// usage API queries its answers from their rows by these names.
const (
	ViewProbeViewsHourly   = "glam.probe_views.hourly"
	ViewProbeViewsDaily    = "glam.probe_views.daily"
	ViewProbeSessionsDaily = "glam.probe_sessions.daily"
	ViewSessions           = "glam.sessions"
	ViewSessionProbes      = "glam.session_probes"
	ViewSearchesDaily      = "glam.searches.daily"
	ViewPageViewsDaily     = "glam.page_views.daily"
	ViewActionsDaily       = "glam.actions.daily"
	ViewSessionActions     = "glam.session_actions"
)
