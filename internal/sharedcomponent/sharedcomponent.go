// Package sharedcomponent lets the components the collector creates for
// each signal of one component ID share one instance: the glam receiver's
// HTTP server (traces, logs, metrics) and the glam_postgres exporter's pool
// and schema state (logs, metrics).
//
// It follows the collector's own internal/sharedcomponent (one instance per
// key, started once), with one difference: the instance stops when the
// last of the handles that started it shuts down, not at the first
// Shutdown. The collector stops a component's signals in no set order, and
// an exporter draining its queue at shutdown must still have its pool
// while another signal's exporter has already stopped.
package sharedcomponent // import "github.com/mozilla/otelcol-glam/internal/sharedcomponent"

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
)

// Lifecycle is the shared instance: started by the first handle's Start,
// shut down after the last started handle's Shutdown.
type Lifecycle interface {
	Start(ctx context.Context, host component.Host) error
	Shutdown(ctx context.Context) error
}

// Map holds one instance per key: the collector hands every signal of one
// component ID the same *Config, the usual key.
type Map[K comparable, V Lifecycle] struct {
	mu      sync.Mutex
	entries map[K]*entry[V]
	release func(V)
}

// NewMap returns an empty map; release, when not nil, is called with an
// instance once its last handle has shut down and it left the map.
func NewMap[K comparable, V Lifecycle](release func(V)) *Map[K, V] {
	return &Map[K, V]{entries: map[K]*entry[V]{}, release: release}
}

type entry[V Lifecycle] struct {
	value V
	// mu guards the counts and every handle's started and done.
	mu sync.Mutex
	// handles counts the handles not yet shut down; running, those started.
	handles int
	running int
}

// LoadOrStore returns a new handle on key's instance, made with create if
// there is none.
func (m *Map[K, V]) LoadOrStore(key K, create func() (V, error)) (*Component[K, V], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		v, err := create()
		if err != nil {
			return nil, err
		}
		e = &entry[V]{value: v}
		m.entries[key] = e
	}
	e.mu.Lock()
	e.handles++
	e.mu.Unlock()
	return &Component[K, V]{m: m, key: key, e: e}, nil
}

// Load is key's instance, if the map holds one.
func (m *Map[K, V]) Load(key K) (V, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok {
		var zero V
		return zero, false
	}
	return e.value, true
}

// Component is one signal's handle on the shared instance; it is a
// component.Component of its own.
type Component[K comparable, V Lifecycle] struct {
	m   *Map[K, V]
	key K
	e   *entry[V]

	started, done bool
}

var _ component.Component = (*Component[int, Lifecycle])(nil)

// Unwrap is the shared instance.
func (c *Component[K, V]) Unwrap() V { return c.e.value }

// Start starts the instance if no other handle has; a failed start is not
// counted, and the next handle's Start tries again.
func (c *Component[K, V]) Start(ctx context.Context, host component.Host) error {
	c.e.mu.Lock()
	defer c.e.mu.Unlock()
	if c.started || c.done {
		return nil
	}
	if c.e.running == 0 {
		if err := c.e.value.Start(ctx, host); err != nil {
			return err
		}
	}
	c.e.running++
	c.started = true
	return nil
}

// Shutdown ends this handle: the instance shuts down with the last started
// handle, and leaves the map with the last handle, so that a collector
// reloading its config gets a fresh one. A second Shutdown does nothing.
func (c *Component[K, V]) Shutdown(ctx context.Context) error {
	c.e.mu.Lock()
	if c.done {
		c.e.mu.Unlock()
		return nil
	}
	c.done = true
	var err error
	if c.started {
		c.started = false
		c.e.running--
		if c.e.running == 0 {
			err = c.e.value.Shutdown(ctx)
		}
	}
	c.e.mu.Unlock()
	// Under the map's lock, as LoadOrStore counts handles: a handle made
	// meanwhile keeps the instance in the map.
	c.m.mu.Lock()
	c.e.mu.Lock()
	c.e.handles--
	last := c.e.handles == 0
	c.e.mu.Unlock()
	if last && c.m.entries[c.key] == c.e {
		delete(c.m.entries, c.key)
	}
	c.m.mu.Unlock()
	if last && c.m.release != nil {
		c.m.release(c.e.value)
	}
	return err
}
