// Package probebuild builds one GLAM probe on request: the asynchronous
// request-reply jobs of SPEC §6. A Postgres table is both the job queue and
// the status the GLAM app reads; workers claim jobs from it, read GLAM ETL's
// per-client daily aggregate tables in BigQuery (the heavy aggregation runs
// there), and write GLAM's own aggregate tables in the same transaction that
// marks the job done.
//
// The glam_usage extension mounts Handler under /api/v1/probe-builds and
// runs Config.Workers workers; cmd/glam-probe-builder runs workers alone, so
// builds scale apart from the app and the collector.
package probebuild
