package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/mozilla/otelcol-glam/internal/pgpool"
)

// Config is the glam_postgres exporter's configuration.
type Config struct {
	TimeoutConfig exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueConfig is the logs exporter's sending queue. The metrics
	// exporter has none: view batches from the event log are exported
	// synchronously, so that a log position conflict reaches their sender.
	QueueConfig   configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	BackOffConfig configretry.BackOffConfig                                `mapstructure:"retry_on_failure"`

	// Postgres is `dsn` and the pool's size, shared by the exporter's logs
	// and metrics pipelines.
	Postgres pgpool.Config `mapstructure:",squash"`

	// CreateSchema applies the embedded migrations at start.
	CreateSchema bool `mapstructure:"create_schema"`

	RawEvents RawEventsConfig `mapstructure:"raw_events"`
	ViewRows  ViewRowsConfig  `mapstructure:"view_rows"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// RawEventsConfig governs the raw event table's daily partitions.
type RawEventsConfig struct {
	// Retention is how long events are kept, counted in whole days: the
	// partitions of days entirely older than it are dropped. 0 keeps
	// events forever.
	Retention time.Duration `mapstructure:"retention"`
	// PartitionsAhead is how many days after today have a partition
	// created in advance; events up to that day are accepted.
	PartitionsAhead int `mapstructure:"partitions_ahead"`
}

// ViewRowsConfig governs the view rows' deduplication records.
type ViewRowsConfig struct {
	// BatchRetention is how long the record of a merged flush is kept. A
	// batch replayed later than that (from a persistent queue restored
	// after a longer outage) would be merged again.
	BatchRetention time.Duration `mapstructure:"batch_retention"`
	// Timeout is the time limit of one view batch's merge (one
	// transaction), in place of timeout, which the raw events keep. A
	// views batch is sent again unchanged until it merges (its log range
	// makes it exactly once), so a limit shorter than its merge would
	// stall the views for good; on the 2-core bench machine a flush of
	// 10 000 series took over 5 s to merge.
	Timeout time.Duration `mapstructure:"timeout"`
}

const day = 24 * time.Hour

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	// dsn and the pool options are checked by pgpool.Config's own Validate,
	// which the collector calls on every nested config.
	var errs []error
	if r := cfg.RawEvents.Retention; r != 0 && (r < day || r%day != 0) {
		errs = append(errs, fmt.Errorf("raw_events.retention must be 0 (keep forever) or a whole number of days (a multiple of 24h), got %s", r))
	}
	if a := cfg.RawEvents.PartitionsAhead; a < 0 || a > 366 {
		errs = append(errs, fmt.Errorf("raw_events.partitions_ahead must be between 0 and 366, got %d", a))
	}
	if cfg.ViewRows.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("view_rows.timeout must be positive, got %s", cfg.ViewRows.Timeout))
	}
	if cfg.ViewRows.BatchRetention < time.Hour {
		errs = append(errs, fmt.Errorf("view_rows.batch_retention must be at least 1h, got %s", cfg.ViewRows.BatchRetention))
	}
	return errors.Join(errs...)
}
