package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// claimEventIDs claims each id of the batch in the id table and returns the
// ids whose claim succeeded: only their events are stored (COPY), an id
// already there (a retried batch, a client retry) is skipped. A claim
// conflicting with another transaction's waits for it to end, so an event is
// stored by the one transaction whose claim commits. Claims go in id order so
// that two transactions holding overlapping ids cannot deadlock.
var claimEventIDs = `INSERT INTO ` + pgschema.EventIDsTable + ` (event_id, event_time)
SELECT * FROM unnest($1::text[], $2::timestamptz[]) AS u(event_id, event_time) ORDER BY event_id
ON CONFLICT (event_id) DO NOTHING
RETURNING event_id`

// notifyEvents wakes the log consumers LISTENing on pgschema.EventsChannel.
// PostgreSQL delivers it at commit, so a consumer woken by it finds the
// events committed; notifications of one transaction on one channel with
// the same payload fold into one.
const notifyEvents = `SELECT pg_notify($1, '')`

func (r *storeRef) pushLogs(ctx context.Context, ld plog.Logs) error {
	return r.store.pushLogs(ctx, ld, r.logger)
}

func (s *store) pushLogs(ctx context.Context, ld plog.Logs, logger *zap.Logger) error {
	batch := newEventBatch(ld, s.acceptedDays())
	stored := 0
	if len(batch.rows) > 0 {
		n, err := s.storeEvents(ctx, batch.rows)
		if err != nil {
			return exportError("store usage events", err)
		}
		stored = n
	}
	if dup := batch.duplicates + len(batch.rows) - stored; dup > 0 {
		s.telemetry.ExporterGlamPostgresDuplicateEvents.Add(ctx, int64(dup))
	}
	if err := batch.rejected.err(); err != nil {
		s.telemetry.ExporterGlamPostgresRejectedLogRecords.Add(ctx, int64(batch.rejected.count()))
		logger.Warn("log records rejected", zap.Int("rejected", batch.rejected.count()), zap.Int("stored", stored), zap.Error(err))
		return err
	}
	return nil
}

// storeEvents writes rows in one transaction and returns how many were new.
// A transaction that stored any new event notifies the log consumers.
func (s *store) storeEvents(ctx context.Context, rows []eventRow) (int, error) {
	pool, err := s.db()
	if err != nil {
		return 0, err
	}
	if err := s.ensureSchema(ctx, pool); err != nil {
		return 0, err
	}
	seen := map[time.Time]bool{}
	var days []time.Time
	for i := range rows {
		if d := pgschema.Day(rows[i].time); !seen[d] {
			seen[d] = true
			days = append(days, d)
		}
	}
	if err := s.ensurePartitions(ctx, pool, days); err != nil {
		return 0, err
	}
	ids := make([]string, len(rows))
	times := make([]time.Time, len(rows))
	for i := range rows {
		ids[i], times[i] = rows[i].id, rows[i].time
	}
	stored := 0
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		claimed, err := tx.Query(ctx, claimEventIDs, ids, times)
		if err != nil {
			return err
		}
		fresh := make(map[string]bool, len(rows))
		var id string
		if _, err := pgx.ForEachRow(claimed, []any{&id}, func() error {
			fresh[id] = true
			return nil
		}); err != nil {
			return err
		}
		stored = len(fresh)
		if stored == 0 {
			return nil
		}
		newRows := rows
		if stored < len(rows) {
			newRows = make([]eventRow, 0, stored)
			for i := range rows {
				if fresh[rows[i].id] {
					newRows = append(newRows, rows[i])
				}
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{pgschema.EventsTable}, pgschema.EventColumns,
			pgx.CopyFromSlice(len(newRows), func(i int) ([]any, error) { return newRows[i].values(), nil })); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, notifyEvents, pgschema.EventsChannel)
		return err
	})
	if isMissingPartition(err) {
		// Another collector dropped a partition this one remembered; the
		// retry will create it again.
		s.resetPartitions()
	}
	return stored, err
}
