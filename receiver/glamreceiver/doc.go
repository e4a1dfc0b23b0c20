//go:generate ../../.tools/mdatagen metadata.yaml

// Package glamreceiver receives GLAM's usage telemetry from browsers: OTLP/HTTP
// traces, logs and metrics from the OpenTelemetry JS web SDK, and Glean.js
// pings. Spans, log records and Glean events become usage events (log
// records, see internal/usage), which feed the logs pipeline only; spans also
// pass on to a traces pipeline, and the client's own OTLP metrics to a metrics
// pipeline. The receiver derives no measurements: the glam_eventlog receiver
// derives them from the committed event log, so that each event is counted
// once. The receiver is first-party: it is meant to be served from GLAM's own
// origin under a path no ad-block list matches.
package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"
