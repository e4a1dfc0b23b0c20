-- The committed raw events are the log that views consume (SPEC §2). Each
-- event gets its place in the log when its transaction writes it: the
-- transaction's id (xid8) and a sequence number. Transactions commit out of
-- the order of their ids, so a reader takes only events whose transaction
-- id is below the oldest transaction still running
-- (pg_snapshot_xmin(pg_current_snapshot())): every such transaction has
-- ended, so no event can still appear before the position read up to.
CREATE SEQUENCE glam_usage_event_log_seq;
ALTER TABLE glam_usage_events
    ADD COLUMN log_xid xid8   NOT NULL DEFAULT pg_current_xact_id(),
    ADD COLUMN log_seq bigint NOT NULL DEFAULT nextval('glam_usage_event_log_seq');
CREATE INDEX glam_usage_events_log_idx ON glam_usage_events (log_xid, log_seq);

-- How far each consumer of the log (one per view set) has merged it into
-- the view rows: updated in the transaction that merges the view rows
-- covering the events up to it, and only from the position the batch
-- starts at (a consumer that lost its lease cannot move it behind the one
-- that took over).
CREATE TABLE glam_usage_log_offsets (
    consumer   text        PRIMARY KEY,
    log_xid    xid8        NOT NULL DEFAULT '0',
    log_seq    bigint      NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);
