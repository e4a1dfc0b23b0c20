package glampostgresexporter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
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
// the same rows into the same table in the same run: the COPY is the limit
// the exporter's dedupe and merge cost is measured against.

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
		dsn := pgtest.NewDatabase(b)
		e := benchExporter(b, dsn) // for the schema and today's partition
		pool, err := e.store.db()
		require.NoError(b, err)
		ctx := context.Background()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			rows := newEventBatch(benchLogs(i), e.store.acceptedDays()).rows
			b.StartTimer()
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{pgschema.EventsTable}, pgschema.EventColumns,
				pgx.CopyFromSlice(len(rows), func(k int) ([]any, error) { return rows[k].values(), nil })); err != nil {
				b.Fatal(err)
			}
		}
		reportRows(b)
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
		e := benchExporter(b, pgtest.NewDatabase(b))
		pool, err := e.store.db()
		require.NoError(b, err)
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
