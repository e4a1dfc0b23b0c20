package glampostgresexporter

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/mozilla/otelcol-glam/internal/usage"
)

func fixedNow() time.Time { return day0.Add(15 * time.Hour) }

func TestEventsAreStoredWithPromotedColumns(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), fixedNow)
	at := day0.Add(9*time.Hour + 30*time.Minute)

	ld, records := newLogs()
	lr := probeView(records, "ev-1", "sess-1", "gc_ms", at)
	lr.Attributes().PutInt("glam.versions", 3)
	lr.Body().SetStr("clicked")
	// Any log record with an id and a name is an event; absent GLAM
	// attributes become NULL.
	plain := records.AppendEmpty()
	plain.SetEventName(usage.EventPageView)
	plain.SetTimestamp(ts(at.Add(time.Minute)))
	plain.Attributes().PutStr(usage.AttrEventID, "ev-2")
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))

	type event struct {
		ID, Name                               string
		Time, Observed                         time.Time
		Session, Product, Probe, Process, Chan *string
		OS, Source                             *string
		Attributes, Resource                   string
		Body                                   *string
	}
	rows, err := db.Query(context.Background(), `SELECT event_id, event_name, event_time, observed_time, session_id,
		product, probe_name, probe_process, channel, os, source, attributes::text, resource::text, body::text
		FROM glam_usage_events ORDER BY event_id`)
	require.NoError(t, err)
	var got []event
	for rows.Next() {
		var ev event
		require.NoError(t, rows.Scan(&ev.ID, &ev.Name, &ev.Time, &ev.Observed, &ev.Session, &ev.Product, &ev.Probe,
			&ev.Process, &ev.Chan, &ev.OS, &ev.Source, &ev.Attributes, &ev.Resource, &ev.Body))
		ev.Time, ev.Observed = ev.Time.UTC(), ev.Observed.UTC()
		got = append(got, ev)
	}
	require.NoError(t, rows.Err())
	s := func(v string) *string { return &v }
	assert.Equal(t, []event{
		{
			ID: "ev-1", Name: "probe.view", Time: at, Observed: at.Add(time.Second),
			Session: s("sess-1"), Product: s("fog"), Probe: s("gc_ms"), Process: s("parent"), Chan: s("nightly"),
			OS: s("Linux"), Source: s("otlp_logs"),
			Attributes: `{"glam.os": "Linux", "event.name": "probe.view", "session.id": "sess-1", "glam.source": "otlp_logs", "glam.channel": "nightly", "glam.product": "fog", "glam.versions": 3, "log.record.uid": "ev-1", "glam.probe.name": "gc_ms", "glam.probe.process": "parent"}`,
			Resource:   `{"service.name": "glam"}`,
			Body:       s(`"clicked"`),
		},
		{
			ID: "ev-2", Name: "page.view", Time: at.Add(time.Minute), Observed: at.Add(time.Minute),
			Attributes: `{"log.record.uid": "ev-2"}`, Resource: `{"service.name": "glam"}`,
		},
	}, got)
	assert.Equal(t, []string{"glam_usage_events_p20261120"},
		strings_(t, db, "SELECT DISTINCT tableoid::regclass::text FROM glam_usage_events"))
}

func TestRepeatedEventIDIsStoredOnce(t *testing.T) {
	dsn, db := newDB(t)
	e := startExporter(t, directConfig(dsn), fixedNow)
	at := day0.Add(10 * time.Hour)

	ld, records := newLogs()
	probeView(records, "a", "s", "p1", at)
	probeView(records, "a", "s", "p1", at) // twice in one batch
	probeView(records, "b", "s", "p2", at)
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
	// The same batch again (an exporter retry), and the client resending
	// "b" with a different skew-corrected time, in another day's partition.
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
	ld2, records2 := newLogs()
	probeView(records2, "b", "s", "p2", at.Add(-11*time.Hour))
	probeView(records2, "c", "s", "p3", at)
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld2))

	assert.Equal(t, []string{"a", "b", "c"}, strings_(t, db, "SELECT event_id FROM glam_usage_events ORDER BY 1"))
	assert.Equal(t, 3, count(t, db, "SELECT count(*) FROM glam_usage_event_ids"))
	assert.Equal(t, "p2", strings_(t, db, "SELECT probe_name FROM glam_usage_events WHERE event_id = 'b'")[0])
	// 1 in the first batch, 3 in the retry, 1 from the client retry.
	assert.Equal(t, int64(5), e.counter(t, "exporter_glam_postgres_duplicate_events"))
}

