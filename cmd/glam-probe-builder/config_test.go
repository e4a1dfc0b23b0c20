package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSampleConfigLoadsWithEnvExpansion(t *testing.T) {
	t.Setenv("GLAM_POSTGRES_DSN", "postgres://postgres@127.0.0.1:5432/glam")
	cfg, err := loadConfig(context.Background(), []string{"testdata/config.yaml"})
	require.NoError(t, err)
	assert.Equal(t, "postgres://postgres@127.0.0.1:5432/glam", string(cfg.Postgres.DSN))
	assert.Equal(t, int32(8), cfg.Postgres.MaxConns)
	assert.True(t, cfg.CreateSchema)
	assert.Equal(t, 2, cfg.ProbeBuilds.Workers)
	assert.Equal(t, "http://127.0.0.1:9050", cfg.ProbeBuilds.BigQuery.Endpoint)
	assert.Equal(t, map[string]int64{"nightly": 1, "beta": 1, "release": 0}, cfg.ProbeBuilds.BigQuery.Tables.Firefox.MinBuildClients)
}

func TestConfigErrors(t *testing.T) {
	_, err := loadConfig(context.Background(), []string{"yaml:probe_builds::workers: 0"})
	require.Error(t, err)
	assert.ErrorContains(t, err, "dsn must be set")
	assert.ErrorContains(t, err, "probe_builds.workers must be at least 1 in glam-probe-builder, got 0")

	_, err = loadConfig(context.Background(), []string{"yaml:dsn: postgres://x", "yaml:max_conns: 1", "yaml:probe_builds::lease: 1s"})
	assert.ErrorContains(t, err, "max_conns must be at least 2")
	assert.ErrorContains(t, err, "probe_builds: heartbeat (15s) must be at most half of lease (1s)")

	_, err = loadConfig(context.Background(), []string{"testdata/missing.yaml"})
	assert.ErrorContains(t, err, "missing.yaml")
}
