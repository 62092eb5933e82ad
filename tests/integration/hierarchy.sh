#!/usr/bin/env bash
# Areas four levels deep (province > district > ward > village, named by
# the import file): import with generated codes for villages whose names
# repeat under two wards, a file one level too deep refused whole; a
# device scoped to a district records in its villages (and in one added
# later), not in another district's, at the agent and at the hub; counts,
# quotas and the indicator GeoJSON roll up every level, compared with a
# computation over the exported CSV; and suppression holds across levels
# (a ward whose one village is small cannot be worked out from its
# district minus its other ward).
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || fail "python3 missing: run scripts/bootstrap"
FIX="$FS_SRC/tests/fixtures/hierarchy"
hub() { "$FS_HUB" "$1" --db "$DB" "${@:2}"; }

# ---- import ----------------------------------------------------------
hub form publish "$FS_SRC/tests/fixtures/mapping/mapping_survey.json" >/dev/null
publish_sample_form
hub areas import "$FIX/areas.geojson" >/dev/null
check "the file's levels are the hub's" "$(hub areas levels)" "province > district > ward > village"
check "every area at its level, villages with codes made from parent and name" \
  "$(sql "SELECT group_concat(code || ':' || level, ' ') FROM (SELECT * FROM mapping_areas ORDER BY code)")" \
  "D1:district D2:district PRV:province W1:ward W1.Les-Pins:village W1.Sainte-Marie:village W2:ward W2.Sainte-Marie:village W3:ward W3.Le-Port:village"
check "the list tells the two Sainte Marie apart by their parent, top level first" \
  "$(hub areas list --csv | tr -d '\r' | cut -d, -f1-4 | grep -n 'Sainte Marie\|North')" \
  "2:PRV,North Province,,province
9:W1.Sainte-Marie,Sainte Marie,W1,village
10:W2.Sainte-Marie,Sainte Marie,W2,village"

before=$(hub_fingerprint)
rc=0
hub areas import "$FIX/too_deep.geojson" 2>"$T/err" >/dev/null || rc=$?
check "a fifth level is refused (exit 2)" "$rc" 2
grep -q "feature 0 (area W1.Les-Pins.Old-Mill): it lies 5 levels below the top, but the hierarchy has 4 levels (province,district,ward,village)" "$T/err" \
  || fail "unclear refusal: $(cat "$T/err")"
check "... and nothing changed" "$(hub_fingerprint)" "$before"
rc=0
hub areas levels a,b,c,d,e,f,g,h,i 2>"$T/err" >/dev/null || rc=$?
check "more than 8 levels are refused" "$rc" 2
grep -q "more than 8 levels" "$T/err" || fail "unclear refusal: $(cat "$T/err")"
rc=0
hub areas levels province,district,ward 2>"$T/err" >/dev/null || rc=$?
check "levels too few for the stored villages are refused" "$rc" 2
grep -q "stored area W1.Les-Pins: it lies 4 levels below the top, but the hierarchy has 3 levels" "$T/err" \
  || fail "unclear refusal: $(cat "$T/err")"
check "... and nothing changed" "$(hub_fingerprint)" "$before"

# ---- scope by a district ---------------------------------------------
day() { date -u -d "$1 days" +%F; }
hub wave add baseline --start "$(day -30)" --end "$(day 30)" >/dev/null
start_hub
enrol() {  # enrol NAME AREAS
  local code
  code=$(hub enroll-code --name "$1" --areas "$2")
  agent "$1" enroll --hub "$HUB_URL" --code "$code" >/dev/null
  agent "$1" sync --quiet
}
enrol d1 D1
check "the district's device holds its district, wards and villages only" \
  "$(sqlite3 "$T/d1/agent.db" "SELECT group_concat(area, ' ') FROM (SELECT area FROM entities WHERE type = 'area' ORDER BY area)")" \
  "D1 W1 W1.Les-Pins W1.Sainte-Marie W2 W2.Sainte-Marie"
