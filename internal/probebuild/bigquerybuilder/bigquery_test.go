package bigquerybuilder

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

func TestTableNamesAreFilledAndQuoted(t *testing.T) {
	b := Build{Product: ProductFenix, Channel: "nightly", AppID: "nightly", PingType: "baseline", Probe: "x"}
	assert.Equal(t, "`p.glam_etl.t_nightly_baseline_nightly`", fillTable("p.glam_etl.t_{channel}_{ping_type}_{app_id}", b))
}
