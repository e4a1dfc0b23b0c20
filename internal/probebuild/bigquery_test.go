package probebuild

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/api/googleapi"
)

func TestClassifyBigQueryErrors(t *testing.T) {
	permanent := func(err error) bool {
		var p PermanentError
		return errors.As(classify(fmt.Errorf("histogram query: %w", err)), &p)
	}
	assert.True(t, permanent(&googleapi.Error{Code: 404, Errors: []googleapi.ErrorItem{{Reason: "notFound"}}}))
	assert.True(t, permanent(&googleapi.Error{Code: 400, Errors: []googleapi.ErrorItem{{Reason: "invalidQuery"}}}))
	assert.True(t, permanent(&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "accessDenied"}}}))
	assert.False(t, permanent(&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "rateLimitExceeded"}}}))
	assert.False(t, permanent(&googleapi.Error{Code: 403, Errors: []googleapi.ErrorItem{{Reason: "quotaExceeded"}}}))
	assert.False(t, permanent(&googleapi.Error{Code: 503, Errors: []googleapi.ErrorItem{{Reason: "backendError"}}}))
	assert.False(t, permanent(errors.New("connection reset by peer")))
}

func TestTableNamesTakeOnlyNormalizedValues(t *testing.T) {
	r := Request{Product: "fenix", Channel: "Nightly", Probe: "x", PingType: "Baseline"}
	assert.NoError(t, r.Normalize())
	assert.Equal(t, "`p.glam_etl.t_nightly_baseline_nightly`", fillTable("p.glam_etl.t_{channel}_{ping_type}_{app_id}", r.Build()))
	bad := Request{Product: "fenix", Channel: "nightly`; DROP", Probe: "x"}
	assert.ErrorContains(t, bad.Normalize(), "channel (or app_id) must be a lowercase identifier")
}
