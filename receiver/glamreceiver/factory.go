package glamreceiver // import "github.com/mozilla/otelcol-glam/receiver/glamreceiver"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/mozilla/otelcol-glam/receiver/glamreceiver/internal/metadata"
)

const (
	defaultEndpoint   = "localhost:4380"
	defaultPathPrefix = "/api/v1/ingest"
	// defaultCORSMaxAge keeps Chromium from sending a preflight before every
	// export (it caches a preflight for 5 s when no max age is given).
	defaultCORSMaxAge = 600
	// defaultReadHeaderTimeout and defaultReadTimeout bound how long a
	// client may take to send its headers and its whole request.
	defaultReadHeaderTimeout = 10 * time.Second
	defaultReadTimeout       = 30 * time.Second
	// defaultMaxEventAge is a day inside glam_postgres's default
	// raw_events.retention (90 days, counted from the oldest whole day
	// kept): an event accepted now is still within it when the exporter
	// stores it, even a day later after an outage.
	defaultMaxEventAge = 89 * 24 * time.Hour
)

// NewFactory returns the factory of the glam receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithTraces(createTraces, metadata.TracesStability),
		receiver.WithLogs(createLogs, metadata.LogsStability),
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	// The receiver faces the internet: a client that stalls in its headers
	// or body (or declares a body it never sends) must not hold a
	// connection and a goroutine for ever. Browser batches are small.
	server.ReadHeaderTimeout = defaultReadHeaderTimeout
	server.ReadTimeout = defaultReadTimeout
	server.CORS = configoptional.Default(confighttp.CORSConfig{
		AllowedHeaders: requiredCORSHeaders(),
		MaxAge:         defaultCORSMaxAge,
	})
	return &Config{
		ServerConfig: server,
		PathPrefix:   defaultPathPrefix,
		Pages:        defaultPages(),
		Clicks:       defaultClicks(),
		MaxEventAge:  defaultMaxEventAge,
		Dedupe: DedupeConfig{
			MaxEntries: 100_000,
			TTL:        24 * time.Hour,
		},
		ClockSkew: ClockSkewConfig{
			Tolerance:     time.Minute,
			MaxCorrection: 24 * time.Hour,
		},
	}
}

func createTraces(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	return attach(set, cfg.(*Config), func(r *glamReceiver) { r.next.traces = next })
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return attach(set, cfg.(*Config), func(r *glamReceiver) { r.next.logs = next })
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	return attach(set, cfg.(*Config), func(r *glamReceiver) { r.next.metrics = next })
}
