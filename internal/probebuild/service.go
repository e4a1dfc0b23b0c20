package probebuild

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

// PathPrefix is where Handler serves: POST PathPrefix, GET/DELETE
// PathPrefix/{id}, GET PathPrefix/{id}/result.
const PathPrefix = "/api/v1/probe-builds"

// Service is the probe-build API and its workers, on one Postgres pool.
type Service struct {
	cfg     Config
	pool    *pgxpool.Pool
	logger  *zap.Logger
	q       *queue
	builder Builder
	// name identifies this process's workers in leases and errors.
	name string

	wake        *signal
	listenReady chan struct{}
	listening   sync.Once

	mu      sync.Mutex
	running map[string]context.CancelFunc
	hotlist HotlistFunc
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// New checks cfg and prepares a service; the schema must already be
// migrated (pgschema.Migrate creates the job and aggregation tables). The
// BigQuery client is made when the first build starts, so that a collector
// without BigQuery credentials still starts and serves the API; the builds
// then fail, with the reason shown by the status endpoint.
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
	host, _ := os.Hostname()
	return &Service{
		cfg:         cfg,
		pool:        pool,
		logger:      logger,
		q:           &queue{pool: pool, cfg: cfg},
		name:        fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomToken()[:6]),
		wake:        newSignal(),
		listenReady: make(chan struct{}),
		running:     map[string]context.CancelFunc{},
	}, nil
}

// Routes registers the probe-build API, under PathPrefix, on the mux of
// the HTTP server that serves it (glam_usage's, beside the usage API).
func (s *Service) Routes(mux *http.ServeMux) {
	(&handler{s: s}).routes(mux)
}

// Start starts cfg.Workers workers (none when 0) and, when enabled, the
// prefetch loop. It does not wait for Postgres: workers that cannot reach
// it retry, and look for queued jobs as soon as they can.
func (s *Service) Start(ctx context.Context) error {
	if s.cfg.Workers == 0 && !s.prefetching() {
		return nil
	}
	// The service outlives Start's ctx (a component's Start context ends
	// when Start returns); Shutdown stops it.
	runCtx, stop := context.WithCancel(context.Background())
	s.stop = stop
	if s.cfg.Workers > 0 {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.listen(runCtx) }()
		for i := range s.cfg.Workers {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.work(runCtx, fmt.Sprintf("%s#%d", s.name, i)) }()
		}
	}
	if s.prefetching() {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.prefetchLoop(runCtx) }()
	}
	return nil
}

// Shutdown stops the workers; a build in progress is abandoned and its job
// handed back to the queue, so another worker takes it at once.
func (s *Service) Shutdown(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	s.stop()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.builder.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// getBuilder returns the builder, connecting to BigQuery on first use.
func (s *Service) getBuilder(ctx context.Context) (Builder, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.builder == nil {
		b, err := NewBigQueryBuilder(ctx, s.cfg.BigQuery)
		if err != nil {
			return nil, PermanentError{err}
		}
		s.builder = b
	}
	return s.builder, nil
}

// cancelLocal stops job id if one of this process's workers runs it.
func (s *Service) cancelLocal(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cancel, ok := s.running[id]; ok {
		cancel()
	}
}

func zapErr(err error) zap.Field { return zap.Error(err) }
