package probebuild

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

var (
	// ErrNotFound: no job with that id.
	ErrNotFound = errors.New("no such probe build")
	// ErrIdempotencyMismatch: an Idempotency-Key reused with another body.
	ErrIdempotencyMismatch = errors.New("Idempotency-Key was already used with a different request")
	// errLeaseLost: the job is no longer this attempt's (cancelled, or its
	// lease expired and another worker took it).
	errLeaseLost = errors.New("lease lost: the job was cancelled or taken by another worker")
)

const jobColumns = `id, status, stage, progress, coalesce(error, ''), build, request, priority, attempts,
	max_attempts, rows_written, coalesce(versions_built, '{}'), created_at, started_at, finished_at, run_after,
	coalesce(lease_owner, ''), view_refresh`

// queue is the job table.
type queue struct {
	pool *pgxpool.Pool
	cfg  Config
}

func scanJob(row pgx.Row) (*Job, error) {
	var j Job
	var build, req, viewRefresh []byte
	var progress float32
	err := row.Scan(&j.ID, &j.Status, &j.Stage, &progress, &j.Error, &build, &req, &j.Priority, &j.Attempts,
		&j.MaxAttempts, &j.RowsWritten, &j.VersionsBuilt, &j.CreatedAt, &j.StartedAt, &j.FinishedAt, &j.RunAfter, &j.lease,
		&viewRefresh)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	// real is single precision: show 0.01, not 0.009999999776482582.
	j.Progress = math.Round(float64(progress)*1e4) / 1e4
	if err := json.Unmarshal(build, &j.Build); err != nil {
		return nil, fmt.Errorf("job %s: build: %w", j.ID, err)
	}
	if err := json.Unmarshal(req, &j.Request); err != nil {
		return nil, fmt.Errorf("job %s: request: %w", j.ID, err)
	}
	if viewRefresh != nil {
		j.ViewRefresh = new(ViewRefresh)
		if err := json.Unmarshal(viewRefresh, j.ViewRefresh); err != nil {
			return nil, fmt.Errorf("job %s: view_refresh: %w", j.ID, err)
		}
	}
	j.Table = AggregationTable(j.Build)
	return &j, nil
}

