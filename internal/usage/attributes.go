package usage

// Attribute keys of a usage event (SPEC §3). The event id and name follow the
// OpenTelemetry semantic conventions so that any log backend understands them.
const (
	// AttrEventID is the event's id, stable across client retries
	// (OTel semantic convention log.record.uid).
	AttrEventID = "log.record.uid"
	// AttrEventName is the event's name (OTel semantic convention event.name).
	AttrEventName = "event.name"
	// AttrSessionID is the browser session the event belongs to.
	AttrSessionID = "session.id"
	// AttrSource says which decoding path produced the event: one of the
	// Source* values.
	AttrSource = "glam.source"
	// AttrBrowserFamily is the coarse browser family derived from the user
	// agent ("Firefox", "Chrome", ...); the full user agent is never kept.
	AttrBrowserFamily = "browser.family"

	// GLAM's own attributes, set by the GLAM app on its events.
	AttrProduct      = "glam.product"
	AttrProbeName    = "glam.probe.name"
	AttrProbeProcess = "glam.probe.process"
	AttrChannel      = "glam.channel"
	AttrOS           = "glam.os"
)

// Values of AttrSource.
const (
	SourceOTLPTraces = "otlp_traces"
	SourceOTLPLogs   = "otlp_logs"
	SourceGlean      = "glean"
)

// Scope names mark the data each component emits, so that a downstream
// component can tell usage data from other telemetry sharing a pipeline.
const (
	// EventScope is the instrumentation scope of usage-event log records.
	EventScope = "glam.usage.events"
	// MeasurementScope is the instrumentation scope of measurement metrics.
	MeasurementScope = "glam.usage.measurements"
	// ViewScope is the instrumentation scope of view metrics.
	ViewScope = "glam.usage.views"
	// CounterScope is the instrumentation scope of the running counters
	// glam_viewcounters makes of views for Prometheus and the like.
	CounterScope = "glam.usage.counters"
)

// AttrBatchID is a resource attribute on every batch of view metrics the
// views processor flushes. It is unique per flush and travels unchanged
// through retries and persistent queues, so the exporter can recognise a
// batch it has already applied (together with each data point's view,
// window and tag set, which is unique within one flush).
const AttrBatchID = "glam.views.batch_id"

// Attributes the receiver derives from a page URL through its route
// templates (GLAM's frontend sends no attributes of its own: SPEC §8).
const (
	// AttrView is the probe page's view: "explore" or "table".
	AttrView = "glam.view"
	// AttrPingType is a Glean product's ping type ("*", "metrics",
	// "baseline"), GLAM's counterpart of a desktop probe's process.
	AttrPingType = "glam.ping_type"
	// AttrAggregationLevel is GLAM's "build_id" or "version".
	AttrAggregationLevel = "glam.aggregation_level"
	// AttrRoute is the route template the page URL matched.
	AttrRoute = "glam.route"
	// AttrAction is what a click did: the element's data-glean-id.
	AttrAction = "glam.action"
	// AttrClientEvent is the name the client gave a page load before the
	// receiver named it after the page (glean.page_load, documentLoad).
	AttrClientEvent = "glam.client_event"
)
