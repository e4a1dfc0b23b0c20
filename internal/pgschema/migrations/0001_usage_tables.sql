-- Raw usage events, one row per event, partitioned by day of event time so
-- that retention drops whole partitions instead of deleting rows.
CREATE TABLE glam_usage_events (
    event_id      text        NOT NULL,
    event_time    timestamptz NOT NULL,
    observed_time timestamptz NOT NULL,
    event_name    text        NOT NULL,
    session_id    text,
    product       text,
    probe_name    text,
    probe_process text,
    channel       text,
    os            text,
    source        text,
    attributes    jsonb       NOT NULL,
    resource      jsonb       NOT NULL,
    body          jsonb
) PARTITION BY RANGE (event_time);

-- A unique index on a partitioned table must include the partition key, and a
-- client retry may carry a different (skew-corrected) event time, so the
-- event ids seen live in a table of their own.
CREATE TABLE glam_usage_event_ids (
    event_id   text        PRIMARY KEY,
    event_time timestamptz NOT NULL
);
CREATE INDEX glam_usage_event_ids_event_time_idx ON glam_usage_event_ids (event_time);

-- View rows, merged additively: one row per view, window and tag set. An
-- open window's rows are updated every flush; the free space fillfactor
-- leaves on each page lets those updates stay on the page (HOT) without
-- touching the indexes.
CREATE TABLE glam_usage_view_rows (
    view            text             NOT NULL,
    window_start    timestamptz      NOT NULL,
    tags_hash       bytea            NOT NULL,
    tags            jsonb            NOT NULL,
    window_end      timestamptz      NOT NULL,
    metric_type     text             NOT NULL CHECK (metric_type IN ('sum', 'histogram', 'gauge')),
    count           bigint           NOT NULL DEFAULT 0,
    sum             double precision NOT NULL DEFAULT 0,
    bucket_bounds   double precision[],
    bucket_counts   bigint[],
    min             double precision,
    max             double precision,
    last_value      double precision,
    last_value_time timestamptz,
    updated_at      timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (view, window_start, tags_hash)
) WITH (fillfactor = 70);

-- Which data points of which flush have been merged, so that a retried or
-- replayed batch is merged once.
CREATE TABLE glam_usage_applied_batches (
    batch_id     text        NOT NULL,
    view         text        NOT NULL,
    window_start timestamptz NOT NULL,
    tags_hash    bytea       NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (batch_id, view, window_start, tags_hash)
);
CREATE INDEX glam_usage_applied_batches_applied_at_idx ON glam_usage_applied_batches (applied_at);

-- Element-wise sum of two bucket-count arrays of the same length; NULL (the
-- rows of other metric types) when either is.
CREATE FUNCTION glam_add_bucket_counts(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(x + y ORDER BY i), '{}')
    FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;