// get reads one job; a malformed id is simply not found.
func (q *queue) get(ctx context.Context, id string) (*Job, error) {
	if !isUUID(id) {
		return nil, ErrNotFound
	}
	return scanJob(q.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM `+pgschema.ProbeBuildJobsTable+` WHERE id = $1`, id))
}

// list reads the latest jobs, newest first, of any of statuses (of every
// status when there is none). job_retention keeps the table small enough
// to sort without an index.
func (q *queue) list(ctx context.Context, statuses []string, limit int) ([]*Job, error) {
	rows, err := q.pool.Query(ctx, `SELECT `+jobColumns+` FROM `+pgschema.ProbeBuildJobsTable+`
		WHERE coalesce(cardinality($1::text[]), 0) = 0 OR status = ANY($1::text[])
		ORDER BY created_at DESC, id LIMIT $2`, statuses, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	jobs := []*Job{}
	for rows.Next() {
		j, err := scanJob(rows)
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// fresh returns the latest successful build of b finished within FreshFor,
// or nil.
func (q *queue) fresh(ctx context.Context, b Build) (*Job, error) {
	if q.cfg.FreshFor <= 0 {
		return nil, nil
	}
	j, err := scanJob(q.pool.QueryRow(ctx, `SELECT `+jobColumns+` FROM `+pgschema.ProbeBuildJobsTable+`
		WHERE build_key = $1 AND status = 'succeeded' AND finished_at > now() - $2::interval
		ORDER BY finished_at DESC LIMIT 1`, b.Key(), q.cfg.FreshFor))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return j, err
}

// enqueueResult says what enqueue did.
type enqueueResult struct {
	Job *Job
	// Created is false when the request joined a queued or running job, or
	// an Idempotency-Key named an earlier one.
	Created bool
}

// enqueue queues a build of req, or returns the live job of the same build
// (concurrent identical requests meet on the partial unique index), or the
// job an earlier request with the same idempotency key got.
func (q *queue) enqueue(ctx context.Context, req Request, priority int, idemKey string) (enqueueResult, error) {
	reqJSON, err := json.Marshal(req)
	if err != nil {
		return enqueueResult{}, err
	}
	b := req.Build()
	buildJSON, err := json.Marshal(b)
	if err != nil {
		return enqueueResult{}, err
	}
	reqHash := sha256.Sum256(reqJSON)
	var res enqueueResult
	err = pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if idemKey != "" {
			j, err := q.byIdempotencyKey(ctx, tx, idemKey, reqHash[:])
			if err != nil || j != nil {
				res = enqueueResult{Job: j}
				return err
			}
		}
		for {
			var id string
			err := tx.QueryRow(ctx, `INSERT INTO `+pgschema.ProbeBuildJobsTable+` (build_key, build, request, priority, max_attempts)
				VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (build_key) WHERE status IN ('queued', 'running') DO NOTHING
				RETURNING id`, b.Key(), buildJSON, reqJSON, priority, q.cfg.MaxAttempts).Scan(&id)
			if err == nil {
				res.Created = true
				if _, err := tx.Exec(ctx, `SELECT pg_notify($1, 'job')`, pgschema.ProbeBuildsChannel); err != nil {
					return err
				}
				if res.Job, err = scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM `+pgschema.ProbeBuildJobsTable+` WHERE id = $1`, id)); err != nil {
					return err
				}
				break
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			// A live job holds the build: join it, raising its priority
			// when a person now waits for what prefetch queued.
			res.Job, err = scanJob(tx.QueryRow(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET priority = greatest(priority, $2)
				WHERE build_key = $1 AND status IN ('queued', 'running')
				RETURNING `+jobColumns, b.Key(), priority))
			if errors.Is(err, ErrNotFound) {
				continue // it finished between the two statements: queue anew
			}
			if err != nil {
				return err
			}
			break
		}
		if idemKey == "" {
			return nil
		}
		tag, err := tx.Exec(ctx, `INSERT INTO `+pgschema.ProbeBuildIdempotencyTable+` (key, request_hash, job_id) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO NOTHING`, idemKey, hex.EncodeToString(reqHash[:]), res.Job.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errRetryIdempotency
		}
		return nil
	})
	if errors.Is(err, errRetryIdempotency) {
		// A concurrent request with the same key committed first.
		return q.enqueue(ctx, req, priority, idemKey)
	}
	return res, err
}

var errRetryIdempotency = errors.New("idempotency key taken concurrently")

func (q *queue) byIdempotencyKey(ctx context.Context, tx pgx.Tx, key string, reqHash []byte) (*Job, error) {
	var jobID, hash string
	err := tx.QueryRow(ctx, `SELECT job_id, request_hash FROM `+pgschema.ProbeBuildIdempotencyTable+` WHERE key = $1`, key).Scan(&jobID, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if hash != hex.EncodeToString(reqHash) {
		return nil, ErrIdempotencyMismatch
	}
	return scanJob(tx.QueryRow(ctx, `SELECT `+jobColumns+` FROM `+pgschema.ProbeBuildJobsTable+` WHERE id = $1`, jobID))
}

// claim takes the most urgent runnable job for a new attempt, or returns nil.
func (q *queue) claim(ctx context.Context, worker string) (*Job, error) {
	lease := worker + "/" + randomToken()
	j, err := scanJob(q.pool.QueryRow(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET status = 'running', attempts = attempts + 1,
			lease_owner = $1, lease_expires_at = now() + $2::interval, started_at = now(), heartbeat_at = now(),
			stage = 'starting', progress = 0
		WHERE id = (SELECT id FROM `+pgschema.ProbeBuildJobsTable+` WHERE status = 'queued' AND run_after <= now()
			ORDER BY priority DESC, run_after, created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING `+jobColumns, lease, q.cfg.Lease))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return j, err
}

