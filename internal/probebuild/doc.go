// Package probebuild builds one GLAM probe on request: the asynchronous
// request-reply jobs of SPEC §6. A Postgres table is both the job queue and
// the status the GLAM app reads; workers claim jobs from it, read GLAM ETL's
// per-client daily aggregate tables in BigQuery (the heavy aggregation runs
// there), and write GLAM's own aggregate tables in the same transaction that
// marks the job done.
//
// Where things are: the HTTP API (handler.go), the job queue in Postgres
// (queue.go, notify.go), the workers (worker.go) and one attempt of a job
// (executor.go: execute, then report result or error), the write into
// GLAM's tables (writer.go) and the refresh of GLAM's views over them
// (viewrefresh.go). The builder — the BigQuery reads and GLAM's math — is
// package bigquerybuilder, which the service receives through New's
// Connect (a Builder interface), as the glam_usage extension and
// cmd/glam-probe-builder give it.
//
// The glam_usage extension registers the API under /api/v1/probe-builds
// (Routes) and runs Config.Workers workers; cmd/glam-probe-builder runs
// workers alone, so builds scale apart from the app and the collector.
package probebuild
