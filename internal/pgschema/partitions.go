package pgschema

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// partitionLock serialises partition creation and removal, so that two
// collectors creating the same day's partition do not collide.
const partitionLock int64 = 0x676c616d0002 // "glam", 2

const partitionPrefix = EventsTable + "_p"

// Day is the UTC day holding t, as midnight UTC.
func Day(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}

// EventPartition is the name of the partition of EventsTable holding the
// events of day.
func EventPartition(day time.Time) string {
	return partitionPrefix + Day(day).Format("20060102")
}

// Querier runs queries: a connection, a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// EventPartitionDays lists the days EventsTable has a partition for, oldest
// first.
func EventPartitionDays(ctx context.Context, db Querier) ([]time.Time, error) {
	rows, err := db.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass ORDER BY c.relname`, EventsTable)
	if err != nil {
		return nil, fmt.Errorf("list event partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list event partitions: %w", err)
	}
	var days []time.Time
	for _, n := range names {
		// Partitions named otherwise were made by hand: not ours to manage.
		if d, err := time.Parse("20060102", strings.TrimPrefix(n, partitionPrefix)); err == nil && strings.HasPrefix(n, partitionPrefix) {
			days = append(days, d)
		}
	}
	return days, nil
}

// EnsureEventPartitions creates the partitions of the given days that do not
// exist yet.
func EnsureEventPartitions(ctx context.Context, db Beginner, days []time.Time) error {
	return lockedTx(ctx, db, "create event partitions", func(tx pgx.Tx) error {
		for _, d := range days {
			d = Day(d)
			sql := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')",
				EventPartition(d), EventsTable, d.Format(time.RFC3339), d.AddDate(0, 0, 1).Format(time.RFC3339))
			if _, err := tx.Exec(ctx, sql); err != nil {
				return fmt.Errorf("partition %s: %w", EventPartition(d), err)
			}
		}
		return nil
	})
}

// DropEventsBefore removes the events of the days before cutoff's day: it
// drops their partitions and deletes their ids. It returns the partitions
// dropped.
func DropEventsBefore(ctx context.Context, db Beginner, cutoff time.Time) ([]string, error) {
	cutoff = Day(cutoff)
	var dropped []string
	err := lockedTx(ctx, db, "drop expired events", func(tx pgx.Tx) error {
		days, err := EventPartitionDays(ctx, tx)
		if err != nil {
			return err
		}
		for _, d := range days {
			if !d.Before(cutoff) {
				break
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+EventPartition(d)); err != nil {
				return err
			}
			dropped = append(dropped, EventPartition(d))
		}
		_, err = tx.Exec(ctx, "DELETE FROM "+EventIDsTable+" WHERE event_time < $1", cutoff)
		return err
	})
	if err != nil {
		return nil, err
	}
	return dropped, nil
}

func lockedTx(ctx context.Context, db Beginner, what string, f func(pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", partitionLock); err != nil {
		return fmt.Errorf("%s: lock: %w", what, err)
	}
	if err := f(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

// Execer is what runs a statement: a connection, a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// ExpireAppliedBatches forgets which batches were merged before cutoff: a
// batch sent again after that long is not expected (the exporter's
// view_rows.batch_retention), so the record only grows the table.
func ExpireAppliedBatches(ctx context.Context, db Execer, cutoff time.Time) error {
	_, err := db.Exec(ctx, "DELETE FROM "+AppliedBatchesTable+" WHERE applied_at < $1", cutoff)
	return err
}
