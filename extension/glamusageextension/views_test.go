package glamusageextension

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/jsonapi"
	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/pgtest"
	"github.com/mozilla/otelcol-glam/internal/views"
)

// viewsAPI is the extension on a fresh migrated database, told (as the
// view components would) of the measures probe_views and actions and of
// one config view; writers authenticate with the bearer token "writer".
type viewsAPI struct {
	*client
	db *pgxpool.Pool
}

var configView = views.Definition{Name: "glam.probe_views.daily", Measure: "glam.probe_views", Aggregation: views.AggregationCount,
	TagKeys: []string{"glam.probe.name"}, Window: views.Window{Size: 24 * time.Hour}}

func startViewsAPI(t *testing.T, tweak func(*Config)) viewsAPI {
	t.Helper()
	ctx := context.Background()
	dsn := pgtest.NewDatabase(t)
	db, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(db.Close)
	require.NoError(t, pgschema.Migrate(ctx, db))

	id, h := bearerAuth(t, "writer")
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.ServerConfig.NetAddr.Endpoint = freeEndpoint(t)
	cfg.Postgres.DSN = configopaque.String(dsn)
	cfg.RuntimeViews.WriteAuth = configoptional.Some(configauth.Config{AuthenticatorID: id})
	if tweak != nil {
		tweak(cfg)
	}
	require.NoError(t, cfg.Validate())
	ext, err := NewFactory().Create(ctx, extensiontest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(ctx, h))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })
	cat := ext.(views.Catalog)
	cat.AddMeasures([]string{"glam.probe_views", "glam.actions"})
	cat.AddConfigViews([]views.Definition{configView})
	return viewsAPI{client: newClient(t, "http://"+cfg.ServerConfig.NetAddr.Endpoint), db: db}
}

const funnelStep = `{"name":"glam.compare_clicks.daily","description":"Clicks per day by control","measure":"glam.actions",
	"aggregation":"count","tag_keys":["glam.action"],"window":{"size":"24h"},"max_series":1000}`

func TestCreateViewIsIdempotentAndNamesAreUnique(t *testing.T) {
	api := startViewsAPI(t, nil)
	api.token = "writer"
	status, body := api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", funnelStep)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var created viewBody
	require.NoError(t, json.Unmarshal(body, &created))
	assert.Equal(t, "runtime", created.Source)
	assert.Equal(t, "live", created.State, "an empty log has nothing to backfill")
	assert.Equal(t, 24*time.Hour, created.Window.Size)

	// The same definition again (defaults written out) is 200, as
	// OpenCensus' Register; a different one under the name is 409.
	same := `{"name":"glam.compare_clicks.daily","description":"Clicks per day by control","measure":"glam.actions",
		"aggregation":"count","tag_keys":["glam.action"],"window":{"size":"1440m"},"max_series":1000}`
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", same)
	assert.Equal(t, http.StatusOK, status, "%s", body)
	other := `{"name":"glam.compare_clicks.daily","measure":"glam.actions","aggregation":"count","window":{"size":"1h"}}`
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", other)
	assert.Equal(t, http.StatusConflict, status, "%s", body)
	// A config view's name is taken too.
	shadow := `{"name":"glam.probe_views.daily","measure":"glam.actions","aggregation":"count","window":{"size":"1h"}}`
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", shadow)
	assert.Equal(t, http.StatusConflict, status, "%s", body)
	assert.Contains(t, string(body), "config")

	var list viewListBody
	api.getOK("/api/v1/views", "/api/v1/views", &list)
	require.Len(t, list.Views, 2)
	assert.Equal(t, "glam.probe_views.daily", list.Views[0].Name)
	assert.Equal(t, "config", list.Views[0].Source)
	assert.Equal(t, "glam.compare_clicks.daily", list.Views[1].Name)
	assert.Equal(t, []string{"glam.action"}, list.Views[1].TagKeys)

	var one viewBody
	api.getOK("/api/v1/views/glam.compare_clicks.daily", "/api/v1/views/{name}", &one)
	assert.Equal(t, "glam.actions", one.Measure)
	api.getError("/api/v1/views/nope", "/api/v1/views/{name}", http.StatusNotFound)
}

func TestBadViewDefinitionsGet400WithTheReason(t *testing.T) {
	api := startViewsAPI(t, nil)
	api.token = "writer"
	for body, reason := range map[string]string{
		`{"name":"v","measure":"glam.actions","aggregation":"median","window":{"size":"1h"}}`:                    `unknown aggregation "median"`,
		`{"name":"v","measure":"glam.actions","aggregation":"count","window":{"size":"7m"}}`:                     "does not divide a day",
		`{"name":"v","measure":"glam.actions","aggregation":"distribution","window":{"size":"1h"}}`:              "needs buckets",
		`{"name":"v","measure":"glam.actions","aggregation":"count","window":{"size":"1h","session_gap":"30m"}}`: "not both",
		`{"name":"v","measure":"glam.actions","aggregation":"count","tagkeys":["a"],"window":{"size":"1h"}}`:     "tagkeys",
		`{"name":"v","measure":"glam.nothing","aggregation":"count","window":{"size":"1h"}}`:                     "glam.actions, glam.probe_views",
		`{"name":"","measure":"","aggregation":"count","window":{"size":"1h"}}`:                                  "name is required; measure is required",
		`not json`: "not a view definition",
	} {
		status, answer := api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", body)
		assert.Equal(t, http.StatusBadRequest, status, body)
		var e jsonapi.ErrorBody
		require.NoError(t, json.Unmarshal(answer, &e))
		assert.Contains(t, e.Error, reason, body)
	}
	var n int
	require.NoError(t, api.db.QueryRow(context.Background(), `SELECT count(*) FROM `+pgschema.ViewsTable).Scan(&n))
	assert.Zero(t, n, "nothing stored")
}

