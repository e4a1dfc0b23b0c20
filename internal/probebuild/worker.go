package probebuild

import (
	"context"
	"time"

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
