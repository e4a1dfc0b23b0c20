//go:generate ../../.tools/mdatagen metadata.yaml

// Package glameventlogreceiver reads the committed usage-event log — the
// raw event table glam_postgres writes, deduplicated — in order, and turns
// its events into measurements for glam_views, each batch saying which
// range of the log it covers, so that views are merged exactly once across
// replicas, crashes and late events (SPEC §2, issue "Views exactly once").
package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"
