// Package pgpool is the PostgreSQL connection block every otelcol-glam
// component reads the same way — the glam_postgres exporter, the glam_usage
// extension and glam-probe-builder — so `dsn` and the pool options mean one
// thing across the config file, are validated once and open a pool once.
package pgpool // import "github.com/mozilla/otelcol-glam/internal/pgpool"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/collector/config/configopaque"
)

// Config is squashed into each component's config: its keys sit beside the
// component's own.
type Config struct {
	// DSN is the PostgreSQL connection string, as a URL or keyword/value
	// pairs. Write it as ${env:VAR} to keep the password out of the file.
	DSN configopaque.String `mapstructure:"dsn"`
	// MaxConns bounds the pool's connections.
	MaxConns int32 `mapstructure:"max_conns"`
	// MinConns is how many connections the pool keeps open when idle.
	MinConns int32 `mapstructure:"min_conns"`
	// MaxConnLifetime closes a connection this long after it was opened
	// (0: pgx's default, 1h), so a failed-over server is left in time.
	MaxConnLifetime time.Duration `mapstructure:"max_conn_lifetime"`
	// MaxConnIdleTime closes a connection idle this long (0: pgx's
	// default, 30m).
	MaxConnIdleTime time.Duration `mapstructure:"max_conn_idle_time"`
}

// Validate reports every invalid setting at once.
func (c Config) Validate() error {
	var errs []error
	if c.DSN == "" {
		errs = append(errs, errors.New("dsn must be set"))
	} else if _, err := pgxpool.ParseConfig(string(c.DSN)); err != nil {
		// pgx redacts the password in its parse errors.
		errs = append(errs, fmt.Errorf("dsn: %w", err))
	}
	if c.MaxConns < 1 {
		errs = append(errs, fmt.Errorf("max_conns must be at least 1, got %d", c.MaxConns))
	}
	if c.MinConns < 0 || c.MinConns > c.MaxConns {
		errs = append(errs, fmt.Errorf("min_conns must be between 0 and max_conns (%d), got %d", c.MaxConns, c.MinConns))
	}
	if c.MaxConnLifetime < 0 || c.MaxConnIdleTime < 0 {
		errs = append(errs, errors.New("max_conn_lifetime and max_conn_idle_time must not be negative"))
	}
	return errors.Join(errs...)
}

// New opens a pool. It connects lazily: an unreachable server makes the
// first query fail, not New. configure, if given, adjusts pgx's settings
// further (session parameters, for one).
func (c Config) New(ctx context.Context, configure ...func(*pgxpool.Config)) (*pgxpool.Pool, error) {
	pcfg, err := pgxpool.ParseConfig(string(c.DSN))
	if err != nil {
		return nil, fmt.Errorf("dsn: %w", err)
	}
	pcfg.MaxConns = c.MaxConns
	pcfg.MinConns = c.MinConns
	if c.MaxConnLifetime > 0 {
		pcfg.MaxConnLifetime = c.MaxConnLifetime
	}
	if c.MaxConnIdleTime > 0 {
		pcfg.MaxConnIdleTime = c.MaxConnIdleTime
	}
	for _, f := range configure {
		f(pcfg)
	}
	// The pool outlives the start call that opens it.
	pool, err := pgxpool.NewWithConfig(context.WithoutCancel(ctx), pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres pool: %w", err)
	}
	return pool, nil
}

// IsSchemaMissing reports whether err says that a table or function of
// otelcol-glam's schema does not exist (yet): the database is reachable but
// glam_postgres, which creates the schema (create_schema), has not run its
// migrations on it. A request then deserves a retry, not a 500.
func IsSchemaMissing(err error) bool {
	var pgErr *pgconn.PgError
	// 42P01 undefined_table, 42883 undefined_function.
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42883")
}
