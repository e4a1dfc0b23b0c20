// Package viewstore keeps the views created at runtime (SPEC §7) in
// PostgreSQL: their definitions, the log consumer each is read by, and how
// far its backfill has come. The usage API writes it; every glam_eventlog
// receiver reads it (and is notified on pgschema.ViewsChannel) to start and
// stop the views' readers.
package viewstore // import "github.com/mozilla/otelcol-glam/internal/viewstore"

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/internal/views"
)

// Querier is a connection or a pool.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// View is one runtime view as stored.
type View struct {
	Definition views.Definition
	// Raw is the definition as stored, the form readers pass on.
	Raw      string
	Consumer string
	// BackfillUntil is where the log ended when the view was created.
	BackfillUntil usage.LogPosition
	CreatedAt     time.Time
}

const listSQL = `SELECT definition::text, consumer, backfill_xid::text, backfill_seq, created_at FROM ` + pgschema.ViewsTable

// List returns every runtime view, by name.
func List(ctx context.Context, q Querier) ([]View, error) {
	rows, err := q.Query(ctx, listSQL+` ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return scan(rows)
}

// Get returns the runtime view called name, or ok false.
func Get(ctx context.Context, q Querier, name string) (View, bool, error) {
	rows, err := q.Query(ctx, listSQL+` WHERE name = $1`, name)
	if err != nil {
		return View{}, false, err
	}
	vs, err := scan(rows)
	if err != nil || len(vs) == 0 {
		return View{}, false, err
	}
	return vs[0], true, nil
}

func scan(rows pgx.Rows) ([]View, error) {
	var out []View
	var v View
	var xid string
	_, err := pgx.ForEachRow(rows, []any{&v.Raw, &v.Consumer, &xid, &v.BackfillUntil.Seq, &v.CreatedAt}, func() error {
		d, err := views.Parse([]byte(v.Raw))
		if err != nil {
			return fmt.Errorf("stored view definition %s: %w", v.Raw, err)
		}
		v.Definition = d
		if _, err := fmt.Sscan(xid, &v.BackfillUntil.XID); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// Limits bound what runtime views may hold.
type Limits struct {
	// MaxViews is how many runtime views there may be.
	MaxViews int
	// MaxBytes bounds the memory all runtime views' windows may hold at
	// their series limits (views.Definition.MaxBytes).
	MaxBytes int64
}

// ErrExists: a different view already has the name.
var ErrExists = errors.New("a different view has this name")

// ErrRowsRemain: rows of a deleted view of the same name remain; a new view
// would add to them.
var ErrRowsRemain = errors.New("rows of an earlier view of this name remain")

// OverLimitError says which limit a new view would exceed.
type OverLimitError struct{ Msg string }

func (e *OverLimitError) Error() string { return e.Msg }

// lockKey serialises creates and deletes, so that two requests for one name
// (or for the last of the budget) cannot both succeed.
const lockKey = "glam_usage_views"

// Create stores def, which the caller has validated, as a new runtime view
// whose consumer reads the log from its beginning. It returns the view and
// whether it is new: the same definition again is no error (as OpenCensus'
// Register), a different one under the name is ErrExists.
func Create(ctx context.Context, db pgschema.Beginner, def views.Definition, limits Limits) (View, bool, error) {
	raw, err := json.Marshal(def)
	if err != nil {
		return View{}, false, err
	}
	var out View
	created := false
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, lockKey); err != nil {
			return err
		}
		existing, err := List(ctx, tx)
		if err != nil {
			return err
		}
		var used int64
		for _, v := range existing {
			if v.Definition.Name == def.Name {
				out = v
				if views.Equal(v.Definition, def) {
					return nil
				}
				return fmt.Errorf("%w: %s is defined as %s", ErrExists, def.Name, v.Raw)
			}
			used += v.Definition.MaxBytes()
		}
		if len(existing) >= limits.MaxViews {
			return &OverLimitError{fmt.Sprintf("there are already %d runtime views, the most runtime_views.max_views allows; delete one first", len(existing))}
		}
		if need := def.MaxBytes(); used+need > limits.MaxBytes {
			return &OverLimitError{fmt.Sprintf("view %s may hold up to %s (max_series %d × live windows × bytes per series), and the runtime views already may hold %s of the %s runtime_views.memory_limit_mib allows: lower max_series or delete a view",
				def.Name, mib(need), def.EffectiveMaxSeries(), mib(used), mib(limits.MaxBytes))}
		}
		var rows bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgschema.ViewRowsTable+` WHERE view = $1)`, def.Name).Scan(&rows); err != nil {
			return err
		}
		if rows {
			return fmt.Errorf("%w: delete them with DELETE /api/v1/views/%s?purge=true, or choose another name", ErrRowsRemain, def.Name)
		}
		head, err := logHead(ctx, tx)
		if err != nil {
			return err
		}
		var id [6]byte
		_, _ = rand.Read(id[:])
		out = View{Definition: def, Raw: string(raw), Consumer: "view:" + def.Name + ":" + hex.EncodeToString(id[:]), BackfillUntil: head}
		if err := tx.QueryRow(ctx, `INSERT INTO `+pgschema.ViewsTable+` (name, definition, consumer, backfill_xid, backfill_seq)
			VALUES ($1, $2, $3, $4::text::xid8, $5) RETURNING created_at`,
			def.Name, out.Raw, out.Consumer, fmt.Sprint(head.XID), head.Seq).Scan(&out.CreatedAt); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+pgschema.LogOffsetsTable+` (consumer) VALUES ($1)`, out.Consumer); err != nil {
			return err
		}
		created = true
		return notify(ctx, tx)
	})
	if err != nil {
		return View{}, false, err
	}
	return out, created, nil
}

// Deleted is what Delete did.
type Deleted struct {
	// View: a runtime view was deleted (not only rows purged).
	View bool
	// PurgedRows counts the view rows deleted.
	PurgedRows int64
}

// Delete removes the runtime view called name and retires its consumer, so
// that no row of it is merged after the delete commits; with purge its
// rows go too. Purging the rows a deleted view left works the same way.
func Delete(ctx context.Context, db pgschema.Beginner, name string, purge bool) (Deleted, error) {
	var d Deleted
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		d = Deleted{}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, lockKey); err != nil {
			return err
		}
		var consumer string
		err := tx.QueryRow(ctx, `DELETE FROM `+pgschema.ViewsTable+` WHERE name = $1 RETURNING consumer`, name).Scan(&consumer)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			d.View = true
			// Waits for a merge of this consumer in progress: its rows are
			// then in, and purged below if asked.
			if _, err := tx.Exec(ctx, `UPDATE `+pgschema.LogOffsetsTable+` SET retired_at = now() WHERE consumer = $1`, consumer); err != nil {
				return err
			}
		}
		if purge {
			var tag pgconn.CommandTag
			if tag, err = tx.Exec(ctx, `DELETE FROM `+pgschema.ViewRowsTable+` WHERE view = $1`, name); err != nil {
				return err
			}
			d.PurgedRows = tag.RowsAffected()
		}
		if d.View {
			return notify(ctx, tx)
		}
		return nil
	})
	return d, err
}

func notify(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, pgschema.ViewsChannel)
	return err
}

// logHead is the position of the last event in the log, or the start.
// Here and below the ORDER BY names the table's columns (e.): a bare
// log_xid would be the output column log_xid::text, sorted as text ('9'
// after '10') and without the index.
func logHead(ctx context.Context, q Querier) (usage.LogPosition, error) {
	var p usage.LogPosition
	var xid string
	err := q.QueryRow(ctx, `SELECT e.log_xid::text, e.log_seq FROM `+pgschema.EventsTable+` e ORDER BY e.log_xid DESC, e.log_seq DESC LIMIT 1`).Scan(&xid, &p.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	_, err = fmt.Sscan(xid, &p.XID)
	return p, err
}

// Progress is how far a runtime view's backfill has come.
type Progress struct {
	// Live: its consumer has merged the log up to where it ended when the
	// view was created; from there on the view follows the log.
	Live bool
	// Fraction of the backfill merged, by transaction id: the log's
	// events are spread over transactions about evenly, so this is close
	// to the share of events, and costs two index lookups, not a count.
	Fraction float64
	// Offset is where the view's consumer has merged the log up to.
	Offset usage.LogPosition
}

// ProgressOf reads how far v's backfill has come.
func ProgressOf(ctx context.Context, q Querier, v View) (Progress, error) {
	var pr Progress
	var xid string
	err := q.QueryRow(ctx, `SELECT log_xid::text, log_seq FROM `+pgschema.LogOffsetsTable+` WHERE consumer = $1`, v.Consumer).Scan(&xid, &pr.Offset.Seq)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return pr, err
	}
	if xid != "" {
		if _, err := fmt.Sscan(xid, &pr.Offset.XID); err != nil {
			return pr, err
		}
	}
	if !pr.Offset.Less(v.BackfillUntil) {
		return Progress{Live: true, Fraction: 1, Offset: pr.Offset}, nil
	}
	var first string
	err = q.QueryRow(ctx, `SELECT e.log_xid::text FROM `+pgschema.EventsTable+` e ORDER BY e.log_xid, e.log_seq LIMIT 1`).Scan(&first)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return pr, err
	}
	var start uint64
	if first != "" {
		if _, err := fmt.Sscan(first, &start); err != nil {
			return pr, err
		}
	}
	if end := v.BackfillUntil.XID; end > start && pr.Offset.XID > start {
		pr.Fraction = min(float64(pr.Offset.XID-start)/float64(end-start), 0.999)
	}
	return pr, nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
