-- Indexes for the usage API's queries: a session's events in order, a probe's
-- series over time, funnels by event name, and view rows filtered by tag.
CREATE INDEX glam_usage_events_session_idx ON glam_usage_events (session_id, event_time);
CREATE INDEX glam_usage_events_probe_idx ON glam_usage_events (product, probe_name, event_time);
CREATE INDEX glam_usage_events_name_idx ON glam_usage_events (event_name, event_time);
CREATE INDEX glam_usage_view_rows_tags_idx ON glam_usage_view_rows USING gin (tags jsonb_path_ops);
