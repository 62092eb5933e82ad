#!/usr/bin/env bash
# Figures of the mapping dataset on a hub holding N submissions (default
# 100,000): coverage, an indicator table, the change between two waves
# and the exports, each timed once through the real fieldsync-hub
# command, and the indicator table through the API. Prints figures; never
# fails on speed.
#
#   bench/mapping.sh [HUB-BINARY]     (default build-bench/sync-server/fieldsync-hub)
#   BENCH_MAPPING_N=20000 bench/mapping.sh
#
# The submissions are written straight into the hub's database with
# SQLite (40 areas, two waves, three genders, a likert and a multiple
# choice): what is timed is reading them, not merging them (bench_merge
# times that).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
hub=${1:-$src/build-bench/sync-server/fieldsync-hub}
n=${BENCH_MAPPING_N:-100000}
[ -x "$hub" ] || { echo "no hub binary at $hub; build it first (bench/run)" >&2; exit 2; }
t=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench-mapping.XXXXXX")
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$t"' EXIT
db=$t/hub.db
"$hub" form publish --db "$db" "$src/tests/fixtures/mapping/mapping_survey.json" >/dev/null
"$hub" wave add baseline --db "$db" --start 2026-01-01 --end 2026-06-30 >/dev/null
"$hub" wave add follow-up --db "$db" --start 2026-07-01 --end 2026-12-31 >/dev/null
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
for a in $(seq -w 0 39); do
  "$hub" quota set --db "$db" --area "CITY-N$a" --wave baseline --form mapping_survey --target 1500 >/dev/null
done

secs() { # secs CMD...: wall seconds of one run, output discarded
  local a b
  a=$(date +%s%N)
  "$@" >/dev/null
  b=$(date +%s%N)
  printf '%d.%03d' $(((b - a) / 1000000000)) $((((b - a) / 1000000) % 1000))
}
echo "bench/mapping.sh: $n submissions, 40 areas, 2 waves, 40 quotas; hub $hub"
printf '%-58s %8s s\n' "coverage --csv" "$(secs "$hub" coverage --db "$db" --csv)"
printf '%-58s %8s s\n' "indicators mean:belonging --by gender (both waves)" \
  "$(secs "$hub" indicators --db "$db" --form mapping_survey --indicator mean:belonging --by gender --json)"
printf '%-58s %8s s\n' "change mean:belonging baseline -> follow-up" \
  "$(secs "$hub" change --db "$db" --form mapping_survey --indicator mean:belonging --from baseline --to follow-up --json)"
printf '%-58s %8s s\n' "export csv (to a file)" \
  "$(secs "$hub" export csv --db "$db" --form mapping_survey -o "$t/x.csv")"
printf '%-58s %8s s   (%s bytes)\n' "export json (to a file)" \
  "$(secs "$hub" export json --db "$db" --form mapping_survey -o "$t/x.json")" "$(stat -c %s "$t/x.json")"

tok=$("$hub" token create --db "$db" --role admin --name bench 2>/dev/null)
"$hub" serve --db "$db" --listen 127.0.0.1:0 --port-file "$t/port" 2>"$t/hub.log" &
pid=$!
for _ in $(seq 1 200); do [ -s "$t/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$t/port")"
printf '%-58s %8s s\n' "GET /api/v1/admin/indicators (mean by gender)" \
  "$(secs curl -fsS -H "Authorization: Bearer $tok" "$url/api/v1/admin/indicators?form=mapping_survey&indicator=mean:belonging&by=gender")"
printf '%-58s %8s s\n' "GET /api/v1/admin/coverage" \
  "$(secs curl -fsS -H "Authorization: Bearer $tok" "$url/api/v1/admin/coverage")"
printf '%-58s %8s s\n' "GET /api/v1/admin/export/csv (streamed)" \
  "$(secs curl -fsS -H "Authorization: Bearer $tok" -o "$t/api.csv" "$url/api/v1/admin/export/csv?form=mapping_survey")"
rss=$( { /usr/bin/time -f '%M' "$hub" export csv --db "$db" --form mapping_survey -o "$t/y.csv" ; } 2>&1 | tail -n 1)
echo "peak RSS of export csv: ${rss} KiB (rows streamed, not held)"
