package probebuild

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgpool"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
)

// View refresh statuses, in a job's view_refresh.
const (
	// RefreshPending: the rows are committed; GLAM's view does not show
	// them yet. A refresh is running or about to run.
	RefreshPending = "pending"
	// RefreshRefreshed: GLAM's view shows the rows.
	RefreshRefreshed = "refreshed"
	// RefreshFailed: the refresh failed (Error says why). The rows are in
	// the table; GLAM's view shows them after its next refresh, by GLAM's
	// importer or by a later probe build on the same table.
	RefreshFailed = "failed"
	// RefreshSkipped: nothing was refreshed (Reason says why), e.g. the
	// table has no materialized view in this database.
	RefreshSkipped = "skipped"
)

// ViewRefresh is a job's account of GLAM's materialized view over the table
// it wrote: GLAM's app reads view_<table> (glam/api/models.py), which shows
// new rows only once refreshed. It is stored as the job's view_refresh
// document, and is nil until the job has committed its rows.
type ViewRefresh struct {
	// Schema is the table's schema, where GLAM's view is looked for.
	Schema string `json:"schema,omitempty"`
	// View is GLAM's view over the table; null when there is none.
	View   *string `json:"view"`
	Status string  `json:"status"`
	// Reason says why nothing was refreshed (status skipped).
	Reason string `json:"reason,omitempty"`
	// RefreshedAt is when the refresh that shows the rows committed.
	RefreshedAt *time.Time `json:"refreshed_at,omitempty"`
	// DurationMS is how long that REFRESH MATERIALIZED VIEW CONCURRENTLY
	// statement took, including any wait for another session's refresh of
	// the same view (GLAM's importer).
	DurationMS *float64 `json:"duration_ms,omitempty"`
	// RefreshedBy is the job whose worker ran that refresh: this job, or a
	// concurrent build on the same table whose refresh already covered
	// these rows.
	RefreshedBy string `json:"refreshed_by,omitempty"`
	// Attempts is how many refreshes were tried (transient errors such as a
	// lock timeout are retried up to view_refresh.max_attempts).
	Attempts int `json:"attempts,omitempty"`
	// Error is the last refresh error: final when status is failed, the
	// one being retried while pending.
	Error string `json:"error,omitempty"`
}

// viewName is GLAM's name for the materialized view over table (GLAM's
// importers refresh f"view_{model._meta.db_table}").
func viewName(table string) string { return "view_" + table }

// detectView says, inside the transaction that writes a build's rows,
// whether GLAM's materialized view over table exists and is to be
// refreshed. It looks in the table's own schema only: GLAM's migrations
// create the view next to the table. It never creates one.
func detectView(ctx context.Context, tx pgx.Tx, table string, cfg ViewRefreshConfig, written int64) (*ViewRefresh, error) {
	view := viewName(table)
	var schema string
	var exists, populated bool
	err := tx.QueryRow(ctx, `SELECT n.nspname, m.matviewname IS NOT NULL, coalesce(m.ispopulated, false)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_matviews m ON m.schemaname = n.nspname AND m.matviewname = $2
		WHERE c.oid = to_regclass($1)`, pgx.Identifier{table}.Sanitize(), view).Scan(&schema, &exists, &populated)
	if err != nil {
		return nil, fmt.Errorf("look for materialized view %s: %w", view, err)
	}
	vr := &ViewRefresh{Schema: schema, View: &view, Status: RefreshPending}
	switch {
	case !exists:
		vr.View, vr.Status = nil, RefreshSkipped
		vr.Reason = fmt.Sprintf("no materialized view %s.%s in this database: nothing to refresh", schema, view)
	case !cfg.Enabled:
		vr.Status = RefreshSkipped
		vr.Reason = "view_refresh.enabled is false: the view shows the rows after GLAM's next refresh of it"
	case !populated:
		// CONCURRENTLY refuses an unpopulated view, and a plain REFRESH
		// would lock GLAM's readers out; it is GLAM's to populate.
		vr.Status = RefreshSkipped
		vr.Reason = fmt.Sprintf("%s.%s is not populated (WITH NO DATA): left for GLAM to populate", schema, view)
	case written == 0:
		vr.Status = RefreshSkipped
		vr.Reason = "no rows written: nothing to refresh"
	}
	return vr, nil
}

// refreshLockName keys the advisory lock that makes one session at a time
// (across processes) the refresher of a view.
func refreshLockName(schema, view string) string {
	return "glam_probe_builds refresh " + schema + "." + view
}

