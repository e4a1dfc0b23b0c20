package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgpool"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/viewstore"
)

// Views created at runtime (the usage API's POST /api/v1/views) are each
// read by a reader of their own: its consumer (named in the view's row)
// starts at the log's beginning, so the view is backfilled from the raw
// events still retained and then follows the log live — one read of one
// log, merged with its offset as every view batch is, so backfill and live
// neither miss nor repeat an event. Its lease is the consumer's, so one
// collector reads each view; another takes over when that one dies.

// viewsPoll bounds how long a missed notification delays a runtime view's
// start or stop.
const viewsPoll = 30 * time.Second

// runtimeViews starts and stops the readers of runtime views as the views
// table changes.
type runtimeViews struct {
	parent *reader
	// running is guarded by the run goroutine alone.
	running map[string]*viewReader
	// warned remembers views this collector cannot read (a measure it does
	// not record), to say so once.
	warned map[string]bool
}

type viewReader struct {
	r      *reader
	cancel context.CancelFunc
	done   chan struct{}
}

func newRuntimeViews(parent *reader) *runtimeViews {
	return &runtimeViews{parent: parent, running: map[string]*viewReader{}, warned: map[string]bool{}}
}

func (m *runtimeViews) run(ctx context.Context) {
	defer m.stopAll()
	logger := m.parent.logger
	for ctx.Err() == nil {
		err := m.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if !pgpool.IsSchemaMissing(err) {
			logger.Warn("Watching the runtime views failed; trying again", zap.Error(err))
		}
		m.parent.sleep(ctx, m.parent.cfg.Backoff)
	}
}

// watch syncs the readers with the views table at every notification, and
// every viewsPoll in case one was missed.
func (m *runtimeViews) watch(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, string(m.parent.cfg.DSN))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{pgschema.ViewsChannel}.Sanitize()); err != nil {
		return err
	}
	for {
		if err := m.sync(ctx, conn); err != nil {
			return err
		}
		if err := waitForNotification(ctx, conn, viewsPoll); err != nil && !errors.Is(err, errNoNotification) {
			return err
		}
	}
}

// sync starts a reader for every runtime view not yet read here and stops
// those of deleted views.
func (m *runtimeViews) sync(ctx context.Context, conn *pgx.Conn) error {
	current, err := viewstore.List(ctx, conn)
	if err != nil {
		return err
	}
	live := map[string]bool{}
	for _, v := range current {
		live[v.Consumer] = true
		if m.running[v.Consumer] == nil {
			m.start(v)
		}
	}
	for consumer, vr := range m.running {
		if !live[consumer] {
			m.stop(ctx, consumer, vr)
		}
	}
	return nil
}

func (m *runtimeViews) start(v viewstore.View) {
	p := m.parent
	def := v.Definition
	err := errors.Join(def.Problems()...)
	if err == nil && !slices.Contains(p.measures.names(), def.Measure) {
		err = errors.New("this collector's glam_eventlog receiver records no measure " + def.Measure)
	}
	if err != nil {
		if !m.warned[v.Consumer] {
			m.warned[v.Consumer] = true
			p.logger.Warn("Runtime view not read by this collector", zap.String("view", def.Name), zap.Error(err))
		}
		return
	}
	cfg := *p.cfg
	cfg.Consumer = v.Consumer
	r := &reader{cfg: &cfg, set: p.set, next: p.next, measures: p.measures.only(def.Measure), telemetry: p.telemetry,
		logger: p.logger.With(zap.String("view", def.Name)), wake: make(chan struct{}, 1), view: def.Name, definition: v.Raw}
	ctx, cancel := context.WithCancel(context.Background())
	vr := &viewReader{r: r, cancel: cancel, done: make(chan struct{})}
	m.running[v.Consumer] = vr
	go func() {
		defer close(vr.done)
		r.run(ctx)
	}()
}

// stop ends a deleted view's reader, then tells the views to forget it.
func (m *runtimeViews) stop(ctx context.Context, consumer string, vr *viewReader) {
	vr.cancel()
	<-vr.done
	delete(m.running, consumer)
	md := pmetric.NewMetrics()
	attrs := md.ResourceMetrics().AppendEmpty().Resource().Attributes()
	attrs.PutStr(usage.AttrLogConsumer, consumer)
	attrs.PutBool(usage.AttrLogRetired, true)
	if err := m.parent.next.ConsumeMetrics(ctx, md); err != nil {
		m.parent.logger.Warn("The views did not take a deleted view's retirement", zap.String("consumer", consumer), zap.Error(err))
	}
}

func (m *runtimeViews) stopAll() {
	var wg sync.WaitGroup
	for _, vr := range m.running {
		vr.cancel()
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-vr.done
		}()
	}
	wg.Wait()
}