// heartbeat renews the attempt's lease and records its progress.
func (q *queue) heartbeat(ctx context.Context, j *Job, stage string, progress float64) error {
	tag, err := q.pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET lease_expires_at = now() + $3::interval,
			heartbeat_at = now(), stage = $4, progress = $5
		WHERE id = $1 AND lease_owner = $2 AND status = 'running'`, j.ID, j.lease, q.cfg.Lease, stage, progress)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errLeaseLost
	}
	return nil
}

// lockLease locks the job row inside tx if the attempt still holds it, so
// that nothing else (lease reclaim, cancel) changes the job until tx ends.
func lockLease(ctx context.Context, tx pgx.Tx, j *Job) error {
	var id string
	err := tx.QueryRow(ctx, `SELECT id FROM `+pgschema.ProbeBuildJobsTable+` WHERE id = $1 AND lease_owner = $2 AND status = 'running'
		FOR UPDATE`, j.ID, j.lease).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return errLeaseLost
	}
	return err
}

// complete marks the attempt's job succeeded inside tx, the transaction that
// also wrote its rows, and records when the probe was built. vr is the
// view refresh still to do (pending) or not to do (skipped).
func complete(ctx context.Context, tx pgx.Tx, j *Job, rows int64, versions []int64, vr *ViewRefresh) error {
	vrJSON, err := json.Marshal(vr)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET status = 'succeeded', stage = 'done', progress = 1,
			error = NULL, rows_written = $2, versions_built = $3, finished_at = now(), lease_owner = NULL,
			lease_expires_at = NULL, view_refresh = $4
		WHERE id = $1`, j.ID, rows, versions, vrJSON); err != nil {
		return err
	}
	b := j.Build
	_, err = tx.Exec(ctx, `INSERT INTO `+pgschema.ProbeLastBuiltTable+` (product, channel, app_id, ping_type, probe, built_at, job_id, versions, rows_written)
		VALUES ($1, $2, $3, $4, $5, now(), $6, $7, $8)
		ON CONFLICT (product, channel, app_id, ping_type, probe) DO UPDATE SET built_at = excluded.built_at,
			job_id = excluded.job_id, versions = excluded.versions, rows_written = excluded.rows_written`,
		b.Product, b.Channel, b.AppID, b.PingType, b.Probe, j.ID, versions, rows)
	return err
}

// fail ends the attempt: the job goes back to the queue after a backoff,
// or fails for good when permanent or out of attempts.
func (q *queue) fail(ctx context.Context, j *Job, cause error, permanent bool) error {
	tag, err := q.pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET
			status = CASE WHEN $3 OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
			stage = CASE WHEN $3 OR attempts >= max_attempts THEN 'failed' ELSE 'waiting to retry' END,
			error = $4, lease_owner = NULL, lease_expires_at = NULL,
			run_after = now() + `+backoffSQL("$5", "$6")+`,
			finished_at = CASE WHEN $3 OR attempts >= max_attempts THEN now() END
		WHERE id = $1 AND lease_owner = $2 AND status = 'running'`,
		j.ID, j.lease, permanent, attemptError(j, cause), q.cfg.RetryBackoff, q.cfg.MaxRetryBackoff)
	if err == nil && tag.RowsAffected() == 0 {
		return errLeaseLost
	}
	return err
}

// backoffSQL is RetryBackoff (the parameter base) doubled per attempt
// made, capped at MaxRetryBackoff (the parameter limit).
func backoffSQL(base, limit string) string {
	return `least(` + limit + `::interval, ` + base + `::interval * power(2, greatest(attempts - 1, 0))::int)`
}

func attemptError(j *Job, cause error) string {
	return fmt.Sprintf("attempt %d of %d: %v", j.Attempts, j.MaxAttempts, cause)
}

// release gives an unfinished job back to the queue at shutdown, without
// counting the attempt.
func (q *queue) release(ctx context.Context, j *Job) error {
	return pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET status = 'queued', stage = 'queued', progress = 0,
				attempts = greatest(attempts - 1, 0), lease_owner = NULL, lease_expires_at = NULL, run_after = now()
			WHERE id = $1 AND lease_owner = $2 AND status = 'running'`, j.ID, j.lease); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `SELECT pg_notify($1, 'job')`, pgschema.ProbeBuildsChannel)
		return err
	})
}

