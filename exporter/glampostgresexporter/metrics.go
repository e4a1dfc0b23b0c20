package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

const stageViewRows = "glam_stage_view_rows"

// createStageViewRows makes the session's staging table of view rows with
// the columns and types of the view rows table itself.
var createStageViewRows = `CREATE TEMP TABLE IF NOT EXISTS ` + stageViewRows + ` ON COMMIT DELETE ROWS AS
	SELECT ` + strings.Join(pgschema.ViewRowColumns, ", ") + ` FROM ` + pgschema.ViewRowsTable + ` WITH NO DATA`

// claimBatchRows records each (batch, row) of the batch as applied and
// returns those not recorded before: only they are merged.
const claimBatchRows = `INSERT INTO ` + pgschema.AppliedBatchesTable + ` (batch_id, view, window_start, tags_hash)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::bytea[]) AS u(b, v, w, t) ORDER BY v, w, t, b
ON CONFLICT DO NOTHING
RETURNING batch_id, view, window_start, tags_hash`

// mergeViewRows adds the staged rows into the view rows. Rows are taken in
// key order so that concurrent merges lock them in the same order. A row
// whose type or bucket bounds differ from the stored one is left alone and
// missing from RETURNING.
var mergeViewRows = `INSERT INTO ` + pgschema.ViewRowsTable + ` AS t (` + strings.Join(pgschema.ViewRowColumns, ", ") + `)
SELECT ` + strings.Join(pgschema.ViewRowColumns, ", ") + ` FROM ` + stageViewRows + ` ORDER BY view, window_start, tags_hash
ON CONFLICT (view, window_start, tags_hash) DO UPDATE SET
	window_end = greatest(t.window_end, excluded.window_end),
	count = t.count + excluded.count,
	sum = t.sum + excluded.sum,
	bucket_counts = glam_add_bucket_counts(t.bucket_counts, excluded.bucket_counts),
	min = least(t.min, excluded.min),
	max = greatest(t.max, excluded.max),
	last_value = CASE WHEN t.last_value_time IS NULL OR excluded.last_value_time >= t.last_value_time
		THEN coalesce(excluded.last_value, t.last_value) ELSE t.last_value END,
	last_value_time = greatest(t.last_value_time, excluded.last_value_time),
	updated_at = now()
WHERE t.metric_type = excluded.metric_type AND t.bucket_bounds IS NOT DISTINCT FROM excluded.bucket_bounds
RETURNING view, window_start, tags_hash`

// The offset of a log consumer: made at the zero position the first time
// the consumer's batch comes, locked for the merge, moved with it.
const (
	ensureLogOffset = `INSERT INTO ` + pgschema.LogOffsetsTable + ` (consumer, log_xid, log_seq) VALUES ($1, '0', 0)
ON CONFLICT (consumer) DO NOTHING`
	lockLogOffset = `SELECT log_xid, log_seq, retired_at IS NOT NULL FROM ` + pgschema.LogOffsetsTable + ` WHERE consumer = $1 FOR UPDATE`
	moveLogOffset = `UPDATE ` + pgschema.LogOffsetsTable + ` SET log_xid = $2, log_seq = $3, updated_at = now() WHERE consumer = $1`
)

// positionConflict is a log batch that does not start at its consumer's
// offset and does not lie behind it either: nothing of it is merged.
type positionConflict struct {
	log    logRange
	offset usage.LogPosition
}

func (e *positionConflict) Error() string {
	return fmt.Sprintf("glam_postgres: log consumer %q: %v: the batch covers %s to %s, the offset is at %s; nothing of the batch was merged (read again from the offset)",
		e.log.consumer, usage.ErrLogPositionConflict, e.log.from, e.log.to, e.offset)
}

func (e *positionConflict) Unwrap() error { return usage.ErrLogPositionConflict }

// errRetired: the batch's consumer read a runtime view since deleted. Its
// rows are not wanted, and nothing will read the events again: the batch
// is dropped as done.
var errRetired = errors.New("the log consumer is retired (its view was deleted)")

