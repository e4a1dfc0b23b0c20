package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/exporter/glampostgresexporter/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/sharedcomponent"
)

// maintenanceInterval is how often partitions are made ahead and expired
// data removed. Days are the unit of both, so hourly is ample.
const maintenanceInterval = time.Hour

// startTimeout bounds the schema work at start; past it the exporter starts
// anyway and retries on export.
const startTimeout = 15 * time.Second

var errNotStarted = errors.New("glam_postgres: exporter is not started")

// db is the pool of a started store. Callers pass it on rather than read
// s.pool again, which close may clear meanwhile.
func (s *store) db() (*pgxpool.Pool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pool == nil {
		return nil, errNotStarted
	}
	return s.pool, nil
}

// store is the PostgreSQL side of one glam_postgres component: the pool and
// the schema state its logs and metrics exporters share.
type store struct {
	cfg       *Config
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	now       func() time.Time

	mu   sync.Mutex
	pool *pgxpool.Pool
	stop context.CancelFunc
	done chan struct{}

	schemaMu    sync.Mutex
	schemaReady bool

	partMu     sync.Mutex
	partitions map[time.Time]bool // days known to have a partition
}

func newStore(set exporter.Settings, cfg *Config) (*store, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &store{cfg: cfg, logger: set.Logger, telemetry: tb, now: time.Now}, nil
}

// Start opens the store, for its first exporter (stores: the logs and
// metrics exporters of one component share it). PostgreSQL being
// unreachable is no reason to fail: exports return retryable errors until
// it is back, and the queue holds the data. A settled error (a refused
// password, a schema newer than this collector) fails the start instead.
func (s *store) Start(ctx context.Context, _ component.Host) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	pool, err := s.cfg.Postgres.New(ctx)
	if err != nil {
		return fmt.Errorf("glam_postgres: %w", err)
	}
	s.pool = pool
	// Bounded, because a blackholed host would otherwise hold the
	// collector's start for as long as TCP keeps trying.
	pctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := s.prepare(pctx, pool); err != nil {
		// Tables missing without create_schema may be someone else's
		// migration still to come: exports wait for them.
		if (settled(err) && !isUndefinedTable(err)) || errors.Is(err, pgschema.ErrSchemaTooNew) {
			pool.Close()
			s.pool = nil
			return fmt.Errorf("glam_postgres: %w", err)
		}
		s.logger.Warn("PostgreSQL is not ready yet; exports will be retried until it is", zap.Error(err))
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	s.stop, s.done = cancel, make(chan struct{})
	go s.maintainEvery(loopCtx, pool, maintenanceInterval)
	return nil
}

// Shutdown closes the store after its last exporter stopped.
func (s *store) Shutdown(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
	<-s.done
	s.pool.Close()
	s.pool = nil
	s.schemaMu.Lock()
	s.schemaReady = false
	s.schemaMu.Unlock()
	s.resetPartitions()
	return nil
}

// prepare readies the database: the schema, then the partitions ahead and
// the retention. It runs at start and is retried until it succeeds.
func (s *store) prepare(ctx context.Context, pool *pgxpool.Pool) error {
	if err := s.ensureSchema(ctx, pool); err != nil {
		return err
	}
	return s.maintain(ctx, pool)
}

// ensureSchema applies the migrations once per start, when create_schema is
// set; otherwise the schema is someone else's job.
func (s *store) ensureSchema(ctx context.Context, pool *pgxpool.Pool) error {
	if !s.cfg.CreateSchema {
		return nil
	}
	s.schemaMu.Lock()
	defer s.schemaMu.Unlock()
	if s.schemaReady {
		return nil
	}
	if err := pgschema.Migrate(ctx, pool); err != nil {
		return err
	}
	s.schemaReady = true
	return nil
}

func (s *store) maintainEvery(ctx context.Context, pool *pgxpool.Pool, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.prepare(ctx, pool); err != nil && ctx.Err() == nil {
				s.logger.Warn("partition maintenance failed; will retry", zap.Error(err))
			}
		}
	}
}

// maintain creates the partitions of today and the days ahead, drops the
// event partitions past retention and deletes expired dedupe records.
func (s *store) maintain(ctx context.Context, pool *pgxpool.Pool) error {
	days := s.acceptedDays()
	today := pgschema.Day(s.now())
	var ahead []time.Time
	for d := today; !d.After(days.last); d = d.AddDate(0, 0, 1) {
		ahead = append(ahead, d)
	}
	if err := s.ensurePartitions(ctx, pool, ahead); err != nil {
		return err
	}
	if !days.first.IsZero() {
		dropped, err := pgschema.DropEventsBefore(ctx, pool, days.first)
		s.forgetPartitionsBefore(days.first)
		if err != nil {
			return err
		}
		if len(dropped) > 0 {
			s.logger.Info("dropped raw event partitions past retention", zap.Strings("partitions", dropped))
		}
	}
	if err := pgschema.ExpireAppliedBatches(ctx, pool, s.now().Add(-s.cfg.ViewRows.BatchRetention)); err != nil {
		return fmt.Errorf("expire applied batches: %w", err)
	}
	return nil
}

func (s *store) acceptedDays() acceptedDays {
	now := s.now()
	a := acceptedDays{last: pgschema.Day(now).AddDate(0, 0, s.cfg.RawEvents.PartitionsAhead)}
	if r := s.cfg.RawEvents.Retention; r > 0 {
		a.first = pgschema.Day(now.Add(-r))
	}
	return a
}

// ensurePartitions creates the partitions of the given days that this
// store has not seen yet.
func (s *store) ensurePartitions(ctx context.Context, pool *pgxpool.Pool, days []time.Time) error {
	s.partMu.Lock()
	defer s.partMu.Unlock()
	var missing []time.Time
	for _, d := range days {
		if !s.partitions[pgschema.Day(d)] {
			missing = append(missing, pgschema.Day(d))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := pgschema.EnsureEventPartitions(ctx, pool, missing); err != nil {
		return err
	}
	if s.partitions == nil {
		s.partitions = map[time.Time]bool{}
	}
	for _, d := range missing {
		s.partitions[d] = true
	}
	return nil
}

func (s *store) forgetPartitionsBefore(first time.Time) {
	s.partMu.Lock()
	defer s.partMu.Unlock()
	for d := range s.partitions {
		if d.Before(first) {
			delete(s.partitions, d)
		}
	}
}

func (s *store) resetPartitions() {
	s.partMu.Lock()
	defer s.partMu.Unlock()
	s.partitions = nil
}

// stores lets the logs and metrics exporters of one component share one
// store, hence one pool and one schema state: the collector hands both the
// same *Config. The store opens with the first exporter's start and closes
// after the last one's shutdown, so that a logs queue draining at shutdown
// still has its pool whichever signal the collector stops first.
var stores = sharedcomponent.NewMap[*Config, *store](func(s *store) { s.telemetry.Shutdown() })

// storeRef is one exporter's hold on its shared store.
type storeRef struct {
	*store
	handle *sharedcomponent.Component[*Config, *store]
	// logger is this exporter's, naming its signal: the store is shared
	// by the logs and metrics exporters, and its own logger is whichever
	// was created first.
	logger *zap.Logger
}

func acquireStore(set exporter.Settings, cfg *Config) (*storeRef, error) {
	h, err := stores.LoadOrStore(cfg, func() (*store, error) { return newStore(set, cfg) })
	if err != nil {
		return nil, err
	}
	return &storeRef{store: h.Unwrap(), handle: h, logger: set.Logger}, nil
}