func TestViewsAreRefusedBeyondTheirBudget(t *testing.T) {
	api := startViewsAPI(t, func(cfg *Config) {
		cfg.RuntimeViews.MaxViews = 2
		cfg.RuntimeViews.MemoryLimitMiB = 1
	})
	api.token = "writer"
	// 1 000 series × 2 windows × 300 bytes = 0.6 MB: one fits in 1 MiB,
	// a second does not; a small one does, and then the count is full.
	status, body := api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", funnelStep)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	second := `{"name":"b","measure":"glam.actions","aggregation":"count","window":{"size":"1h"},"max_series":1000}`
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", second)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(body), "memory_limit_mib")
	small := `{"name":"c","measure":"glam.actions","aggregation":"count","window":{"size":"1h"},"max_series":10}`
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", small)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	third := `{"name":"d","measure":"glam.actions","aggregation":"count","window":{"size":"1h"},"max_series":10}`
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", third)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, string(body), "max_views")
}

func TestWritingViewsNeedsTheWriteToken(t *testing.T) {
	api := startViewsAPI(t, nil)
	for _, token := range []string{"", "reader"} {
		api.token = token
		status, body := api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", funnelStep)
		assert.Equal(t, http.StatusForbidden, status, "token %q: %s", token, body)
		status, _ = api.send(http.MethodDelete, "/api/v1/views/glam.compare_clicks.daily", "/api/v1/views/{name}", "")
		assert.Equal(t, http.StatusForbidden, status, token)
	}
	// Reading needs no write token.
	var list viewListBody
	api.getOK("/api/v1/views", "/api/v1/views", &list)

	off := startViewsAPI(t, func(cfg *Config) { cfg.RuntimeViews.WriteAuth = configoptional.None[configauth.Config]() })
	off.token = "writer"
	status, body := off.send(http.MethodPost, "/api/v1/views", "/api/v1/views", funnelStep)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Contains(t, string(body), "runtime_views.write_auth")
}

func TestDeleteRetiresTheConsumerAndPurgesOnRequest(t *testing.T) {
	ctx := context.Background()
	api := startViewsAPI(t, nil)
	api.token = "writer"
	status, _ := api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", funnelStep)
	require.Equal(t, http.StatusCreated, status)
	var consumer string
	require.NoError(t, api.db.QueryRow(ctx, `SELECT consumer FROM `+pgschema.ViewsTable).Scan(&consumer))
	// A row the view's reader merged.
	_, err := api.db.Exec(ctx, `INSERT INTO `+pgschema.ViewRowsTable+` (view, window_start, window_end, tags_hash, tags, metric_type, count, sum)
		VALUES ('glam.compare_clicks.daily', '2026-01-01', '2026-01-02', 'h', '{"glam.action":"compare"}', 'sum', 3, 3)`)
	require.NoError(t, err)

	status, body := api.send(http.MethodDelete, "/api/v1/views/glam.probe_views.daily", "/api/v1/views/{name}", "")
	assert.Equal(t, http.StatusConflict, status, "a config view: %s", body)

	status, body = api.send(http.MethodDelete, "/api/v1/views/glam.compare_clicks.daily", "/api/v1/views/{name}", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.JSONEq(t, `{"deleted":"glam.compare_clicks.daily","purged_rows":0}`, string(body))
	var retired bool
	require.NoError(t, api.db.QueryRow(ctx, `SELECT retired_at IS NOT NULL FROM `+pgschema.LogOffsetsTable+` WHERE consumer = $1`, consumer).Scan(&retired))
	assert.True(t, retired)
	api.getError("/api/v1/views/glam.compare_clicks.daily", "/api/v1/views/{name}", http.StatusNotFound)

	// Its row is kept, so a new view of the name would add to it: 409
	// until the rows are purged.
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", funnelStep)
	assert.Equal(t, http.StatusConflict, status)
	assert.Contains(t, string(body), "purge=true")
	status, body = api.send(http.MethodDelete, "/api/v1/views/glam.compare_clicks.daily?purge=yes", "/api/v1/views/{name}", "")
	assert.Equal(t, http.StatusBadRequest, status, "%s", body)
	status, body = api.send(http.MethodDelete, "/api/v1/views/glam.compare_clicks.daily?purge=true", "/api/v1/views/{name}", "")
	require.Equal(t, http.StatusOK, status, "%s", body)
	assert.JSONEq(t, `{"deleted":"glam.compare_clicks.daily","purged_rows":1}`, string(body))
	status, _ = api.send(http.MethodDelete, "/api/v1/views/glam.compare_clicks.daily?purge=true", "/api/v1/views/{name}", "")
	assert.Equal(t, http.StatusNotFound, status)
	status, body = api.send(http.MethodPost, "/api/v1/views", "/api/v1/views", funnelStep)
	assert.Equal(t, http.StatusCreated, status, "%s", body)
}