func (r *storeRef) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	return r.store.pushMetrics(ctx, md, r.logger)
}

func (s *store) pushMetrics(ctx context.Context, md pmetric.Metrics, logger *zap.Logger) error {
	batch := newViewBatch(md)
	if batch.logErr != nil {
		n := md.DataPointCount()
		err := consumererror.NewPermanent(fmt.Errorf("glam_postgres: refused a view batch of %d data points, nothing of it merged: %w", n, batch.logErr))
		s.telemetry.ExporterGlamPostgresRejectedDataPoints.Add(ctx, int64(n))
		logger.Warn("metric data points rejected", zap.Int("rejected", n), zap.Error(err))
		return err
	}
	// A log batch is merged even without points: it moves the offset.
	if len(batch.points) > 0 || batch.log != nil {
		replayed, conflicts, err := s.mergePoints(ctx, batch.points, batch.log)
		var pc *positionConflict
		if errors.Is(err, errRetired) {
			logger.Info("View batch dropped: its view was deleted", zap.String("consumer", batch.log.consumer), zap.Int("data_points", len(batch.points)))
			return nil
		}
		if errors.As(err, &pc) {
			s.telemetry.ExporterGlamPostgresLogPositionConflicts.Add(ctx, 1)
			return consumererror.NewPermanent(err)
		}
		if err != nil {
			return exportError("merge view rows", err)
		}
		batch.replayed += replayed
		for _, k := range conflicts {
			batch.rejected.add(fmt.Errorf("view %q window %s tags %s: %w", k.view, k.start.UTC().Format(time.RFC3339), k.tags, errIncompatible))
		}
	}
	if batch.replayed > 0 {
		s.telemetry.ExporterGlamPostgresReplayedDataPoints.Add(ctx, int64(batch.replayed))
	}
	if err := batch.rejected.err(); err != nil {
		s.telemetry.ExporterGlamPostgresRejectedDataPoints.Add(ctx, int64(batch.rejected.count()))
		logger.Warn("metric data points rejected", zap.Int("rejected", batch.rejected.count()), zap.Error(err))
		return err
	}
	return nil
}

type conflict struct {
	rowKey
	tags string
}

// mergePoints merges points into the view rows in one transaction, and
// returns how many points were skipped as already merged and the rows whose
// stored type or buckets did not match.
//
// What recognises a batch merged before commits with the merge, so it is
// recognised however often the batch comes back. For a batch from the event
// log (log != nil) that is its consumer's offset: the batch is merged only
// when it starts at the offset, which moves to the batch's end; a batch
// ending at or before the offset was merged before (a retry after a lost
// acknowledgement) and is skipped; any other is a *positionConflict. For
// other batches, and log batches that cover no events (the offset does not
// move), it is the claim of each (batch id, row) in the applied batches.
func (s *store) mergePoints(ctx context.Context, points []viewPoint, log *logRange) (replayed int, conflicts []conflict, err error) {
	pool, err := s.db()
	if err != nil {
		return 0, nil, err
	}
	if err := s.ensureSchema(ctx, pool); err != nil {
		return 0, nil, err
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		replayed, conflicts = 0, nil
		if log != nil {
			offset, retired, err := lockOffset(ctx, tx, log.consumer)
			if err != nil {
				return err
			}
			if retired {
				return errRetired
			}
			if offset != log.from {
				if !offset.Less(log.to) {
					replayed = len(points)
					return nil
				}
				return &positionConflict{log: *log, offset: offset}
			}
		}
		// Points of a log batch carry no batch id, unless the batch
		// covers no events (see newViewBatch): claim passes them through.
		fresh, n, err := claim(ctx, tx, points)
		if err != nil {
			return err
		}
		replayed = n
		if conflicts, err = merge(ctx, tx, fresh); err != nil {
			return err
		}
		if log != nil {
			_, err = tx.Exec(ctx, moveLogOffset, log.consumer, log.to.XID, log.to.Seq)
		}
		return err
	})
	return replayed, conflicts, err
}

