#!/usr/bin/env bash
# The hardest case for an indicator table --by a field: a form of 3
# select_one fields and 22 integers whose first differs in every
# submission, so that every submission is a cell of its own
# (schema/hub-10.sql). Times tables --by a field read from the pairs
# (schema/hub-12.sql), then the same tables read from the cells (the by
# fields taken out of agg_by_fields, as before the pairs), and checks
# that both give the same bytes. Prints figures; never fails on speed.
#
#   bench/mapping_by.sh [HUB-BINARY]   (default build-bench/sync-server/fieldsync-hub)
#   BENCH_MAPPING_N="20000" bench/mapping_by.sh      (other sizes)
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
hub=${1:-$src/build-bench/sync-server/fieldsync-hub}
sizes=${BENCH_MAPPING_N:-100000 1000000}
[ -x "$hub" ] || { echo "no hub binary at $hub; build it first (bench/run)" >&2; exit 2; }
t=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench-by.XXXXXX")
trap 'rm -rf "$t"' EXIT

ms() { # ms OUT CMD...: wall milliseconds of one run, output to OUT
  local a b out=$1
  shift
  a=$(date +%s%N)
  "$@" >"$out"
  b=$(date +%s%N)
  echo $(((b - a) / 1000000))
}

python3 - >"$t/form.json" <<'PY'
import json
lab = lambda s: {'en': s, 'fr': s}
one = lambda n, cs: {'name': n, 'type': 'select_one', 'label': lab(n),
                     'choices': [{'value': c, 'label': lab(c)} for c in cs]}
fields = [one('gender', ['woman', 'man', 'another']),
          one('age', ['a18', 'a30', 'a45', 'a60']),
          one('tenure', ['own', 'rent'])]
fields += [{'name': 'q%02d' % i, 'type': 'integer', 'label': lab('q%02d' % i)}
           for i in range(1, 23)]
print(json.dumps({'id': 'hard', 'version': 1, 'kind': 'survey',
                  'default_language': 'en', 'title': lab('Hard'),
                  'area': 'required', 'fields': fields}))
PY
ints=$(for i in $(seq 2 22); do printf ", 'q%02d', (i * %d) %% 7" "$i" "$i"; done)

for n in $sizes; do
  db=$t/hub-$n.db
  "$hub" form publish --db "$db" "$t/form.json" >/dev/null
  "$hub" wave add baseline --db "$db" --start 2026-01-01 --end 2026-12-31 >/dev/null
  python3 - >"$t/areas.json" <<'PY'
import json
sq = lambda x, w: {'type': 'Polygon', 'coordinates': [[[x, 0], [x + w, 0], [x + w, 1], [x, 1], [x, 0]]]}
feats = [{'type': 'Feature', 'geometry': sq(0, 40),
          'properties': {'code': 'CITY', 'name': 'City', 'parent': None}}]
feats += [{'type': 'Feature', 'geometry': sq(i, 1),
           'properties': {'code': 'CITY-N%02d' % i, 'name': 'Area %d' % i, 'parent': 'CITY'}}
          for i in range(40)]
print(json.dumps({'type': 'FeatureCollection', 'features': feats}))
PY
  "$hub" areas import --db "$db" "$t/areas.json" >/dev/null
  a=$(date +%s%N)
  sqlite3 "$db" "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < $n)
INSERT INTO submissions (id, rev, form_id, form_version, area, device_id,
  collector, hlc, created_ms, received_ms, answers, digest)
SELECT printf('%08x-0000-7000-8000-%012x', i, i), 1, 'hard', 1,
  printf('CITY-N%02d', i % 40), 'bench', 'c', '0', 1767225600000 + i, 0,
  json_object('gender', CASE i % 3 WHEN 0 THEN 'woman' WHEN 1 THEN 'man' ELSE 'another' END,
              'age', CASE i % 4 WHEN 0 THEN 'a18' WHEN 1 THEN 'a30' WHEN 2 THEN 'a45' ELSE 'a60' END,
              'tenure', CASE i % 2 WHEN 0 THEN 'own' ELSE 'rent' END,
              'q01', i $ints),
  'd' FROM s;"
  b=$(date +%s%N)
  echo "bench/mapping_by.sh: $n submissions, 40 areas, 1 wave; hub $hub"
  printf '%-44s %8d ms   (%s cells, %s pairs)\n' "writing them (one INSERT, triggers included)" \
    $(((b - a) / 1000000)) "$(sqlite3 "$db" 'SELECT count(*) FROM agg_cells')" \
    "$(sqlite3 "$db" 'SELECT count(*) FROM agg_pairs' 2>/dev/null || echo no)"
  for way in pairs cells; do
    if [ "$way" = cells ]; then
      # (a hub before the pairs has no such table: cells both ways)
      sqlite3 "$db" "DELETE FROM agg_by_fields" 2>/dev/null || true
    fi
    for q in "mean:q02 --by gender" "count --by age" "mean:q05 --by tenure"; do
      # shellcheck disable=SC2086
      printf '%-44s %8d ms\n' "indicators $q ($way)" \
        "$(ms "$t/$way-${q%% *}" "$hub" indicators --db "$db" --form hard --indicator ${q} --json)"
    done
  done
  for q in "mean:q02" "count" "mean:q05"; do
    cmp -s "$t/pairs-$q" "$t/cells-$q" || { echo "bench/mapping_by.sh: $q differs between the pairs and the cells" >&2; exit 1; }
  done
  echo "the pairs and the cells give the same tables"
  rm -f "$db" "$db-wal" "$db-shm"
done