func TestBadLogRecordsAreRejectedAndTheRestStored(t *testing.T) {
	dsn, db := newDB(t)
	cfg := directConfig(dsn)
	cfg.RawEvents.Retention = 30 * day
	cfg.RawEvents.PartitionsAhead = 2
	e := startExporter(t, cfg, fixedNow)
	at := day0.Add(8 * time.Hour)

	ld, records := newLogs()
	probeView(records, "good-1", "s", "p", at)
	records.AppendEmpty().Body().SetStr("a plain log line") // 2: not an event
	probeView(records, "nul", "s", "p\x00", at)             // 3
	probeView(records, "nan", "s", "p", at).Attributes().PutDouble("x", math.NaN())
	probeView(records, "old", "s", "p", day0.AddDate(0, 0, -31))              // 5
	probeView(records, "future", "s", "p", day0.AddDate(0, 0, 3))             // 6
	probeView(records, "utf8", "s", "p", at).Attributes().PutStr("x", "\xff") // 7
	probeView(records, "good-2", "s", "p", day0.AddDate(0, 0, -30))           // oldest day kept
	probeView(records, "good-3", "s", "p", day0.AddDate(0, 0, 2).Add(23*time.Hour))

	err := e.logs.ConsumeLogs(context.Background(), ld)
	require.Error(t, err)
	assert.True(t, consumererror.IsPermanent(err), "bad data must not be retried: %v", err)
	assert.ErrorContains(t, err, "rejected 6 of 9 log records as bad data (the others were stored): "+
		"log record 2: "+usage.ErrNotAnEvent.Error()+"; "+
		`log record 3: attributes["glam.probe.name"] contains a NUL character; `+
		`log record 4: attributes["x"] is NaN, which JSON cannot hold; `+
		"log record 5: event time 2026-10-20T00:00:00Z is before 2026-10-21, the oldest day raw_events.retention keeps; "+
		"log record 6: event time 2026-11-23T00:00:00Z is after 2026-11-22, the last day raw_events.partitions_ahead allows; "+
		"and 1 more")
	assert.Equal(t, []string{"good-1", "good-2", "good-3"}, strings_(t, db, "SELECT event_id FROM glam_usage_events ORDER BY 1"))
	assert.Equal(t, int64(6), e.counter(t, "exporter_glam_postgres_rejected_log_records"))
	warnings := e.log.FilterMessage("log records rejected").All()
	require.Len(t, warnings, 1)
	assert.Equal(t, "logs", warnings[0].ContextMap()["otelcol.signal"], "the warning about log records names the logs signal")
}

func TestRetentionDropsWholeDays(t *testing.T) {
	dsn, db := newDB(t)
	cfg := directConfig(dsn)
	cfg.RawEvents.Retention = 2 * day
	cfg.RawEvents.PartitionsAhead = 1
	now := day0.Add(6 * time.Hour)
	e := startExporter(t, cfg, func() time.Time { return now })

	// At start: today and one day ahead.
	assert.Equal(t, []string{"glam_usage_events_p20261120", "glam_usage_events_p20261121"}, partitions(t, db))

	ld, records := newLogs()
	probeView(records, "d-2", "s", "p", day0.AddDate(0, 0, -2).Add(time.Hour))
	probeView(records, "d-1", "s", "p", day0.AddDate(0, 0, -1).Add(time.Hour))
	probeView(records, "d0", "s", "p", day0.Add(time.Hour))
	require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
	assert.Equal(t, []string{"glam_usage_events_p20261118", "glam_usage_events_p20261119",
		"glam_usage_events_p20261120", "glam_usage_events_p20261121"}, partitions(t, db))

	// A day later the oldest day is past retention; a new day is ahead.
	now = now.Add(day)
	require.NoError(t, e.store.maintain(context.Background(), e.store.pool))
	assert.Equal(t, []string{"glam_usage_events_p20261119", "glam_usage_events_p20261120",
		"glam_usage_events_p20261121", "glam_usage_events_p20261122"}, partitions(t, db))
	assert.Equal(t, []string{"d-1", "d0"}, strings_(t, db, "SELECT event_id FROM glam_usage_events ORDER BY 1"))
	assert.Equal(t, []string{"d-1", "d0"}, strings_(t, db, "SELECT event_id FROM glam_usage_event_ids ORDER BY 1"))

	// A late copy of the dropped event is refused, not stored again.
	ld, records = newLogs()
	probeView(records, "d-2", "s", "p", day0.AddDate(0, 0, -2).Add(time.Hour))
	err := e.logs.ConsumeLogs(context.Background(), ld)
	require.ErrorContains(t, err, "is before 2026-11-19, the oldest day raw_events.retention keeps")
	assert.Equal(t, 2, count(t, db, "SELECT count(*) FROM glam_usage_events"))
}

