//go:build tools

// Package tools pins the version of a code generator that `make generate` builds.
package tools

import _ "go.opentelemetry.io/collector/cmd/builder"
