package probebuild

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// Backlog is one unfinished status of the job table, for telemetry: how many
// jobs have it and how long ago the oldest of them was requested.
type Backlog struct {
	Status    string
	Jobs      int64
	OldestAge time.Duration
}

// Backlogs reads the queued and running jobs from the job table, both
// statuses always (zero when none). The table is shared by every worker, in
// a collector or in glam-probe-builder, so any process reading it sees
// every build.
func Backlogs(ctx context.Context, pool *pgxpool.Pool) ([]Backlog, error) {
	rows, err := pool.Query(ctx, `SELECT status, count(*), extract(epoch FROM now() - min(created_at))::float8
		FROM `+pgschema.ProbeBuildJobsTable+` WHERE status IN ('queued', 'running') GROUP BY status`)
	if err != nil {
		return nil, fmt.Errorf("probe-build backlog: %w", err)
	}
	defer rows.Close()
	out := []Backlog{{Status: StatusQueued}, {Status: StatusRunning}}
	for rows.Next() {
		var status string
		var jobs int64
		var age float64
		if err := rows.Scan(&status, &jobs, &age); err != nil {
			return nil, fmt.Errorf("probe-build backlog: %w", err)
		}
		for i := range out {
			if out[i].Status == status {
				out[i].Jobs, out[i].OldestAge = jobs, time.Duration(age*float64(time.Second))
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("probe-build backlog: %w", err)
	}
	return out, nil
}

// FinishedWithin counts the jobs that reached each final status (succeeded,
// failed, cancelled; every one present, zero when none) within d before
// now, from the job table: a build that failed for good is counted whichever
// process ran it, and a retried attempt is not a failure until the last.
func FinishedWithin(ctx context.Context, pool *pgxpool.Pool, d time.Duration) (map[string]int64, error) {
	out := map[string]int64{StatusSucceeded: 0, StatusFailed: 0, StatusCancelled: 0}
	rows, err := pool.Query(ctx, `SELECT status, count(*) FROM `+pgschema.ProbeBuildJobsTable+`
		WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at >= now() - $1::interval
		GROUP BY status`, d)
	if err != nil {
		return nil, fmt.Errorf("probe builds finished: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			return nil, fmt.Errorf("probe builds finished: %w", err)
		}
		out[status] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("probe builds finished: %w", err)
	}
	return out, nil
}
