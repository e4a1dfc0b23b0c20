// Package usagetest fills a test database with usage data: the known data
// set of testdata/usage_events.csv, or millions of generated events, and
// the default GLAM views' rows derived from those events with SQL, as the
// glam_views processor and glam_postgres exporter would have written them.
// Tests and benchmarks of the usage API use it; it is not part of the
// collector.
package usagetest
