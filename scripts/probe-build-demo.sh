#!/usr/bin/env bash
# Watch a probe build end to end on one machine: starts the BigQuery emulator
# with the sample per-client data set (testdata/probebuild/data.yaml) and a
# collector whose glam_usage extension builds probes from it, then makes the
# three calls of the request-reply pattern: request, poll, result.
#
#   scripts/probe-build-demo.sh            run the demo, then keep both running
#                                          (Ctrl-C stops them)
#   DEMO_EXIT=1 scripts/probe-build-demo.sh    stop after the three calls
#
# Needs bin/otelcol-glam (make build) and .tools/bigquery-emulator
# (make bigquery-emulator); PostgreSQL comes from scripts/postgres-dsn.sh.
# DEMO_PROBE (JSON body) changes the request.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
emulator="${GLAM_BIGQUERY_EMULATOR:-$repo/.tools/bigquery-emulator}"
collector="$repo/bin/otelcol-glam"
run_dir="${GLAM_RUN_DIR:-$repo/.run}"
bq_port="${DEMO_BQ_PORT:-9050}"
api="${GLAM_DEMO_API:-localhost:4391}"
body="${DEMO_PROBE:-{\"product\":\"firefox\",\"channel\":\"nightly\",\"probe\":\"gc_ms\",\"os\":\"*\"\}}"

for f in "$emulator" "$collector"; do
  [ -x "$f" ] || { echo "probe-build-demo: $f is missing: run make build bigquery-emulator" >&2; exit 1; }
done
mkdir -p "$run_dir"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

echo "== BigQuery emulator on 127.0.0.1:$bq_port, loaded with testdata/probebuild/data.yaml"
"$emulator" --project=glam-test --host=127.0.0.1 --port="$bq_port" --grpc-port="$((bq_port + 10))" \
  --data-from-yaml="$repo/testdata/probebuild/data.yaml" >"$run_dir/bigquery-emulator.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  curl -fsS "http://127.0.0.1:$bq_port/bigquery/v2/projects/glam-test/datasets" >/dev/null 2>&1 && break
  sleep 0.2
done

export GLAM_POSTGRES_DSN="${GLAM_POSTGRES_DSN:-$("$repo/scripts/postgres-dsn.sh")}"
export GLAM_BIGQUERY_ENDPOINT="http://127.0.0.1:$bq_port" GLAM_DEMO_API="$api"
echo "== otelcol-glam with testdata/probebuild/collector.yaml; usage API on http://$api"
"$collector" --config "$repo/testdata/probebuild/collector.yaml" >"$run_dir/probe-build-demo-collector.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "http://$api/api/v1/probe-builds/00000000-0000-0000-0000-000000000000" || true)"
  [ "$code" = 404 ] && break
  sleep 0.2
done

show() { sed 's/^/   /'; echo; }
echo
echo "== 1. Request a build"
echo "   curl -i -X POST http://$api/api/v1/probe-builds -H 'Content-Type: application/json' -d '$body'"
resp="$(curl -sS -i -X POST "http://$api/api/v1/probe-builds" -H 'Content-Type: application/json' -d "$body")"
echo "$resp" | tr -d '\r' | show
location="$(echo "$resp" | tr -d '\r' | sed -n 's/^Location: //Ip')"
[ -n "$location" ] || { echo "probe-build-demo: no Location in the answer" >&2; exit 1; }

echo "== 2. Poll the status (Retry-After seconds apart) until it answers 303"
while :; do
  resp="$(curl -sS -i "http://$api$location")"
  code="$(echo "$resp" | head -1 | awk '{print $2}')"
  echo "   curl -i http://$api$location"
  echo "$resp" | tr -d '\r' | show
  [ "$code" = 303 ] && break
  [ "$code" = 200 ] || { echo "probe-build-demo: status answered $code" >&2; exit 1; }
  case "$resp" in *'"status":"failed"'*|*'"status":"cancelled"'*) exit 1 ;; esac
  sleep "$(echo "$resp" | tr -d '\r' | sed -n 's/^Retry-After: //Ip' | head -1)"
done
result="$(echo "$resp" | tr -d '\r' | sed -n 's/^Location: //Ip')"

echo "== 3. Read the result (the rows written to GLAM's table)"
echo "   curl http://$api$result"
if command -v jq >/dev/null; then
  curl -sS "http://$api$result" | jq . | show
else
  curl -sS "http://$api$result" | show
fi

if [ -z "${DEMO_EXIT:-}" ]; then
  echo "Emulator and collector keep running (logs in $run_dir); Ctrl-C stops them."
  wait
fi
