package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/pgpool"
)

// NewFactory creates the glam_postgres exporter factory.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(
		metadata.Type,
		createDefaultConfig,
		exporter.WithLogs(createLogs, metadata.LogsStability),
		exporter.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		TimeoutConfig: exporterhelper.NewDefaultTimeoutConfig(),
		QueueConfig:   configoptional.Some(defaultQueueConfig()),
		BackOffConfig: configretry.NewDefaultBackOffConfig(),
		Postgres: pgpool.Config{
			MaxConns:        10,
			MaxConnLifetime: time.Hour,
			MaxConnIdleTime: 30 * time.Minute,
		},
		CreateSchema: true,
		RawEvents: RawEventsConfig{
			Retention:       90 * day,
			PartitionsAhead: 3,
		},
		ViewRows: ViewRowsConfig{
			BatchRetention: 7 * day,
			Timeout:        defaultViewRowsTimeout,
		},
	}
}

// defaultQueueConfig is exporterhelper's queue, batching: a browser sends a
// few events a request, and a transaction for each is what PostgreSQL
// cannot keep up with (on the shared bench the queue filled and the
// receiver answered 503 to one request in ten). Requests merge for up to
// flush_timeout (200 ms) into transactions of 1 000 to 5 000 events. A
// batch is stored or retried whole; the id table keeps it exactly once
// however its requests were merged.
func defaultQueueConfig() exporterhelper.QueueBatchConfig {
	q := exporterhelper.NewDefaultQueueConfig()
	b := exporterhelper.NewDefaultBatchConfig()
	b.MinSize = 1000
	b.MaxSize = 5000
	q.Batch = configoptional.Some(b)
	return q
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c := cfg.(*Config)
	s, err := acquireStore(set, c)
	if err != nil {
		return nil, err
	}
	opts := append(helperOptions(c, s, c.TimeoutConfig), exporterhelper.WithQueue(c.QueueConfig))
	return exporterhelper.NewLogs(ctx, set, cfg, s.pushLogs, opts...)
}

func createMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c := cfg.(*Config)
	s, err := acquireStore(set, c)
	if err != nil {
		return nil, err
	}
	// Metrics go without sending_queue: view batches from the event log
	// must reach the database while their sender waits, so that a batch
	// that does not start at its consumer's offset is refused to the views
	// processor, and its consumer reads again from the offset. The log is
	// their durable queue; a queue here would acknowledge batches before
	// their fate is known (and could merge or split them across log
	// ranges). No WithQueue at all: given an empty one, exporterhelper
	// would advise enabling sending_queue in every failure it logs.
	return exporterhelper.NewMetrics(ctx, set, cfg, s.pushMetrics,
		helperOptions(c, s, exporterhelper.TimeoutConfig{Timeout: c.ViewRows.Timeout})...)
}

// defaultViewRowsTimeout is view_rows.timeout's default: a flush merges
// once a flush_interval, so a long merge costs latency, not throughput.
const defaultViewRowsTimeout = time.Minute

// helperOptions are the options both signals share: the signal's timeout,
// retry (permanent errors, a log position conflict among them, are not
// retried) and the store's start and shutdown.
func helperOptions(cfg *Config, s *storeRef, timeout exporterhelper.TimeoutConfig) []exporterhelper.Option {
	return []exporterhelper.Option{
		exporterhelper.WithTimeout(timeout),
		exporterhelper.WithRetry(cfg.BackOffConfig),
		exporterhelper.WithStart(s.handle.Start),
		exporterhelper.WithShutdown(s.handle.Shutdown),
	}
}
