package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/views"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver/internal/metadata"
)

// reader reads the committed event log of one consumer and feeds its
// measurements to the next consumer (glam_views), one read at a time, each
// carrying the log range it covers.
//
// It holds its consumer's lease — a session advisory lock on its own
// connection, which PostgreSQL releases when the connection ends, a dead
// collector's included — so one collector reads per view set. It reads
// from the consumer's offset, which moves only when the exporter merges
// view rows covering the events up to it; whenever anything fails (the
// connection, a refused batch) it starts again from the offset, saying so
// (usage.AttrLogRewound), and the views drop what they held beyond it.
type reader struct {
	cfg       *Config
	set       receiver.Settings
	next      consumer.Metrics
	measures  *measureSet
	telemetry *metadata.TelemetryBuilder
	logger    *zap.Logger

	// view and definition name and define the runtime view this reader
	// reads for (runtime.go); both are empty for the config's consumer.
	view, definition string
	// runtime keeps the readers of runtime views; nil in theirs.
	runtime *runtimeViews

	cancel context.CancelFunc
	done   sync.WaitGroup
	// wake lets tests (and nothing else) skip a wait.
	wake chan struct{}
}

func newReader(set receiver.Settings, cfg *Config, next consumer.Metrics) (*reader, error) {
	measures, err := compileMeasures(cfg.Measures)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &reader{cfg: cfg, set: set, next: next, measures: measures, telemetry: tb, logger: set.Logger, wake: make(chan struct{}, 1)}, nil
}

// Start begins reading in the background (the database may come later),
// with the runtime views if configured, and tells the usage API in this
// collector which measures there are.
func (r *reader) Start(_ context.Context, host component.Host) error {
	for _, c := range views.Catalogs(host) {
		c.AddMeasures(r.measures.names())
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done.Add(1)
	go func() {
		defer r.done.Done()
		r.run(ctx)
	}()
	if r.cfg.RuntimeViews {
		r.runtime = newRuntimeViews(r)
		r.done.Add(1)
		go func() {
			defer r.done.Done()
			r.runtime.run(ctx)
		}()
	}
	return nil
}

// Shutdown stops reading. What was read and not yet merged is read again by
// whoever holds the lease next.
func (r *reader) Shutdown(context.Context) error {
	if r.cancel != nil {
		r.cancel()
		r.done.Wait()
	}
	r.telemetry.Shutdown()
	return nil
}

// errNoLease: a replica holds the lease; try again after lease_retry.
var errNoLease = errors.New("another collector holds this consumer's lease")

func (r *reader) run(ctx context.Context) {
	for ctx.Err() == nil {
		err := r.lease(ctx)
		wait := r.cfg.Backoff
		switch {
		case ctx.Err() != nil:
			return
		case errors.Is(err, errNoLease):
			wait = r.cfg.LeaseRetry
		case errors.Is(err, errRetiredConsumer):
			r.logger.Info("Runtime view deleted; no longer reading it", zap.String("view", r.view))
			return
		case err != nil:
			r.logger.Warn("Reading the event log failed; reading again from the offset", zap.String("consumer", r.cfg.Consumer), zap.Error(err))
		}
		r.sleep(ctx, wait)
	}
}

func (r *reader) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-r.wake:
	}
}

// lease holds the consumer's lease on a connection of its own for as long
// as reading goes well.
func (r *reader) lease(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, string(r.cfg.DSN))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, leaseKey(r.cfg.Consumer)).Scan(&got); err != nil {
		return err
	}
	if !got {
		return errNoLease
	}
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{pgschema.EventsChannel}.Sanitize()); err != nil {
		return err
	}
	for {
		err := r.readFromOffset(ctx, conn)
		if ctx.Err() != nil || !errors.Is(err, errRefused) {
			return err
		}
		// The views refused what was sent: read again from the offset,
		// keeping the lease.
		r.logger.Info("Views refused measurements; reading again from the offset", zap.String("consumer", r.cfg.Consumer), zap.Error(err))
		r.sleep(ctx, r.cfg.Backoff)
		if ctx.Err() != nil {
			return nil
		}
	}
}

func leaseKey(consumer string) string { return "glam_usage_log:" + consumer }

// errRefused wraps an error of the next consumer.
var errRefused = errors.New("the next consumer refused the measurements")

