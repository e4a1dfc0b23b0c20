package bigquerybuilder

import (
	"fmt"
	"strings"
	"time"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// Products GLAM serves, as the GLAM app names them.
const (
	ProductFirefox = "firefox" // legacy desktop telemetry (main ping)
	ProductFenix   = "fenix"
	ProductFOG     = "fog"
)

// Build is what a job computes: every row of one probe (all os, builds,
// processes, keys, '*' rows) over the latest versions. Requests that differ
// only in os, process or aggregation_level share a build; those only choose
// which of its rows the result shows.
type Build struct {
	Product  string `json:"product"`
	Channel  string `json:"channel"`
	AppID    string `json:"app_id,omitempty"`
	PingType string `json:"ping_type,omitempty"`
	Probe    string `json:"probe"`
	Versions int    `json:"versions"`
}

// Key identifies a build: two requests with the same key are one job.
func (b Build) Key() string {
	return strings.Join([]string{b.Product, b.Channel, b.AppID, b.PingType, b.Probe, fmt.Sprint(b.Versions)}, "/")
}

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

// Config says where the per-client daily aggregate tables are.
type Config struct {
	// ProjectID is the project queries run (and are billed) in.
	ProjectID string `mapstructure:"project_id"`
	// Endpoint is set only for an emulator; then no credentials are used.
	Endpoint string `mapstructure:"endpoint"`
	// CredentialsFile is a service-account key; empty uses the
	// application default credentials.
	CredentialsFile string `mapstructure:"credentials_file"`
	// Location of the datasets ("US", "EU"); empty lets BigQuery decide.
	Location string `mapstructure:"location"`
	// LookbackDays bounds the submission dates a build reads (the tables
	// are partitioned by submission_date, so this bounds the bytes scanned
	// too); 0 reads every date.
	LookbackDays int `mapstructure:"lookback_days"`
	// Tables are the source tables per product family.
	Tables TablesConfig `mapstructure:"tables"`
}

// TablesConfig names the source tables of each product family. A table name
// is `project.dataset.table`; it may hold the placeholders {channel},
// {app_id} and {ping_type}, replaced by the request's values (which must be
// plain lowercase identifiers, so a request can never inject SQL).
type TablesConfig struct {
	Firefox SourceTables `mapstructure:"firefox"`
	Fenix   SourceTables `mapstructure:"fenix"`
	FOG     SourceTables `mapstructure:"fog"`
}

// SourceTables are one family's per-client daily aggregate tables and the
// thresholds GLAM's ETL applies to them.
type SourceTables struct {
	// Histogram: GLAM ETL's clients_daily_histogram_aggregates.
	Histogram string `mapstructure:"histogram"`
	// Scalar: GLAM ETL's clients_daily_scalar_aggregates.
	Scalar string `mapstructure:"scalar"`
	// MinBuildClients is, per channel, how many distinct clients a build
	// needs for its own rows (fewer: only its '*' rows count it).
	MinBuildClients map[string]int64 `mapstructure:"min_build_clients"`
	// MinTotalUsers drops rows with this many users or fewer, as the ETL's
	// extract does.
	MinTotalUsers int64 `mapstructure:"min_total_users"`
}

// For returns the source tables of a product.
func (t TablesConfig) For(product string) SourceTables {
	switch product {
	case ProductFenix:
		return t.Fenix
	case ProductFOG:
		return t.FOG
	default:
		return t.Firefox
	}
}