// lockOffset returns the consumer's offset, locked until the transaction
// ends, making it at the zero position if the consumer has none yet, and
// whether the consumer is retired. Two exporters merging for one consumer
// queue here: the second reads the offset the first moved.
func lockOffset(ctx context.Context, tx pgx.Tx, consumer string) (offset usage.LogPosition, retired bool, err error) {
	if _, err := tx.Exec(ctx, ensureLogOffset, consumer); err != nil {
		return offset, false, err
	}
	err = tx.QueryRow(ctx, lockLogOffset, consumer).Scan(&offset.XID, &offset.Seq, &retired)
	return offset, retired, err
}

// merge adds points into the view rows and returns the rows whose stored
// type or buckets did not match.
func merge(ctx context.Context, tx pgx.Tx, points []viewPoint) ([]conflict, error) {
	rows, conflicts := combine(points)
	if len(rows) == 0 {
		return conflicts, nil
	}
	if _, err := tx.Exec(ctx, createStageViewRows); err != nil {
		return nil, err
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{stageViewRows}, pgschema.ViewRowColumns,
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rows[i].values(), nil })); err != nil {
		return nil, err
	}
	merged, err := tx.Query(ctx, mergeViewRows)
	if err != nil {
		return nil, err
	}
	done := make(map[rowKey]bool, len(rows))
	var k rowKey
	var hash []byte
	if _, err := pgx.ForEachRow(merged, []any{&k.view, &k.start, &hash}, func() error {
		copy(k.tagsHash[:], hash)
		done[k.utc()] = true
		return nil
	}); err != nil {
		return nil, err
	}
	for i := range rows {
		if key := rows[i].key; !done[key.utc()] {
			conflicts = append(conflicts, conflict{rowKey: key, tags: string(rows[i].tags)})
		}
	}
	return conflicts, nil
}

// claim returns the points to merge: those without a batch id and those
// whose (batch id, row) was not claimed before, with how many were.
func claim(ctx context.Context, tx pgx.Tx, points []viewPoint) ([]viewPoint, int, error) {
	var batches, views []string
	var starts []time.Time
	var hashes [][]byte
	for i := range points {
		if p := &points[i]; p.batchID != "" {
			batches = append(batches, p.batchID)
			views = append(views, p.key.view)
			starts = append(starts, p.key.start)
			hashes = append(hashes, p.key.tagsHash[:])
		}
	}
	if len(batches) == 0 {
		return points, 0, nil
	}
	rows, err := tx.Query(ctx, claimBatchRows, batches, views, starts, hashes)
	if err != nil {
		return nil, 0, err
	}
	type claimed struct {
		batchID string
		key     rowKey
	}
	got := make(map[claimed]bool, len(batches))
	var c claimed
	var hash []byte
	if _, err := pgx.ForEachRow(rows, []any{&c.batchID, &c.key.view, &c.key.start, &hash}, func() error {
		copy(c.key.tagsHash[:], hash)
		got[claimed{c.batchID, c.key.utc()}] = true
		return nil
	}); err != nil {
		return nil, 0, err
	}
	fresh := make([]viewPoint, 0, len(points))
	for _, p := range points {
		if p.batchID == "" || got[claimed{p.batchID, p.key.utc()}] {
			fresh = append(fresh, p)
		}
	}
	return fresh, len(points) - len(fresh), nil
}

// combine merges the points of one row into one, since a single INSERT ...
// ON CONFLICT cannot touch a row twice; points that cannot merge with the
// first of their row are returned as conflicts.
func combine(points []viewPoint) ([]viewPoint, []conflict) {
	index := make(map[rowKey]int, len(points))
	rows := make([]viewPoint, 0, len(points))
	var conflicts []conflict
	for _, p := range points {
		i, ok := index[p.key]
		if !ok {
			index[p.key] = len(rows)
			p.buckets = append([]int64(nil), p.buckets...)
			rows = append(rows, p)
			continue
		}
		if err := rows[i].merge(&p); err != nil {
			conflicts = append(conflicts, conflict{rowKey: p.key, tags: string(p.tags)})
		}
	}
	return rows, conflicts
}
