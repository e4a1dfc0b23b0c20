-- Rows that name a session, by the end of their window: which sessions are
-- active (the usage API's status: a session row ending within active_within)
-- and which merged sessions a new event could still extend (glam_eventlog's
-- session context) are both a range of window_end, whatever the session
-- views' max_duration.
CREATE INDEX glam_usage_view_rows_session_end_idx
    ON glam_usage_view_rows (window_end, view) INCLUDE (session_id)
    WHERE session_id IS NOT NULL;

-- Rows that name a session, by when they were last merged: the sessions a
-- consumer restores when it starts reading are those merged recently,
-- including a session an offline client sent days late.
CREATE INDEX glam_usage_view_rows_session_updated_idx
    ON glam_usage_view_rows (updated_at)
    WHERE session_id IS NOT NULL;
