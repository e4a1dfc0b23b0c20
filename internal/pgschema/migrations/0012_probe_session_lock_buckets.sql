-- The session rollup's merges took one advisory lock per (view, product,
-- probe, session) they touched. PostgreSQL's lock table is shared by the
-- whole server and sized by max_locks_per_transaction × max_connections
-- (about 15 000 locks with the defaults): a views batch with more keys —
-- any batch after a backlog of a few thousand sessions — failed with "out
-- of shared memory" at every retry, and the views stalled behind it.
--
-- Now a key locks one of 64 buckets (the two-key advisory locks, in a space
-- of their own: class glam_usage_probe_session_days, bucket 0-63), taken in
-- bucket order: merges of one key still take turns, as before, they cannot
-- deadlock on these locks, and a merge holds at most 64 of them however
-- large it is.
CREATE OR REPLACE FUNCTION glam_usage_probe_session_days_apply(
    p_views text[], p_starts timestamptz[], p_hashes bytea[], p_products text[], p_probes text[], p_sessions text[], p_sign int
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_views IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('glam_usage_probe_session_days'), b) FROM (
        SELECT DISTINCT (hashtextextended(v || E'\x1f' || p || E'\x1f' || pr || E'\x1f' || s, 7) & 63)::int AS b
        FROM unnest(p_views, p_products, p_probes, p_sessions) AS u(v, p, pr, s) ORDER BY 1) k;
    WITH changed AS (
        SELECT * FROM unnest(p_views, p_starts, p_hashes, p_products, p_probes, p_sessions)
            AS u(view, window_start, tags_hash, product, probe_name, session_id)
    ), k AS (
        SELECT DISTINCT view, product, probe_name, session_id FROM changed
    ), now_rows AS (
        SELECT r.view, k.product, r.probe_name, r.session_id, r.window_start, r.tags_hash
        FROM k JOIN glam_usage_view_rows r
          ON r.view = k.view AND r.probe_name = k.probe_name AND r.session_id = k.session_id
         AND coalesce(r.product, '') = k.product
    ), was_rows AS (
        -- Before the statement: the rows there now less those it inserted,
        -- plus those it deleted.
        SELECT n.view, n.product, n.probe_name, n.session_id, n.window_start FROM now_rows n
        WHERE p_sign < 0 OR NOT EXISTS (SELECT FROM changed c
            WHERE c.view = n.view AND c.window_start = n.window_start AND c.tags_hash = n.tags_hash)
        UNION ALL
        SELECT view, product, probe_name, session_id, window_start FROM changed WHERE p_sign < 0
    ), pairs AS (
        SELECT view, product, probe_name, day, s,
            coalesce(lag(day) OVER (PARTITION BY view, product, probe_name, session_id, s ORDER BY day), '-infinity') AS prev_day
        FROM (
            SELECT DISTINCT view, product, probe_name, session_id, date_trunc('day', window_start, 'UTC') AS day, 1 AS s FROM now_rows
            UNION ALL
            SELECT DISTINCT view, product, probe_name, session_id, date_trunc('day', window_start, 'UTC'), -1 FROM was_rows
        ) d
    )
    INSERT INTO glam_usage_probe_session_days AS t (view, days, product, probe_name, day, prev_day, sessions)
    SELECT view, g.days, product, probe_name, glam_usage_probe_period(g.days, day), prev_day, sum(s)
    FROM pairs CROSS JOIN (VALUES (1::smallint), (7::smallint)) g(days)
    GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(s) <> 0 ORDER BY 1, 2, 5, 3, 4, 6
    ON CONFLICT (view, days, day, product, probe_name, prev_day) DO UPDATE SET sessions = t.sessions + excluded.sessions;
    DELETE FROM glam_usage_probe_session_days WHERE sessions = 0;
END
$$;
