#!/usr/bin/env bash
# The mapping dataset end to end: areas imported from GeoJSON, waves and
# quotas set on a real hub, two real agents record a fixture with known
# answers and sync it; then coverage against the quotas, indicator
# tables and the wave-to-wave change through the API (every cell of the
# table, suppressed ones included), and the exports read back by
# standard readers: CSV by Python's csv module, GeoJSON by GDAL's
# ogrinfo. Personal fields are absent by default and present, audited,
# on request; bad input gets a clear error and changes nothing.
. "$(dirname "$0")/../lib.sh"

command -v ogrinfo >/dev/null || fail "ogrinfo missing: run scripts/bootstrap (gdal-bin)"
command -v python3 >/dev/null || fail "python3 missing: run scripts/bootstrap"
FIX="$FS_SRC/tests/fixtures/mapping"
hub() { "$FS_HUB" "$1" --db "$DB" "${@:2}"; }

hub form publish "$FIX/mapping_survey.json" >/dev/null
hub areas import "$FIX/areas.geojson" >/dev/null
check "areas and their levels" \
  "$(sql "SELECT group_concat(code || ':' || level, ' ') FROM (SELECT * FROM mapping_areas ORDER BY code)")" \
  "CITY:city CITY-D1:district CITY-D2:district CITY-N01:neighbourhood CITY-N02:neighbourhood CITY-N03:neighbourhood"

# Today's records fall in the baseline; the follow-up comes later and
# gets its submissions by assignment.
day() { date -u -d "$1 days" +%F; }
hub wave add baseline --start "$(day -30)" --end "$(day 30)" >/dev/null
hub wave add follow-up-3m --start "$(day 31)" --end "$(day 120)" --title "3-month follow-up" >/dev/null

start_hub
new_agent e1
new_agent e2
dev2=$(sqlite3 "$T/e2/agent.db" "SELECT value FROM meta WHERE key='device_id'")

# rec AGENT AREA N JSON: N submissions with these answers; ids to AGENT.ids
rec() {
  local i
  echo "$4" >"$T/answers.json"
  for i in $(seq 1 "$3"); do
    agent "$1" record mapping_survey --answers "$T/answers.json" --area "$2" >>"$T/$1.ids"
  done
}
# Baseline (mean of belonging by gender, worked out in the comments of
# the checks below): N01 10 women at 4, 8 men at 2; N02 6 women at 3,
# 3 men at 5.
rec e1 CITY-N01 10 '{"gender":"woman","belonging":4,"services":["youth","sport"]}'
rec e1 CITY-N01 8 '{"gender":"man","belonging":2,"services":[]}'
rec e2 CITY-N02 6 '{"gender":"woman","belonging":3}'
rec e2 CITY-N02 3 '{"gender":"man","belonging":5,"phone":"+33 6 00 00 00 01","story":"He said \"leave\", then left, twice"}'
: >"$T/fu.ids"
for i in $(seq 1 6); do
  echo '{"gender":"woman","belonging":5}' >"$T/answers.json"
  agent e1 record mapping_survey --answers "$T/answers.json" --area CITY-N01 >>"$T/fu.ids"
  echo '{"gender":"man","belonging":3}' >"$T/answers.json"
  agent e1 record mapping_survey --answers "$T/answers.json" --area CITY-N01 >>"$T/fu.ids"
done
echo '{"gender":"woman","belonging":1}' >"$T/answers.json"
rejected=$(agent e1 record mapping_survey --answers "$T/answers.json" --area CITY-N01)
# Mechanisms of the registry, made offline: two placed, one without a
# location; and a stakeholder, which is not a mechanism.
agent e1 entity new mechanism name="Peace circle" type=peace_committee area=CITY-N01 status=active location=1.5,0.5 notes="meets monthly" >/dev/null
agent e1 entity new mechanism name="Youth football" type=sports_club area=CITY-N01 status=active location=0.5,1.5 >/dev/null
agent e1 entity new mechanism name="Online forum" type=other area=CITY-N01 status=planned >/dev/null
agent e1 entity new stakeholder name="Library" kind=other area=CITY-N01 >/dev/null
sync_until_done e1
sync_until_done e2
check "every submission at the hub" "$(sql 'SELECT count(*) FROM submissions')" 40
check "the areas reached the devices through the registry" \
  "$(sqlite3 "$T/e1/agent.db" "SELECT count(*) FROM entities WHERE type = 'area'")" 6

