package glameventlogreceiver // import "github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/mozilla/otelcol-glam/internal/usage"
	"github.com/mozilla/otelcol-glam/receiver/glameventlogreceiver/internal/metadata"
)

const (
	// DefaultConsumer is the offset and lease of GLAM's default view set.
	DefaultConsumer = "glam_views"
	defaultBatch    = 1000
	// defaultSessionContext covers the default session views:
	// max_duration 24h plus session_gap 30m, with room to spare.
	defaultSessionContext = 25 * time.Hour
)

// NewFactory returns the factory of the glam_eventlog receiver.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		Consumer:       DefaultConsumer,
		Measures:       defaultMeasures(),
		BatchSize:      defaultBatch,
		LeaseRetry:     5 * time.Second,
		Backoff:        time.Second,
		SessionContext: defaultSessionContext,
		RuntimeViews:   true,
	}
}

// defaultMeasures cover the events GLAM's usage comes as
// (internal/usage/glam.go): probe and page views (the glam receiver names
// Glean's page loads one or the other), searches, clicks, and every event.
func defaultMeasures() []MeasureConfig {
	return []MeasureConfig{
		{Name: usage.MeasureProbeViews, Description: "Probes viewed", Unit: "{view}", Event: usage.EventProbeView},
		{Name: usage.MeasureSearches, Description: "Probe searches", Unit: "{search}", Event: usage.EventProbeSearch},
		{Name: usage.MeasurePageViews, Description: "Pages of the GLAM app shown, other than a probe's", Unit: "{view}", Event: usage.EventPageView},
		{Name: usage.MeasureActions, Description: "Clicks on GLAM's data-glean-id elements", Unit: "{click}", Event: usage.EventGleanElementClick},
		{Name: usage.MeasureEvents, Description: "Usage events", Unit: "{event}", Event: usage.AnyEvent},
	}
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	return newReader(set, cfg.(*Config), next)
}
