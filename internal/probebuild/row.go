package probebuild

import (
	"context"
	"time"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// Row is one row of a GLAM aggregate table. Desktop rows use Process; Glean
// rows use AppID, Channel, PingType and BuildDate instead.
type Row struct {
	Version        int64
	OS             string
	BuildID        string
	Process        string
	AppID          string
	Channel        string
	PingType       string
	BuildDate      *time.Time
	Metric         string
	MetricKey      string
	MetricType     string
	ClientAggType  string
	TotalUsers     int64
	TotalSample    int64
	Histogram      string
	Percentiles    string
	NonNormHist    string
	NonNormPercent string
}

// Output is what a build produced: the table its rows go to and the rows.
type Output struct {
	// Table is a GLAM aggregate table, e.g. glam_desktop_nightly_aggregation.
	Table string
	Rows  []Row
	// Versions the build covered (its result is the probe's rows there).
	Versions []int64
}

// Progress receives a build's stage and how far along it is (0..1).
type Progress func(stage string, fraction float64)

// Builder computes a probe's rows. The BigQuery builder is the real one; a
// Builder is an interface so that queue benchmarks can measure the queue
// alone with a build that does nothing.
type Builder interface {
	Build(ctx context.Context, b Build, progress Progress) (Output, error)
}

// PermanentError marks a build failure that retrying cannot fix (the probe
// has no data, a table is missing): the job fails at once.
type PermanentError struct{ Err error }

func (e PermanentError) Error() string { return e.Err.Error() }
func (e PermanentError) Unwrap() error { return e.Err }

// AggregationTable is the GLAM table a build of b writes.
func AggregationTable(b Build) string {
	if b.Product == ProductFirefox {
		return pgschema.GLAMAggregationTable(true, b.Channel)
	}
	return pgschema.GLAMAggregationTable(false, b.Product)
}
