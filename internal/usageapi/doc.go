// Package usageapi answers the usage API's questions from the tables the
// glam_postgres exporter writes (named in internal/pgschema): view rows where
// a view can answer, raw events where only they can (one session's events,
// funnels, GLAM's per-request usage rows). It knows nothing of HTTP: the
// glam_usage extension parses requests into the query types here and writes
// the answers as JSON.
//
// Every query is parameterized; the only identifiers spliced into SQL are
// the pgschema table names.
package usageapi
