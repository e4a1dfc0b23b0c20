package probebuild

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// PathPrefix is where Handler serves: POST PathPrefix, GET/DELETE
// PathPrefix/{id}, GET PathPrefix/{id}/result.
const PathPrefix = "/api/v1/probe-builds"

// Service is the probe-build API and its workers, on one Postgres pool.
type Service struct {
	cfg    Config
	pool   *pgxpool.Pool
	logger *zap.Logger
}

// New checks cfg and prepares a service; the schema must already be
// migrated (pgschema.Migrate creates the job and aggregation tables).
func New(cfg Config, pool *pgxpool.Pool, logger *zap.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("probe_builds: %w", err)
	}
	if pool == nil {
		return nil, errors.New("probe_builds: no Postgres pool")
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Service{cfg: cfg, pool: pool, logger: logger}, nil
}

// Handler serves the probe-build API under PathPrefix.
func (s *Service) Handler() http.Handler {
	return http.NotFoundHandler()
}

// Start starts cfg.Workers workers (none when 0) and, when enabled, the
// prefetch loop. It returns once they run.
func (s *Service) Start(ctx context.Context) error {
	return nil
}

// Shutdown stops the workers; a build in progress is abandoned and its job
// released, so another worker takes it again.
func (s *Service) Shutdown(ctx context.Context) error {
	return nil
}

// QueueDepth counts the jobs waiting and running, for the usage status
// endpoint.
func QueueDepth(ctx context.Context, pool *pgxpool.Pool) (queued, running int64, err error) {
	return 0, 0, errors.New("not implemented yet")
}

// HotlistFunc returns the most viewed probes of the last days, best first,
// at most limit: the usage extension's hotlist.
type HotlistFunc func(ctx context.Context, days, limit int) ([]Request, error)

// SetHotlist gives the prefetch loop its source of probes; call it before
// Start. Without it, prefetch does nothing.
func (s *Service) SetHotlist(fn HotlistFunc) {}

// EnqueuePrefetch queues low-priority builds of reqs, skipping any probe
// built within cfg.Prefetch.NotBuiltWithin or already queued or running. It
// returns how many jobs it queued.
func (s *Service) EnqueuePrefetch(ctx context.Context, reqs []Request) (int, error) {
	return 0, errors.New("not implemented yet")
}
