// Package pgschema is the PostgreSQL schema of otelcol-glam's usage data:
// the names of its tables and columns, the embedded, versioned migrations
// that create it, and the daily partitions of the raw event table. The
// glam_postgres exporter writes these tables and the glam_usage extension
// reads them; both name them through this package.
package pgschema
