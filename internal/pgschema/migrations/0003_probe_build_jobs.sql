-- Probe builds (SPEC §6): the job table is both the queue the workers claim
-- from and the status the GLAM app and the HTTP API read.
CREATE TABLE glam_probe_build_jobs (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Which build: product/channel/app_id/ping_type/probe/versions.
    build_key        text        NOT NULL,
    build            jsonb       NOT NULL,
    -- The request that created the job, as the API normalized it.
    request          jsonb       NOT NULL,
    status           text        NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    -- Higher first: a person waiting beats an ETL prefetch.
    priority         smallint    NOT NULL DEFAULT 0,
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL,
    -- A queued job is not claimed before run_after (retry backoff).
    run_after        timestamptz NOT NULL DEFAULT now(),
    lease_owner      text,
    lease_expires_at timestamptz,
    stage            text        NOT NULL DEFAULT 'queued',
    progress         real        NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 1),
    error            text,
    rows_written     bigint,
    -- The versions the build covered: its result is the probe's rows there.
    versions_built   bigint[],
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    heartbeat_at     timestamptz,
    finished_at      timestamptz
);

-- One live job per build: concurrent identical requests meet here.
CREATE UNIQUE INDEX glam_probe_build_jobs_live_idx ON glam_probe_build_jobs (build_key)
    WHERE status IN ('queued', 'running');
-- What workers claim, in claim order.
CREATE INDEX glam_probe_build_jobs_claim_idx ON glam_probe_build_jobs (priority DESC, run_after, created_at)
    WHERE status = 'queued';
-- Leases to reclaim.
CREATE INDEX glam_probe_build_jobs_lease_idx ON glam_probe_build_jobs (lease_expires_at)
    WHERE status = 'running';
-- The latest successful build of a probe, for fresh results.
CREATE INDEX glam_probe_build_jobs_done_idx ON glam_probe_build_jobs (build_key, finished_at DESC)
    WHERE status = 'succeeded';

-- Idempotency-Key header of POST: a retried request gets the same job.
CREATE TABLE glam_probe_build_idempotency (
    key          text        PRIMARY KEY,
    request_hash text        NOT NULL,
    job_id       uuid        NOT NULL REFERENCES glam_probe_build_jobs (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- When each probe was last built here, so that GLAM's ETL (and prefetch) can
-- skip probes built recently (ADR 0004's per-probe state table).
CREATE TABLE glam_probe_last_built (
    product      text        NOT NULL,
    channel      text        NOT NULL,
    app_id       text        NOT NULL DEFAULT '',
    ping_type    text        NOT NULL DEFAULT '',
    probe        text        NOT NULL,
    built_at     timestamptz NOT NULL,
    job_id       uuid        NOT NULL,
    versions     bigint[]    NOT NULL,
    rows_written bigint      NOT NULL,
    PRIMARY KEY (product, channel, app_id, ping_type, probe)
);
