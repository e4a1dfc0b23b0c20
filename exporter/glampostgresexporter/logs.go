package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// The staging table takes the batch by COPY; one statement then moves the
// events whose id is new into the partitioned table. It lives for the
// connection and empties at each commit.
const (
	stageEvents       = "glam_stage_events"
	createStageEvents = `CREATE TEMP TABLE IF NOT EXISTS ` + stageEvents + ` (
		event_id text, event_time timestamptz, observed_time timestamptz, event_name text,
		session_id text, product text, probe_name text, probe_process text, channel text,
		os text, source text, attributes jsonb, resource jsonb, body jsonb
	) ON COMMIT DELETE ROWS`
)

// insertNewEvents claims each staged id in the id table and stores the events
// whose claim succeeded: an id already there (a retried batch, a client
// retry) is skipped. Claims go in id order so that two transactions holding
// overlapping ids cannot deadlock.
var insertNewEvents = `WITH fresh AS (
	INSERT INTO ` + pgschema.EventIDsTable + ` (event_id, event_time)
	SELECT event_id, event_time FROM ` + stageEvents + ` ORDER BY event_id
	ON CONFLICT (event_id) DO NOTHING
	RETURNING event_id
)
INSERT INTO ` + pgschema.EventsTable + ` (` + strings.Join(pgschema.EventColumns, ", ") + `)
SELECT s.` + strings.Join(pgschema.EventColumns, ", s.") + ` FROM ` + stageEvents + ` s JOIN fresh USING (event_id)`

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
	var stored int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createStageEvents); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{stageEvents}, pgschema.EventColumns,
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rows[i].values(), nil })); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, insertNewEvents)
		stored = tag.RowsAffected()
		if err != nil || stored == 0 {
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
	return int(stored), err
}
