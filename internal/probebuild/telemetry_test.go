package probebuild

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// The telemetry reads of the job table, over rows the test writes with
// known statuses and ages: the expected counts and ages are those rows'.
func TestTelemetryReadsTheJobTable(t *testing.T) {
	ctx := context.Background()
	pool := newPool(t)

	empty, err := Backlogs(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, []Backlog{{Status: StatusQueued}, {Status: StatusRunning}}, empty, "both statuses, zero, on an empty table")

	// status, requested that long ago, finished that long ago (0: not finished)
	rows := []struct {
		status          string
		age, finishedAt time.Duration
	}{
		{StatusQueued, 40 * time.Minute, 0},
		{StatusQueued, 5 * time.Minute, 0},
		{StatusRunning, 90 * time.Minute, 0},
		{StatusSucceeded, 3 * time.Hour, 50 * time.Minute},
		{StatusSucceeded, 2 * time.Hour, 2 * time.Hour}, // finished before the last hour
		{StatusFailed, 30 * time.Minute, 10 * time.Minute},
		{StatusFailed, 20 * time.Minute, 5 * time.Minute},
		{StatusCancelled, 3 * time.Hour, 3 * time.Hour},
	}
	for i, r := range rows {
		var finished *time.Duration
		if r.finishedAt > 0 {
			finished = &rows[i].finishedAt
		}
		_, err := pool.Exec(ctx, `INSERT INTO `+pgschema.ProbeBuildJobsTable+` (build_key, build, request, status, max_attempts, created_at, finished_at)
			VALUES ($1, '{}', '{}', $2, 3, now() - $3::interval, now() - $4::interval)`,
			"k"+string(rune('a'+i)), r.status, r.age, finished)
		require.NoError(t, err)
	}

	got, err := Backlogs(ctx, pool)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, StatusQueued, got[0].Status)
	assert.Equal(t, int64(2), got[0].Jobs)
	assert.InDelta(t, (40 * time.Minute).Seconds(), got[0].OldestAge.Seconds(), 5, "the oldest queued job's age")
	assert.Equal(t, StatusRunning, got[1].Status)
	assert.Equal(t, int64(1), got[1].Jobs)
	assert.InDelta(t, (90 * time.Minute).Seconds(), got[1].OldestAge.Seconds(), 5)

	finished, err := FinishedWithin(ctx, pool, time.Hour)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{StatusSucceeded: 1, StatusFailed: 2, StatusCancelled: 0}, finished)
}
