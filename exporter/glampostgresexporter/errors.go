package glampostgresexporter // import "github.com/mozilla/otelcol-glam/exporter/glampostgresexporter"

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/collector/consumer/consumererror"

	"github.com/mozilla/otelcol-glam/internal/pgpool"
)

// badData reports whether PostgreSQL refused a write because of the data in
// it, which a retry would not change. The exporter validates what it writes,
// so this is a last line of defence.
func badData(err error) bool {
	return pgpool.BadData(err) && !isMissingPartition(err)
}

// isMissingPartition reports whether a row found no partition of the event
// table: another collector dropped a partition this one believed existed.
func isMissingPartition(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.HasPrefix(pgErr.Message, "no partition of relation")
}

func isUndefinedTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// settled reports whether err says something about the server or its data
// that waiting will not change (a refused password, a missing database, a
// schema newer than this collector), as opposed to the server being
// unreachable, restarting or busy.
func settled(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && !pgpool.Transient(err) && !pgpool.TimedOut(err)
}

// exportError makes a write error permanent when retrying cannot help, so
// that it never blocks the queue; any other error is retried by exporterhelper.
func exportError(what string, err error) error {
	err = fmt.Errorf("glam_postgres: %s: %w", what, err)
	if badData(err) {
		return consumererror.NewPermanent(err)
	}
	return err
}

// rejections collects the items of one batch refused as bad data.
type rejections struct {
	kind  string
	total int
	errs  []error
}

// maxReasons bounds the reasons quoted in one error: a batch of a million
// bad records should not make a million-line error.
const maxReasons = 5

func (r *rejections) add(err error) { r.errs = append(r.errs, err) }

func (r *rejections) count() int { return len(r.errs) }

// err is a permanent error naming how many items were refused and why, or
// nil when none was.
func (r *rejections) err() error {
	if len(r.errs) == 0 {
		return nil
	}
	reasons := make([]string, 0, maxReasons+1)
	for i, e := range r.errs {
		if i == maxReasons {
			reasons = append(reasons, fmt.Sprintf("and %d more", len(r.errs)-maxReasons))
			break
		}
		reasons = append(reasons, e.Error())
	}
	return consumererror.NewPermanent(fmt.Errorf("glam_postgres: rejected %d of %d %s as bad data (the others were stored): %s",
		len(r.errs), r.total, r.kind, strings.Join(reasons, "; ")))
}
