-- A rollup of the view rows per view and session: the session summary and
-- sessions per day read a row per session from it instead of grouping
-- every session row and every (session, probe) row of the range (at 10 M
-- events, 39 000 sessions and 117 000 probe rows a week).
--
-- Per view and session.id: the first and last start of its windows, the
-- greatest end, how many windows and the sum of their counts (a session
-- view's events), and the distinct (product, probe) of its rows that name
-- a probe (a session view of probes: the probes it looked at). A session
-- whose windows all start inside a range is answered from its row alone;
-- one cut by the range's ends is answered from its view rows (the index
-- below).
--
-- Kept like the probe rollups, in the transaction of the merge: windows,
-- counts, starts and ends by adding what a statement inserted or updated
-- (merges only add counts and widen ends, never move a start), the probes
-- by glam_usage_probe_session_days_apply, which already knows under its
-- locks which (view, product, probe, session) keys a statement made or
-- removed. Every change is an upsert of the row of its own (view, session),
-- so concurrent merges of different views never wait on each other here.
CREATE TABLE glam_usage_view_sessions (
    view        text        NOT NULL,
    session_id  text        NOT NULL,
    first_start timestamptz NOT NULL DEFAULT 'infinity',
    last_start  timestamptz NOT NULL DEFAULT '-infinity',
    last_end    timestamptz NOT NULL DEFAULT '-infinity',
    windows     bigint      NOT NULL DEFAULT 0,
    count       bigint      NOT NULL DEFAULT 0,
    probes      bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (view, session_id)
);

-- The sessions of a range: those whose first window starts in it ...
CREATE INDEX glam_usage_view_sessions_start_idx
    ON glam_usage_view_sessions (view, first_start) INCLUDE (session_id, last_end, count, probes);
-- ... less those the range's start or end falls between the first and the
-- last start of: the range cuts them. Only sessions of several windows can
-- be cut, and an instant falls inside few of them.
CREATE INDEX glam_usage_view_sessions_span_idx
    ON glam_usage_view_sessions USING gist (tstzrange(first_start, last_start, '[]'))
    WHERE first_start < last_start;
-- The rows the triggers leave empty, found without a scan.
CREATE INDEX glam_usage_view_sessions_zero_idx ON glam_usage_view_sessions (view)
    WHERE windows = 0 AND probes = 0;

-- A session's rows of a view: the sessions a range cuts, answered from
-- their rows, and what remains of a session after a delete.
CREATE INDEX glam_usage_view_rows_session_idx
    ON glam_usage_view_rows (view, session_id, window_start) INCLUDE (window_end, count, product, probe_name)
    WHERE session_id IS NOT NULL;

CREATE FUNCTION glam_usage_view_sessions_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO glam_usage_view_sessions AS t (view, session_id, first_start, last_start, last_end, windows, count)
        SELECT view, session_id, min(window_start), max(window_start), max(window_end), count(*), sum(count)
        FROM new_rows WHERE session_id IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (view, session_id) DO UPDATE SET
            first_start = least(t.first_start, excluded.first_start),
            last_start = greatest(t.last_start, excluded.last_start),
            last_end = greatest(t.last_end, excluded.last_end),
            windows = t.windows + excluded.windows,
            count = t.count + excluded.count;
    ELSIF TG_OP = 'UPDATE' THEN
        -- A merge adds to a row's count and may widen its end.
        INSERT INTO glam_usage_view_sessions AS t (view, session_id, last_end, count)
        SELECT view, session_id, max(window_end), sum(c)
        FROM (
            SELECT view, session_id, window_end, count AS c FROM new_rows
            UNION ALL
            SELECT view, session_id, NULL, -count FROM old_rows
        ) d WHERE session_id IS NOT NULL
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (view, session_id) DO UPDATE SET
            last_end = greatest(t.last_end, excluded.last_end),
            count = t.count + excluded.count;
    ELSE
        UPDATE glam_usage_view_sessions t SET windows = t.windows - d.windows, count = t.count - d.count,
            first_start = coalesce(r.first_start, 'infinity'), last_start = coalesce(r.last_start, '-infinity'),
            last_end = coalesce(r.last_end, '-infinity')
        FROM (
            SELECT view, session_id, count(*) AS windows, sum(count) AS count
            FROM old_rows WHERE session_id IS NOT NULL GROUP BY 1, 2
        ) d
        LEFT JOIN LATERAL (
            -- What the statement left of the session.
            SELECT min(window_start) AS first_start, max(window_start) AS last_start, max(window_end) AS last_end
            FROM glam_usage_view_rows v WHERE v.view = d.view AND v.session_id = d.session_id
        ) r ON true
        WHERE t.view = d.view AND t.session_id = d.session_id;
    END IF;
    DELETE FROM glam_usage_view_sessions WHERE windows = 0 AND probes = 0;
    RETURN NULL;
END
$$;

-- As in 0012, plus the probes of glam_usage_view_sessions: per (view,
-- session), the keys that now have rows and had none, less those that had
-- rows and now have none.
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
    ), keys AS (
        SELECT view, product, probe_name, session_id, bool_or(s > 0) AS has, bool_or(s < 0) AS had
        FROM (
            SELECT view, product, probe_name, session_id, 1 AS s FROM now_rows
            UNION ALL
            SELECT view, product, probe_name, session_id, -1 FROM was_rows
        ) d GROUP BY 1, 2, 3, 4
    ), probes_moved AS (
        INSERT INTO glam_usage_view_sessions AS t (view, session_id, probes)
        SELECT view, session_id, sum(has::int - had::int) FROM keys
        GROUP BY 1, 2 HAVING sum(has::int - had::int) <> 0 ORDER BY 1, 2
        ON CONFLICT (view, session_id) DO UPDATE SET probes = t.probes + excluded.probes
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
    DELETE FROM glam_usage_view_sessions WHERE windows = 0 AND probes = 0;
END
$$;

CREATE TRIGGER glam_usage_view_sessions_insert AFTER INSERT ON glam_usage_view_rows
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_view_sessions_trigger();
CREATE TRIGGER glam_usage_view_sessions_update AFTER UPDATE ON glam_usage_view_rows
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_view_sessions_trigger();
CREATE TRIGGER glam_usage_view_sessions_delete AFTER DELETE ON glam_usage_view_rows
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_view_sessions_trigger();

-- The rows already there.
INSERT INTO glam_usage_view_sessions (view, session_id, first_start, last_start, last_end, windows, count, probes)
SELECT view, session_id, min(window_start), max(window_start), max(window_end), count(*), sum(count),
    count(DISTINCT (coalesce(product, ''), probe_name)) FILTER (WHERE probe_name IS NOT NULL)
FROM glam_usage_view_rows WHERE session_id IS NOT NULL
GROUP BY 1, 2;
