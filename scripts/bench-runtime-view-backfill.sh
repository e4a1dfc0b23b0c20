#!/usr/bin/env bash
# How fast a runtime view backfills: N click events stored in a fresh
# database (100 transactions, as many collectors' writes would be), the
# collector of testdata/config.yaml started on it, its config views left to
# catch up, then a view created through the API and timed until it says
# live; its rows are checked against N.
#
#   scripts/bench-runtime-view-backfill.sh [N]     (default 200000; needs bin/otelcol-glam)
set -euo pipefail
n=${1:-200000}
repo="$(cd "$(dirname "$0")/.." && pwd)"
db=glam_backfill_bench
export PGOPTIONS="-c client_min_messages=warning"
psql=(psql -h 127.0.0.1 -U postgres -qtA)
"${psql[@]}" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
dsn="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
GLAM_POSTGRES_DSN="$dsn" "$repo/bin/otelcol-glam" --config "$repo/testdata/config.yaml" >/tmp/bench-backfill.log 2>&1 &
collector=$!
trap 'kill $collector 2>/dev/null; wait $collector 2>/dev/null; "${psql[@]}" -c "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
until curl -sf localhost:13133 >/dev/null; do sleep 0.2; done
per=$((n / 100))
for i in $(seq 1 100); do
  echo "INSERT INTO glam_usage_events (event_id, event_time, observed_time, event_name, session_id, attributes, resource)
    SELECT 'bf-$i-'||g, now() - (g % 3600) * interval '1 second', now(), 'glean.element_click', 's$i-'||(g%50),
      jsonb_build_object('glam.action', 'a'||(g%7), 'session.id', 's$i-'||(g%50)), '{}' FROM generate_series(1,$per) g;"
done | "${psql[@]}" -d "$db"
# The config's views read the same log: let them finish first.
until [ "$("${psql[@]}" -d "$db" -c "SELECT count(*) FROM glam_usage_events e WHERE NOT EXISTS (SELECT 1 FROM glam_usage_log_offsets o
  WHERE o.consumer = 'glam_views' AND (e.log_xid, e.log_seq) <= (o.log_xid, o.log_seq))")" = 0 ]; do sleep 0.5; done
start=$(date +%s.%N)
curl -sf -o /dev/null -X POST localhost:4381/api/v1/views -H "Authorization: Bearer ${GLAM_VIEW_WRITER_TOKEN:-local-view-writer}" \
  -d '{"name":"bench.clicks.daily","measure":"glam.actions","aggregation":"count","tag_keys":["glam.action"],"window":{"size":"24h"}}'
until curl -s localhost:4381/api/v1/views/bench.clicks.daily | grep -q '"state":"live"'; do sleep 0.1; done
end=$(date +%s.%N)
rows=$("${psql[@]}" -d "$db" -c "SELECT coalesce(sum(count), 0) FROM glam_usage_view_rows WHERE view = 'bench.clicks.daily'")
secs=$(echo "$end - $start" | bc)
echo "runtime view backfill: $((per * 100)) events in ${secs} s ($(echo "$per * 100 / $secs" | bc) events/s); rows count $rows"
