-- One probe's rollup rows over a range (its series by day or week), without
-- reading every probe's rows of the range.
CREATE INDEX glam_usage_probe_days_probe_idx
    ON glam_usage_probe_days (view, days, product, probe_name, day) INCLUDE (count);

-- The rollups are read by ranges of days: rows of a range stored together
-- read a few pages instead of one page per row, which is what the rows
-- made by migration 0010 (in no particular order) cost. Rewritten once in
-- key order; rows merged since arrive day by day, in order anyway. The free
-- space left on each page keeps the updates of the current day's rows on
-- their page (HOT).
ALTER TABLE glam_usage_probe_days SET (fillfactor = 70);
ALTER TABLE glam_usage_probe_session_days SET (fillfactor = 70);
CLUSTER glam_usage_probe_days USING glam_usage_probe_days_pkey;
CLUSTER glam_usage_probe_session_days USING glam_usage_probe_session_days_pkey;
