package sharedcomponent

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
)

type counted struct {
	starts, stops, released int
	failStarts              int
}

func (c *counted) Start(context.Context, component.Host) error {
	if c.failStarts > 0 {
		c.failStarts--
		return errors.New("refused")
	}
	c.starts++
	return nil
}

func (c *counted) Shutdown(context.Context) error {
	c.stops++
	return nil
}

func TestOneInstanceStartedOnceStoppedWithTheLastHandle(t *testing.T) {
	ctx, host := context.Background(), componenttest.NewNopHost()
	m := NewMap[string, *counted](func(c *counted) { c.released++ })
	made := 0
	create := func() (*counted, error) { made++; return &counted{}, nil }
	logs, err := m.LoadOrStore("a", create)
	require.NoError(t, err)
	metrics, err := m.LoadOrStore("a", create)
	require.NoError(t, err)
	other, err := m.LoadOrStore("b", create)
	require.NoError(t, err)
	assert.Equal(t, 2, made)
	assert.Same(t, logs.Unwrap(), metrics.Unwrap())
	assert.NotSame(t, logs.Unwrap(), other.Unwrap())

	v := logs.Unwrap()
	require.NoError(t, logs.Start(ctx, host))
	require.NoError(t, metrics.Start(ctx, host))
	require.NoError(t, logs.Start(ctx, host))
	assert.Equal(t, 1, v.starts)

	require.NoError(t, metrics.Shutdown(ctx))
	assert.Equal(t, 0, v.stops, "the logs handle still runs")
	require.NoError(t, metrics.Shutdown(ctx))
	assert.Equal(t, 0, v.stops, "a second Shutdown of one handle does nothing")
	require.NoError(t, logs.Shutdown(ctx))
	assert.Equal(t, 1, v.stops)
	assert.Equal(t, 1, v.released)
	_, ok := m.Load("a")
	assert.False(t, ok, "a's instance left the map")
	b, ok := m.Load("b")
	assert.True(t, ok)
	assert.Same(t, other.Unwrap(), b)

	again, err := m.LoadOrStore("a", create)
	require.NoError(t, err)
	assert.NotSame(t, v, again.Unwrap(), "a reload gets a fresh instance")
}

func TestAFailedStartIsTriedAgainByTheNextHandle(t *testing.T) {
	ctx, host := context.Background(), componenttest.NewNopHost()
	m := NewMap[int, *counted](nil)
	v := &counted{failStarts: 1}
	create := func() (*counted, error) { return v, nil }
	logs, _ := m.LoadOrStore(1, create)
	metrics, _ := m.LoadOrStore(1, create)
	require.Error(t, logs.Start(ctx, host))
	require.NoError(t, metrics.Start(ctx, host))
	assert.Equal(t, 1, v.starts)
	require.NoError(t, logs.Shutdown(ctx))
	assert.Equal(t, 0, v.stops, "the handle that failed to start never ran")
	require.NoError(t, metrics.Shutdown(ctx))
	assert.Equal(t, 1, v.stops)
	_, ok := m.Load(1)
	assert.False(t, ok)
}

func TestAnInstanceNeverStartedIsNeverStopped(t *testing.T) {
	m := NewMap[int, *counted](nil)
	h, err := m.LoadOrStore(1, func() (*counted, error) { return &counted{}, nil })
	require.NoError(t, err)
	require.NoError(t, h.Shutdown(context.Background()))
	assert.Equal(t, 0, h.Unwrap().stops)
	_, ok := m.Load(1)
	assert.False(t, ok)

	_, err = m.LoadOrStore(2, func() (*counted, error) { return nil, errors.New("bad config") })
	require.EqualError(t, err, "bad config")
	_, ok = m.Load(2)
	assert.False(t, ok)
}
