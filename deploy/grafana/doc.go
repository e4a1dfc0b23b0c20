// Package grafana holds no code: it is where the Grafana provisioning
// files and dashboard for otelcol-glam's view tables live, and its tests
// run every panel's SQL, with the macros expanded as Grafana's PostgreSQL
// data source expands them, against a database with known view rows.
package grafana