// refreshView makes GLAM's view schema.view show the rows of every job
// pending on it, jobID's among them. It runs after the job's rows and
// status committed, in a transaction of its own: a refresh that fails or
// waits never holds back or undoes the rows, and the view's EXCLUSIVE lock
// is never taken while the job's row and the table's rows are locked.
//
// One session at a time refreshes a view (an advisory lock, tried without
// waiting). A worker that finds another refresher leaves its job pending
// and moves on: the refresher, once done, refreshes again while jobs
// committed after its refresh began are pending. So concurrent builds on a
// table share refreshes instead of queueing one each behind the view's
// lock.
func (s *Service) refreshView(ctx context.Context, jobID, schema, view string) {
	for ctx.Err() == nil {
		if led := s.refreshRound(ctx, jobID, schema, view); !led {
			// Another session refreshes it, and will see our job; if that
			// session dies, the sweep takes the job up.
			s.logger.Debug("probe build: another session is refreshing GLAM's view; the job stays pending for it",
				zap.String("view", schema+"."+view), zap.String("job", jobID))
			return
		}
		more, err := s.q.refreshPending(ctx, schema, view)
		if err != nil {
			s.logWaitErr(ctx, "look for pending view refreshes", err)
			return // the sweep takes them up
		}
		if !more {
			return
		}
	}
}

// refreshRound is one turn as the view's refresher: refresh, retrying
// transient errors. It returns false when another session is the refresher.
func (s *Service) refreshRound(ctx context.Context, jobID, schema, view string) bool {
	log := s.logger.With(zap.String("view", schema+"."+view), zap.String("job", jobID))
	for attempt := 1; ; attempt++ {
		res, err := s.tryRefresh(ctx, jobID, schema, view, attempt)
		if err == nil {
			if res.led && len(res.ids) > 0 {
				log.Info("probe build: refreshed GLAM's view", zap.Duration("duration", res.took), zap.Int("jobs", len(res.ids)))
			}
			return res.led
		}
		// An error before the jobs were read (res.ids empty) leaves them
		// pending: a retry, or the sweep, takes them up.
		if ctx.Err() != nil {
			// Shutting down: the jobs stay pending, for the sweep.
			return true
		}
		bg, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if !retryableRefresh(err) || attempt >= s.cfg.ViewRefresh.MaxAttempts {
			log.Warn("probe build: refreshing GLAM's view failed; the rows are committed", zapErr(err), zap.Int("attempts", attempt))
			if ferr := s.q.refreshFailed(bg, res.ids, attempt, refreshError(err, s.cfg.ViewRefresh)); ferr != nil {
				log.Warn("probe build: could not record the view refresh failure", zapErr(ferr))
			}
			cancel()
			return true
		}
		log.Info("probe build: refreshing GLAM's view failed; retrying", zapErr(err), zap.Int("attempt", attempt))
		if nerr := s.q.refreshRetrying(bg, res.ids, attempt, refreshError(err, s.cfg.ViewRefresh)); nerr != nil {
			log.Warn("probe build: could not record the view refresh attempt", zapErr(nerr))
		}
		cancel()
		sleep(ctx, s.refreshBackoff(attempt))
	}
}

// refreshBackoff is retry_backoff doubled per attempt, up to
// max_retry_backoff, as for builds.
func (s *Service) refreshBackoff(attempt int) time.Duration {
	d := s.cfg.RetryBackoff << (attempt - 1)
	if d <= 0 || d > s.cfg.MaxRetryBackoff {
		d = s.cfg.MaxRetryBackoff
	}
	return d
}

type refreshResult struct {
	led  bool
	ids  []string // the jobs the refresh covers (pending or failed when it began)
	took time.Duration
}

// tryRefresh is one attempt, in one transaction: take the view's advisory
// lock or give up at once; read the jobs pending on the view; refresh it;
// mark them refreshed. The jobs are read before the REFRESH statement
// starts, so each was committed before the refresh's snapshot and its rows
// are in the view. A failed job of the view counts too: any later refresh
// shows its rows. Only pending jobs call for a refresh.
func (s *Service) tryRefresh(ctx context.Context, jobID, schema, view string, attempt int) (refreshResult, error) {
	var res refreshResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`,
			refreshLockName(schema, view)).Scan(&res.led); err != nil || !res.led {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, view_refresh ->> 'status' FROM `+pgschema.ProbeBuildJobsTable+`
			WHERE view_refresh ->> 'schema' = $1 AND view_refresh ->> 'view' = $2
				AND view_refresh ->> 'status' IN ('pending', 'failed')`, schema, view)
		if err != nil {
			return err
		}
		pending := 0
		for rows.Next() {
			var id, status string
			if err := rows.Scan(&id, &status); err != nil {
				rows.Close()
				return err
			}
			res.ids = append(res.ids, id)
			if status == RefreshPending {
				pending++
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if pending == 0 {
			// Another refresh already covered them all.
			res.ids = nil
			return nil
		}
		if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`,
			strconv.FormatInt(s.cfg.ViewRefresh.LockTimeout.Milliseconds(), 10)); err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := tx.Exec(ctx, `REFRESH MATERIALIZED VIEW CONCURRENTLY `+pgx.Identifier{schema, view}.Sanitize()); err != nil {
			return err
		}
		res.took = time.Since(t0)
		ms := math.Round(float64(res.took.Microseconds())/10) / 100
		_, err = tx.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET view_refresh = (view_refresh - 'error') || jsonb_build_object(
				'status', 'refreshed', 'refreshed_at', statement_timestamp(), 'duration_ms', $2::float8,
				'refreshed_by', $3::text, 'attempts', $4::int)
			WHERE id = ANY($1) AND view_refresh ->> 'status' IN ('pending', 'failed')`, res.ids, ms, jobID, attempt)
		return err
	})
	return res, err
}

