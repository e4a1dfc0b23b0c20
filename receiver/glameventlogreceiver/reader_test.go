package glameventlogreceiver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver/internal/metadata"
)

var day0 = time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

// logDB is a fresh database with the schema and a partition for day0.
func logDB(t *testing.T) (string, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	require.NoError(t, pgschema.Migrate(ctx, db))
	require.NoError(t, pgschema.EnsureEventPartitions(ctx, db, []time.Time{day0}))
	return dsn, db
}

// storeEvents commits events as glam_postgres does: one transaction, then
// a notification at its commit.
func storeEvents(t *testing.T, db *pgxpool.Pool, names ...string) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	for _, name := range names {
		id := fmt.Sprintf("e-%d", time.Now().UnixNano())
		attrs := fmt.Sprintf(`{"log.record.uid":%q,"event.name":%q,"session.id":"s1","glam.probe.name":"gc_ms","results":7}`, id, name)
		_, err := tx.Exec(ctx, `INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, session_id, attributes, resource)
			VALUES ($1, $2, $3, $4, 's1', $5, '{}')`, id, day0.Add(time.Hour), day0.Add(time.Hour+time.Second), name, attrs)
		require.NoError(t, err)
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, pgschema.EventsChannel)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
}

// recorder is the next consumer: it keeps what it takes, refusing on
// demand. An idle reader's questions (askViews) are counted apart, and
// refused on demand.
type recorder struct {
	mu        sync.Mutex
	got       []pmetric.Metrics
	refuse    int
	asked     int
	refuseAsk int
}

func (r *recorder) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

// isAsk: an empty batch at one position, not a rewind.
func isAsk(md pmetric.Metrics) bool {
	if md.DataPointCount() != 0 || md.ResourceMetrics().Len() != 1 {
		return false
	}
	a := md.ResourceMetrics().At(0).Resource().Attributes()
	from, _ := a.Get(usage.AttrLogFrom)
	to, _ := a.Get(usage.AttrLogTo)
	_, rewound := a.Get(usage.AttrLogRewound)
	return !rewound && from.AsString() == to.AsString()
}

func (r *recorder) ConsumeMetrics(_ context.Context, md pmetric.Metrics) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if isAsk(md) {
		r.asked++
		if r.refuseAsk > 0 {
			r.refuseAsk--
			return fmt.Errorf("views dropped what they held")
		}
		return nil
	}
	if r.refuse > 0 {
		r.refuse--
		return fmt.Errorf("views busy")
	}
	c := pmetric.NewMetrics()
	md.CopyTo(c)
	r.got = append(r.got, c)
	return nil
}

// payload is one ConsumeMetrics call, flattened.
type payload struct {
	from, to string
	rewound  bool
	measures map[string]int
	context  int
}

func (r *recorder) payloads() []payload {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []payload
	for _, md := range r.got {
		rm := md.ResourceMetrics().At(0)
		a := rm.Resource().Attributes()
		from, _ := a.Get(usage.AttrLogFrom)
		to, _ := a.Get(usage.AttrLogTo)
		rw, _ := a.Get(usage.AttrLogRewound)
		p := payload{from: from.AsString(), to: to.AsString(), rewound: rw.Bool(), measures: map[string]int{}}
		for i := 0; i < rm.ScopeMetrics().Len(); i++ {
			sm := rm.ScopeMetrics().At(i)
			for j := 0; j < sm.Metrics().Len(); j++ {
				m := sm.Metrics().At(j)
				if sm.Scope().Name() == usage.SessionContextScope {
					p.context += m.Gauge().DataPoints().Len()
				} else {
					p.measures[m.Name()] += m.Gauge().DataPoints().Len()
				}
			}
		}
		out = append(out, p)
	}
	return out
}

func (r *recorder) waitFor(t *testing.T, n int) []payload {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.payloads()) >= n }, 10*time.Second, 10*time.Millisecond)
	return r.payloads()
}

func startReader(t *testing.T, dsn string, next *recorder) *reader {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.DSN = configopaque.String(dsn)
	cfg.LeaseRetry = 50 * time.Millisecond
	cfg.Backoff = 20 * time.Millisecond
	cfg.BatchSize = 3
	require.NoError(t, cfg.Validate())
	set := receivertest.NewNopSettings(metadata.Type)
	rcv, err := NewFactory().CreateMetrics(context.Background(), set, cfg, next)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(context.Background(), componenttest.NewNopHost()))
	r := rcv.(*reader)
	t.Cleanup(func() { require.NoError(t, r.Shutdown(context.Background())) })
	return r
}

