-- The tags the usage API filters and groups on most, as typed columns of the
-- view rows. Through the jsonb, a probe's distinct sessions (one row per day,
-- probe and session) cost a heap fetch and a jsonb lookup per row, as much as
-- GROUP BY over the raw events; as columns they are read from indexes alone.
-- PostgreSQL derives them from tags, so writers change nothing, and a merge
-- never changes tags, so merges stay HOT updates. Adding them rewrites the
-- table once, under an exclusive lock: exports wait (and retry) meanwhile.
ALTER TABLE glam_usage_view_rows
    ADD COLUMN product    text GENERATED ALWAYS AS (tags ->> 'glam.product') STORED,
    ADD COLUMN probe_name text GENERATED ALWAYS AS (tags ->> 'glam.probe.name') STORED,
    ADD COLUMN session_id text GENERATED ALWAYS AS (tags ->> 'session.id') STORED;

-- A probe's rows of a view over a time range, with the product and session
-- of each: a probe's distinct sessions by index-only scan.
CREATE INDEX glam_usage_view_rows_probe_idx ON glam_usage_view_rows (view, probe_name, window_start)
    INCLUDE (product, session_id) WHERE probe_name IS NOT NULL;

-- The key stays (view, window_start, tags_hash), the exporter's merge key; its
-- index also carries the tag columns, so that the sessions and probes of a
-- time range (all probes of a day, every session of a week) are index-only
-- scans too.
ALTER TABLE glam_usage_view_rows
    DROP CONSTRAINT glam_usage_view_rows_pkey,
    ADD CONSTRAINT glam_usage_view_rows_pkey PRIMARY KEY (view, window_start, tags_hash)
        INCLUDE (product, probe_name, session_id);
