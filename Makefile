# otelcol-glam: `make run` starts the collector, `make test` runs every test.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

GO        ?= go
TOOLS     := $(CURDIR)/.tools
OCB       := $(TOOLS)/ocb
MDATAGEN  := $(TOOLS)/mdatagen
BIN       := $(CURDIR)/bin
COLLECTOR := $(BIN)/otelcol-glam
# The collector the tests run (sample configs, browser tests): built with the
# race detector, as every test is, so that the tests compile the
# dependencies once, under -race.
TEST_COLLECTOR := $(BIN)/otelcol-glam-race
BUILDER   := $(BIN)/glam-probe-builder
BQEMU     := $(TOOLS)/bigquery-emulator
CONFIG    ?= testdata/config.yaml

# Component directories: every package with a metadata.yaml.
COMPONENTS := $(patsubst %/metadata.yaml,%,$(wildcard receiver/*/metadata.yaml processor/*/metadata.yaml exporter/*/metadata.yaml extension/*/metadata.yaml))
GO_SOURCES := $(shell find . -name '*.go' -not -path './tools/*' -not -path './e2e/node_modules/*' -not -path './web/*/node_modules/*') go.mod go.sum
# The usage dashboard: its sources (web/dashboard, npm) and the bundle the
# glam_usage extension embeds, which the binary is rebuilt with.
DASHBOARD        := web/dashboard
DASHBOARD_ASSETS := extension/glamusageextension/internal/dashboard/assets
GO_SOURCES       += $(wildcard $(DASHBOARD_ASSETS)/*) extension/glamusageextension/openapi.json

.PHONY: all build run test test-go test-go-rest test-go-emulator test-e2e validate lint generate check-generate tools bigquery-emulator probe-build-demo bench fuzz clean

all: build

## build: the collector, bin/otelcol-glam, and the standalone probe-build worker, bin/glam-probe-builder
build: $(COLLECTOR) $(BUILDER)

# No -trimpath: builds with the same flags share their compiled packages.
$(COLLECTOR): $(GO_SOURCES)
	$(GO) build -o $@ ./cmd/otelcol-glam

$(TEST_COLLECTOR): $(GO_SOURCES)
	$(GO) build -race -o $@ ./cmd/otelcol-glam

$(BUILDER): $(GO_SOURCES)
	$(GO) build -o $@ ./cmd/glam-probe-builder

## run: the collector with $(CONFIG) against Postgres (see README: which one it picks)
run: build
	@mkdir -p .run
	GLAM_POSTGRES_DSN="$$(scripts/postgres-dsn.sh)" $(COLLECTOR) --config $(CONFIG)

## test: every test — lint, generated code up to date, Go tests, sample configs, browser end-to-end
# On a fresh machine the BigQuery emulator's C++ build is the longest step:
# it runs in the background, followed by the probe-build tests that need it
# (their output is printed at the end), beside the lint, the generated-code
# check, the binaries and every other test. (Test binaries are linked once,
# by the run: go test does not cache links.)
test:
	@mkdir -p $(TOOLS)
	@rm -f $(TOOLS)/test-go-emulator.out
	@( if ! $(MAKE) --no-print-directory bigquery-emulator >$(TOOLS)/emulator-build.log 2>&1; then \
	     echo "building the BigQuery emulator failed:"; cat $(TOOLS)/emulator-build.log; exit 1; fi; \
	   $(MAKE) --no-print-directory test-go-emulator ) >$(TOOLS)/test-go-emulator.out 2>&1 & emulator=$$!; \
	  status=0; \
	  $(MAKE) --no-print-directory lint check-generate $(TEST_COLLECTOR) test-prometheus && \
	  $(MAKE) --no-print-directory test-go-rest validate test-e2e || status=$$?; \
	  emulator_status=0; wait $$emulator || emulator_status=$$?; \
	  echo "== the BigQuery emulator's build and the probe-build tests:"; cat $(TOOLS)/test-go-emulator.out; \
	  [ $$status -eq 0 ] && [ $$emulator_status -eq 0 ]

# The packages whose tests run against the BigQuery emulator.
EMULATOR_PKGS := ./internal/probebuild

# go-test runs the packages $(1) under the race detector, with the
# environment $(3); on failure it ends with a summary (failed tests, and the
# tests a timeout caught running), which a timeout's goroutine dump would
# otherwise bury. $(2) names its log.
define go-test
	@mkdir -p $(TOOLS)
	@if ! $(3) $(GO) test -count=1 -race -timeout 20m $(1) 2>&1 | tee $(TOOLS)/$(2).log; then \
	  echo; echo "== go test failed; the failures (full output: $(TOOLS)/$(2).log):"; \
	  grep -E -A4 '^panic: test timed out|^[[:space:]]*--- FAIL|^FAIL' $(TOOLS)/$(2).log | grep -v '^goroutine ' | head -80; \
	  exit 1; fi
endef

# test-go: every package (about 2.5 minutes on 2 cores once compiled); the
# probe-build tests against the BigQuery emulator, built once.
test-go: bigquery-emulator test-prometheus
	$(call go-test,./...,test-go)

# test-go-rest and test-go-emulator split test-go in two, so that make test
# runs the first while the emulator still builds.
# The system tests run the race-built collector the sample configs and the
# browser tests use.
test-go-rest: $(TEST_COLLECTOR)
	$(call go-test,$$($(GO) list ./... | grep -v -x -F "$$($(GO) list $(EMULATOR_PKGS))"),test-go-rest,OTELCOL_GLAM_BIN=$(TEST_COLLECTOR))

test-go-emulator: bigquery-emulator
	$(call go-test,$(EMULATOR_PKGS),test-go-emulator)

## test-prometheus: the alerting rules in deploy/prometheus: promtool check rules, and their unit tests
## (promtool test rules) with the shipped windows; without promtool it skips, unless CI is set
PROMTOOL ?= promtool
.PHONY: test-prometheus
test-prometheus:
	@if ! command -v $(PROMTOOL) >/dev/null; then \
	  if [ -n "$${CI:-}" ]; then echo "promtool not found: apt-get install prometheus"; exit 1; fi; \
	  echo "skipping test-prometheus: promtool not found (apt-get install prometheus)"; exit 0; fi; \
	cd deploy/prometheus && $(PROMTOOL) check rules glam-alerts.yml && $(PROMTOOL) test rules *_test.yaml

## validate: every sample config in testdata/ passes `otelcol-glam validate`
validate: $(TEST_COLLECTOR)
	@for f in testdata/*.yaml testdata/probebuild/collector.yaml; do echo "validate $$f"; \
	  GLAM_POSTGRES_DSN=$${GLAM_POSTGRES_DSN:-postgres://validate@127.0.0.1/glam} $(TEST_COLLECTOR) validate --config $$f; done

## probe-build-demo: watch a probe build end to end — the BigQuery emulator with the sample data set, a
## collector wired to it, and the three HTTP calls (request, poll, result)
probe-build-demo: build bigquery-emulator
	scripts/probe-build-demo.sh

test-e2e: $(TEST_COLLECTOR)
	cd e2e && OTELCOL_GLAM_BIN=$(TEST_COLLECTOR) npm test

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@# -race: vet then compiles the dependencies as the tests do, once.
	$(GO) vet -race ./...

## bench: the benchmarks of every component
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: each fuzz target for FUZZTIME (default 30s)
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## generate: cmd/otelcol-glam from builder-config.yaml (ocb), each component's mdatagen code, and the
## dashboard's bundle (web/dashboard → $(DASHBOARD_ASSETS), esbuild)
generate: tools $(DASHBOARD)/node_modules/.package-lock.json
	mkdir -p cmd/otelcol-glam
	$(OCB) --skip-compilation --skip-get-modules --config builder-config.yaml
	@# One Go module at the root: the distribution builds inside it, not as a module of its own.
	rm -f cmd/otelcol-glam/go.mod cmd/otelcol-glam/go.sum
	gofmt -w cmd/otelcol-glam
	@for c in $(COMPONENTS); do echo "mdatagen $$c"; (cd $$c && $(MDATAGEN) metadata.yaml); done
	cd $(DASHBOARD) && npm run --silent build

# The dashboard's build tools, exactly as locked (.ci/run installs them first).
$(DASHBOARD)/node_modules/.package-lock.json: $(DASHBOARD)/package-lock.json
	cd $(DASHBOARD) && npm ci --no-audit --no-fund

## check-generate: fail when committed generated code differs from what `make generate` writes
check-generate: generate
	@if [ -n "$$(git status --porcelain -- cmd $(COMPONENTS) $(DASHBOARD_ASSETS))" ]; then \
	  echo "generated code is out of date; run 'make generate' and commit:"; git status --porcelain -- cmd $(COMPONENTS) $(DASHBOARD_ASSETS); git diff --stat -- cmd $(COMPONENTS) $(DASHBOARD_ASSETS); exit 1; fi

tools: $(OCB) $(MDATAGEN)

## bigquery-emulator: the BigQuery engine probe-build tests run against (ZetaSQL; builds only with clang;
## 3 to 8 minutes on 2 idle cores the first time, by machine; cached after)
# A test tool, built unoptimised without debug info: about 510 s of CPU
# against 976 s at -O1 and 1306 s at cgo's default -O2 -g (measured on a
# fresh build cache each, on an earlier machine; on a later one clang++
# took 154 s at -O0 -g0), for probe-build tests that take 72 s against it
# instead of 58 s (measured in one run).
EMULATOR_CFLAGS ?= -O0 -g0
bigquery-emulator: $(BQEMU)

$(BQEMU): tools/bigquery-emulator/go.mod tools/bigquery-emulator/go.sum
	cd tools/bigquery-emulator && CGO_ENABLED=1 CC=clang CXX=clang++ CGO_CFLAGS="$(EMULATOR_CFLAGS)" CGO_CXXFLAGS="$(EMULATOR_CFLAGS)" \
	  $(GO) build -o $@ github.com/goccy/bigquery-emulator/cmd/bigquery-emulator

$(OCB): tools/ocb/go.mod tools/ocb/go.sum
	cd tools/ocb && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/builder

$(MDATAGEN): tools/mdatagen/go.mod tools/mdatagen/go.sum
	cd tools/mdatagen && $(GO) build -o $@ go.opentelemetry.io/collector/cmd/mdatagen

clean:
	rm -rf $(BIN) $(TOOLS)
