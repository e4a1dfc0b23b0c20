package pgschema

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

func newPool(t *testing.T) *pgxpool.Pool {
	pool, err := pgxpool.New(context.Background(), pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

func appliedVersions(t *testing.T, pool *pgxpool.Pool) []int {
	rows, err := pool.Query(context.Background(), "SELECT version FROM "+MigrationsTable+" ORDER BY version")
	require.NoError(t, err)
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return vs
}

func allVersions() []int {
	var vs []int
	for _, m := range Migrations() {
		vs = append(vs, m.Version)
	}
	return vs
}

func TestMigrationsAreOrderedAndUnique(t *testing.T) {
	ms := Migrations()
	require.GreaterOrEqual(t, len(ms), 2)
	for i, m := range ms {
		assert.NotEmpty(t, m.SQL, m.Name)
		// Migrate applies what is above a database's version, so a new
		// migration numbered into a gap would never reach a database already
		// past it: versions run 1, 2, 3, … with none left out.
		assert.Equal(t, i+1, m.Version, "migration %s: versions must be 1..N without gaps; the next one is %d", m.Name, len(ms)+1)
	}
	assert.Equal(t, ms[len(ms)-1].Version, Latest())
}

// previous is the version before the latest migration.
func previous() int {
	ms := Migrations()
	return ms[len(ms)-2].Version
}

func TestMigrateFromEmpty(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	v, err := Version(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, 0, v)

	require.NoError(t, Migrate(ctx, pool))
	v, err = Version(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, Latest(), v)
	assert.Equal(t, allVersions(), appliedVersions(t, pool))
	for _, table := range []string{EventsTable, EventIDsTable, ViewRowsTable, AppliedBatchesTable} {
		var exists bool
		require.NoError(t, pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists))
		assert.True(t, exists, table)
	}

	// A second run finds nothing to do.
	require.NoError(t, Migrate(ctx, pool))
	assert.Equal(t, allVersions(), appliedVersions(t, pool))
}

// The upgrade is tested from the previous version and from the first, whose
// event partitions predate the usage-API indexes.
func TestUpgradeKeepsData(t *testing.T) {
	for _, from := range []int{previous(), 1} {
		t.Run(fmt.Sprintf("from_%d", from), func(t *testing.T) { testUpgradeFrom(t, from) })
	}
}

func testUpgradeFrom(t *testing.T, from int) {
	ctx := context.Background()
	pool := newPool(t)
	require.NoError(t, MigrateTo(ctx, pool, from))
	v, err := Version(ctx, pool)
	require.NoError(t, err)
	require.Equal(t, from, v)

	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	require.NoError(t, EnsureEventPartitions(ctx, pool, []time.Time{day}))
	_, err = pool.Exec(ctx, `INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, session_id, attributes, resource)
		VALUES ('e1', $1, $1, 'probe.view', 's1', '{}', '{}')`, day.Add(time.Hour))
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO glam_usage_view_rows (view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
		VALUES ('v', $1, '\x01', '{"glam.product":"fog"}', $1, 'sum', 3, 3)`, day)
	require.NoError(t, err)

	require.NoError(t, Migrate(ctx, pool))
	assert.Equal(t, allVersions(), appliedVersions(t, pool))

	var events, rows int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM glam_usage_events WHERE session_id = 's1'").Scan(&events))
	require.NoError(t, pool.QueryRow(ctx, `SELECT count FROM glam_usage_view_rows WHERE tags @> '{"glam.product":"fog"}'`).Scan(&rows))
	assert.Equal(t, 1, events)
	assert.Equal(t, 3, rows)
	// Rows written before the tag columns existed have them too.
	var product *string
	require.NoError(t, pool.QueryRow(ctx, "SELECT "+ViewRowTagColumns[usage.AttrProduct]+" FROM glam_usage_view_rows WHERE view = 'v'").Scan(&product))
	require.NotNil(t, product)
	assert.Equal(t, "fog", *product)
	// Indexes added to the parent reach the partition that existed before.
	var idx int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM pg_indexes WHERE tablename = $1", EventPartition(day)).Scan(&idx))
	assert.Equal(t, 4, idx, "the usage API's two and the log position's")
	// Events stored before the event log existed have a place in it.
	var xid uint64
	var seq int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT log_xid::text::bigint, log_seq FROM glam_usage_events WHERE event_id = 'e1'").Scan(&xid, &seq))
	assert.NotZero(t, xid)
	assert.Equal(t, int64(1), seq)
}

// The tag columns hold each row's tag values, NULL where the tag is absent,
// and follow tags through the exporter's merge (an upsert on the key).
func TestViewRowTagColumns(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	require.NoError(t, Migrate(ctx, pool))
	tags := map[string]string{usage.AttrProduct: "fog", usage.AttrProbeName: "gc_ms", usage.AttrSessionID: "s1", usage.AttrChannel: "beta"}
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	insert := `INSERT INTO glam_usage_view_rows (view, window_start, tags_hash, tags, window_end, metric_type, count, sum)
		VALUES ($1, $2, $3, $4, $2, 'sum', 1, 1)
		ON CONFLICT (view, window_start, tags_hash) DO UPDATE SET count = glam_usage_view_rows.count + excluded.count`
	for range 2 {
		_, err := pool.Exec(ctx, insert, "full", day, []byte{1}, tags)
		require.NoError(t, err)
	}
	_, err := pool.Exec(ctx, insert, "empty", day, []byte{2}, map[string]string{})
	require.NoError(t, err)

	for key, col := range ViewRowTagColumns {
		var full, empty *string
		var count int
		require.NoError(t, pool.QueryRow(ctx, "SELECT "+col+", count FROM glam_usage_view_rows WHERE view = 'full'").Scan(&full, &count))
		require.NoError(t, pool.QueryRow(ctx, "SELECT "+col+" FROM glam_usage_view_rows WHERE view = 'empty'").Scan(&empty))
		require.NotNil(t, full, col)
		assert.Equal(t, tags[key], *full, col)
		assert.Equal(t, 2, count, col)
		assert.Nil(t, empty, col)

		// Derived only: a writer cannot set them.
		_, err := pool.Exec(ctx, "UPDATE glam_usage_view_rows SET "+col+" = 'x'")
		require.ErrorContains(t, err, "can only be updated to DEFAULT", col)
	}
}

func TestConcurrentMigrationsApplyEachVersionOnce(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	const collectors = 4
	errs := make([]error, collectors)
	var wg sync.WaitGroup
	for i := range collectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close(ctx)
			errs[i] = Migrate(ctx, conn)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	defer pool.Close()
	assert.Equal(t, allVersions(), appliedVersions(t, pool))
}

func TestMigrateRefusesANewerSchema(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	require.NoError(t, Migrate(ctx, pool))
	_, err := pool.Exec(ctx, "INSERT INTO "+MigrationsTable+" (version, name) VALUES (99, 'future')")
	require.NoError(t, err)
	err = Migrate(ctx, pool)
	require.ErrorIs(t, err, ErrSchemaTooNew)
	require.ErrorContains(t, err, fmt.Sprintf("it is at version 99, this collector knows up to %d", Latest()))
}

func TestEventPartitionsAndRetention(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	require.NoError(t, Migrate(ctx, pool))
	d := func(day int) time.Time { return time.Date(2026, 11, day, 0, 0, 0, 0, time.UTC) }

	require.NoError(t, EnsureEventPartitions(ctx, pool, []time.Time{d(20), d(21).Add(13 * time.Hour), d(22)}))
	require.NoError(t, EnsureEventPartitions(ctx, pool, []time.Time{d(21)})) // already there
	days, err := EventPartitionDays(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, []time.Time{d(20), d(21), d(22)}, days)
	assert.Equal(t, "glam_usage_events_p20261121", EventPartition(d(21).Add(23*time.Hour)))

	for i, day := range []time.Time{d(20), d(21), d(22)} {
		at := day.Add(23*time.Hour + 59*time.Minute)
		_, err := pool.Exec(ctx, `INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, attributes, resource)
			VALUES ($1, $2, $2, 'page.view', '{}', '{}')`, string(rune('a'+i)), at)
		require.NoError(t, err)
		_, err = pool.Exec(ctx, "INSERT INTO glam_usage_event_ids VALUES ($1, $2)", string(rune('a'+i)), at)
		require.NoError(t, err)
	}

	dropped, err := DropEventsBefore(ctx, pool, d(21).Add(5*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, []string{"glam_usage_events_p20261120"}, dropped)
	var ids, events []string
	rows, _ := pool.Query(ctx, "SELECT event_id FROM glam_usage_event_ids ORDER BY 1")
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	rows, _ = pool.Query(ctx, "SELECT event_id FROM glam_usage_events ORDER BY 1")
	events, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{"b", "c"}, ids)
	assert.Equal(t, []string{"b", "c"}, events)

	// An event outside every partition is refused by PostgreSQL itself.
	_, err = pool.Exec(ctx, `INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, attributes, resource)
		VALUES ('z', $1, $1, 'page.view', '{}', '{}')`, d(25))
	require.ErrorContains(t, err, "no partition of relation")
}

func TestConcurrentPartitionCreation(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	require.NoError(t, Migrate(ctx, pool))
	days := []time.Time{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = EnsureEventPartitions(ctx, pool, days) }()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	got, err := EventPartitionDays(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, days, got)
}

func TestAddBucketCounts(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)
	require.NoError(t, Migrate(ctx, pool))
	var got []int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT glam_add_bucket_counts('{1,2,3}', '{10,0,5}')").Scan(&got))
	assert.Equal(t, []int64{11, 2, 8}, got)
	require.NoError(t, pool.QueryRow(ctx, "SELECT glam_add_bucket_counts('{}', '{}')").Scan(&got))
	assert.Equal(t, []int64{}, got)
	var null []int64
	require.NoError(t, pool.QueryRow(ctx, "SELECT glam_add_bucket_counts(NULL, NULL)").Scan(&null))
	assert.Nil(t, null)
}