// position reads the log position of the n-th event stored (1-based).
func position(t *testing.T, db *pgxpool.Pool, n int) string {
	t.Helper()
	var p string
	require.NoError(t, db.QueryRow(context.Background(), `SELECT log_xid::text || '/' || log_seq FROM glam_usage_events
		ORDER BY log_xid, log_seq OFFSET $1 LIMIT 1`, n-1).Scan(&p))
	return p
}

func TestReadsTheLogInOrderFromTheOffset(t *testing.T) {
	dsn, db := logDB(t)
	storeEvents(t, db, usage.EventProbeView, usage.EventProbeView, usage.EventPageView, "glean.element_click")
	next := &recorder{}
	startReader(t, dsn, next)
	got := next.waitFor(t, 3)
	assert.Equal(t, payload{from: "0/0", to: "0/0", rewound: true, measures: map[string]int{}}, got[0], "first the start, with no session rows yet")
	assert.Equal(t, payload{from: "0/0", to: position(t, db, 3), measures: map[string]int{
		usage.MeasureProbeViews: 2, usage.MeasurePageViews: 1, usage.MeasureEvents: 3,
	}}, got[1], "batch_size 3: the first three events")
	assert.Equal(t, payload{from: position(t, db, 3), to: position(t, db, 4), measures: map[string]int{
		usage.MeasureActions: 1, usage.MeasureEvents: 1,
	}}, got[2])

	// New events wake the reader (LISTEN/NOTIFY).
	storeEvents(t, db, usage.EventProbeView)
	got = next.waitFor(t, 4)
	assert.Equal(t, payload{from: position(t, db, 4), to: position(t, db, 5), measures: map[string]int{
		usage.MeasureProbeViews: 1, usage.MeasureEvents: 1,
	}}, got[3])
	assert.Len(t, next.payloads(), 4, "nothing read twice")

	// A measurement carries the event's attributes as tags, typed as sent,
	// its event time, and its receive time as start time.
	dp := next.got[1].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints().At(0)
	results, _ := dp.Attributes().Get("results")
	assert.Equal(t, int64(7), results.Int())
	assert.Equal(t, day0.Add(time.Hour), dp.Timestamp().AsTime().UTC())
	assert.Equal(t, day0.Add(time.Hour+time.Second), dp.StartTimestamp().AsTime().UTC())
}

// Events committed behind a transaction still running are not read until
// it ends: it could still write events before them.
func TestWaitsForOlderTransactions(t *testing.T) {
	dsn, db := logDB(t)
	ctx := context.Background()
	open, err := db.Begin(ctx)
	require.NoError(t, err)
	_, err = open.Exec(ctx, `INSERT INTO glam_usage_log_offsets (consumer) VALUES ('someone else')`) // takes a transaction id
	require.NoError(t, err)
	storeEvents(t, db, usage.EventProbeView)
	next := &recorder{}
	startReader(t, dsn, next)
	next.waitFor(t, 1)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, next.payloads(), 1, "only the start: the event waits behind the open transaction")
	require.NoError(t, open.Commit(ctx))
	got := next.waitFor(t, 2)
	assert.Equal(t, 1, got[1].measures[usage.MeasureProbeViews])
}

// One reader per consumer: a second collector waits for the lease and
// takes over from the offset when the first stops.
func TestOneReaderHoldsTheLease(t *testing.T) {
	dsn, db := logDB(t)
	storeEvents(t, db, usage.EventProbeView, usage.EventProbeView)
	first, second := &recorder{}, &recorder{}
	r1 := startReader(t, dsn, first)
	first.waitFor(t, 2)
	startReader(t, dsn, second)
	time.Sleep(300 * time.Millisecond)
	assert.Empty(t, second.payloads(), "the lease is held")

	// The views merged the first event: the offset moved there.
	_, err := db.Exec(context.Background(), `UPDATE glam_usage_log_offsets SET (log_xid, log_seq) =
		(SELECT log_xid, log_seq FROM glam_usage_events ORDER BY log_xid, log_seq LIMIT 1) WHERE consumer = $1`, DefaultConsumer)
	require.NoError(t, err)
	require.NoError(t, r1.Shutdown(context.Background()))
	got := second.waitFor(t, 2)
	assert.Equal(t, payload{from: position(t, db, 1), to: position(t, db, 1), rewound: true, measures: map[string]int{}}, got[0])
	assert.Equal(t, payload{from: position(t, db, 1), to: position(t, db, 2), measures: map[string]int{usage.MeasureProbeViews: 1, usage.MeasureEvents: 1}}, got[1],
		"the event not merged is read again, the merged one is not")
}