// readFromOffset sends the session context and then every event after the
// consumer's offset, waiting for more at the end of the log.
func (r *reader) readFromOffset(ctx context.Context, conn *pgx.Conn) error {
	r.telemetry.ReceiverGlamEventlogRewinds.Add(ctx, 1)
	offset, movedAt, err := loadOffset(ctx, conn, r.cfg.Consumer)
	if err != nil {
		return err
	}
	md, err := r.sessionContext(ctx, conn, movedAt)
	if err != nil {
		return err
	}
	r.setRange(md, offset, offset, true)
	if err := r.next.ConsumeMetrics(ctx, md); err != nil {
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	fed := offset
	for {
		events, err := readEvents(ctx, conn, fed, r.cfg.BatchSize)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			last := events[len(events)-1].pos
			md, skipped := r.measures.record(eventLogs(events))
			if skipped > 0 {
				r.telemetry.ReceiverGlamEventlogSkippedMeasurements.Add(ctx, int64(skipped))
			}
			r.setRange(md, fed, last, false)
			if err := r.next.ConsumeMetrics(ctx, md); err != nil {
				return fmt.Errorf("%w: %w", errRefused, err)
			}
			r.telemetry.ReceiverGlamEventlogEventsRead.Add(ctx, int64(len(events)))
			fed = last
			if len(events) == r.cfg.BatchSize {
				continue
			}
		}
		if err := r.waitForMore(ctx, conn, fed); err != nil {
			return err
		}
	}
}

// setRange makes md one resource of measurements saying which range of the
// log they cover.
func (r *reader) setRange(md pmetric.Metrics, from, to usage.LogPosition, rewound bool) {
	if md.ResourceMetrics().Len() == 0 {
		md.ResourceMetrics().AppendEmpty()
	}
	attrs := md.ResourceMetrics().At(0).Resource().Attributes()
	attrs.PutStr(usage.AttrLogConsumer, r.cfg.Consumer)
	attrs.PutStr(usage.AttrLogFrom, from.String())
	attrs.PutStr(usage.AttrLogTo, to.String())
	if rewound {
		attrs.PutBool(usage.AttrLogRewound, true)
		if r.definition != "" {
			attrs.PutStr(usage.AttrLogView, r.definition)
		}
	}
}

// blockedRetry is how soon the end of the log is looked at again while
// events past it are committed but a transaction older than theirs is still
// running (they cannot be read yet: that transaction may still write events
// before them). Such waits last as long as that transaction.
const blockedRetry = 50 * time.Millisecond

// maxIdle bounds a wait for a notification: a safety net, not the way new
// events are found.
const maxIdle = time.Minute

// idleCheck is how often a reader waiting at the end of the log asks the
// views whether they still take what it sends (askViews). After the
// exporter refused a view batch as not starting at the offset (a replica
// that had lost the lease flushed first), the views refuse everything until
// the reader reads again from the offset, which it learns only by sending:
// without asking, the events it had read would wait for the next event.
const idleCheck = time.Second

// nextEventQuery finds the first event after a position in log order. Not
// EXISTS: PostgreSQL has no statistics to estimate the position's row
// comparison by, so for EXISTS it scanned today's partition whole (70 ms at
// 400 000 events, for every wait at the end of the log, and growing all
// day), where the ordered LIMIT 1 reads the log index once per partition
// (0.1 ms).
const nextEventQuery = `SELECT 1 FROM ` + pgschema.EventsTable + ` e
	WHERE (e.log_xid, e.log_seq) > ($1::text::xid8, $2)
	ORDER BY e.log_xid, e.log_seq LIMIT 1`

// waitForMore returns when there may be events after fed: a notification
// from the exporter's commit, or, while committed events wait behind a
// running transaction, shortly. While it waits it asks the views every
// idleCheck whether they still take what it sends.
//
// Any committed event after fed counts as waiting, not only those behind
// the oldest transaction running now: that one may have ended since the
// read that left the event out, and the event's notification may have come
// before it (or before LISTEN), so nothing else would wake the reader.
func (r *reader) waitForMore(ctx context.Context, conn *pgx.Conn, fed usage.LogPosition) error {
	var one int
	err := conn.QueryRow(ctx, nextEventQuery, fmt.Sprint(fed.XID), fed.Seq).Scan(&one)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	if blocked := err == nil; blocked {
		if err := waitForNotification(ctx, conn, blockedRetry); !errors.Is(err, errNoNotification) {
			return err
		}
		return nil
	}
	for deadline := time.Now().Add(maxIdle); ; {
		wait := min(idleCheck, time.Until(deadline))
		if err := waitForNotification(ctx, conn, wait); !errors.Is(err, errNoNotification) {
			return err
		}
		if !time.Now().Before(deadline) {
			return nil
		}
		if err := r.askViews(ctx, fed); err != nil {
			return err
		}
	}
}

