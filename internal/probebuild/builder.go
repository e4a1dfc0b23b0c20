package probebuild

import (
	"context"

	"github.com/mozilla/otelcol-glam/internal/probebuild/bigquerybuilder"
)

// The builder's contract is defined with the BigQuery builder, which
// imports nothing of the service; these names keep the service's code and
// its callers in its own terms.
type (
	// Build is what one job builds.
	Build = bigquerybuilder.Build
	// Row is one row of a GLAM aggregate table.
	Row = bigquerybuilder.Row
	// Output is what a build produced.
	Output = bigquerybuilder.Output
	// Progress receives a build's stage and fraction done.
	Progress = bigquerybuilder.Progress
	// PermanentError marks a build failure retrying cannot fix.
	PermanentError = bigquerybuilder.PermanentError
	// BigQueryConfig is the `bigquery:` block: the source tables.
	BigQueryConfig = bigquerybuilder.Config
	// TablesConfig names each product family's source tables.
	TablesConfig = bigquerybuilder.TablesConfig
	// SourceTables are one family's tables and thresholds.
	SourceTables = bigquerybuilder.SourceTables
)

// Products GLAM serves, as the GLAM app names them.
const (
	ProductFirefox = bigquerybuilder.ProductFirefox
	ProductFenix   = bigquerybuilder.ProductFenix
	ProductFOG     = bigquerybuilder.ProductFOG
)

// AggregationTable is the GLAM table a build of b writes.
func AggregationTable(b Build) string { return bigquerybuilder.AggregationTable(b) }

// Builder computes a probe's rows. The service receives it (New's
// connect): the BigQuery builder (bigquerybuilder) is the real one; tests
// and queue benchmarks give builds that wait or do nothing.
type Builder interface {
	Build(ctx context.Context, b Build, progress Progress) (Output, error)
}

// BigQuery connects the service to GLAM ETL's tables in BigQuery, as cfg
// says: the builder glam_usage and glam-probe-builder run.
func BigQuery(cfg BigQueryConfig) Connect {
	return func(ctx context.Context) (Builder, error) { return bigquerybuilder.New(ctx, cfg) }
}
