#!/usr/bin/env bash
# Figures of the mapping dataset on a hub holding 100,000 and then
# 1,000,000 submissions: coverage, an indicator table, the change between
# two waves and the exports, each timed once through the real
# fieldsync-hub command, and the indicator table, coverage and the map
# through the API. Prints figures; never fails on speed.
#
#   bench/mapping.sh [HUB-BINARY]     (default build-bench/sync-server/fieldsync-hub)
#   BENCH_MAPPING_N="20000" bench/mapping.sh        (other sizes)
#
# The submissions are written straight into the hub's database with one
# SQLite statement per size (40 areas, imported with shapes for the map,
# two waves, three genders, a likert and a multiple choice): what is
# timed is reading them, not merging them (bench_merge times that). A
# hub with the aggregates (schema/hub-10.sql) keeps them by its triggers
# during that statement, as on any write; its time is printed.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
hub=${1:-$src/build-bench/sync-server/fieldsync-hub}
sizes=${BENCH_MAPPING_N:-100000 1000000}
[ -x "$hub" ] || { echo "no hub binary at $hub; build it first (bench/run)" >&2; exit 2; }
t=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench-mapping.XXXXXX")
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$t"' EXIT

secs() { # secs CMD...: wall seconds of one run, output discarded
  local a b
  a=$(date +%s%N)
  "$@" >/dev/null
  b=$(date +%s%N)
  printf '%d.%03d' $(((b - a) / 1000000000)) $((((b - a) / 1000000) % 1000))
}

one_size() { # one_size N: a fresh database of N submissions, timed
  local n=$1 db=$t/hub-$1.db a b tok url
  "$hub" form publish --db "$db" "$src/tests/fixtures/mapping/mapping_survey.json" >/dev/null
  "$hub" wave add baseline --db "$db" --start 2026-01-01 --end 2026-06-30 >/dev/null
  "$hub" wave add follow-up --db "$db" --start 2026-07-01 --end 2026-12-31 >/dev/null
  # The 40 areas, one unit square each under CITY, for the map.
  { echo '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "CITY", "name": "City", "parent": null}, "geometry": {"type": "Polygon", "coordinates": [[[0,0],[40,0],[40,1],[0,1],[0,0]]]}}'
    for a1 in $(seq 0 39); do
      printf ', {"type": "Feature", "properties": {"code": "CITY-N%02d", "name": "Area %d", "parent": "CITY"}, "geometry": {"type": "Polygon", "coordinates": [[[%d,0],[%d,0],[%d,1],[%d,1],[%d,0]]]}}\n' \
        "$a1" "$a1" "$a1" $((a1 + 1)) $((a1 + 1)) "$a1" "$a1"
    done
    echo ']}'; } >"$t/areas.json"
  "$hub" areas import --db "$db" "$t/areas.json" >/dev/null
  a=$(date +%s%N)
  sqlite3 "$db" "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO submissions (id, rev, form_id, form_version, area, device_id,
  collector, hlc, created_ms, received_ms, answers, digest)
SELECT printf('%08x-0000-7000-8000-%012x', i, i), 1, 'mapping_survey', 1,
  printf('CITY-N%02d', i % 40), 'bench', 'c', '0',
  1767225600000 + (i % 7 / 4) * 16000000000 + i, 0,
  json_object('gender', CASE i % 3 WHEN 0 THEN 'woman' WHEN 1 THEN 'man' ELSE 'another' END,
              'belonging', 1 + i % 5,
              'services', json_array(CASE i % 2 WHEN 0 THEN 'youth' ELSE 'sport' END)),
  'd' FROM s;"
  b=$(date +%s%N)
  for a1 in $(seq -w 0 39); do
    "$hub" quota set --db "$db" --area "CITY-N$a1" --wave baseline --form mapping_survey --target 1500 >/dev/null
  done
  echo "bench/mapping.sh: $n submissions, 40 areas, 2 waves, 40 quotas; hub $hub"
  printf '%-58s %8s s\n' "writing them (one INSERT, triggers included)" \
    "$(printf '%d.%03d' $(((b - a) / 1000000000)) $((((b - a) / 1000000) % 1000)))"
  printf '%-58s %8s s\n' "coverage --csv" "$(secs "$hub" coverage --db "$db" --csv)"
  printf '%-58s %8s s\n' "indicators mean:belonging --by gender (both waves)" \
    "$(secs "$hub" indicators --db "$db" --form mapping_survey --indicator mean:belonging --by gender --json)"
  printf '%-58s %8s s\n' "change mean:belonging baseline -> follow-up" \
    "$(secs "$hub" change --db "$db" --form mapping_survey --indicator mean:belonging --from baseline --to follow-up --json)"
  printf '%-58s %8s s\n' "export geojson areas with mean:belonging (baseline)" \
    "$(secs "$hub" export geojson areas --db "$db" --form mapping_survey --indicator mean:belonging --wave baseline -o "$t/areas.geojson")"
  printf '%-58s %8s s\n' "export csv (to a file)" \
    "$(secs "$hub" export csv --db "$db" --form mapping_survey -o "$t/x.csv")"
  printf '%-58s %8s s   (%s bytes)\n' "export json (to a file)" \
    "$(secs "$hub" export json --db "$db" --form mapping_survey -o "$t/x.json")" "$(stat -c %s "$t/x.json")"
  rm -f "$t/x.csv" "$t/x.json"

  tok=$("$hub" token create --db "$db" --role admin --name bench 2>/dev/null)
  rm -f "$t/port"
  "$hub" serve --db "$db" --listen 127.0.0.1:0 --port-file "$t/port" 2>"$t/hub.log" &
  pid=$!
  for _ in $(seq 1 200); do [ -s "$t/port" ] && break; sleep 0.05; done
  url="http://127.0.0.1:$(cat "$t/port")"
  printf '%-58s %8s s\n' "GET /api/v1/admin/indicators (mean by gender)" \
    "$(secs curl -fsS -H "Authorization: Bearer $tok" "$url/api/v1/admin/indicators?form=mapping_survey&indicator=mean:belonging&by=gender")"
  printf '%-58s %8s s\n' "GET /api/v1/admin/coverage" \
    "$(secs curl -fsS -H "Authorization: Bearer $tok" "$url/api/v1/admin/coverage")"
  printf '%-58s %8s s\n' "GET /api/v1/admin/change (mean, baseline -> follow-up)" \
    "$(secs curl -fsS -H "Authorization: Bearer $tok" "$url/api/v1/admin/change?form=mapping_survey&indicator=mean:belonging&from=baseline&to=follow-up")"
  printf '%-58s %8s s\n' "GET /api/v1/admin/export/geojson/areas (the map, mean)" \
    "$(secs curl -fsS -H "Authorization: Bearer $tok" "$url/api/v1/admin/export/geojson/areas?form=mapping_survey&indicator=mean:belonging&wave=baseline")"
  printf '%-58s %8s s\n' "GET /api/v1/admin/export/csv (streamed)" \
    "$(secs curl -fsS -H "Authorization: Bearer $tok" -o "$t/api.csv" "$url/api/v1/admin/export/csv?form=mapping_survey")"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
  rss=$( { /usr/bin/time -f '%M' "$hub" export csv --db "$db" --form mapping_survey -o "$t/y.csv" ; } 2>&1 | tail -n 1)
  echo "peak RSS of export csv: ${rss} KiB (rows streamed, not held)"
  rm -f "$t/y.csv"
  rm -f "$t/api.csv" "$db" "$db-wal" "$db-shm"
}

for n in $sizes; do
  one_size "$n"
done