// Refused measurements are read again from the offset, saying so.
func TestRefusalRewindsToTheOffset(t *testing.T) {
	dsn, db := logDB(t)
	storeEvents(t, db, usage.EventProbeView)
	next := &recorder{refuse: 2}
	startReader(t, dsn, next)
	got := next.waitFor(t, 2)
	assert.True(t, got[0].rewound)
	assert.Equal(t, "0/0", got[0].from, "still at the offset")
	assert.Equal(t, payload{from: "0/0", to: position(t, db, 1), measures: map[string]int{usage.MeasureProbeViews: 1, usage.MeasureEvents: 1}}, got[1])
}

// A reader waiting at the end of the log asks the views every second
// whether they still take what it sends. Refused — the views dropped what
// they held when the exporter refused a stale batch (a replica that had
// lost the lease flushed first) — it reads again from the offset, though
// no new event came.
func TestIdleReaderAsksTheViews(t *testing.T) {
	dsn, db := logDB(t)
	storeEvents(t, db, usage.EventProbeView)
	next := &recorder{}
	startReader(t, dsn, next)
	next.waitFor(t, 2)
	next.mu.Lock()
	next.refuseAsk = 1
	next.mu.Unlock()
	got := next.waitFor(t, 4)
	assert.Equal(t, payload{from: "0/0", to: "0/0", rewound: true, measures: map[string]int{}}, got[2], "read again from the offset")
	assert.Equal(t, payload{from: "0/0", to: position(t, db, 1), measures: map[string]int{usage.MeasureProbeViews: 1, usage.MeasureEvents: 1}}, got[3])
	next.mu.Lock()
	defer next.mu.Unlock()
	assert.Positive(t, next.asked)
}

// The session rows merged before the offset moved come first, so a
// session read on from there stays one row.
func TestSessionContextComesFirst(t *testing.T) {
	dsn, db := logDB(t)
	ctx := context.Background()
	for _, row := range []struct {
		sid             string
		start, end, mrg time.Time
	}{
		{"s1", day0.Add(time.Hour), day0.Add(2 * time.Hour), day0.Add(2 * time.Hour)},
		// Merged 3 days ago: past session_context.
		{"s2", day0.Add(-3 * 24 * time.Hour), day0.Add(-3*24*time.Hour + time.Hour), day0.Add(-3*24*time.Hour + time.Hour)},
		// A session from 3 days ago an offline client sent just now: restored.
		{"s3", day0.Add(-3 * 24 * time.Hour), day0.Add(-3*24*time.Hour + time.Hour), day0.Add(2*time.Hour + 30*time.Minute)},
	} {
		_, err := db.Exec(ctx, `INSERT INTO glam_usage_view_rows (view, window_start, tags_hash, tags, window_end, metric_type, count, sum, updated_at)
			VALUES ('glam.sessions', $1, $2, jsonb_build_object('session.id', $3::text), $4, 'sum', 4, 4, $5)`,
			row.start, []byte(row.sid), row.sid, row.end, row.mrg)
		require.NoError(t, err)
	}
	_, err := db.Exec(ctx, `INSERT INTO glam_usage_log_offsets (consumer, updated_at) VALUES ($1, $2)`, DefaultConsumer, day0.Add(3*time.Hour))
	require.NoError(t, err)
	next := &recorder{}
	startReader(t, dsn, next)
	got := next.waitFor(t, 1)
	assert.Equal(t, 2, got[0].context, "s2, merged 3 days before, is past session_context")
	dps := next.got[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Gauge().DataPoints()
	restored := map[string][2]time.Time{}
	for i := 0; i < dps.Len(); i++ {
		sid, _ := dps.At(i).Attributes().Get(usage.AttrSessionID)
		restored[sid.Str()] = [2]time.Time{dps.At(i).StartTimestamp().AsTime().UTC(), dps.At(i).Timestamp().AsTime().UTC()}
	}
	assert.Equal(t, map[string][2]time.Time{
		"s1": {day0.Add(time.Hour), day0.Add(2 * time.Hour)},
		"s3": {day0.Add(-3 * 24 * time.Hour), day0.Add(-3*24*time.Hour + time.Hour)},
	}, restored, "window start and end as merged")
}

// Events committed while an older write transaction still runs (another
// collector's, or one in another database of the cluster: transaction ids
// are the cluster's) are read as soon as it ends, however its end falls
// between the reader's statements; not only at the next event or after the
// minute's safety net.
func TestReadsEachEventWhileOtherTransactionsRun(t *testing.T) {
	dsn, db := logDB(t)
	next := &recorder{}
	startReader(t, dsn, next)
	next.waitFor(t, 1)

	// Short write transactions, always some running, each holding back
	// pg_snapshot_xmin while it lasts.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				tx, err := db.Begin(ctx)
				if err != nil {
					return
				}
				_, _ = tx.Exec(ctx, `SELECT pg_current_xact_id()`)
				time.Sleep(time.Duration(1+i) * time.Millisecond)
				_ = tx.Commit(ctx)
			}
		}()
	}
	t.Cleanup(func() { cancel(); wg.Wait() })

	read := func() int {
		n := 0
		for _, p := range next.payloads() {
			n += p.measures[usage.MeasureEvents]
		}
		return n
	}
	for i := range 30 {
		storeEvents(t, db, usage.EventProbeView)
		require.Eventually(t, func() bool { return read() == i+1 }, 3*time.Second, 5*time.Millisecond,
			"event %d was stored but not read within 3 s", i+1)
	}
}

