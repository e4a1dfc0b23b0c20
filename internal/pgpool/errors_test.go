package pgpool

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// The classes of SQLSTATE codes, as PostgreSQL's appendix A lists them.
func TestErrorClassesOfSQLSTATE(t *testing.T) {
	for code, want := range map[string][4]bool{ // unavailable, transient, bad data, timed out
		"08006": {true, true, false, false},   // connection_failure
		"53300": {true, true, false, false},   // too_many_connections
		"57P01": {true, true, false, false},   // admin_shutdown
		"57P03": {true, true, false, false},   // cannot_connect_now
		"57014": {false, false, false, true},  // query_canceled (statement_timeout)
		"40001": {false, true, false, false},  // serialization_failure
		"40P01": {false, true, false, false},  // deadlock_detected
		"55P03": {false, true, false, false},  // lock_not_available
		"22021": {false, false, true, false},  // character_not_in_repertoire
		"23505": {false, false, true, false},  // unique_violation
		"54000": {false, false, true, false},  // program_limit_exceeded
		"42P01": {false, false, false, false}, // undefined_table
		"42601": {false, false, false, false}, // syntax_error
	} {
		err := fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code})
		assert.Equal(t, want, [4]bool{Unavailable(err), Transient(err), BadData(err), TimedOut(err)}, code)
	}
	bug := errors.New("json: unsupported value")
	assert.False(t, Unavailable(bug), "a bug is not an unavailable database")
	assert.False(t, Transient(bug))
	assert.True(t, TimedOut(fmt.Errorf("x: %w", context.DeadlineExceeded)))
	assert.False(t, Unavailable(nil))
}

// A server that is not there, for real.
func TestNoServerIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pgx.Connect(ctx, "postgres://postgres@127.0.0.1:1/none?connect_timeout=2")
	require.Error(t, err)
	assert.True(t, Unavailable(err), "%v", err)
	assert.True(t, Transient(err))
}

// A statement that runs past statement_timeout, for real.
func TestStatementTimeoutTimesOut(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SET statement_timeout = '50ms'; SELECT pg_sleep(1)")
	require.Error(t, err)
	assert.True(t, TimedOut(err), "%v", err)
	assert.False(t, Unavailable(err))
}
