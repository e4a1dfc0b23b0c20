package glamviewcountersprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/mozilla/otelcol-glam/processor/glamviewcountersprocessor/internal/metadata"
)

// NewFactory returns the glam_viewcounters processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		MaxSeries:           DefaultMaxSeries,
		ForgetSessionsAfter: DefaultForgetSessionsAfter,
	}
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newCountersProcessor(set, cfg.(*Config), systemClock{})
	if err != nil {
		return nil, err
	}
	return newMetricsProcessor(ctx, set, cfg, next, p)
}

// newMetricsProcessor wraps p in processorhelper, which adds the collector's
// standard processor telemetry. processorhelper hands the result to next and
// returns next's error; neverRefuse keeps that error from reaching
// glam_views.
func newMetricsProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics, p *countersProcessor) (processor.Metrics, error) {
	return processorhelper.NewMetrics(ctx, set, cfg, p.neverRefuse(next), p.processMetrics,
		processorhelper.WithShutdown(p.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
	)
}
