package pgschema

import "github.com/mozilla/otelcol-glam/internal/usage"

// Tables.
const (
	// EventsTable holds raw usage events, partitioned by day of event_time.
	EventsTable = "glam_usage_events"
	// EventIDsTable holds the id of every stored event, for deduplication.
	EventIDsTable = "glam_usage_event_ids"
	// ViewRowsTable holds view aggregates keyed by view, window and tag set.
	ViewRowsTable = "glam_usage_view_rows"
	// ProbeDaysTable rolls up the view rows that name a probe: counts per
	// view, day or week, product, probe and channel (migration 0010).
	ProbeDaysTable = "glam_usage_probe_days"
	// ProbeSessionDaysTable rolls up the view rows that name a probe and a
	// session so that distinct sessions over a range of days are sums
	// (migration 0010).
	ProbeSessionDaysTable = "glam_usage_probe_session_days"
	// ViewSessionsTable rolls up the view rows that name a session: per
	// view and session, its windows' first and last start, last end,
	// count, and distinct probes (migration 0013).
	ViewSessionsTable = "glam_usage_view_sessions"
	// AppliedBatchesTable records which data point of which flush has been
	// merged into ViewRowsTable.
	AppliedBatchesTable = "glam_usage_applied_batches"
	// LogOffsetsTable holds, per consumer of the event log, the log
	// position its view rows cover.
	LogOffsetsTable = "glam_usage_log_offsets"
	// ViewsTable holds the views created at runtime through the usage
	// API, and where each one's backfill ends.
	ViewsTable = "glam_usage_views"
	// ProbeBuildJobsTable is the probe-build queue: one row per job, its
	// status, lease and progress.
	ProbeBuildJobsTable = "glam_probe_build_jobs"
	// ProbeBuildIdempotencyTable maps Idempotency-Key headers to jobs.
	ProbeBuildIdempotencyTable = "glam_probe_build_idempotency"
	// ProbeLastBuiltTable records when each probe was last built.
	ProbeLastBuiltTable = "glam_probe_last_built"
	// MigrationsTable records the schema versions applied.
	MigrationsTable = "glam_schema_migrations"
)

// EventsChannel is the LISTEN/NOTIFY channel the exporter notifies in every
// transaction that stores new events, so that log consumers wake at its
// commit instead of polling.
const EventsChannel = "glam_usage_events"

// ProbeBuildsChannel is the LISTEN/NOTIFY channel of the probe-build queue:
// "job" when work is queued, "cancel:<id>" when a running job is cancelled.
const ProbeBuildsChannel = "glam_probe_builds"

// GLAMAggregationTable is GLAM's aggregation table (migration 0004, as
// GLAM's own migrations make it) of Firefox desktop's channel when desktop,
// else of the Glean product.
func GLAMAggregationTable(desktop bool, productOrChannel string) string {
	if desktop {
		return "glam_desktop_" + productOrChannel + "_aggregation"
	}
	return "glam_" + productOrChannel + "_aggregation"
}

// ViewsChannel is the LISTEN/NOTIFY channel the usage API notifies when it
// creates or deletes a runtime view, so that every collector's log reader
// starts or stops reading it within moments.
const ViewsChannel = "glam_usage_views"

// Columns of EventsTable, in the order the exporter copies them. The log
// position columns (log_xid, log_seq) are not among them: the database sets
// them (migration 0007).
var EventColumns = []string{
	"event_id", "event_time", "observed_time", "event_name", "session_id",
	"product", "probe_name", "probe_process", "channel", "os", "source",
	"attributes", "resource", "body",
}

// Columns of ViewRowsTable that the exporter writes, in the order it copies
// them; updated_at is set by the database.
var ViewRowColumns = []string{
	"view", "window_start", "tags_hash", "tags", "window_end", "metric_type",
	"count", "sum", "bucket_bounds", "bucket_counts", "min", "max",
	"last_value", "last_value_time",
}

// ViewRowTagColumns are the columns of ViewRowsTable that PostgreSQL derives
// from tags (stored generated columns), by tag key: NULL where the row has no
// such tag. Writers never set them; readers filter, group and index-scan on
// them instead of the jsonb.
var ViewRowTagColumns = map[string]string{
	usage.AttrProduct:   "product",
	usage.AttrProbeName: "probe_name",
	usage.AttrSessionID: "session_id",
}

// Values of the metric_type column of ViewRowsTable: the OTel metric type
// the row was built from, which says which value columns are meaningful.
const (
	// MetricTypeSum rows come from delta Sums: sum is the total; for integer
	// sums (count views) count is the same total.
	MetricTypeSum = "sum"
	// MetricTypeHistogram rows come from delta explicit-bucket Histograms:
	// count, sum, bucket_bounds, bucket_counts, min and max.
	MetricTypeHistogram = "histogram"
	// MetricTypeGauge rows come from Gauges: last_value at last_value_time.
	MetricTypeGauge = "gauge"
)
