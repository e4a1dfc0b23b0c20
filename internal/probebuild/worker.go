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

// work claims and runs jobs until ctx ends. Between jobs it sleeps until a
// NOTIFY, the next backoff expiry, or the next lease check, whichever comes
// first: no busy polling.
func (s *Service) work(ctx context.Context, worker string) {
	checkLeases := time.Now()
	for ctx.Err() == nil {
		woken := s.wake.wait()
		if !time.Now().Before(checkLeases) {
			if n, err := s.q.reclaimExpired(ctx); err != nil {
				s.logWaitErr(ctx, "reclaim expired leases", err)
			} else if n > 0 {
				s.logger.Warn("probe builds: took back jobs whose worker stopped", zap.Int64("jobs", n))
			}
			if _, err := s.q.deleteExpired(ctx); err != nil {
				s.logWaitErr(ctx, "delete expired jobs", err)
			}
			s.sweepRefreshes(ctx)
			checkLeases = time.Now().Add(s.cfg.Lease / 2)
		}
		j, err := s.q.claim(ctx, worker)
		if err != nil {
			s.logWaitErr(ctx, "claim a job", err)
			sleep(ctx, time.Second)
			continue
		}
		if j != nil {
			s.run(ctx, j)
			continue
		}
		until := checkLeases
		if next, ok, err := s.q.nextRunAfter(ctx); err == nil && ok && next.Before(until) {
			until = next
		}
		select {
		case <-ctx.Done():
		case <-woken:
		case <-time.After(time.Until(until)):
		}
	}
}

func (s *Service) logWaitErr(ctx context.Context, what string, err error) {
	if ctx.Err() == nil {
		s.logger.Warn("probe builds: "+what, zapErr(err))
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
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

// run performs one attempt of j. While it builds, a heartbeat renews the
// lease and reports progress; losing the lease (cancel, or another worker
// took the job) stops the build. The rows and the job's completion commit in
// one transaction, and only while this attempt holds the lease: a job's rows
// are written once even when a worker dies or stalls mid-job.
func (s *Service) run(ctx context.Context, j *Job) {
	log := s.logger.With(zap.String("job", j.ID), zap.String("build", j.Build.Key()), zap.Int("attempt", j.Attempts))
	log.Info("probe build started")
	jctx, cancel := context.WithTimeout(ctx, s.cfg.JobTimeout)
	defer cancel()
	s.mu.Lock()
	s.running[j.ID] = cancel
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.running, j.ID)
		s.mu.Unlock()
	}()

	progress := &progressState{stage: "starting", changed: make(chan struct{}, 1)}
	var lost error
	beatDone := make(chan struct{})
	stopBeat := make(chan struct{})
	go func() {
		defer close(beatDone)
		tick := time.NewTicker(s.cfg.Heartbeat)
		defer tick.Stop()
		for {
			select {
			case <-stopBeat:
				return
			case <-tick.C:
			case <-progress.changed:
			}
			stage, fraction := progress.get()
			if err := s.q.heartbeat(jctx, j, stage, fraction); err != nil {
				if errors.Is(err, errLeaseLost) {
					lost = err
					cancel()
					return
				}
				if jctx.Err() == nil {
					log.Warn("probe build: heartbeat failed", zapErr(err))
				}
			}
		}
	}()
	builder, err := s.getBuilder(jctx)
	var out Output
	if err == nil {
		out, err = builder.Build(jctx, j.Build, progress.set)
	}
	close(stopBeat)
	<-beatDone

	bg, cancelBg := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelBg()
	switch {
	case lost != nil || (errors.Is(jctx.Err(), context.Canceled) && ctx.Err() == nil):
		// The heartbeat found the lease gone, or a cancel NOTIFY stopped it.
		log.Info("probe build abandoned: the job was cancelled or taken over")
		return
	case ctx.Err() != nil:
		// Shutting down: hand the job back without counting the attempt.
		if err := s.q.release(bg, j); err != nil {
			log.Warn("probe build: could not release the job at shutdown; its lease will expire", zapErr(err))
		}
		return
	case err != nil:
		if errors.Is(jctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("build timed out after %s: %w", s.cfg.JobTimeout, err)
		}
		var perm PermanentError
		permanent := errors.As(err, &perm)
		log.Warn("probe build failed", zapErr(err), zap.Bool("permanent", permanent))
		if ferr := s.q.fail(bg, j, err, permanent); ferr != nil && !errors.Is(ferr, errLeaseLost) {
			log.Warn("probe build: could not record the failure; the lease will expire", zapErr(ferr))
		}
		return
	}
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
		log.Warn("probe build: writing rows failed", zapErr(err))
		if ferr := s.q.fail(bg, j, fmt.Errorf("write rows: %w", err), false); ferr != nil && !errors.Is(ferr, errLeaseLost) {
			log.Warn("probe build: could not record the failure; the lease will expire", zapErr(ferr))
		}
	default:
		log.Info("probe build succeeded", zap.Int64("rows", written), zap.String("table", out.Table))
		if vr.Status == RefreshPending {
			// After the commit, in a transaction of its own: see
			// refreshView. ctx, not the job's: a refresh of a large view
			// may outlast job_timeout; shutdown stops it (the job stays
			// pending, for the sweep).
			s.refreshView(ctx, j.ID, vr.Schema, *vr.View)
		}
	}
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
