package glamusageextension

import (
	"context"
	"net/http"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensiontest"
)

// bearerAuth starts the contrib bearertokenauth extension with token, as a
// collector would, and returns it under its id.
func bearerAuth(t *testing.T, token string) (component.ID, host) {
	t.Helper()
	f := bearertokenauthextension.NewFactory()
	cfg := f.CreateDefaultConfig().(*bearertokenauthextension.Config)
	cfg.BearerToken = configopaque.String(token)
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	id := component.NewID(f.Type())
	return id, host{id: ext}
}

func TestAuthOnRefusesWithoutTheToken(t *testing.T) {
	id, h := bearerAuth(t, "s3cret")
	base := startAPI(t, knownDatabase(t, fixtureDay0), h, func(cfg *Config) {
		cfg.ServerConfig.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: id}})
	})
	c := newClient(t, base)
	for _, path := range []string{"/api/v1/usage/probes/top", "/api/v1/usage/status", "/api/v1/usage/", "/api/v1/probe-builds/0"} {
		msg := c.getError(path, "", http.StatusUnauthorized)
		assert.NotEmpty(t, msg, path)
	}
	c.token = "wrong"
	assert.Equal(t, http.StatusUnauthorized, func() int { s, _ := c.get("/api/v1/usage/probes/top", "/api/v1/usage/probes/top"); return s }())

	c.token = "s3cret"
	var got struct {
		Probes []map[string]any `json:"probes"`
	}
	c.getOK("/api/v1/usage/probes/top?from=2024-05-06&to=2024-05-07", "/api/v1/usage/probes/top", &got)
	assert.Len(t, got.Probes, 4)
}

func TestAuthOffServesEveryone(t *testing.T) {
	c := newClient(t, startAPI(t, knownDatabase(t, fixtureDay0), host{}, nil))
	var got struct {
		Probes []map[string]any `json:"probes"`
	}
	c.getOK("/api/v1/usage/probes/top?from=2024-05-06&to=2024-05-07", "/api/v1/usage/probes/top", &got)
	assert.Len(t, got.Probes, 4)
}
