package probebuild

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// Table names hold the request's values (bigquerybuilder fills them in):
// Normalize lets through only lowercase identifiers.
func TestTableNamesTakeOnlyNormalizedValues(t *testing.T) {
	r := Request{Product: "fenix", Channel: "Nightly", Probe: "x", PingType: "Baseline"}
	assert.NoError(t, r.Normalize())
	assert.Equal(t, Build{Product: "fenix", Channel: "nightly", AppID: "nightly", PingType: "baseline", Probe: "x", Versions: DefaultVersions}, r.Build())
	bad := Request{Product: "fenix", Channel: "nightly`; DROP", Probe: "x"}
	assert.ErrorContains(t, bad.Normalize(), "channel (or app_id) must be a lowercase identifier")
}
