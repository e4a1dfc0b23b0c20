package usagetest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
)

// GeneratorVersion changes whenever Generate or DeriveViews would write a
// different data set: a kept benchmark database built by another version is
// rebuilt rather than measured.
const GeneratorVersion = 1

// datasetTable records, in a kept database, which data set it holds; it is
// written last, so that a build interrupted half way is not taken for done.
const datasetTable = "glam_bench_dataset"

// Dataset describes a generated data set kept in a database of its own.
type Dataset struct {
	Events int
	Days   int
	End    time.Time
}

// Name is the kept database's name: one per size, so that the small
// `make bench` data set and the 10 M one do not rebuild each other.
func (d Dataset) Name() string { return fmt.Sprintf("glam_bench_usage_%d_%dd", d.Events, d.Days) }

// Open returns a pool on the kept database of d on the server at adminDSN,
// building it first (schema, events, view rows) unless it already holds d
// as GeneratorVersion makes it. Migrations newer than the database are
// applied either way, so a kept data set is measured with the current
// schema. built reports whether it was built now.
func (d Dataset) Open(ctx context.Context, adminDSN string, configure func(*pgxpool.Config), views Views, probeView string) (db *pgxpool.Pool, built bool, err error) {
	name := d.Name()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return nil, false, fmt.Errorf("connect to %s's server: %w", name, err)
	}
	defer admin.Close(ctx)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return nil, false, err
	}
	if !exists {
		if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, false, fmt.Errorf("create %s: %w", name, err)
		}
	}
	dsn, err := pgtest.WithDatabase(adminDSN, name)
	if err != nil {
		return nil, false, err
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, false, err
	}
	if configure != nil {
		configure(cfg)
	}
	if db, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, false, err
	}
	if d.holds(ctx, db) {
		if err := pgschema.Migrate(ctx, db); err != nil {
			return db, false, err
		}
		return db, false, vacuum(ctx, db, pgschema.ProbeDaysTable, pgschema.ProbeSessionDaysTable, pgschema.ViewSessionsTable)
	}
	db.Close()
	// Whatever is there is another data set or half of one: start afresh.
	if _, err := admin.Exec(ctx, `DROP DATABASE `+pgx.Identifier{name}.Sanitize()+` WITH (FORCE)`); err != nil {
		return nil, false, fmt.Errorf("drop %s: %w", name, err)
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, false, fmt.Errorf("create %s: %w", name, err)
	}
	if db, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, false, err
	}
	if err := d.build(ctx, db, views, probeView); err != nil {
		db.Close()
		return nil, false, fmt.Errorf("build %s: %w", name, err)
	}
	return db, true, nil
}

func (d Dataset) holds(ctx context.Context, db *pgxpool.Pool) bool {
	var version, events, days int
	var end time.Time
	err := db.QueryRow(ctx, `SELECT version, events, days, end_time FROM `+datasetTable).Scan(&version, &events, &days, &end)
	return err == nil && version == GeneratorVersion && events == d.Events && days == d.Days && end.Equal(d.End)
}

// rollupsVersion is the migration that adds the rollups of the view rows,
// kept by triggers as rows are merged.
const rollupsVersion = 10

func (d Dataset) build(ctx context.Context, db *pgxpool.Pool, views Views, probeView string) error {
	// The view rows are derived before the rollups exist, and the rollups
	// made from them by the migration, as on an upgraded database: one
	// GROUP BY each instead of triggers recomputing millions of rows'
	// sessions in one statement.
	if err := pgschema.MigrateTo(ctx, db, rollupsVersion-1); err != nil {
		return err
	}
	if err := Generate(ctx, db, d.Events, d.Days, d.End); err != nil {
		return err
	}
	if err := DeriveViews(ctx, db, views, probeView); err != nil {
		return err
	}
	if err := pgschema.Migrate(ctx, db); err != nil {
		return err
	}
	if err := vacuum(ctx, db, pgschema.ProbeDaysTable, pgschema.ProbeSessionDaysTable, pgschema.ViewSessionsTable); err != nil {
		return err
	}
	_, err := db.Exec(ctx, `CREATE TABLE `+datasetTable+` AS
		SELECT $1::int AS version, $2::int AS events, $3::int AS days, $4::timestamptz AS end_time`,
		GeneratorVersion, d.Events, d.Days, d.End)
	return err
}
