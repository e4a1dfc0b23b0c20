-- Probe builds refresh GLAM's materialized views (view_<table>, created by
-- GLAM's own migrations) after committing their rows, as GLAM's importer
-- does. view_refresh is the job's account of it, shown by the status
-- endpoint: {schema, view, status: pending|refreshed|failed|skipped,
-- reason, refreshed_at, duration_ms, refreshed_by, attempts, error}.
-- NULL for jobs that wrote no rows (queued, running, failed, cancelled) and
-- for jobs finished before this migration.
ALTER TABLE glam_probe_build_jobs ADD COLUMN view_refresh jsonb;

-- The jobs whose rows a view does not show yet: what the next refresh of
-- that view covers (a failed one is covered by any later refresh).
CREATE INDEX glam_probe_build_jobs_view_refresh_idx
    ON glam_probe_build_jobs ((view_refresh ->> 'schema'), (view_refresh ->> 'view'))
    WHERE view_refresh ->> 'status' IN ('pending', 'failed');
