package pgpool

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestValidate(t *testing.T) {
	ok := Config{DSN: "postgres://u@localhost/db", MaxConns: 4}
	require.NoError(t, ok.Validate())

	err := Config{MaxConns: 0, MinConns: -1, MaxConnIdleTime: -time.Second}.Validate()
	require.Error(t, err)
	for _, want := range []string{"dsn must be set", "max_conns must be at least 1, got 0", "min_conns must be between 0 and max_conns (0), got -1", "must not be negative"} {
		assert.ErrorContains(t, err, want)
	}
	assert.ErrorContains(t, Config{DSN: "postgres://u:secret@[bad", MaxConns: 1}.Validate(), "dsn:")
	assert.NotContains(t, Config{DSN: "postgres://u:secret@[bad", MaxConns: 1}.Validate().Error(), "secret")
	assert.ErrorContains(t, Config{DSN: "postgres://u@h/db", MaxConns: 2, MinConns: 3}.Validate(), "min_conns must be between 0 and max_conns (2), got 3")
}

func TestNewAppliesSettings(t *testing.T) {
	cfg := Config{DSN: "postgres://u@127.0.0.1:1/db", MaxConns: 7, MinConns: 0, MaxConnLifetime: 5 * time.Minute}
	pool, err := cfg.New(context.Background(), func(p *pgxpool.Config) { p.ConnConfig.RuntimeParams["jit"] = "off" })
	require.NoError(t, err, "the pool connects lazily: an unreachable server is no error yet")
	defer pool.Close()
	assert.Equal(t, int32(7), pool.Config().MaxConns)
	assert.Equal(t, 5*time.Minute, pool.Config().MaxConnLifetime)
	assert.Equal(t, 30*time.Minute, pool.Config().MaxConnIdleTime, "0 keeps pgx's default")
	assert.Equal(t, "off", pool.Config().ConnConfig.RuntimeParams["jit"], "configure hooks apply")

	_, err = Config{DSN: "not a dsn at all=", MaxConns: 1}.New(context.Background())
	assert.ErrorContains(t, err, "dsn:")
}
