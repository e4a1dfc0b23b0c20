-- Views created at runtime through the usage API (SPEC §7). Each is read
-- from the event log by a consumer of its own, starting at the log's
-- beginning: the raw events still retained are its backfill, and what
-- comes after is live, with no gap or overlap between the two since it is
-- one read of one log. backfill_xid/backfill_seq is where the log ended
-- when the view was created: until its consumer's offset passes it, the
-- view is backfilling.
CREATE TABLE glam_usage_views (
    name         text        PRIMARY KEY,
    definition   jsonb       NOT NULL,
    consumer     text        NOT NULL UNIQUE,
    backfill_xid xid8        NOT NULL,
    backfill_seq bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A deleted view's consumer is retired, not removed: a view batch it made
-- before the delete and merges after it is dropped (the exporter would
-- otherwise make the offset again and merge a batch starting at zero), so
-- no row of a deleted view appears after its delete commits.
ALTER TABLE glam_usage_log_offsets ADD COLUMN retired_at timestamptz;
