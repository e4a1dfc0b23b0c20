package pgpool

import (
	"context"
	"errors"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// What an error from PostgreSQL means for whoever sent the statement, decided
// once for the exporter, the usage API and the probe builds: whether the
// database is unavailable (try again later: a 503, a retried write), whether
// another attempt may simply get past it, whether the data was refused, or
// whether the statement ran out of time.

// Unavailable reports whether err says the database cannot serve now — no
// connection, a lost one, a server starting up, shutting down or out of
// resources — so that the same request may succeed later. Errors of the
// caller (a bad statement, bad data, a bug) are not: retrying would not help.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: too many connections, disk full
			"58": // system error
			return true
		case "57": // operator intervention: shutdown, starting up; but 57014 is a cancelled statement
			return pgErr.Code != "57014"
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err)
}

// Transient reports whether another attempt of the same transaction may
// succeed: the database was unavailable, or the transaction lost a race
// (serialization failure, deadlock) or waited too long for a lock.
func Transient(err error) bool {
	if Unavailable(err) {
		return true
	}
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code[:2] == "40" || pgErr.Code == "55P03")
}

// BadData reports whether PostgreSQL refused a write because of the data in
// it (a data exception, a constraint, a value too large for an index),
// which a retry would not change.
func BadData(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// TimedOut reports whether the statement ran out of time: the caller's
// deadline, or statement_timeout (57014 query_canceled).
func TimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &pgErr) && pgErr.Code == "57014")
}
