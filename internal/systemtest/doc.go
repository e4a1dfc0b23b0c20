// Package systemtest holds the system tests of the distribution: the views
// of GLAM's usage stay exact — equal to a GROUP BY over the raw events — when
// the whole collector runs against a real PostgreSQL and things go wrong.
//
// Two kinds of collector are driven here:
//
//   - the real binary, cmd/otelcol-glam built once per test run, started with
//     a configuration of the test's own on free loopback ports, stopped,
//     killed with SIGKILL and restarted on the same storage;
//   - in-process pipelines built from the components' factories (the glam
//     receiver and glam_postgres exporter for raw events; glam_eventlog,
//     glam_views and glam_postgres for the views), whose view consumers a
//     test can crash and restart at will.
//
// Faults tried: two collectors on one database with the same batches sent to
// both and retried across them, SIGKILL under load with the persistent
// queue, events hours and days late, PostgreSQL stopped mid-stream (a
// throwaway cluster of the test's own, internal/pgtest), and seeded random
// interleavings of all of them (TestPropertyViewsEqualRawGroupBy).
//
// Expected values never come from the code under test: the view rows are
// compared with GROUP BY queries over the raw events written here from the
// views' documented semantics (expectedViews), and the raw events with the
// event ids the test generated. BenchmarkReceiptToViews measures the latency
// from the receiver's 200 to the view rows, and the pipeline's events/s,
// against the raw-events-only pipeline as the baseline. BenchmarkSoak runs
// the plain binary with testdata/config.yaml as shipped at a steady
// browser-shaped load for as long as asked and follows its RSS, Go heap and
// the views' live series (README.md, "Memory over time").
//
// The package has no code of its own outside its tests.
package systemtest
