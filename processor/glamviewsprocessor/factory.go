package glamviewsprocessor // import "github.com/mozilla/otelcol-glam/processor/glamviewsprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/mozilla/otelcol-glam/processor/glamviewsprocessor/internal/metadata"
)

// NewFactory returns the glam_views processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability),
	)
}

func createDefaultConfig() component.Config {
	return &Config{
		FlushInterval:   DefaultFlushInterval,
		FlushSize:       DefaultFlushSize,
		AllowedLateness: DefaultAllowedLateness,
		Views:           glamViews(),
	}
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newViewsProcessor(set, cfg.(*Config), next, systemClock{})
	if err != nil {
		return nil, err
	}
	return wrapProcessor(ctx, set, cfg, next, p)
}

// wrapProcessor wraps the views processor in processorhelper, which adds
// the collector's standard processor telemetry.
func wrapProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics, p *viewsProcessor) (processor.Metrics, error) {
	return processorhelper.NewMetrics(ctx, set, cfg, next, p.processMetrics,
		processorhelper.WithStart(p.start),
		processorhelper.WithShutdown(p.shutdown),
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
	)
}