record_n d1 2 W2.Sainte-Marie
rc=0
record_n d1 1 W3.Le-Port 2>"$T/err" || rc=$?
check "a village of another district is refused at the agent" "$rc" 2
grep -q "records for areas D1 (and the areas below them) only" "$T/err" || fail "unclear refusal: $(cat "$T/err")"
sync_until_done d1
check "the village records reached the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE area = 'W2.Sainte-Marie' AND form_id = 'demo_household'")" 2

# At the hub: a device of every area records offline in both districts,
# then the admin narrows it to D1 before it syncs.
enrol wide '*'
record_n wide 1 W1.Les-Pins
record_n wide 1 W3.Le-Port
wide=$(sqlite3 "$T/wide/agent.db" "SELECT value FROM meta WHERE key='device_id'")
hub device scope "$wide" --areas D1 >/dev/null
agent wide sync --quiet || true
check "the hub refuses the other district's village" \
  "$(sql "SELECT json_extract(change, '$.area') || ':' || error FROM held_changes")" "W3.Le-Port:out_of_scope"
check "... and takes the district's village" \
  "$(sql "SELECT count(*) FROM submissions WHERE area = 'W1.Les-Pins' AND form_id = 'demo_household'")" 1

# A village added later under the district: covered without re-enrolling.
hub areas import "$FIX/new_village.geojson" >/dev/null
agent d1 sync --quiet
record_n d1 1 W2.Nouveau
sync_until_done d1
check "a village added later is covered" \
  "$(sql "SELECT count(*) FROM submissions WHERE area = 'W2.Nouveau'")" 1

# ---- roll-ups and suppression ----------------------------------------
# Baseline of mapping_survey (count, k = 5):
#   PRV 23 = D1 15 + D2 8
#   D1 15 = W1 13 + W2 2;  D2 8 = W3 8
#   W1 13 = Sainte Marie 7 + Les Pins 6;  W2 2 = Sainte Marie 2 (its
#   only village);  W3 8 = Le Port 8
# W2's village and W2 are small; D1 - W1 would give W2, so W1 is hidden
# as a complement; W1 - Sainte Marie would then give W1's Les Pins ...
# and so the smaller village of W1 goes too. D1 and everything else show.
enrol all '*'
echo '{"gender":"woman","belonging":4}' >"$T/a.json"
rec() { local i; for i in $(seq 1 "$2"); do agent all record mapping_survey --answers "$T/a.json" --area "$1" >/dev/null; done; }
rec W1.Sainte-Marie 7
rec W1.Les-Pins 6
rec W2.Sainte-Marie 2
rec W3.Le-Port 8
sync_until_done all
hub quota set --area D1 --wave baseline --form mapping_survey --target 20 >/dev/null
hub quota set --area PRV --wave baseline --form mapping_survey --target 30 >/dev/null
hub quota set --area W1.Les-Pins --wave baseline --form mapping_survey --target 5 >/dev/null

hub indicators --form mapping_survey --indicator count --wave baseline --csv | tr -d '\r' >"$T/ind.csv"
check "every level shown or hidden as hand-worked" \
  "$(cut -d, -f2,4,6,7 "$T/ind.csv" | tail -n +2)" \
"D1,15,ok,
D2,8,ok,
PRV,23,ok,
W1,,suppressed,complementary
W1.Les-Pins,,suppressed,complementary
W1.Sainte-Marie,7,ok,
W2,,suppressed,small_cell
W2.Sainte-Marie,,suppressed,small_cell
W3,8,ok,
W3.Le-Port,8,ok,
*,23,ok,"