while read -r id; do hub wave assign follow-up-3m "$id" >/dev/null; done <"$T/fu.ids"
hub review "$rejected" --state rejected >/dev/null

hub quota set --area CITY-N01 --wave baseline --form mapping_survey --target 20 >/dev/null
hub quota set --area CITY-N01 --wave baseline --form mapping_survey --target 10 --stratum gender=woman >/dev/null
hub quota set --area CITY-N02 --wave baseline --form mapping_survey --target 12 --device "$dev2" >/dev/null
hub quota set --area CITY-N01 --wave follow-up-3m --form mapping_survey --target 12 >/dev/null

# The device's sub-quota reaches it and is counted there, offline too.
agent e2 sync --quiet
agent e1 sync --quiet
check "the sub-quota on its device" "$(agent e2 status | grep 'baseline CITY-N02')" \
  "  baseline CITY-N02 mapping_survey: 9 of 12"
rec e2 CITY-N02 1 '{"gender":"woman","belonging":3}'
check "counted offline, before any sync" \
  "$(agent e2 status --json | python3 -c 'import json,sys; q=json.load(sys.stdin)["quotas"]; print(len(q), q[0]["recorded"], q[0]["target"])')" "1 10 12"
check "another device gets no quota of it" \
  "$(agent e1 status --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["quotas"]))')" 0

ADMIN=$("$FS_HUB" token create --db "$DB" --role admin --name boss 2>/dev/null)
REV=$("$FS_HUB" token create --db "$DB" --role reviewer --name rev2 --areas CITY-N02 2>/dev/null)
api() {  # api TOKEN PATH -> body to $T/body, status echoed
  curl -sS -o "$T/body" -D "$T/headers" -w '%{http_code}' -H "Authorization: Bearer $1" "$HUB_URL$2"
}

# ---- coverage ---------------------------------------------------------
check "coverage as CSV" "$(api "$ADMIN" '/api/v1/admin/coverage?format=csv')" 200
python3 - "$T/body" >"$T/cov" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    print(r['wave'], r['area'], r['stratum'] or '-', 'dev' if r['device'] else '-',
          r['target'], r['collected'], r['remaining'], r['percent'])
PY
check "coverage against every quota (the rejected one not counted)" "$(cat "$T/cov")" \
"baseline CITY-N01 - - 20 18 2 90
baseline CITY-N01 gender=woman - 10 10 0 100
baseline CITY-N02 - dev 12 9 3 75
follow-up-3m CITY-N01 - - 12 12 0 100"
check "the CLI agrees" "$(hub coverage --wave follow-up-3m --csv | tr -d '\r' | tail -n 1)" \
  "follow-up-3m,CITY-N01,mapping_survey,,,12,12,0,100"
check "a reviewer sees only their areas" "$(api "$REV" '/api/v1/admin/coverage')" 200
check "... CITY-N02 only" "$(python3 -c 'import json,sys; print(sorted({r["area"] for r in json.load(open(sys.argv[1]))["coverage"]}))' "$T/body")" "['CITY-N02']"
check "waves with their counts" "$(hub wave list --csv | tr -d '\r' | tail -n 2)" \
"baseline,,$(day -30),$(day 30),27
follow-up-3m,3-month follow-up,$(day 31),$(day 120),12"

