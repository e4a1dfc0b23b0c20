package probebuild

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Config is the extension's `probe_builds:` block, also read by the
// standalone glam-probe-builder.
type Config struct {
	// Workers is how many builds this process runs at once. 0 serves the
	// HTTP API and queues jobs but builds nothing here: a separate
	// glam-probe-builder does.
	Workers int `mapstructure:"workers"`

	BigQuery BigQueryConfig `mapstructure:"bigquery"`

	// Lease is how long a claimed job stays a worker's without a heartbeat;
	// after it the job is taken again by another worker.
	Lease time.Duration `mapstructure:"lease"`
	// Heartbeat is how often a running worker renews its lease and reports
	// progress. It must be well below Lease.
	Heartbeat time.Duration `mapstructure:"heartbeat"`
	// MaxAttempts bounds how many times a job is tried (a lease that
	// expires counts as an attempt) before it fails for good.
	MaxAttempts int `mapstructure:"max_attempts"`
	// RetryBackoff is the wait before the second attempt; it doubles with
	// each further attempt up to MaxRetryBackoff.
	RetryBackoff    time.Duration `mapstructure:"retry_backoff"`
	MaxRetryBackoff time.Duration `mapstructure:"max_retry_backoff"`
	// JobTimeout bounds one attempt of a build.
	JobTimeout time.Duration `mapstructure:"job_timeout"`
	// FreshFor is how long a built probe counts as fresh: a request for it
	// within that time is answered with 303 to the last result instead of a
	// new build.
	FreshFor time.Duration `mapstructure:"fresh_for"`
	// RetryAfter is the poll interval suggested to clients in Retry-After.
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// JobRetention is how long finished jobs (and their status) are kept;
	// 0 keeps them forever. The rows a job wrote stay in GLAM's tables.
	JobRetention time.Duration `mapstructure:"job_retention"`

	Prefetch PrefetchConfig `mapstructure:"prefetch"`

	ViewRefresh ViewRefreshConfig `mapstructure:"view_refresh"`
}

// ViewRefreshConfig: after a build commits its rows, the worker refreshes
// GLAM's materialized view over the table (view_<table>, where GLAM's
// migrations created it), as GLAM's importer does, so that GLAM's app
// reading Postgres shows the probe at once.
type ViewRefreshConfig struct {
	// Enabled refreshes the view; false leaves it to GLAM's next import.
	Enabled bool `mapstructure:"enabled"`
	// LockTimeout bounds the wait for the view's lock, held by another
	// session refreshing it (GLAM's importer); 0 waits as long as it takes.
	// It does not bound the refresh itself.
	LockTimeout time.Duration `mapstructure:"lock_timeout"`
	// MaxAttempts bounds the refreshes tried after transient errors (a lock
	// timeout, a lost connection), retry_backoff apart and doubling.
	MaxAttempts int `mapstructure:"max_attempts"`
}

// PrefetchConfig lets the hotlist queue low-priority builds of the most
// viewed probes not built recently, so that GLAM's ETL can skip them.
type PrefetchConfig struct {
	Enabled bool `mapstructure:"enabled"`
	// Interval between two prefetch rounds.
	Interval time.Duration `mapstructure:"interval"`
	// Days of usage the hotlist ranks probes over.
	Days int `mapstructure:"days"`
	// Limit is how many of the top probes a round considers.
	Limit int `mapstructure:"limit"`
	// NotBuiltWithin skips a probe built more recently than this.
	NotBuiltWithin time.Duration `mapstructure:"not_built_within"`
}

// NewDefaultConfig returns the defaults: one worker, the production GLAM ETL
// tables, prefetch off.
func NewDefaultConfig() Config {
	return Config{
		Workers: 1,
		BigQuery: BigQueryConfig{
			ProjectID:    "moz-fx-data-shared-prod",
			LookbackDays: 120,
			Tables: TablesConfig{
				// Thresholds: GLAM ETL's (bigquery-etl glam templates and
				// glam_extract_* queries).
				Firefox: SourceTables{
					Histogram:       "moz-fx-data-shared-prod.telemetry_derived.clients_daily_histogram_aggregates_v1",
					Scalar:          "moz-fx-data-shared-prod.telemetry_derived.clients_daily_scalar_aggregates_v1",
					MinBuildClients: map[string]int64{"nightly": 375, "beta": 9000, "release": 625000},
					MinTotalUsers:   375,
				},
				Fenix: SourceTables{
					Histogram:       "moz-fx-data-shared-prod.glam_etl.org_mozilla_fenix__clients_daily_histogram_aggregates_{ping_type}_v1",
					Scalar:          "moz-fx-data-shared-prod.glam_etl.org_mozilla_fenix__clients_daily_scalar_aggregates_{ping_type}_v1",
					MinBuildClients: map[string]int64{"nightly": 800, "beta": 2000, "release": 90000},
					MinTotalUsers:   10,
				},
				FOG: SourceTables{
					Histogram:       "moz-fx-data-shared-prod.glam_etl.firefox_desktop__clients_daily_histogram_aggregates_{ping_type}_v1",
					Scalar:          "moz-fx-data-shared-prod.glam_etl.firefox_desktop__clients_daily_scalar_aggregates_{ping_type}_v1",
					MinBuildClients: map[string]int64{"nightly": 50, "beta": 1500, "release": 450000},
					MinTotalUsers:   10,
				},
			},
		},
		Lease:           2 * time.Minute,
		Heartbeat:       15 * time.Second,
		MaxAttempts:     3,
		RetryBackoff:    30 * time.Second,
		MaxRetryBackoff: 10 * time.Minute,
		JobTimeout:      30 * time.Minute,
		FreshFor:        24 * time.Hour,
		RetryAfter:      2 * time.Second,
		JobRetention:    30 * 24 * time.Hour,
		Prefetch: PrefetchConfig{
			Interval:       time.Hour,
			Days:           90,
			Limit:          50,
			NotBuiltWithin: 7 * 24 * time.Hour,
		},
		ViewRefresh: ViewRefreshConfig{
			Enabled:     true,
			LockTimeout: time.Minute,
			MaxAttempts: 3,
		},
	}
}

