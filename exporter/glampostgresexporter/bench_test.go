package glampostgresexporter

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// benchBatch is the number of rows per export in the benchmarks, about what
// exporterhelper's batching hands over.
const benchBatch = 1000

// Each benchmark reports rows/s for the exporter and for a plain COPY of
// the same rows into the same tables in the same run: the COPY is the limit
// the exporter's dedupe and merge cost is measured against. For raw events
// that is both tables the exporter writes, the id table (what makes an
// event stored once) and the events, in one transaction.

// copyEvents is the plain COPY of raw events: rows into the id table and
// the event table, in one transaction.
func copyEvents(ctx context.Context, pool *pgxpool.Pool, rows []eventRow) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{pgschema.EventIDsTable}, []string{"event_id", "event_time"},
			pgx.CopyFromSlice(len(rows), func(k int) ([]any, error) { return []any{rows[k].id, rows[k].time}, nil })); err != nil {
			return err
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{pgschema.EventsTable}, pgschema.EventColumns,
			pgx.CopyFromSlice(len(rows), func(k int) ([]any, error) { return rows[k].values(), nil }))
		return err
	})
}

func benchLogs(i int) plog.Logs {
	ld, records := newLogs()
	for j := range benchBatch {
		probeView(records, fmt.Sprintf("ev-%08d", i*benchBatch+j), fmt.Sprintf("s-%d", j%50), fmt.Sprintf("probe_%d", j%200), fixedNow())
	}
	return ld
}

func BenchmarkRawEvents(b *testing.B) {
	b.Run("exporter", func(b *testing.B) {
		dsn := pgtest.NewDatabase(b)
		e := benchExporter(b, dsn)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			ld := benchLogs(i)
			b.StartTimer()
			if err := e.logs.ConsumeLogs(ctx, ld); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b)
	})
	b.Run("plain_copy", func(b *testing.B) {
		e, pool := copyTarget(b)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			rows := newEventBatch(benchLogs(i), e.store.acceptedDays()).rows
			b.StartTimer()
			if err := copyEvents(ctx, pool, rows); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b)
	})
}

// browserRequest is the ith request of browser traffic: perRequest events
// of one session, as the OTel JS SDK's span batches bring them.
func browserRequest(i, perRequest int) plog.Logs {
	ld, records := newLogs()
	for j := range perRequest {
		probeView(records, fmt.Sprintf("br-%08d-%02d", i, j), fmt.Sprintf("s-%d", i), fmt.Sprintf("probe_%d", j%8), fixedNow())
	}
	return ld
}

// BenchmarkRawEventsBrowserTraffic is browser-shaped traffic: requests of
// 20 events from 8 senders at once (the shared bench's connections), b.N
// requests in all. The exporter runs as configured by default (the sending
// queue batching requests) and is timed until every event is committed;
// against it, each request COPYed as it comes into the same tables. Run it
// with thousands of requests (-benchtime 10000x): a few hundred are timed
// mostly waiting for the queue's 200 ms flush timeout.
func BenchmarkRawEventsBrowserTraffic(b *testing.B) {
	const perRequest, senders = 20, 8
	send := func(b *testing.B, each func(i int) error) {
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, senders)
		for range senders {
			wg.Go(func() {
				for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
					if err := each(i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N*perRequest)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("exporter", func(b *testing.B) {
		dsn, db := newDB(b)
		cfg := NewFactory().CreateDefaultConfig().(*Config)
		cfg.Postgres.DSN = configopaque.String(dsn)
		e := startExporter(b, cfg, fixedNow)
		reqs := make([]plog.Logs, b.N)
		for i := range reqs {
			reqs[i] = browserRequest(i, perRequest)
		}
		ctx := context.Background()
		b.ResetTimer()
		send(b, func(i int) error {
			// A full queue is the receiver's 503: the browser sends again.
			for {
				err := e.logs.ConsumeLogs(ctx, reqs[i])
				if err == nil || !strings.Contains(err.Error(), "sending queue is full") {
					return err
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
		for count(b, db, "SELECT count(*) FROM "+pgschema.EventsTable) < b.N*perRequest {
			time.Sleep(5 * time.Millisecond)
		}
		report(b)
	})
	b.Run("plain_copy", func(b *testing.B) {
		e, pool := copyTarget(b)
		reqs := make([][]eventRow, b.N)
		for i := range reqs {
			reqs[i] = newEventBatch(browserRequest(i, perRequest), e.store.acceptedDays()).rows
		}
		ctx := context.Background()
		b.ResetTimer()
		send(b, func(i int) error { return copyEvents(ctx, pool, reqs[i]) })
		report(b)
	})
}

// benchViews is one flush of benchBatch series of a count view; window
// picks the window start, so a new window means new rows.
func benchViews(flush, window int) pmetric.Metrics {
	vb := newViewMetrics(fmt.Sprintf("flush-%d", flush))
	start := hour0.Add(time.Duration(window) * time.Hour)
	for j := range benchBatch {
		vb.count("glam.probe_views.hourly", start, start.Add(time.Hour),
			map[string]string{usage.AttrProduct: "fog", usage.AttrProbeName: fmt.Sprintf("probe_%d", j)}, 1)
	}
	return vb.md
}

func BenchmarkViewRows(b *testing.B) {
	// insert: every flush opens new rows; merge: every flush adds to the
	// same rows, as an open daily window does all day.
	for _, mode := range []string{"insert", "merge"} {
		b.Run("exporter_"+mode, func(b *testing.B) {
			e := benchExporter(b, pgtest.NewDatabase(b))
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				window := i
				if mode == "merge" {
					window = 0
				}
				md := benchViews(i, window)
				b.StartTimer()
				if err := e.metrics.ConsumeMetrics(ctx, md); err != nil {
					b.Fatal(err)
				}
			}
			reportRows(b)
		})
	}
	b.Run("plain_copy", func(b *testing.B) {
		_, pool := copyTarget(b)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			points := newViewBatch(benchViews(i, i)).points
			b.StartTimer()
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{pgschema.ViewRowsTable}, pgschema.ViewRowColumns,
				pgx.CopyFromSlice(len(points), func(k int) ([]any, error) { return points[k].values(), nil })); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b)
	})
}

// copyTarget is a database with the schema and today's partition for the
// plain COPY, and its pool.
func copyTarget(b *testing.B) (*testExporter, *pgxpool.Pool) {
	e := benchExporter(b, pgtest.NewDatabase(b))
	pool, err := e.store.db()
	require.NoError(b, err)
	return e, pool
}

func benchExporter(b *testing.B, dsn string) *testExporter {
	return startExporter(b, directConfig(dsn), fixedNow)
}

func reportRows(b *testing.B) {
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "rows/s")
}

// The exporter's own CPU share: turning pdata into rows, without PostgreSQL.
func BenchmarkConversion(b *testing.B) {
	b.Run("events", func(b *testing.B) {
		ld := benchLogs(0)
		days := acceptedDays{last: pgschema.Day(fixedNow()).AddDate(0, 0, 3)}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if rows := newEventBatch(ld, days).rows; len(rows) != benchBatch {
				b.Fatal(len(rows))
			}
		}
		reportRows(b)
	})
	b.Run("view_points", func(b *testing.B) {
		md := benchViews(0, 0)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if points := newViewBatch(md).points; len(points) != benchBatch {
				b.Fatal(len(points))
			}
		}
		reportRows(b)
	})
}
