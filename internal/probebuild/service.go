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
	builder *lazyBuilder
	// name identifies this process's workers in leases and errors.
	name string

	wake        *signal
	listenReady chan struct{}
	listening   sync.Once

	// running cancels this process's jobs on a cancel NOTIFY.
	running runningJobs
	// hotlist feeds the prefetch loop; set before Start.
	hotlist HotlistFunc
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// Connect makes the Builder the workers build with. The service calls it
// once, at the first job, so that a process whose workers never build
// never dials BigQuery; an error fails that job, and the next one tries
// again.
type Connect func(ctx context.Context) (Builder, error)

// lazyBuilder is the service's one Builder, made by connect on first use.
type lazyBuilder struct {
	connect Connect
	mu      sync.Mutex
	b       Builder
}

func (l *lazyBuilder) get(ctx context.Context) (Builder, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b == nil {
		b, err := l.connect(ctx)
		if err != nil {
			return nil, PermanentError{Err: err}
		}
		l.b = b
	}
	return l.b, nil
}

// close releases a builder that holds a client.
func (l *lazyBuilder) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.b.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// runningJobs are the cancel functions of the jobs this process runs.
type runningJobs struct {
	mu sync.Mutex
	m  map[string]context.CancelFunc
}

// add registers id's cancel until the returned func removes it.
func (r *runningJobs) add(id string, cancel context.CancelFunc) (remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]context.CancelFunc{}
	}
	r.m[id] = cancel
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.m, id)
	}
}

// cancel stops job id if it runs here.
func (r *runningJobs) cancel(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cancel, ok := r.m[id]; ok {
		cancel()
	}
}

// New checks cfg and prepares a service building with what connect makes
// (BigQuery(cfg.BigQuery) for GLAM's ETL tables); the schema must already
// be migrated (pgschema.Migrate creates the job and aggregation tables).
// The builder is made when the first build starts, so that a collector
// without BigQuery credentials still starts and serves the API; the builds
// then fail, with the reason shown by the status endpoint.
func New(cfg Config, pool *pgxpool.Pool, logger *zap.Logger, connect Connect) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("probe_builds: %w", err)
	}
	if pool == nil {
		return nil, errors.New("probe_builds: no Postgres pool")
	}
	if connect == nil {
		return nil, errors.New("probe_builds: no builder")
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
		builder:     &lazyBuilder{connect: connect},
		name:        fmt.Sprintf("%s:%d:%s", host, os.Getpid(), randomToken()[:6]),
		wake:        newSignal(),
		listenReady: make(chan struct{}),
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
	return s.builder.close()
}

func zapErr(err error) zap.Field { return zap.Error(err) }