// tableName is what a configured table must look like: project.dataset.table
// with optional placeholders.
var tableName = regexp.MustCompile(`^[a-zA-Z0-9_-]+\.[a-zA-Z0-9_]+\.[a-zA-Z0-9_{}]+$`)

var placeholders = []string{"{channel}", "{app_id}", "{ping_type}"}

// Validate reports every invalid setting at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers must be 0 or more, got %d", c.Workers))
	}
	if c.Workers > 0 && c.BigQuery.ProjectID == "" {
		errs = append(errs, errors.New("bigquery.project_id is required when workers > 0"))
	}
	for _, f := range []struct {
		name string
		tbl  SourceTables
	}{{"firefox", c.BigQuery.Tables.Firefox}, {"fenix", c.BigQuery.Tables.Fenix}, {"fog", c.BigQuery.Tables.FOG}} {
		for kind, t := range map[string]string{"histogram": f.tbl.Histogram, "scalar": f.tbl.Scalar} {
			if t == "" {
				continue
			}
			if err := checkTable(t); err != nil {
				errs = append(errs, fmt.Errorf("bigquery.tables.%s.%s: %w", f.name, kind, err))
			}
		}
		for ch, n := range f.tbl.MinBuildClients {
			if n < 0 {
				errs = append(errs, fmt.Errorf("bigquery.tables.%s.min_build_clients.%s must not be negative, got %d", f.name, ch, n))
			}
		}
		if f.tbl.MinTotalUsers < 0 {
			errs = append(errs, fmt.Errorf("bigquery.tables.%s.min_total_users must not be negative, got %d", f.name, f.tbl.MinTotalUsers))
		}
	}
	if c.BigQuery.LookbackDays < 0 {
		errs = append(errs, fmt.Errorf("bigquery.lookback_days must not be negative, got %d", c.BigQuery.LookbackDays))
	}
	positive := []struct {
		name string
		d    time.Duration
	}{
		{"lease", c.Lease}, {"heartbeat", c.Heartbeat}, {"retry_backoff", c.RetryBackoff},
		{"max_retry_backoff", c.MaxRetryBackoff}, {"job_timeout", c.JobTimeout}, {"retry_after", c.RetryAfter},
	}
	for _, p := range positive {
		if p.d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", p.name, p.d))
		}
	}
	if c.Heartbeat > 0 && c.Lease > 0 && c.Heartbeat*2 > c.Lease {
		errs = append(errs, fmt.Errorf("heartbeat (%s) must be at most half of lease (%s), or a live worker loses its job", c.Heartbeat, c.Lease))
	}
	if c.MaxRetryBackoff > 0 && c.RetryBackoff > c.MaxRetryBackoff {
		errs = append(errs, fmt.Errorf("retry_backoff (%s) exceeds max_retry_backoff (%s)", c.RetryBackoff, c.MaxRetryBackoff))
	}
	if c.MaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("max_attempts must be at least 1, got %d", c.MaxAttempts))
	}
	if c.FreshFor < 0 {
		errs = append(errs, fmt.Errorf("fresh_for must not be negative, got %s", c.FreshFor))
	}
	if c.JobRetention < 0 || (c.JobRetention > 0 && c.JobRetention < c.FreshFor) {
		errs = append(errs, fmt.Errorf("job_retention must be 0 (keep) or at least fresh_for (%s), got %s", c.FreshFor, c.JobRetention))
	}
	if p := c.Prefetch; p.Enabled {
		if p.Interval <= 0 {
			errs = append(errs, fmt.Errorf("prefetch.interval must be positive, got %s", p.Interval))
		}
		if p.Days < 1 {
			errs = append(errs, fmt.Errorf("prefetch.days must be at least 1, got %d", p.Days))
		}
		if p.Limit < 1 {
			errs = append(errs, fmt.Errorf("prefetch.limit must be at least 1, got %d", p.Limit))
		}
		if p.NotBuiltWithin < 0 {
			errs = append(errs, fmt.Errorf("prefetch.not_built_within must not be negative, got %s", p.NotBuiltWithin))
		}
	}
	if v := c.ViewRefresh; v.Enabled {
		if v.LockTimeout < 0 {
			errs = append(errs, fmt.Errorf("view_refresh.lock_timeout must not be negative, got %s", v.LockTimeout))
		}
		if v.MaxAttempts < 1 {
			errs = append(errs, fmt.Errorf("view_refresh.max_attempts must be at least 1, got %d", v.MaxAttempts))
		}
	}
	return errors.Join(errs...)
}

func checkTable(t string) error {
	if !tableName.MatchString(t) {
		return fmt.Errorf("%q is not project.dataset.table", t)
	}
	rest := t
	for _, p := range placeholders {
		rest = strings.ReplaceAll(rest, p, "")
	}
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("%q has an unknown placeholder; known: %s", t, strings.Join(placeholders, ", "))
	}
	return nil
}