# ---- indicators -------------------------------------------------------
# Baseline, mean of belonging by gender, k = 5:
#          woman        man          all
#   N01    10 @ 4       8 @ 2        18 @ 56/18
#   N02     6 @ 3       3 @ 5         9 @ 33/9
#   all    16 @ 58/16  11 @ 31/11    27 @ 89/27
# N02/man is small; row N02 then hides N02/woman; columns woman and man
# then hide N01/woman and N01/man. Bases under 25 are unreliable.
cells() {  # prints one line per cell: area category n value status reason unreliable
  python3 - "$T/body" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d['cells']:
    v = c['value']
    print(c['area'], c['category'], c['n'], 'null' if v is None else '%.4f' % v,
          c['status'], c['reason'], c['unreliable'])
PY
}
check "indicators via the API" \
  "$(api "$ADMIN" '/api/v1/admin/indicators?form=mapping_survey&indicator=mean:belonging&by=gender&wave=baseline')" 200
# Parents roll up: CITY-D1 and CITY hold both neighbourhoods.
check "every cell, suppressed ones as null with the reason" "$(cells)" \
"CITY woman 16 3.6250 ok None True
CITY man 11 2.8182 ok None True
CITY * 27 3.2963 ok None False
CITY-D1 woman 16 3.6250 ok None True
CITY-D1 man 11 2.8182 ok None True
CITY-D1 * 27 3.2963 ok None False
CITY-N01 woman None null suppressed complementary False
CITY-N01 man None null suppressed complementary False
CITY-N01 * 18 3.1111 ok None True
CITY-N02 woman None null suppressed complementary False
CITY-N02 man None null suppressed small_cell False
CITY-N02 * 9 3.6667 ok None True
* woman 16 3.6250 ok None True
* man 11 2.8182 ok None True
* * 27 3.2963 ok None False"
api "$ADMIN" '/api/v1/admin/indicators?form=mapping_survey&indicator=mean:belonging&by=gender&wave=baseline&k=3' >/dev/null
check "k=3 cannot go below the hub's minimum of 5" "$(cells | grep 'CITY-N02 man')" "CITY-N02 man None null suppressed small_cell False"
hub config set min-k 3 >/dev/null
api "$ADMIN" '/api/v1/admin/indicators?form=mapping_survey&indicator=mean:belonging&by=gender&wave=baseline&k=3' >/dev/null
check "once an admin sets min-k 3, the 3 men of N02 show" "$(cells | grep 'CITY-N02 man')" "CITY-N02 man 3 5.0000 ok None True"
hub config set min-k 5 >/dev/null
check "a reviewer's table covers their areas" \
  "$(api "$REV" '/api/v1/admin/indicators?form=mapping_survey&indicator=count&wave=baseline' >/dev/null; cells)" \
"CITY-N02 * 9 9.0000 ok None True
* * 9 9.0000 ok None True"
check "share via the CLI as CSV" \
  "$("$FS_HUB" indicators --db "$DB" --form mapping_survey --indicator 'share:gender=woman' --wave baseline --csv | tr -d '\r' | grep ',CITY-N01,\*,')" \
  "baseline,CITY-N01,*,18,0.5555555556,ok,,true"

# Change from baseline to follow-up: N01 18 @ 56/18 -> 12 @ 4; N02 has
# no follow-up; all 27 @ 89/27 -> 12 @ 4.
check "change via the API" \
  "$(api "$ADMIN" '/api/v1/admin/change?form=mapping_survey&indicator=mean:belonging&from=baseline&to=follow-up-3m')" 200
check "change per area with both bases" "$(python3 - "$T/body" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))['changes']:
    ch = c['change']
    print(c['area'], c['from_n'], c['to_n'], 'null' if ch is None else '%.4f' % ch, c['change_status'])
PY
)" \
"CITY 27 12 0.7037 ok
CITY-D1 27 12 0.7037 ok
CITY-N01 18 12 0.8889 ok
CITY-N02 9 None null missing
* 27 12 0.7037 ok"

# ---- exports ----------------------------------------------------------
hub export csv --form mapping_survey -o "$T/out.csv" 2>"$T/export.err"
python3 - "$T/out.csv" >"$T/csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))
print(len(rows) - 1, len(rows[0]))
print(' '.join(rows[0][11:]))
h = rows[0]
states = sorted({r[h.index('review_state')] for r in rows[1:]})
print(' '.join(states))
waves = {}
for r in rows[1:]:
    waves[r[h.index('wave')]] = waves.get(r[h.index('wave')], 0) + 1