// retryableRefresh tells the errors another attempt may get past: a lock
// timeout (another session refreshing the view), a lost connection, a
// deadlock or serialization failure, a server short of resources or
// restarting. A missing privilege, a view without a unique index or a
// statement_timeout would fail again.
func retryableRefresh(err error) bool {
	return pgpool.Transient(err)
}

// refreshError words a refresh error for the job status.
func refreshError(err error, cfg ViewRefreshConfig) string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return err.Error()
	}
	msg := pgErr.Message + " (SQLSTATE " + pgErr.Code + ")"
	switch pgErr.Code {
	case "55P03":
		msg += fmt.Sprintf(": waited view_refresh.lock_timeout (%s) for the view's lock; another session (GLAM's importer?) is refreshing it", cfg.LockTimeout)
	case "42501":
		msg += ": only the view's owner (GLAM's database role) may refresh it"
	}
	if pgErr.Hint != "" {
		msg += "; " + pgErr.Hint
	}
	return msg
}

// refreshPending reports whether jobs still wait for a refresh of the view.
func (q *queue) refreshPending(ctx context.Context, schema, view string) (bool, error) {
	var more bool
	err := q.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgschema.ProbeBuildJobsTable+`
		WHERE view_refresh ->> 'schema' = $1 AND view_refresh ->> 'view' = $2
			AND view_refresh ->> 'status' = 'pending')`, schema, view).Scan(&more)
	return more, err
}

// refreshRetrying records a failed attempt on jobs that stay pending.
func (q *queue) refreshRetrying(ctx context.Context, ids []string, attempt int, msg string) error {
	_, err := q.pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET view_refresh = view_refresh || jsonb_build_object(
			'attempts', $2::int, 'error', $3::text)
		WHERE id = ANY($1) AND view_refresh ->> 'status' = 'pending'`, ids, attempt, msg)
	return err
}

// refreshFailed gives up on the pending jobs of a failed refresh.
func (q *queue) refreshFailed(ctx context.Context, ids []string, attempt int, msg string) error {
	_, err := q.pool.Exec(ctx, `UPDATE `+pgschema.ProbeBuildJobsTable+` SET view_refresh = view_refresh || jsonb_build_object(
			'status', 'failed', 'attempts', $2::int, 'error', $3::text)
		WHERE id = ANY($1) AND view_refresh ->> 'status' = 'pending'`, ids, attempt, msg)
	return err
}

// stalePending is a view with jobs pending longer than a lease: their worker
// stopped (shutdown, crash) between the commit and the refresh.
type stalePending struct{ jobID, schema, view string }

func (q *queue) stalePendingRefreshes(ctx context.Context) ([]stalePending, error) {
	rows, err := q.pool.Query(ctx, `SELECT DISTINCT ON (1, 2) view_refresh ->> 'schema', view_refresh ->> 'view', id
		FROM `+pgschema.ProbeBuildJobsTable+`
		WHERE view_refresh ->> 'status' = 'pending' AND finished_at < now() - $1::interval
		ORDER BY 1, 2, finished_at`, q.cfg.Lease)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (stalePending, error) {
		var p stalePending
		err := row.Scan(&p.schema, &p.view, &p.jobID)
		return p, err
	})
}

// sweepRefreshes refreshes the views that jobs wait on since longer than a
// lease; a live refresher holds the view's advisory lock, so this never
// doubles its work.
func (s *Service) sweepRefreshes(ctx context.Context) {
	if !s.cfg.ViewRefresh.Enabled {
		return
	}
	stale, err := s.q.stalePendingRefreshes(ctx)
	if err != nil {
		s.logWaitErr(ctx, "look for stale view refreshes", err)
		return
	}
	for _, p := range stale {
		s.refreshView(ctx, p.jobID, p.schema, p.view)
	}
}
