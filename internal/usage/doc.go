// Package usage holds the data contract shared by otelcol-glam's components:
// what a usage event looks like as an OpenTelemetry log record, what a
// measurement looks like as an OpenTelemetry metric, and the attribute keys
// both carry. The receiver writes these shapes; the views processor, the
// Postgres exporter and the usage extension read them. Keeping the contract
// in one package means a change to it is one change, seen by every side.
package usage
