package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes every endpoint; a test checks real answers
// against it.
//
//go:embed openapi.json
var openAPIDocument []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}
