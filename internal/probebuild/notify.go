package probebuild

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// signal wakes every waiting worker at once: waiters take the current
// channel, broadcast closes it and starts a new one.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) wait() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *signal) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

// listen holds a connection LISTENing on pgschema.ProbeBuildsChannel until ctx ends: "job"
// wakes the workers, "cancel:<id>" stops that job if it runs here. After a
// lost connection it reconnects and wakes the workers, since notifications
// sent meanwhile are gone.
func (s *Service) listen(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.logger.Warn("probe builds: lost the LISTEN connection; reconnecting", zapErr(err))
		s.wake.broadcast()
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

func (s *Service) listenOnce(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgschema.ProbeBuildsChannel); err != nil {
		return err
	}
	s.listening.Do(func() { close(s.listenReady) })
	// Jobs queued while we were not listening.
	s.wake.broadcast()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if id, ok := strings.CutPrefix(n.Payload, "cancel:"); ok {
			s.running.cancel(id)
			continue
		}
		s.wake.broadcast()
	}
}
