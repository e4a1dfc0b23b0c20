package pgschema

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrSchemaTooNew is returned when the database was migrated by a newer
// collector than this one: its tables may not be what this one expects.
var ErrSchemaTooNew = errors.New("the database schema is newer than this collector knows")

// Migration is one step of the schema, applied once, in version order.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// migrationLock is the advisory lock key that serialises migrations, so that
// collectors starting together apply each step exactly once.
const migrationLock int64 = 0x676c616d0001 // "glam", 1

// Migrations returns the embedded migrations in version order.
func Migrations() []Migration {
	entries, err := migrationFiles.ReadDir("migrations")
	if err != nil {
		panic(err)
	}
	var ms []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic("pgschema: migration file " + e.Name() + " is not named <version>_<name>.sql")
		}
		sql, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			panic(err)
		}
		ms = append(ms, Migration{Version: v, Name: name, SQL: string(sql)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms
}

// Latest is the version the embedded migrations bring the schema to.
func Latest() int {
	ms := Migrations()
	return ms[len(ms)-1].Version
}

// Beginner is what migrations run on: a connection or a pool.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migrate brings the schema to the latest version.
func Migrate(ctx context.Context, db Beginner) error {
	return MigrateTo(ctx, db, Latest())
}

// MigrateTo applies, in one transaction, every migration above the current
// version up to target. The transaction holds an advisory lock, so a second
// collector migrating at the same time waits and then finds nothing to do.
func MigrateTo(ctx context.Context, db Beginner, target int) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("migrate schema: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+MigrationsTable+` (
		version    integer     PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("migrate schema: %w", err)
	}
	current, err := version(ctx, tx)
	if err != nil {
		return err
	}
	if current > Latest() {
		return fmt.Errorf("migrate schema: %w: it is at version %d, this collector knows up to %d: upgrade the collector", ErrSchemaTooNew, current, Latest())
	}
	for _, m := range Migrations() {
		if m.Version <= current || m.Version > target {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("migrate schema to version %d (%s): %w", m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+MigrationsTable+" (version, name) VALUES ($1, $2)", m.Version, m.Name); err != nil {
			return fmt.Errorf("migrate schema to version %d: %w", m.Version, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate schema: commit: %w", err)
	}
	return nil
}

// Version is the schema version of the database: 0 when it has none.
func Version(ctx context.Context, db Beginner) (int, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", MigrationsTable).Scan(&exists); err != nil || !exists {
		return 0, err
	}
	return version(ctx, tx)
}

func version(ctx context.Context, tx pgx.Tx) (int, error) {
	var v int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+MigrationsTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}
