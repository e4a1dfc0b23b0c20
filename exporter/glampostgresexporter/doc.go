//go:generate ../../.tools/mdatagen metadata.yaml

// Package glampostgresexporter stores GLAM usage telemetry in PostgreSQL:
// usage events (log records) in a raw event table partitioned by day, each
// event id once; view metrics from the glam_views processor (or any delta
// Sum, Histogram or Gauge) merged additively into view rows, each flush once.
package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"