print(sorted(waves.items()))
youth = [r for r in rows[1:] if r[h.index('services')] == 'youth sport']
print(len(youth), youth[0][h.index('services/youth')], youth[0][h.index('services/library')])
men = [r for r in rows[1:] if r[h.index('services')] == '' and r[h.index('gender')] == 'man' and r[h.index('area')] == 'CITY-N01' and r[h.index('wave')] == 'baseline']
print(len(men), repr(men[0][h.index('services/youth')]))
PY
check "CSV rows and columns (codes, one-hot, no personal fields)" "$(cat "$T/csv")" \
"40 17
gender belonging services services/youth services/sport services/library
received rejected
[('baseline', 28), ('follow-up-3m', 12)]
10 1 0
8 '0'"
check "no audit of a plain export" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'export.personal'")" 0

hub export csv --form mapping_survey --version 1 --labels fr --personal -o "$T/fr.csv"
check "personal export audited" "$(sql "SELECT actor || ' ' || json_extract(detail, '$.export') FROM audit_log WHERE action = 'export.personal'")" "cli csv"
python3 - "$T/fr.csv" >"$T/csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline='', encoding='utf-8')))
h = rows[0]
print(len(rows) - 1, len(rows[0]), h[-2], h[-1])
r = [r for r in rows[1:] if r[h.index('phone')]][0]
print(r[h.index('gender')], '|', r[h.index('belonging')], '|', r[h.index('phone')], '|', r[h.index('story')])
r = [r for r in rows[1:] if r[h.index('services/youth')] == '1'][0]
print(r[h.index('services')])
PY
# A phone number starting with + would run as a formula in a spreadsheet:
# it is written as text ('+33 ...); --raw-cells gives it as it is.
check "labels in French, personal fields on request, quoting intact" "$(cat "$T/csv")" \
"40 19 phone story
Homme | Tout à fait d'accord | '+33 6 00 00 00 01 | He said \"leave\", then left, twice
Maison des jeunes; Club de sport"

check "CSV via the API" "$(api "$ADMIN" '/api/v1/admin/export/csv?form=mapping_survey')" 200
grep -qi '^transfer-encoding: chunked' "$T/headers" || fail "the export is not streamed in chunks: $(cat "$T/headers")"
check "API CSV equals the CLI's" "$(sha256sum <"$T/body")" "$(sha256sum <"$T/out.csv")"
check "a reviewer may not export personal fields" \
  "$(api "$REV" '/api/v1/admin/export/csv?form=mapping_survey&personal=1')" 403
check "an admin may, audited first" "$(api "$ADMIN" '/api/v1/admin/export/json?form=mapping_survey&personal=1')" 200
check "... with the token's name" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'export.personal' AND actor = 'token:boss'")" 1
check "JSON export holds the personal field" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["submissions"]), sum("phone" in s["answers"] for s in d["submissions"]))' "$T/body")" "40 3"
api "$REV" '/api/v1/admin/export/json?form=mapping_survey' >/dev/null
check "a reviewer's JSON export: their areas, no personal field" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["submissions"]), sum("phone" in s["answers"] or "story" in s["answers"] for s in d["submissions"]), {s["area"] for s in d["submissions"]})' "$T/body")" \
  "9 0 {'CITY-N02'}"

hub export geojson areas --form mapping_survey --indicator mean:belonging --wave baseline -o "$T/areas.geojson"
check "GDAL reads the areas" "$(ogrinfo -ro -al -so "$T/areas.geojson" | sed -n 's/^Feature Count: //p')" 6
prop() {  # prop FILE CODE FIELD: a property of one feature, as ogrinfo prints it
  ogrinfo -ro -al -q "$1" -where "code = '$2'" | sed -n "s/^  $3 ([A-Za-z0-9]*) = //p"
}
check "N01 carries its indicator" "$(prop "$T/areas.geojson" CITY-N01 n) $(prop "$T/areas.geojson" CITY-N01 value) $(prop "$T/areas.geojson" CITY-N01 status)" \
  "18 3.11111111111111 ok"