// reclaimExpired requeues (or fails, when out of attempts) running jobs whose
// lease expired: their worker died or hung. It returns how many it touched.
func (q *queue) reclaimExpired(ctx context.Context) (int64, error) {
	tag, err := q.pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET
			status = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
			stage = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'waiting to retry' END,
			error = format('attempt %s of %s: lease expired: worker %s stopped sending heartbeats',
				attempts, max_attempts, split_part(lease_owner, '/', 1)),
			lease_owner = NULL, lease_expires_at = NULL,
			run_after = now() + `+backoffSQL("$1", "$2")+`,
			finished_at = CASE WHEN attempts >= max_attempts THEN now() END
		WHERE id IN (SELECT id FROM `+pgschema.ProbeBuildJobsTable+` WHERE status = 'running' AND lease_expires_at < now()
			FOR UPDATE SKIP LOCKED)`, q.cfg.RetryBackoff, q.cfg.MaxRetryBackoff)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// deleteExpired removes finished jobs older than JobRetention, a batch at
// a time, so that the job table stays the size of recent work.
func (q *queue) deleteExpired(ctx context.Context) (int64, error) {
	if q.cfg.JobRetention <= 0 {
		return 0, nil
	}
	tag, err := q.pool.Exec(ctx, `DELETE FROM `+pgschema.ProbeBuildJobsTable+` WHERE id IN (SELECT id FROM `+pgschema.ProbeBuildJobsTable+`
		WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < now() - $1::interval
		LIMIT 1000 FOR UPDATE SKIP LOCKED)`, q.cfg.JobRetention)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// cancel cancels a queued or running job and tells its worker. It returns
// the job and whether this call cancelled it (false: it was already over).
func (q *queue) cancel(ctx context.Context, id string) (*Job, bool, error) {
	if !isUUID(id) {
		return nil, false, ErrNotFound
	}
	var j *Job
	err := pgx.BeginFunc(ctx, q.pool, func(tx pgx.Tx) error {
		var err error
		j, err = scanJob(tx.QueryRow(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET status = 'cancelled', stage = 'cancelled',
				finished_at = now(), lease_owner = NULL, lease_expires_at = NULL
			WHERE id = $1 AND status IN ('queued', 'running')
			RETURNING `+jobColumns, id))
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'cancel:' || $2)`, pgschema.ProbeBuildsChannel, id)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		j, err = q.get(ctx, id)
		return j, false, err
	}
	return j, err == nil, err
}

// nextRunAfter is when the earliest queued job becomes runnable, if any.
func (q *queue) nextRunAfter(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	if err := q.pool.QueryRow(ctx, `SELECT min(run_after) FROM `+pgschema.ProbeBuildJobsTable+` WHERE status = 'queued'`).Scan(&t); err != nil {
		return time.Time{}, false, err
	}
	if t == nil {
		return time.Time{}, false, nil
	}
	return *t, true, nil
}

// QueueDepth counts the jobs waiting and running, for the usage status
// endpoint.
func QueueDepth(ctx context.Context, pool *pgxpool.Pool) (queued, running int64, err error) {
	err = pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE status = 'queued'), count(*) FILTER (WHERE status = 'running')
		FROM `+pgschema.ProbeBuildJobsTable+` WHERE status IN ('queued', 'running')`).Scan(&queued, &running)
	if err != nil {
		return 0, 0, fmt.Errorf("probe-build queue depth: %w", err)
	}
	return queued, running, nil
}

func randomToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
		default:
			return false
		}
	}
	return true
}
