package jsonapi

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteAnswersJSONAndRefusesWhatCannotBeEncoded(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, http.StatusCreated, map[string]string{"a": "<b>"})
	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.Equal(t, "{\"a\":\"<b>\"}\n", rec.Body.String(), "HTML is not escaped")

	rec = httptest.NewRecorder()
	Write(rec, http.StatusOK, math.NaN())
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.Equal(t, "{\"error\":\"internal error: the answer could not be encoded as JSON\"}\n", rec.Body.String())
}

func TestFallbacksAnswer404And405InJSON(t *testing.T) {
	mux := http.NewServeMux()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Write(w, http.StatusOK, r.Method) })
	mux.Handle("GET /things", ok)
	mux.Handle("POST /things", ok)
	mux.Handle("DELETE /things/{id}", ok)
	srv := httptest.NewServer(Fallbacks(mux))
	defer srv.Close()

	for _, tc := range []struct {
		method, path string
		status       int
		allow, body  string
	}{
		{http.MethodGet, "/things", http.StatusOK, "", `"GET"`},
		{http.MethodPost, "/things", http.StatusOK, "", `"POST"`},
		{http.MethodPut, "/things", http.StatusMethodNotAllowed, "GET, HEAD, POST", "PUT is not allowed on /things: send GET or HEAD or POST"},
		{http.MethodGet, "/things/7", http.StatusMethodNotAllowed, "DELETE", "GET is not allowed on /things/7: send DELETE"},
		{http.MethodGet, "/nowhere", http.StatusNotFound, "", "no such endpoint: /nowhere; the endpoints are listed in /api/v1/openapi.json"},
	} {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var body any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body), "%s %s", tc.method, tc.path)
		resp.Body.Close()
		assert.Equal(t, tc.status, resp.StatusCode, "%s %s", tc.method, tc.path)
		assert.Equal(t, tc.allow, resp.Header.Get("Allow"), "%s %s", tc.method, tc.path)
		if m, isErr := body.(map[string]any); isErr {
			assert.Equal(t, tc.body, m["error"], "%s %s", tc.method, tc.path)
		} else {
			b, _ := json.Marshal(body)
			assert.Equal(t, tc.body, string(b), "%s %s", tc.method, tc.path)
		}
	}
}
