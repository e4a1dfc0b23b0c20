//go:build tools

// Package tools pins the BigQuery emulator the probe-build tests run against.
package tools

import _ "github.com/goccy/bigquery-emulator/cmd/bigquery-emulator"