# The same figures worked out here from the exported rows and the area
# list: an area counts its own records and all below it.
hub export csv --form mapping_survey -o "$T/rows.csv" 2>/dev/null
hub areas list --csv | tr -d '\r' >"$T/areas.csv"
hub coverage --wave baseline --csv | tr -d '\r' >"$T/cov.csv"
hub export geojson areas --form mapping_survey --indicator count --wave baseline -o "$T/map.geojson" 2>/dev/null
python3 - "$T" <<'PY' >"$T/audit" || fail "roll-up audit failed: $(cat "$T/audit")"
import csv, json, sys
t = sys.argv[1]
parent = {r['code']: r['parent'] for r in csv.DictReader(open(t + '/areas.csv'))}
own = {}
for r in csv.DictReader(open(t + '/rows.csv')):
    if r['review_state'] != 'rejected' and r['wave'] == 'baseline':
        own[r['area']] = own.get(r['area'], 0) + 1
def total(a):
    return own.get(a, 0) + sum(total(c) for c, p in parent.items() if p == a)
ind = {r['area']: r for r in csv.DictReader(open(t + '/ind.csv'))}
bad = []
for a in parent:
    n = total(a)
    r = ind.get(a)
    if n == 0:
        if r: bad.append('row for empty area %s' % a)
        continue
    if not r:
        bad.append('no row for %s (%d)' % (a, n)); continue
    if r['status'] == 'ok' and int(r['n']) != n:
        bad.append('%s: shown %s, computed %d' % (a, r['n'], n))
    if r['status'] != 'ok' and n >= 5 and r['reason'] == 'small_cell':
        bad.append('%s: small_cell but %d' % (a, n))
    if r['status'] == 'ok' and n < 5:
        bad.append('%s: %d shown' % (a, n))
# Nothing hidden can be worked out: an equation (an area = its own
# records + its children; own records are never shown) with one
# unknown would give it away.
shown = {a: int(r['n']) for a, r in ind.items() if r['status'] == 'ok'}
for a in parent:
    kids = [c for c, p in parent.items() if p == a and total(c) > 0]
    if not kids:  # a leaf's figure is its own records
        continue
    members = [a] + kids
    unknown = [m for m in members if m not in shown and total(m) > 0]
    if own.get(a, 0) > 0:
        unknown.append('own records of ' + a)
    if len(unknown) == 1:
        bad.append('%s can be worked out from %s' % (unknown[0], a))
tops = [c for c, p in parent.items() if not p and total(c) > 0]
unknown = [m for m in ['*'] + tops if m not in shown]
if len(unknown) == 1:
    bad.append('%s can be worked out from the total' % unknown[0])
for r in csv.DictReader(open(t + '/cov.csv')):
    if int(r['collected']) != total(r['area']):
        bad.append('quota on %s: collected %s, computed %d' % (r['area'], r['collected'], total(r['area'])))
feats = {f['properties']['code']: f['properties'] for f in json.load(open(t + '/map.geojson'))['features']}
for a in parent:
    if total(a) > 0 and feats[a]['status'] == 'no_data':
        bad.append('map: %s says no_data' % a)
    if feats[a]['status'] == 'ok' and feats[a]['n'] != total(a):
        bad.append('map: %s shows %s' % (a, feats[a]['n']))
print('\n'.join(bad) if bad else 'ok')
PY
check "indicators, quotas and the map roll up as computed from the CSV; nothing hidden can be worked out" "$(cat "$T/audit")" ok
check "a quota on the district counts its villages" "$(grep '^baseline,D1,' "$T/cov.csv" | cut -d, -f6,7)" "20,15"

# A reviewer of D1 sees D1 at the top, its wards and villages, nothing
# of D2 and no province figure.
REV=$(hub token create --role reviewer --name revd1 --areas D1 2>/dev/null)
curl -sS -H "Authorization: Bearer $REV" \
  "$HUB_URL/api/v1/admin/indicators?form=mapping_survey&indicator=count&wave=baseline" >"$T/rev.json"
check "the district's reviewer gets its tree only" \
  "$(python3 -c 'import json,sys; print(" ".join(c["area"] for c in json.load(open(sys.argv[1]))["cells"]))' "$T/rev.json")" \
  "D1 W1 W1.Les-Pins W1.Sainte-Marie W2 W2.Sainte-Marie *"
aggregates_exact
finish
