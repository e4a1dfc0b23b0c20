// Package bigquerybuilder builds one GLAM probe from GLAM ETL's per-client
// daily aggregate tables in BigQuery: one parameterized query per probe kind
// does the heavy aggregation there (sql.go), then GLAM's math runs in Go —
// bucket generators (buckets.go), the Dirichlet fill and percentiles
// (histogram.go), the rows of GLAM's aggregate tables (rows.go).
//
// Its contract with the probe-build service is contract.go: a Build in, an
// Output of Rows back, progress reported as it goes, PermanentError for
// what retrying cannot fix. It imports nothing of the service, which
// receives a Builder as an interface (probebuild.Connect).
package bigquerybuilder // import "github.com/mozilla/otelcol-glam/internal/probebuild/bigquerybuilder"
