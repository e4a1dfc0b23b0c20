package glamusageextension // import "github.com/mozilla/otelcol-glam/extension/glamusageextension"

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/extension/glamusageextension/internal/metadata"
	"github.com/mozilla/otelcol-glam/internal/probebuild"
)

// probeBuildQueryTimeout bounds each read of the job table for telemetry: a
// scrape of the collector's metrics waits for it.
const probeBuildQueryTimeout = 2 * time.Second

// startTelemetry reports the probe builds from the job table, read when the
// collector's metrics are collected (a scrape), so that the values are
// those of the table at that moment. A read that fails reports nothing
// rather than zeros, so an alert on them sees the gap, not a calm queue.
func (e *usageExtension) startTelemetry() error {
	tb, err := metadata.NewTelemetryBuilder(e.telemetry)
	if err != nil {
		return err
	}
	e.probeTelemetry = tb
	read := func(ctx context.Context, what string, f func(context.Context) error) {
		ctx, cancel := context.WithTimeout(ctx, probeBuildQueryTimeout)
		defer cancel()
		if err := f(ctx); err != nil {
			e.telemetry.Logger.Debug("Probe-build telemetry: could not read the job table", zap.String("metric", what), zap.Error(err))
		}
	}
	status := func(s string) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(attribute.String("status", s)))
	}
	if err := tb.RegisterExtensionGlamUsageProbeBuildsCallback(func(ctx context.Context, o metric.Int64Observer) error {
		read(ctx, "probe_builds", func(ctx context.Context) error {
			backlogs, err := probebuild.Backlogs(ctx, e.pool)
			for _, b := range backlogs {
				o.Observe(b.Jobs, status(b.Status))
			}
			return err
		})
		return nil
	}); err != nil {
		return err
	}
	if err := tb.RegisterExtensionGlamUsageProbeBuildsOldestAgeCallback(func(ctx context.Context, o metric.Float64Observer) error {
		read(ctx, "probe_builds_oldest_age", func(ctx context.Context) error {
			backlogs, err := probebuild.Backlogs(ctx, e.pool)
			for _, b := range backlogs {
				o.Observe(b.OldestAge.Seconds(), status(b.Status))
			}
			return err
		})
		return nil
	}); err != nil {
		return err
	}
	return tb.RegisterExtensionGlamUsageProbeBuildsFinishedLastHourCallback(func(ctx context.Context, o metric.Int64Observer) error {
		read(ctx, "probe_builds_finished_last_hour", func(ctx context.Context) error {
			finished, err := probebuild.FinishedWithin(ctx, e.pool, time.Hour)
			for s, n := range finished {
				o.Observe(n, status(s))
			}
			return err
		})
		return nil
	})
}

func (e *usageExtension) stopTelemetry() {
	if e.probeTelemetry != nil {
		e.probeTelemetry.Shutdown()
	}
}
