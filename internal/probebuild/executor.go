package probebuild

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// A job's attempt goes as river's job executor runs one: execute (the
// build, under a heartbeat that holds the lease), then report its result
// (the rows and the job's completion in one transaction) or its error (a
// retry later, or a failure for good). An attempt that lost its lease
// reports nothing: the job is someone else's now.

// run performs one attempt of j.
func (s *Service) run(ctx context.Context, j *Job) {
	log := s.logger.With(zap.String("job", j.ID), zap.String("build", j.Build.Key()), zap.Int("attempt", j.Attempts))
	log.Info("probe build started")
	jctx, cancel := context.WithTimeout(ctx, s.cfg.JobTimeout)
	defer cancel()
	defer s.running.add(j.ID, cancel)()

	out, lost, err := s.execute(jctx, cancel, j, log)

	bg, cancelBg := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelBg()
	switch {
	case lost || (errors.Is(jctx.Err(), context.Canceled) && ctx.Err() == nil):
		// The heartbeat found the lease gone, or a cancel NOTIFY stopped it.
		log.Info("probe build abandoned: the job was cancelled or taken over")
	case ctx.Err() != nil:
		// Shutting down: hand the job back without counting the attempt.
		if err := s.q.release(bg, j); err != nil {
			log.Warn("probe build: could not release the job at shutdown; its lease will expire", zapErr(err))
		}
	case err != nil:
		if errors.Is(jctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("build timed out after %s: %w", s.cfg.JobTimeout, err)
		}
		s.reportError(bg, j, err, log)
	default:
		s.reportResult(ctx, bg, j, out, log)
	}
}

// execute builds j's rows while a heartbeat renews the lease and reports
// progress; losing the lease (cancel, or another worker took the job)
// cancels jctx, and lost says so.
func (s *Service) execute(jctx context.Context, cancel context.CancelFunc, j *Job, log *zap.Logger) (out Output, lost bool, err error) {
	progress := &progressState{stage: "starting", changed: make(chan struct{}, 1)}
	stop := s.heartbeat(jctx, cancel, j, progress, log)
	defer func() { lost = stop() }()
	builder, err := s.builder.get(jctx)
	if err != nil {
		return Output{}, false, err
	}
	out, err = builder.Build(jctx, j.Build, progress.set)
	return out, false, err
}

// heartbeat renews j's lease every cfg.Heartbeat and at each new stage,
// until stop, which reports whether the lease was lost.
func (s *Service) heartbeat(jctx context.Context, cancel context.CancelFunc, j *Job, progress *progressState, log *zap.Logger) (stop func() (lost bool)) {
	var lost bool
	done := make(chan struct{})
	quit := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(s.cfg.Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
			case <-progress.changed:
			}
			stage, fraction := progress.get()
			if err := s.q.heartbeat(jctx, j, stage, fraction); err != nil {
				if errors.Is(err, errLeaseLost) {
					lost = true
					cancel()
					return
				}
				if jctx.Err() == nil {
					log.Warn("probe build: heartbeat failed", zapErr(err))
				}
			}
		}
	}()
	return func() bool {
		close(quit)
		<-done
		return lost
	}
}

// reportError records a failed attempt: retried later, or failed for good
// when the error is permanent or the attempts are spent.
func (s *Service) reportError(ctx context.Context, j *Job, err error, log *zap.Logger) {
	var perm PermanentError
	permanent := errors.As(err, &perm)
	log.Warn("probe build failed", zapErr(err), zap.Bool("permanent", permanent))
	if ferr := s.q.fail(ctx, j, err, permanent); ferr != nil && !errors.Is(ferr, errLeaseLost) {
		log.Warn("probe build: could not record the failure; the lease will expire", zapErr(ferr))
	}
}

// reportResult commits the rows and the job's completion in one
// transaction, only while this attempt holds the lease: a job's rows are
// written once even when a worker dies or stalls mid-job. Then, in a
// transaction of its own, GLAM's view over the table is refreshed.
func (s *Service) reportResult(ctx, bg context.Context, j *Job, out Output, log *zap.Logger) {
	// The heartbeat has stopped, so the stage is recorded directly; it also
	// renews the lease for the write. A lost lease is caught by lockLease.
	if err := s.q.heartbeat(bg, j, "writing rows", 0.95); err != nil && !errors.Is(err, errLeaseLost) {
		log.Warn("probe build: heartbeat failed", zapErr(err))
	}
	written, vr, err := s.commitRows(bg, j, out)
	switch {
	case errors.Is(err, errLeaseLost):
		log.Info("probe build finished but the job was cancelled or taken over: rows discarded")
	case err != nil:
		s.reportError(bg, j, fmt.Errorf("write rows: %w", err), log)
	default:
		log.Info("probe build succeeded", zap.Int64("rows", written), zap.String("table", out.Table))
		if vr.Status == RefreshPending {
			// ctx, not the job's: a refresh of a large view may outlast
			// job_timeout; shutdown stops it (the job stays pending, for
			// the sweep).
			s.refreshView(ctx, j.ID, vr.Schema, *vr.View)
		}
	}
}

// progressState is the latest progress a build reported, sent with each
// heartbeat.
type progressState struct {
	mu       sync.Mutex
	stage    string
	fraction float64
	changed  chan struct{}
}

func (p *progressState) set(stage string, fraction float64) {
	p.mu.Lock()
	stageChanged := stage != p.stage
	p.stage, p.fraction = stage, fraction
	p.mu.Unlock()
	if stageChanged {
		select {
		case p.changed <- struct{}{}:
		default:
		}
	}
}

func (p *progressState) get() (string, float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stage, p.fraction
}

// commitRows upserts out's rows and marks j succeeded in one transaction,
// only while this attempt holds the lease, and notes there whether GLAM's
// materialized view over the table is to be refreshed.
func (s *Service) commitRows(ctx context.Context, j *Job, out Output) (int64, *ViewRefresh, error) {
	var written int64
	var vr *ViewRefresh
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockLease(ctx, tx, j); err != nil {
			return err
		}
		var err error
		if written, err = writeRows(ctx, tx, out.Table, j.Build.Product != ProductFirefox, out.Rows); err != nil {
			return err
		}
		if vr, err = detectView(ctx, tx, out.Table, s.cfg.ViewRefresh, written); err != nil {
			return err
		}
		return complete(ctx, tx, j, written, out.Versions, vr)
	})
	return written, vr, err
}
