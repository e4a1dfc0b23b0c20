-- Rollups of the view rows, for the usage API's questions over many days
-- (top probes, the hot list, GLAM's usage counts, a view's counts by
-- product, probe or channel). Over 90 days the view rows they read are
-- millions (one per day, probe and session for distinct sessions); the
-- rollups are a few rows per probe and day or week.
--
-- Triggers on the view rows keep them, in the transaction that merges the
-- view rows: a view batch merged once (with its log offset) moves the
-- rollups once, a replayed one that merges nothing moves nothing, and a
-- rolled-back merge leaves no trace. Statement-level triggers with
-- transition tables do it once per merge statement, not once per row.

-- Both rollups keep two grains: days = 1 rows are UTC days (of the view
-- rows' window_start), days = 7 rows ISO weeks (from Monday), so that a
-- range of months reads its whole weeks and the days at its ends.
--
-- Per view, grain, period, product, probe and channel: how many rows
-- (windows) and the sums of their counts and sums, for every view row.
-- Absent product, probe or channel is ''.
CREATE TABLE glam_usage_probe_days (
    view       text        NOT NULL,
    days       smallint    NOT NULL CHECK (days IN (1, 7)),
    day        timestamptz NOT NULL,
    product    text        NOT NULL,
    probe_name text        NOT NULL,
    channel    text        NOT NULL,
    windows    bigint      NOT NULL,
    count      bigint      NOT NULL,
    sum        double precision NOT NULL,
    -- The latest day of the period with rows (the hot list's last viewed
    -- day). Merges only add, and the view rows are deleted a whole view
    -- at a time (which deletes its rollup rows), so the latest never
    -- needs to move back.
    last_day   timestamptz NOT NULL,
    PRIMARY KEY (view, days, day, product, probe_name, channel)
);

-- Distinct sessions per probe over any range of days, exactly, by sums:
-- each (view, product, probe, session) seen on days d1 < d2 < ... counts
-- one at (d1, -infinity), one at (d2, d1), and so on. The sessions of a
-- probe in days [from, to) are the sum over days in the range of the rows
-- whose prev_day is before from: each session counts at its first day in
-- the range only. A week's row sums its days' rows of the same prev_day.
CREATE TABLE glam_usage_probe_session_days (
    view       text        NOT NULL,
    days       smallint    NOT NULL CHECK (days IN (1, 7)),
    product    text        NOT NULL,
    probe_name text        NOT NULL,
    day        timestamptz NOT NULL,
    prev_day   timestamptz NOT NULL,
    sessions   bigint      NOT NULL,
    PRIMARY KEY (view, days, day, product, probe_name, prev_day)
);
CREATE INDEX glam_usage_probe_session_days_probe_idx
    ON glam_usage_probe_session_days (view, days, product, probe_name, day) INCLUDE (prev_day, sessions);

-- A (view, probe, session)'s days: what the session rollup recomputes when
-- a row of it comes or goes.
CREATE INDEX glam_usage_view_rows_probe_session_idx
    ON glam_usage_view_rows (view, probe_name, session_id) INCLUDE (product, window_start)
    WHERE probe_name IS NOT NULL AND session_id IS NOT NULL;

-- The session rows of a range with what the session summary reads of
-- them (events, end): an index-only scan instead of a heap fetch per
-- session.
CREATE INDEX glam_usage_view_rows_session_start_idx
    ON glam_usage_view_rows (view, window_start) INCLUDE (session_id, count, window_end)
    WHERE session_id IS NOT NULL;

-- glam_usage_probe_period is the start of the period of grain days (1 or 7)
-- that t falls in.
CREATE FUNCTION glam_usage_probe_period(days smallint, t timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT date_trunc(CASE WHEN days = 7 THEN 'week' ELSE 'day' END, t, 'UTC')
$$;

-- Adds the counts of new_rows and subtracts those of old_rows (whichever
-- the statement has), in key order so that concurrent merges lock the
-- rollup rows in the same order.
CREATE FUNCTION glam_usage_probe_days_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO glam_usage_probe_days AS t (view, days, day, product, probe_name, channel, windows, count, sum, last_day)
        SELECT view, g.days, glam_usage_probe_period(g.days, window_start), coalesce(product, ''), coalesce(probe_name, ''),
            coalesce(tags ->> 'glam.channel', ''), count(*), sum(count), sum(sum), max(date_trunc('day', window_start, 'UTC'))
        FROM new_rows CROSS JOIN (VALUES (1::smallint), (7::smallint)) g(days)
        GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (view, days, day, product, probe_name, channel) DO UPDATE
            SET windows = t.windows + excluded.windows, count = t.count + excluded.count, sum = t.sum + excluded.sum,
                last_day = greatest(t.last_day, excluded.last_day);
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO glam_usage_probe_days AS t (view, days, day, product, probe_name, channel, windows, count, sum, last_day)
        SELECT view, g.days, glam_usage_probe_period(g.days, window_start), product, probe_name, channel,
            sum(windows), sum(count), sum(sum), max(date_trunc('day', window_start, 'UTC'))
        FROM (
            SELECT view, window_start, coalesce(product, '') AS product, coalesce(probe_name, '') AS probe_name,
                coalesce(tags ->> 'glam.channel', '') AS channel, 1 AS windows, count, sum
            FROM new_rows
            UNION ALL
            SELECT view, window_start, coalesce(product, ''), coalesce(probe_name, ''), coalesce(tags ->> 'glam.channel', ''), -1, -count, -sum
            FROM old_rows
        ) d CROSS JOIN (VALUES (1::smallint), (7::smallint)) g(days)
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(windows) <> 0 OR sum(count) <> 0 OR sum(sum) <> 0 ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (view, days, day, product, probe_name, channel) DO UPDATE
            SET windows = t.windows + excluded.windows, count = t.count + excluded.count, sum = t.sum + excluded.sum,
                last_day = greatest(t.last_day, excluded.last_day);
    ELSE
        INSERT INTO glam_usage_probe_days AS t (view, days, day, product, probe_name, channel, windows, count, sum, last_day)
        SELECT view, g.days, glam_usage_probe_period(g.days, window_start), coalesce(product, ''), coalesce(probe_name, ''),
            coalesce(tags ->> 'glam.channel', ''), -count(*), -sum(count), -sum(sum), max(date_trunc('day', window_start, 'UTC'))
        FROM old_rows CROSS JOIN (VALUES (1::smallint), (7::smallint)) g(days)
        GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
        ON CONFLICT (view, days, day, product, probe_name, channel) DO UPDATE
            SET windows = t.windows + excluded.windows, count = t.count + excluded.count, sum = t.sum + excluded.sum,
                last_day = greatest(t.last_day, excluded.last_day);
    END IF;
    DELETE FROM glam_usage_probe_days WHERE windows = 0;
    RETURN NULL;
END
$$;

-- Rows that come or go change which days a (view, product, probe, session)
-- has: the rollup loses that key's (day, prev_day) pairs as they were and
-- gains them as they are. The keys are locked first (in one order, against
-- deadlocks), so that two merges of one key take turns and the second, in
-- its next statement, sees the first's committed rows. p_sign is 1 for rows
-- the statement inserted, -1 for rows it deleted.
CREATE FUNCTION glam_usage_probe_session_days_apply(
    p_views text[], p_starts timestamptz[], p_hashes bytea[], p_products text[], p_probes text[], p_sessions text[], p_sign int
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_views IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(h) FROM (
        SELECT DISTINCT hashtextextended(v || E'\x1f' || p || E'\x1f' || pr || E'\x1f' || s, 7) AS h
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

CREATE FUNCTION glam_usage_probe_session_days_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM glam_usage_probe_session_days_apply(array_agg(view), array_agg(window_start), array_agg(tags_hash),
            array_agg(coalesce(product, '')), array_agg(probe_name), array_agg(session_id), 1)
        FROM new_rows WHERE probe_name IS NOT NULL AND session_id IS NOT NULL;
    ELSE
        PERFORM glam_usage_probe_session_days_apply(array_agg(view), array_agg(window_start), array_agg(tags_hash),
            array_agg(coalesce(product, '')), array_agg(probe_name), array_agg(session_id), -1)
        FROM old_rows WHERE probe_name IS NOT NULL AND session_id IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;

-- The rows a purge leaves empty, found without a scan.
CREATE INDEX glam_usage_probe_days_zero_idx ON glam_usage_probe_days (view) WHERE windows = 0;
CREATE INDEX glam_usage_probe_session_days_zero_idx ON glam_usage_probe_session_days (view) WHERE sessions = 0;

-- Merges update counts in place and never a row's key or tags, so the
-- sessions rollup follows inserts and deletes only.
CREATE TRIGGER glam_usage_probe_days_insert AFTER INSERT ON glam_usage_view_rows
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_probe_days_trigger();
CREATE TRIGGER glam_usage_probe_days_update AFTER UPDATE ON glam_usage_view_rows
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_probe_days_trigger();
CREATE TRIGGER glam_usage_probe_days_delete AFTER DELETE ON glam_usage_view_rows
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_probe_days_trigger();
CREATE TRIGGER glam_usage_probe_session_days_insert AFTER INSERT ON glam_usage_view_rows
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_probe_session_days_trigger();
CREATE TRIGGER glam_usage_probe_session_days_delete AFTER DELETE ON glam_usage_view_rows
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION glam_usage_probe_session_days_trigger();

-- The rows already there.
INSERT INTO glam_usage_probe_days (view, days, day, product, probe_name, channel, windows, count, sum, last_day)
SELECT view, g.days, glam_usage_probe_period(g.days, window_start), coalesce(product, ''), coalesce(probe_name, ''),
    coalesce(tags ->> 'glam.channel', ''), count(*), sum(count), sum(sum), max(date_trunc('day', window_start, 'UTC'))
FROM glam_usage_view_rows CROSS JOIN (VALUES (1::smallint), (7::smallint)) g(days)
GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO glam_usage_probe_session_days (view, days, product, probe_name, day, prev_day, sessions)
SELECT view, g.days, product, probe_name, glam_usage_probe_period(g.days, day), prev_day, count(*)
FROM (
    SELECT view, product, probe_name, day,
        coalesce(lag(day) OVER (PARTITION BY view, product, probe_name, session_id ORDER BY day), '-infinity') AS prev_day
    FROM (
        SELECT DISTINCT view, coalesce(product, '') AS product, probe_name, session_id, date_trunc('day', window_start, 'UTC') AS day
        FROM glam_usage_view_rows WHERE probe_name IS NOT NULL AND session_id IS NOT NULL
    ) d
) p CROSS JOIN (VALUES (1::smallint), (7::smallint)) g(days)
GROUP BY 1, 2, 3, 4, 5, 6;
