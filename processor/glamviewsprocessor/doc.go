//go:generate ../../.tools/mdatagen metadata.yaml

// Package glamviewsprocessor implements the glam_views processor: it turns
// the glam receiver's measurements into OpenCensus-style views (count, sum,
// distribution, last_value over tag keys) on fixed UTC windows or session
// windows, and flushes what each window gained as OpenTelemetry delta metrics
// every flush_interval, so a day-long view is fresh within seconds.
package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"
