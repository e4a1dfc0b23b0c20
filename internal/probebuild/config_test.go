package probebuild

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap/confmaptest"
)

func loadConfig(t *testing.T, name string) Config {
	t.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	sub, err := cm.Sub(name)
	require.NoError(t, err)
	cfg := NewDefaultConfig()
	require.NoError(t, sub.Unmarshal(&cfg))
	return cfg
}

// An empty block gives the defaults README.md documents ("Configuration":
// every option, with its default), written out here as the README states
// them, not taken from the code.
func TestDefaultConfigIsValid(t *testing.T) {
	cfg := loadConfig(t, "defaults")
	require.NoError(t, cfg.Validate())
	assert.Equal(t, Config{
		Workers: 1,
		BigQuery: BigQueryConfig{
			ProjectID:       "moz-fx-data-shared-prod",
			Endpoint:        "",
			CredentialsFile: "",
			Location:        "",
			LookbackDays:    120,
			Tables: TablesConfig{
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
		JobRetention:    720 * time.Hour,
		ViewRefresh:     ViewRefreshConfig{Enabled: true, LockTimeout: time.Minute, MaxAttempts: 3},
		Prefetch: PrefetchConfig{Enabled: false, Interval: time.Hour, Days: 90, Limit: 50,
			NotBuiltWithin: 168 * time.Hour},
	}, cfg)
}

func TestFullConfig(t *testing.T) {
	cfg := loadConfig(t, "full")
	require.NoError(t, cfg.Validate())
	assert.Equal(t, 4, cfg.Workers)
	assert.Equal(t, "glam-etl-runner", cfg.BigQuery.ProjectID)
	assert.Equal(t, "/etc/glam/bigquery.json", cfg.BigQuery.CredentialsFile)
	assert.Equal(t, 90, cfg.BigQuery.LookbackDays)
	// A threshold set for one channel keeps the defaults of the others.
	assert.Equal(t, map[string]int64{"nightly": 375, "beta": 9000, "release": 500000}, cfg.BigQuery.Tables.Firefox.MinBuildClients)
	assert.Equal(t, int64(100), cfg.BigQuery.Tables.Firefox.MinTotalUsers)
	assert.Equal(t, "moz-fx-data-shared-prod.glam_etl.firefox_desktop__clients_daily_histogram_aggregates_{ping_type}_v1",
		cfg.BigQuery.Tables.FOG.Histogram)
	assert.Equal(t, 5*time.Minute, cfg.Lease)
	assert.Equal(t, 30*time.Second, cfg.Heartbeat)
	assert.Equal(t, 5, cfg.MaxAttempts)
	assert.Equal(t, time.Hour, cfg.JobTimeout)
	assert.Equal(t, 12*time.Hour, cfg.FreshFor)
	assert.Equal(t, 7*24*time.Hour, cfg.JobRetention)
	assert.Equal(t, PrefetchConfig{Enabled: true, Interval: 6 * time.Hour, Days: 30, Limit: 20, NotBuiltWithin: 72 * time.Hour}, cfg.Prefetch)
	assert.Equal(t, ViewRefreshConfig{Enabled: true, LockTimeout: 5 * time.Minute, MaxAttempts: 5}, cfg.ViewRefresh)
}

func TestEmulatorConfigNeedsNoCredentials(t *testing.T) {
	cfg := loadConfig(t, "emulator")
	require.NoError(t, cfg.Validate())
	assert.Equal(t, 0, cfg.Workers)
	assert.Equal(t, "http://127.0.0.1:9050", cfg.BigQuery.Endpoint)
	assert.Empty(t, cfg.BigQuery.CredentialsFile)
}

func TestInvalidConfigListsEveryProblem(t *testing.T) {
	cfg := loadConfig(t, "invalid")
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []string{
		"workers must be 0 or more, got -1",
		`bigquery.tables.fenix.histogram: "glam_etl.clients; DROP TABLE x" is not project.dataset.table`,
		`bigquery.tables.fenix.scalar: "p.d.t_{client_id}" has an unknown placeholder`,
		"bigquery.lookback_days must not be negative",
		"heartbeat (8s) must be at most half of lease (10s)",
		"retry_backoff (2h0m0s) exceeds max_retry_backoff (1h0m0s)",
		"max_attempts must be at least 1, got 0",
		"prefetch.interval must be positive",
		"prefetch.days must be at least 1",
		"prefetch.limit must be at least 1",
		"job_retention must be 0 (keep) or at least fresh_for (12h0m0s), got 1h0m0s",
		"view_refresh.lock_timeout must not be negative, got -1s",
		"view_refresh.max_attempts must be at least 1, got 0",
	} {
		assert.ErrorContains(t, err, want)
	}
	cfg.Workers = 1
	assert.ErrorContains(t, cfg.Validate(), "bigquery.project_id is required when workers > 0")
}
