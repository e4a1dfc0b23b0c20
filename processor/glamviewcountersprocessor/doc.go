//go:generate ../../.tools/mdatagen metadata.yaml

// Package glamviewcountersprocessor implements the glam_viewcounters
// processor: it turns the window deltas the glam_views processor flushes,
// for the views it is told to pass on, into running counters per view and
// tag set — one delta stream per series, with contiguous timestamps, each
// view batch counted once — so that deltatocumulative and the prometheus
// exporter (or any other metrics backend) can take them. It sits in a
// pipeline of its own behind a forward connector and never refuses data, so
// that nothing it or the exporters after it do can make glam_views resend or
// drop a batch its Postgres exporter needs.
package glamviewcountersprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor"
