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
	// EventGleanPageLoad is Glean.js's automatic page-load event.
	EventGleanPageLoad = "glean.page_load"

	// AnyEvent in a measure's `event` matches every event.
	AnyEvent = "*"
)

// Default measures.
const (
	MeasureProbeViews = "glam.probe_views"
	MeasureSearches   = "glam.searches"
	MeasurePageViews  = "glam.page_views"
	MeasureEvents     = "glam.events"
)
