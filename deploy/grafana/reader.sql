-- The role Grafana's data source logs in as: it may read the view rows and
-- nothing else (no raw events, no probe-build jobs). Run once as the owner
-- of otelcol-glam's tables, in its database, then set a password:
--   psql "$GLAM_POSTGRES_DSN" -f deploy/grafana/reader.sql
--   psql "$GLAM_POSTGRES_DSN" -c '\password grafana_glam'
CREATE ROLE grafana_glam LOGIN;
GRANT USAGE ON SCHEMA public TO grafana_glam;
GRANT SELECT ON glam_usage_view_rows TO grafana_glam;