func partitions(t *testing.T, db poolT) []string {
	t.Helper()
	return strings_(t, db, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'glam_usage_events'::regclass ORDER BY 1`)
}

// Two exporters (two collectors behind a load balancer, a client retry
// reaching both) storing overlapping event ids at the same moment: every
// event is stored once, neither fails (the ids are claimed in one order, so
// the two transactions cannot deadlock), and the duplicates are counted.
func TestWritersRacingOnTheSameIDs(t *testing.T) {
	dsn, db := newDB(t)
	a := startExporter(t, directConfig(dsn), fixedNow)
	b := startExporter(t, directConfig(dsn), fixedNow)
	const rounds, perBatch = 20, 50
	for round := 0; round < rounds; round++ {
		// a writes ids 0..49 of the round, b 25..74 in the reverse order:
		// 25 ids are wanted by both.
		batch := func(ids []int) plog.Logs {
			ld, records := newLogs()
			for _, i := range ids {
				probeView(records, fmt.Sprintf("r%02d-%03d", round, i), "s", "gc_ms", day0.Add(time.Hour))
			}
			return ld
		}
		var forA, forB []int
		for i := 0; i < perBatch; i++ {
			forA = append(forA, i)
			forB = append(forB, perBatch+perBatch/2-1-i)
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for _, w := range []struct {
			e   *testExporter
			ids []int
		}{{a, forA}, {b, forB}} {
			ld := batch(w.ids)
			go func() {
				<-start
				errs <- w.e.logs.ConsumeLogs(context.Background(), ld)
			}()
		}
		close(start)
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
	}
	distinct := rounds * (perBatch + perBatch/2)
	assert.Equal(t, distinct, count(t, db, "SELECT count(*) FROM glam_usage_events"), "every id once")
	assert.Equal(t, distinct, count(t, db, "SELECT count(DISTINCT event_id) FROM glam_usage_events"))
	assert.Equal(t, distinct, count(t, db, "SELECT count(*) FROM glam_usage_event_ids"))
	dups := a.counter(t, "exporter_glam_postgres_duplicate_events") + b.counter(t, "exporter_glam_postgres_duplicate_events")
	assert.Equal(t, int64(rounds*perBatch/2), dups, "each shared id is a duplicate for the writer that came second")
}

// Browsers send a few events a request. With the default sending queue the
// requests merge into a few transactions, and an event in two requests of
// one merged batch (a client retry) is still stored once.
func TestSmallRequestsAreStoredInFewTransactions(t *testing.T) {
	dsn, db := newDB(t)
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Postgres.DSN = configopaque.String(dsn)
	e := startExporter(t, cfg, fixedNow)
	at := day0.Add(10 * time.Hour)

	const requests, perRequest = 100, 20
	for r := range requests {
		ld, records := newLogs()
		for i := range perRequest {
			probeView(records, fmt.Sprintf("e%d", r*perRequest+i), fmt.Sprintf("s%d", r), "p", at)
		}
		if r > 0 {
			probeView(records, fmt.Sprintf("e%d", (r-1)*perRequest), fmt.Sprintf("s%d", r-1), "p", at)
		}
		require.NoError(t, e.logs.ConsumeLogs(context.Background(), ld))
	}
	require.Eventually(t, func() bool {
		return count(t, db, "SELECT count(*) FROM glam_usage_events") == requests*perRequest
	}, 30*time.Second, 20*time.Millisecond)
	// Rows of one transaction share its id in the event log.
	txs := count(t, db, "SELECT count(DISTINCT log_xid) FROM glam_usage_events")
	assert.LessOrEqual(t, txs, 10, "%d requests stored in %d transactions", requests, txs)
	assert.Equal(t, requests*perRequest, count(t, db, "SELECT count(DISTINCT event_id) FROM glam_usage_events"))
	assert.Equal(t, int64(requests-1), e.counter(t, "exporter_glam_postgres_duplicate_events"))
}
