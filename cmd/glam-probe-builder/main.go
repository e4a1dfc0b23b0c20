// Command glam-probe-builder runs probe-build workers apart from the
// collector: it claims jobs from the Postgres queue the glam_usage extension
// fills, reads BigQuery and writes GLAM's aggregate tables, so that builds
// scale on their own machines. It shares internal/probebuild with the
// extension; run as many as the builds need.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/mozilla/otelcol-glam/internal/pgschema"
	"github.com/mozilla/otelcol-glam/internal/probebuild"
)

type uriList []string

func (u *uriList) String() string     { return strings.Join(*u, ",") }
func (u *uriList) Set(v string) error { *u = append(*u, v); return nil }

func main() {
	var uris uriList
	flag.Var(&uris, "config", "configuration: a file path, or file:, env:, yaml: URI; repeat to merge")
	shutdownTimeout := flag.Duration("shutdown-timeout", 30*time.Second, "how long to wait for workers to hand back their jobs")
	flag.Parse()
	if len(uris) == 0 {
		fmt.Fprintln(os.Stderr, "glam-probe-builder: --config is required")
		flag.Usage()
		os.Exit(2)
	}
	logger, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, uris, *shutdownTimeout, logger); err != nil {
		logger.Error("glam-probe-builder", zap.Error(err))
		_ = logger.Sync()
		os.Exit(1)
	}
}

// run serves until ctx ends, then hands unfinished jobs back to the queue.
func run(ctx context.Context, uris []string, shutdownTimeout time.Duration, logger *zap.Logger) error {
	cfg, err := loadConfig(ctx, uris)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	pool, err := cfg.Postgres.New(ctx)
	if err != nil {
		return err
	}
	defer pool.Close()
	if cfg.CreateSchema {
		if err := pgschema.Migrate(ctx, pool); err != nil {
			return err
		}
	}
	svc, err := probebuild.New(cfg.ProbeBuilds, pool, logger, probebuild.BigQuery(cfg.ProbeBuilds.BigQuery))
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	logger.Info("glam-probe-builder running", zap.Int("workers", cfg.ProbeBuilds.Workers))
	<-ctx.Done()
	logger.Info("glam-probe-builder stopping")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	return svc.Shutdown(sctx)
}
