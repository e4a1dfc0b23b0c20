package probebuild

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// HotlistFunc returns the most viewed probes of the last days, best first,
// at most limit: the usage extension's hotlist.
type HotlistFunc func(ctx context.Context, days, limit int) ([]Request, error)

// SetHotlist gives the prefetch loop its source of probes; call it before
// Start (the loop reads it without a lock). Without it, prefetch does
// nothing.
func (s *Service) SetHotlist(fn HotlistFunc) { s.hotlist = fn }

func (s *Service) prefetching() bool {
	return s.cfg.Prefetch.Enabled && s.hotlist != nil
}

// EnqueuePrefetch queues low-priority builds of reqs, skipping requests
// that are invalid, probes built within cfg.Prefetch.NotBuiltWithin, and
// builds already queued or running. It returns how many jobs it queued.
func (s *Service) EnqueuePrefetch(ctx context.Context, reqs []Request) (int, error) {
	queued := 0
	var errs []error
	for _, r := range reqs {
		if err := r.Normalize(); err != nil {
			errs = append(errs, fmt.Errorf("prefetch %s/%s: %w", r.Product, r.Probe, err))
			continue
		}
		recent, err := s.builtWithin(ctx, r.Build(), s.cfg.Prefetch.NotBuiltWithin)
		if err != nil {
			return queued, err
		}
		if recent {
			continue
		}
		res, err := s.q.enqueue(ctx, r, PriorityPrefetch, "")
		if err != nil {
			return queued, err
		}
		if res.Created {
			queued++
		}
	}
	return queued, errors.Join(errs...)
}

// builtWithin reports whether the probe of b was last built less than d ago.
func (s *Service) builtWithin(ctx context.Context, b Build, d time.Duration) (bool, error) {
	var recent bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgschema.ProbeLastBuiltTable+`
		WHERE product = $1 AND channel = $2 AND app_id = $3 AND ping_type = $4 AND probe = $5
		AND built_at > now() - $6::interval)`, b.Product, b.Channel, b.AppID, b.PingType, b.Probe, d).Scan(&recent)
	return recent, err
}

func (s *Service) prefetchLoop(ctx context.Context) {
	p := s.cfg.Prefetch
	for {
		reqs, err := s.hotlist(ctx, p.Days, p.Limit)
		if err == nil {
			var n int
			n, err = s.EnqueuePrefetch(ctx, reqs)
			s.logger.Info("probe builds: prefetch round", zap.Int("hot_probes", len(reqs)), zap.Int("queued", n))
		}
		if err != nil && ctx.Err() == nil {
			s.logger.Warn("probe builds: prefetch round", zapErr(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.Interval):
		}
	}
}
