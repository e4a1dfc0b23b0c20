package viewstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/usage"
)

// The head of the log is its last event by transaction id as a number:
// sorted as text, xid 9 came after 10 and the head was one event short,
// which made a runtime view created then live before its backfill ended.
func TestLogHeadOrdersTransactionIDsNumerically(t *testing.T) {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	require.NoError(t, pgschema.Migrate(ctx, db))
	day := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	require.NoError(t, pgschema.EnsureEventPartitions(ctx, db, []time.Time{day}))

	head, err := logHead(ctx, db)
	require.NoError(t, err)
	assert.Equal(t, usage.LogPosition{}, head, "an empty log's head is its start")

	for _, xid := range []int{9, 10, 8} {
		_, err := db.Exec(ctx, `INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, attributes, resource, log_xid)
			VALUES ($1, $2, $2, 'probe.view', '{}', '{}', $3::text::xid8)`, fmt.Sprintf("e-%d", xid), day, fmt.Sprint(xid))
		require.NoError(t, err)
	}
	head, err = logHead(ctx, db)
	require.NoError(t, err)
	assert.Equal(t, uint64(10), head.XID)
}