// errNoNotification: a wait for a notification ran out.
var errNoNotification = errors.New("no notification")

// waitForNotification waits up to d for a notification: nil when one came,
// errNoNotification when the wait ran out (a timed-out wait leaves the
// connection usable: in pgx the context only interrupts the read).
func waitForNotification(ctx context.Context, conn *pgx.Conn, d time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	_, err := conn.WaitForNotification(wctx)
	if err != nil && wctx.Err() != nil && ctx.Err() == nil {
		return errNoNotification
	}
	return err
}

// askViews sends the views an empty batch of measurements at fed, which
// they take while they stand there; refused, the reader reads again from
// the offset.
func (r *reader) askViews(ctx context.Context, fed usage.LogPosition) error {
	md := pmetric.NewMetrics()
	md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Scope().SetName(usage.MeasurementScope)
	r.setRange(md, fed, fed, false)
	if err := r.next.ConsumeMetrics(ctx, md); err != nil {
		return fmt.Errorf("%w: %w", errRefused, err)
	}
	return nil
}

// errRetiredConsumer: the consumer's runtime view was deleted.
var errRetiredConsumer = errors.New("the consumer is retired: its view was deleted")

// loadOffset reads (making it if new) the consumer's offset and when it
// last moved.
func loadOffset(ctx context.Context, conn *pgx.Conn, consumer string) (usage.LogPosition, time.Time, error) {
	if _, err := conn.Exec(ctx, `INSERT INTO `+pgschema.LogOffsetsTable+` (consumer) VALUES ($1) ON CONFLICT DO NOTHING`, consumer); err != nil {
		return usage.LogPosition{}, time.Time{}, err
	}
	var xid string
	var p usage.LogPosition
	var moved time.Time
	var retired bool
	if err := conn.QueryRow(ctx, `SELECT log_xid::text, log_seq, updated_at, retired_at IS NOT NULL FROM `+pgschema.LogOffsetsTable+` WHERE consumer = $1`, consumer).
		Scan(&xid, &p.Seq, &moved, &retired); err != nil {
		return p, moved, err
	}
	if retired {
		return p, moved, errRetiredConsumer
	}
	if _, err := fmt.Sscan(xid, &p.XID); err != nil {
		return p, moved, fmt.Errorf("offset of %s: %w", consumer, err)
	}
	return p, moved, nil
}

// logEvent is one event read from the log.
type logEvent struct {
	pos                usage.LogPosition
	id, name           string
	time, observed     time.Time
	attributes, source []byte
}

// readEvents reads up to limit events after from, in log order, among those
// no running transaction can still precede.
func readEvents(ctx context.Context, conn *pgx.Conn, from usage.LogPosition, limit int) ([]logEvent, error) {
	// The ORDER BY names the table's columns (e.): a bare log_xid would be
	// the output column log_xid::text, sorted as text, out of log order
	// and without the index.
	rows, err := conn.Query(ctx, `SELECT e.log_xid::text, e.log_seq, event_id, event_name, event_time, observed_time, attributes
		FROM `+pgschema.EventsTable+` e
		WHERE (e.log_xid, e.log_seq) > ($1::text::xid8, $2) AND e.log_xid < pg_snapshot_xmin(pg_current_snapshot())
		ORDER BY e.log_xid, e.log_seq
		LIMIT $3`, fmt.Sprint(from.XID), from.Seq, limit)
	if err != nil {
		return nil, err
	}
	var events []logEvent
	var xid string
	var e logEvent
	_, err = pgx.ForEachRow(rows, []any{&xid, &e.pos.Seq, &e.id, &e.name, &e.time, &e.observed, &e.attributes}, func() error {
		var err error
		if e.pos.XID, err = strconv.ParseUint(xid, 10, 64); err != nil {
			return fmt.Errorf("log_xid %q: %w", xid, err)
		}
		ev := e
		ev.attributes = append([]byte(nil), e.attributes...)
		events = append(events, ev)
		return nil
	})
	return events, err
}

// eventLogs turns events back into usage-event log records, the shape the
// measures read.
func eventLogs(events []logEvent) plog.Logs {
	ld := plog.NewLogs()
	records := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	records.EnsureCapacity(len(events))
	for i := range events {
		e := &events[i]
		lr := records.AppendEmpty()
		lr.SetEventName(e.name)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(e.time))
		lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(e.observed))
		putJSON(lr.Attributes(), e.attributes)
	}
	return ld
}