// The log is read in transaction id order, numerically: xid 10 after 9.
// The query once selected log_xid::text under the column's own name, so its
// ORDER BY log_xid sorted the text ('10' < '8'): a batch cut by batch_size
// across a power of ten took 10 and 11 first, moved past them, and never
// read 8 and 9 (and every batch sorted all the events after the offset
// instead of reading the index in order).
func TestReadsTransactionIDsInNumericOrder(t *testing.T) {
	dsn, db := logDB(t)
	ctx := context.Background()
	// Ids the cluster used long ago, so that no running transaction is
	// older: their events are all readable.
	for _, xid := range []int{8, 9, 10, 11} {
		id := fmt.Sprintf("e-%d", xid)
		attrs := fmt.Sprintf(`{"log.record.uid":%q,"event.name":%q,"session.id":"s1"}`, id, usage.EventProbeView)
		_, err := db.Exec(ctx, `INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, session_id, attributes, resource, log_xid)
			VALUES ($1, $2, $2, $3, 's1', $4, '{}', $5::text::xid8)`, id, day0.Add(time.Hour), usage.EventProbeView, attrs, fmt.Sprint(xid))
		require.NoError(t, err)
	}
	next := &recorder{}
	startReader(t, dsn, next) // batch_size 3
	got := next.waitFor(t, 3)
	seq := func(n int) string { // the n-th event's position
		return position(t, db, n)
	}
	require.True(t, strings.HasPrefix(seq(1), "8/"), "positions order numerically: %s", seq(1))
	assert.Equal(t, payload{from: "0/0", to: seq(3), measures: map[string]int{usage.MeasureProbeViews: 3, usage.MeasureEvents: 3}}, got[1],
		"the first batch: xids 8, 9, 10")
	assert.Equal(t, payload{from: seq(3), to: seq(4), measures: map[string]int{usage.MeasureProbeViews: 1, usage.MeasureEvents: 1}}, got[2],
		"then xid 11")
}

// Waiting at the end of the log looks for the next event through the log
// index, however many events today's partition holds, before autovacuum
// has analyzed it too (a new day's partition, all morning under load).
func TestNextEventQueryReadsTheLogIndex(t *testing.T) {
	ctx := context.Background()
	_, db := logDB(t)
	_, err := db.Exec(ctx, `INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, attributes, resource)
		SELECT 'e-' || i, $1, $1, 'probe.view', '{}', '{}' FROM generate_series(1, 50000) i`, day0.Add(time.Hour))
	require.NoError(t, err)
	var last usage.LogPosition
	var xid string
	require.NoError(t, db.QueryRow(ctx, `SELECT log_xid::text, log_seq FROM glam_usage_events ORDER BY log_xid DESC, log_seq DESC LIMIT 1`).Scan(&xid, &last.Seq))
	rows, err := db.Query(ctx, `EXPLAIN `+nextEventQuery, xid, last.Seq)
	require.NoError(t, err)
	var lines []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		lines = append(lines, line)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(lines, "\n")
	assert.Contains(t, text, "log_xid_log_seq_idx", text)
	assert.NotContains(t, text, "Seq Scan", text)
}
