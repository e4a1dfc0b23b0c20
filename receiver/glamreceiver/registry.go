package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/receiver"
)

// receivers lets the traces, logs and metrics receivers created for one
// component ID share one glamReceiver, hence one HTTP server and one set of
// event ids: the collector hands every signal of one ID the same *Config.
var receivers = &sharedReceivers{byConfig: map[*Config]*glamReceiver{}}

type sharedReceivers struct {
	mu       sync.Mutex
	byConfig map[*Config]*glamReceiver
}

// attach returns a component for one signal of cfg's receiver, creating the
// receiver on first use; connect wires the signal's consumer.
func (s *sharedReceivers) attach(set receiver.Settings, cfg *Config, connect func(*glamReceiver)) (*sharedComponent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.byConfig[cfg]
	if !ok {
		var err error
		if r, err = newGlamReceiver(set, cfg); err != nil {
			return nil, err
		}
		s.byConfig[cfg] = r
	}
	connect(r)
	return &sharedComponent{receiver: r, owner: s, cfg: cfg}, nil
}

func (s *sharedReceivers) forget(cfg *Config, r *glamReceiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byConfig[cfg] == r {
		delete(s.byConfig, cfg)
	}
}

// sharedComponent is what the factory returns for each signal. Start and
// Shutdown reach the shared receiver once, whichever signal comes first.
type sharedComponent struct {
	receiver *glamReceiver
	owner    *sharedReceivers
	cfg      *Config
}

var _ component.Component = (*sharedComponent)(nil)

func (c *sharedComponent) Start(ctx context.Context, host component.Host) error {
	return c.receiver.start(ctx, host)
}

// Shutdown also forgets the receiver, so that a collector reload building
// new components from the same config gets a fresh one.
func (c *sharedComponent) Shutdown(ctx context.Context) error {
	c.owner.forget(c.cfg, c.receiver)
	return c.receiver.shutdown(ctx)
}
