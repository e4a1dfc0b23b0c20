//go:generate mdatagen metadata.yaml

// Package glamusageextension serves the usage API that the GLAM app and
// GLAM's ETL read: which probes people look at, how sessions go, funnels,
// any configured view, and the hot list the ETL builds first. It answers
// from the view rows the glam_postgres exporter merges where a view can
// answer, and from the raw event table only where raw events alone can (one
// session's events, funnels). It also mounts the probe-build API.
package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"
