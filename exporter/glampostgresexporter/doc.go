//go:generate ../../.tools/mdatagen metadata.yaml

// Package glampostgresexporter stores GLAM usage telemetry in PostgreSQL:
// usage events (log records) in a raw event table partitioned by day, each
// event id once: the event log views are made from; view metrics from the
// glam_views processor (or any delta Sum, Histogram or Gauge) merged
// additively into view rows, each flush once, and a flush made from the
// event log together with its consumer's offset, only from that offset.
package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"