check "... its parent and level" "$(prop "$T/areas.geojson" CITY-N01 parent) $(prop "$T/areas.geojson" CITY-N01 level)" "CITY-D1 neighbourhood"
check "N03 has no data" "$(prop "$T/areas.geojson" CITY-N03 status)" no_data
check "GeoJSON areas via the API" "$(api "$ADMIN" '/api/v1/admin/export/geojson/areas')" 200
check "... read by GDAL" "$(ogrinfo -ro -al -so "$T/body" | sed -n 's/^Feature Count: //p')" 6

hub export geojson mechanisms -o "$T/mech.geojson"
check "mechanisms with a place are points" "$(ogrinfo -ro -al -so "$T/mech.geojson" | sed -n 's/^Feature Count: //p;s/^Geometry: //p' | tr '\n' ' ')" "Point 2 "
check "... with their names and types" \
  "$(ogrinfo -ro -al -q "$T/mech.geojson" | sed -n 's/^  name (String) = //p;s/^  type (String) = //p' | tr '\n' ,)" \
  "Peace circle,peace_committee,Youth football,sports_club,"
check "... where they are" "$(ogrinfo -ro -al -q "$T/mech.geojson" -where "name = 'Peace circle'" | grep -o 'POINT ([0-9. ]*)')" "POINT (0.5 1.5)"
check "mechanisms via the API for a reviewer of another area" \
  "$(api "$REV" '/api/v1/admin/export/geojson/mechanisms')" 200
check "... shows none of CITY-N01's" "$(ogrinfo -ro -al -so "$T/body" | sed -n 's/^Feature Count: //p')" 0

# ---- bad input: clear errors, nothing changed ------------------------------
before=$(hub_fingerprint)
rc=0; hub areas import "$FIX/bad_ring.geojson" 2>"$T/err" || rc=$?
check "bad GeoJSON refused" "$rc" 2
grep -q "feature 2: geometry: ring 0 is not closed" "$T/err" || fail "no feature and reason: $(cat "$T/err")"
rc=0; hub areas import "$FIX/bad_parent.geojson" 2>"$T/err" || rc=$?
check "unknown parent refused" "$rc" 2
grep -q "feature 1 (area CITY-N09): parent CITY-D9 is neither in the file nor stored" "$T/err" || fail "$(cat "$T/err")"
rc=0; hub export csv --form no_such_form -o "$T/none.csv" 2>"$T/err" || rc=$?
check "unknown form refused" "$rc" 2
grep -q "no published form no_such_form" "$T/err" || fail "$(cat "$T/err")"
[ ! -e "$T/none.csv" ] && [ ! -e "$T/none.csv.part" ] || fail "a refused export left a file"
rc=0; hub indicators --form mapping_survey --indicator count --k 0 2>"$T/err" || rc=$?
check "bad k refused" "$rc" 2
grep -q "k (the smallest cell shown) must be an integer from 1 to 1000, not 0" "$T/err" || fail "$(cat "$T/err")"
check "bad k via the API" "$(api "$ADMIN" '/api/v1/admin/indicators?form=mapping_survey&indicator=count&k=abc')" 400
check "... with a JSON error" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$T/body")" bad_parameter
check "unknown form via the API" "$(api "$ADMIN" '/api/v1/admin/export/csv?form=nope')" 400
check "indicator on a text field" "$(api "$ADMIN" '/api/v1/admin/indicators?form=mapping_survey&indicator=mean:story')" 400
rc=0; hub wave add overlap --start "$(day 10)" --end "$(day 40)" 2>"$T/err" || rc=$?
check "overlapping wave refused" "$rc" 2
rc=0; hub quota set --area CITY-N01 --wave nowave --form mapping_survey --target 5 2>/dev/null || rc=$?
check "quota of an unknown wave refused" "$rc" 2
rc=0; hub quota set --area CITY-N01 --wave baseline --form mapping_survey --target 5 --stratum gender=robot 2>/dev/null || rc=$?
check "quota of an unknown choice refused" "$rc" 2
check "nothing changed by the refused requests" "$(hub_fingerprint)" "$before"
finish
