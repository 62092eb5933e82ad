#!/usr/bin/env bash
# bench/admin_page.sh - how fast the hub answers what the admin page asks,
# with a large dataset. Not a test: prints figures, fails only when a call
# does not answer 200.
#
#   bench/admin_page.sh [HUB_BINARY] [N]
#
# Builds a hub database with N submissions (default 100,000) of the demo
# form in 20 areas from 50 devices (answers ~300 B of JSON; 1% "has
# issues", 10% approved), written straight into the hub's own schema with
# one SQL statement (pushing them through a hub is bench_merge's job).
# Then starts the hub and times each call the page makes, 7 times, over
# one kept-alive connection per call; prints the median and the worst.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
hub=${1:-$src/build-bench/sync-server/fieldsync-hub}
n=${2:-100000}
[ -x "$hub" ] || { echo "no hub binary at $hub; build first (bench/run builds build-bench)" >&2; exit 2; }
t=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench-admin.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"' EXIT
db=$t/hub.db

echo "bench/admin_page.sh $hub $n"
"$hub" form publish --db "$db" "$src/schema/forms/demo_household.json" >/dev/null
t0=$(date +%s.%N)
sqlite3 "$db" <<SQL
BEGIN;
WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
INSERT INTO submissions (id, rev, form_id, form_version, area, device_id,
  collector, hlc, created_ms, received_ms, answers, digest, review_state,
  review_comment)
SELECT printf('01900000-%04x-7%03x-8000-%012x', k / 65536, k % 4096, k), 1,
  'demo_household', 1, printf('N-%02d', k % 20 + 1),
  printf('01900000-0000-7000-8000-%012x', k % 50), printf('collector %d', k % 50),
  printf('%016x', 1700000000000 * 65536 + k), 1700000000000 + k * 1000,
  1700000000000 + k * 1000 + 500,
  json_object('age_band', json_extract('["18-24","25-34","35-49","50-64","65+"]', printf('\$[%d]', k % 5)),
    'gender', json_extract('["woman","man","another","prefer_not"]', printf('\$[%d]', k % 4)),
    'belonging', k % 5 + 1, 'trust_local_gov', (k * 7) % 5 + 1,
    'tension_seen', json_extract('["never","sometimes","often"]', printf('\$[%d]', k % 3)),
    'comment', printf('%.*c', 120 + k % 120, 'x')),
  printf('%064x', k),
  CASE WHEN k % 100 = 7 THEN 'has_issues' WHEN k % 10 = 3 THEN 'approved' ELSE 'received' END,
  CASE WHEN k % 100 = 7 THEN 'please check the age band' ELSE '' END
FROM i;
COMMIT;
SQL
echo "generated $n submissions in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s; database $(du -m "$db" | cut -f1) MB"
admin=$("$hub" token create --db "$db" --role admin --name bench 2>/dev/null)
reviewer=$("$hub" token create --db "$db" --role reviewer --name rev --areas N-03,N-04 2>/dev/null)

"$hub" serve --db "$db" --listen 127.0.0.1:0 --port-file "$t/port" --rate-limit 0 2>"$t/hub.log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$t/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$t/port")"

# time_call LABEL TOKEN PATH: 7 runs, median and worst, in ms.
time_call() {
  local label=$1 tok=$2 path=$3 i code times=()
  for i in 1 2 3 4 5 6 7; do
    read -r code ms < <(curl -sS -o "$t/out" -w '%{http_code} %{time_total}\n' \
      -H "Authorization: Bearer $tok" -H 'Accept-Encoding: gzip' "$url$path")
    [ "$code" = 200 ] || { echo "FAILED: $path answered $code: $(head -c 300 "$t/out")"; exit 1; }
    times+=("$(awk -v s="$ms" 'BEGIN { printf "%.1f", s * 1000 }')")
  done
  printf '%-44s median %7.1f ms  worst %7.1f ms  (%s B gzipped)\n' "$label" \
    "$(printf '%s\n' "${times[@]}" | sort -n | sed -n 4p)" \
    "$(printf '%s\n' "${times[@]}" | sort -n | tail -n 1)" "$(stat -c %s "$t/out")"
}
time_call "page /"                                 "" /
time_call "whoami"                                 "$admin" /api/v1/admin/whoami
time_call "stats (filter choices, totals)"         "$admin" /api/v1/admin/stats
time_call "submissions, first page of 50"          "$admin" "/api/v1/admin/submissions?limit=50"
time_call "submissions, page at row $((n - 100))"  "$admin" "/api/v1/admin/submissions?limit=50&after=$((n - 100))"
time_call "state=has_issues (1%), first page"      "$admin" "/api/v1/admin/submissions?limit=50&state=has_issues"
time_call "state=has_issues, page after row $((n / 2))" "$admin" "/api/v1/admin/submissions?limit=50&state=has_issues&after=$((n / 2))"
time_call "state=approved + area=N-04"             "$admin" "/api/v1/admin/submissions?limit=50&state=approved&area=N-04"
time_call "reviewer (2 of 20 areas), first page"   "$reviewer" "/api/v1/admin/submissions?limit=50"
time_call "reviewer, state=has_issues"             "$reviewer" "/api/v1/admin/submissions?limit=50&state=has_issues"
time_call "devices"                                "$admin" /api/v1/admin/devices
