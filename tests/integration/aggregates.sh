#!/usr/bin/env bash
# The aggregates behind coverage, indicators, the change between waves
# and the map (schema/hub-10.sql) stay exact while the data changes
# through real paths: pushes from two agents, a correction (a new
# revision), a review rejecting and then approving, a wave assignment, a
# wave redated and put back, a form version keeping a new field. After
# each change the hub's answers are compared with (1) a computation from
# scratch over the submissions in this test, (2) `aggregates verify`, and
# (3) the same answers from a copy of the database whose aggregates were
# counted again (`aggregates rebuild`), suppression included.
. "$(dirname "$0")/../lib.sh"

FIX="$FS_SRC/tests/fixtures/mapping"
hub() { "$FS_HUB" "$1" --db "$DB" "${@:2}"; }
day() { date -u -d "$1 days" +%F; }

hub form publish "$FIX/mapping_survey.json" >/dev/null
hub areas import "$FIX/areas.geojson" >/dev/null
hub wave add baseline --start "$(day -30)" --end "$(day 30)" >/dev/null
hub wave add later --start "$(day 31)" --end "$(day 120)" >/dev/null
hub config set min-k 2 >/dev/null

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

hub quota set --area CITY-N01 --wave baseline --form mapping_survey --target 20 >/dev/null
hub quota set --area CITY-N01 --wave baseline --form mapping_survey --target 10 --stratum gender=woman >/dev/null
hub quota set --area CITY-N02 --wave baseline --form mapping_survey --target 12 --device "$dev2" >/dev/null
hub quota set --area CITY-N01 --wave later --form mapping_survey --target 5 >/dev/null

# The from-scratch figures: every counted submission read from the view
# (newest revision and wave), grouped here, in Python.
scratch_rows() {
  sql "SELECT wave, area, device_id, answers FROM mapping_submissions
       WHERE form_id = 'mapping_survey' AND wave <> '' AND review_state <> 'rejected'"
}

# exact STEP: the three comparisons after a change.
exact() {
  local step=$1 out
  if ! "$FS_HUB" aggregates verify --db "$DB" >"$T/verify" 2>&1; then
    fail "$step: aggregates verify: $(head -n 5 "$T/verify")"
  fi
  check "$step: aggregates verify" "$(tail -n 1 "$T/verify")" \
    "aggregates exact: every cell and submission agrees with a count from scratch"

  # (1) coverage and the mean of belonging by gender against Python's
  # own count of the view's rows.
  scratch_rows >"$T/rows"
  sql "SELECT area, wave, stratum, device_id, target FROM quotas" >"$T/quotas"
  hub coverage --json >"$T/cov.json"
  hub indicators --form mapping_survey --indicator mean:belonging --by gender --json >"$T/ind.json"
  hub indicators --form mapping_survey --indicator mean:belonging --json >"$T/ind1.json"
  out=$(python3 - "$T/rows" "$T/quotas" "$T/cov.json" "$T/ind.json" "$T/ind1.json" <<'PY'
import json, sys
rows = []
for line in open(sys.argv[1]):
    wave, area, dev, ans = line.rstrip('\n').split('|', 3)
    rows.append((wave, area, dev, json.loads(ans)))
bad = []
# Coverage: each quota's count from the rows.
want = {}
for line in open(sys.argv[2]):
    area, wave, stratum, dev, target = line.rstrip('\n').split('|')
    st = json.loads(stratum)
    n = sum(1 for w, a, d, ans in rows if w == wave and a == area
            and (dev == '' or d == dev)
            and all(ans.get(k) == v for k, v in st.items()))
    want[(area, wave, ','.join('%s=%s' % kv for kv in sorted(st.items())),
          dev)] = n
got = {(c['area'], c['wave'], c['stratum'], c['device']): c['collected']
       for c in json.load(open(sys.argv[3]))['coverage']}
if got != want:
    bad.append('coverage %s != %s' % (sorted(got.items()), sorted(want.items())))
# Indicator cells: base and mean per wave x area x gender, with totals.
cells = {}
for w, a, d, ans in rows:
    x = ans.get('belonging')
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        continue
    g = ans.get('gender') if isinstance(ans.get('gender'), str) else ''
    for key in ((w, a, g), (w, a, '*'), (w, '*', g), (w, '*', '*')):
        n, s = cells.get(key, (0, 0))
        cells[key] = (n + 1, s + x)
shown = 0
# With --by gender (the pairs), then without (the counts per answer):
# every cell of the table of that shape.
for path, shape in ((sys.argv[4], None), (sys.argv[5], '*')):
    fast = {(c['wave'], c['area'], c['category']): c
            for c in json.load(open(path))['cells']}
    for key, (n, s) in cells.items():
        if shape and key[2] != shape:
            continue
        c = fast.get(key)
        if c is None:
            bad.append('%s: cell %s missing' % (path, key))
        elif c['status'] == 'ok':
            shown += 1
            if c['n'] != n or abs(c['value'] - s / n) > 1e-9:
                bad.append('%s: cell %s: n %s value %s, from scratch n %d value %s'
                           % (path, key, c['n'], c['value'], n, s / n))
    for key, c in fast.items():
        if key[1] in ('*',) or key[1].startswith('CITY-N'):
            if key not in cells and c['n'] not in (0, None):
                bad.append('%s: cell %s not in the data: n %s' % (path, key, c['n']))
print('\n'.join(bad) if bad else 'same (%d quotas, %d shown cells)' % (len(want), shown))
PY
)
  case $out in
    same*) check "$step: coverage and indicators equal a count from scratch" "${out%% (*}" same ;;
    *) fail "$step: from scratch: $out" ;;
  esac

  # (3) every answer equal to a copy counted again.
  rm -f "$T/copy.db"
  hub backup -o "$T/copy.db" >/dev/null
  "$FS_HUB" aggregates rebuild --db "$T/copy.db" >/dev/null
  local d q
  for d in "$DB" "$T/copy.db"; do
    for q in "coverage --json" "wave list --json" \
      "indicators --form mapping_survey --indicator mean:belonging --by gender --json" \
      "indicators --form mapping_survey --indicator share:services=youth --json" \
      "indicators --form mapping_survey --indicator count --by gender --json" \
      "indicators --form mapping_survey --indicator count --json" \
      "indicators --form mapping_survey --indicator mean:belonging --wave later --json" \
      "indicators --form mapping_survey --indicator share:gender=woman|another --by gender --json" \
      "change --form mapping_survey --indicator mean:belonging --from baseline --to later --json" \
      "export geojson areas --form mapping_survey --indicator mean:belonging --wave baseline -o $d.geojson"; do
      # shellcheck disable=SC2086
      "$FS_HUB" ${q%% *} --db "$d" ${q#* } 2>&1
    done >"$d.answers"
    cat "$d.geojson" >>"$d.answers"
  done
  check "$step: every answer equals a copy counted again" \
    "$(cmp -s "$DB.answers" "$T/copy.db.answers" && echo same || diff "$DB.answers" "$T/copy.db.answers" | head -n 6)" same
}

rec e1 CITY-N01 6 '{"gender":"woman","belonging":4,"services":["youth","sport"]}'
rec e1 CITY-N01 4 '{"gender":"man","belonging":2,"services":[]}'
rec e1 CITY-N01 2 '{"gender":"another","belonging":5}'
rec e2 CITY-N02 5 '{"gender":"woman","belonging":3,"services":["sport"]}'
rec e2 CITY-N02 3 '{"gender":"man","phone":"+33 6 00 00 00 01"}'
sync_until_done e1
sync_until_done e2
check "every submission at the hub" "$(sql 'SELECT count(*) FROM submissions')" 20
exact "pushed by two agents"
# A table --by gender reads the pairs (schema/hub-12.sql): gender is one
# of the form's by fields, and its pairs hold every counted submission.
check "gender is a by field with pairs" \
  "$(sql "SELECT group_concat(name) FROM agg_by_fields WHERE form_id = 'mapping_survey'")" gender
check "the pairs by gender count every submission" \
  "$(sql "SELECT sum(n) FROM agg_pairs WHERE by_field = 'gender' AND field = ''")" 20

rec e2 CITY-N03 4 '{"gender":"man","belonging":1,"services":["library"]}'
rec e2 CITY-N02 1 '{"gender":"woman","belonging":5}'
sync_until_done e2
exact "a second push"

first=$(head -n 1 "$T/e1.ids")
echo '{"gender":"man","belonging":1,"services":["sport"]}' >"$T/fix.json"
hub correct "$first" --answers "$T/fix.json" >/dev/null
check "the correction is revision 2" "$(sql "SELECT max(rev) FROM submissions WHERE id='$first'")" 2
exact "a correction (new revision)"

victim=$(sed -n 2p "$T/e1.ids")
hub review "$victim" --state rejected >/dev/null
exact "a review rejecting"
check "the rejected one left coverage" \
  "$(hub coverage --wave baseline --csv | tr -d '\r' | grep '^baseline,CITY-N01,mapping_survey,,,' | cut -d, -f7)" 11
hub review "$victim" --state approved >/dev/null
exact "the same approved"

hub wave assign later "$(sed -n 3p "$T/e1.ids")" >/dev/null
hub wave assign later "$(sed -n 4p "$T/e1.ids")" >/dev/null
exact "wave assignments"
check "two in the later wave" \
  "$(hub wave list --csv | tr -d '\r' | grep '^later,' | cut -d, -f5)" 2

# Redating the baseline so that it no longer holds today: its unassigned
# submissions leave every wave; then back.
hub wave add baseline --start "$(day -90)" --end "$(day -31)" >/dev/null
exact "the baseline redated away"
check "nothing left in the baseline" \
  "$(hub wave list --csv | tr -d '\r' | grep '^baseline,' | cut -d, -f5)" 0
hub wave add baseline --start "$(day -30)" --end "$(day 30)" >/dev/null
exact "the baseline redated back"

# A form version with a new field the aggregates keep (an integer):
# counted again once published, then answered by a device.
python3 - "$FIX/mapping_survey.json" >"$T/v2.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f['version'] = 2
f['fields'].append({'name': 'household', 'type': 'integer',
                    'label': {'en': 'People in the household', 'fr': 'Personnes du foyer'}})
f['fields'].append({'name': 'tenure', 'type': 'select_one',
                    'label': {'en': 'Home', 'fr': 'Logement'},
                    'choices': [{'value': 'own', 'label': {'en': 'Owned', 'fr': 'Propriétaire'}},
                                {'value': 'rent', 'label': {'en': 'Rented', 'fr': 'Locataire'}}]})
# A sensitive select_one: kept, but never a by field.
f['fields'].append({'name': 'faith', 'type': 'select_one', 'sensitive': True,
                    'label': {'en': 'Faith', 'fr': 'Foi'},
                    'choices': [{'value': 'a', 'label': {'en': 'A', 'fr': 'A'}},
                                {'value': 'b', 'label': {'en': 'B', 'fr': 'B'}}]})
print(json.dumps(f))
PY
hub form publish "$T/v2.json" >/dev/null
exact "a form version with a new kept field"
agent e1 sync --quiet
rec e1 CITY-N03 3 '{"gender":"woman","belonging":2,"household":4,"tenure":"own","faith":"a"}'
rec e1 CITY-N03 2 '{"gender":"woman","belonging":4,"household":2,"tenure":"rent"}'
rec e1 CITY-N03 1 '{"gender":"man","belonging":3,"tenure":"own"}'
sync_until_done e1
# A stratum of two fields (read from the cells), and of one (from the
# counts per answer).
hub quota set --area CITY-N03 --wave baseline --form mapping_survey --target 4 --stratum gender=woman,tenure=own >/dev/null
hub quota set --area CITY-N03 --wave baseline --form mapping_survey --target 4 --stratum tenure=own >/dev/null
check "a stratum of two fields counted" \
  "$(hub coverage --csv | tr -d '\r' | grep '^baseline,CITY-N03,mapping_survey,"gender=woman,tenure=own",' | cut -d, -f8)" 3
check "answered under version 2" \
  "$(sql "SELECT count(*) FROM submissions WHERE form_version = 2 AND answers ->> '$.household' = 4")" 3
exact "answers to the new field"
check "the new select_one is a by field" \
  "$(sql "SELECT group_concat(name) FROM (SELECT name FROM agg_by_fields WHERE form_id = 'mapping_survey' ORDER BY name)")" gender,tenure
# --by tenure against the submissions themselves: base and mean of
# belonging per wave x area x tenure ('' when not answered).
tenure_exact() {
sql "SELECT wave, area, answers FROM mapping_submissions WHERE form_id = 'mapping_survey'
     AND wave <> '' AND review_state <> 'rejected'" >"$T/rows"
hub indicators --form mapping_survey --indicator mean:belonging --by tenure --json >"$T/tenure.json"
out=$(python3 - "$T/rows" "$T/tenure.json" <<'PY'
import json, sys
cells = {}
for line in open(sys.argv[1]):
    w, a, ans = line.rstrip('\n').split('|', 2)
    ans = json.loads(ans)
    x = ans.get('belonging')
    if not isinstance(x, (int, float)) or isinstance(x, bool):
        continue
    t = ans.get('tenure') if isinstance(ans.get('tenure'), str) else ''
    for key in ((w, a, t), (w, a, '*')):
        n, s = cells.get(key, (0, 0))
        cells[key] = (n + 1, s + x)
got = {(c['wave'], c['area'], c['category']): (c['n'], c['value'])
       for c in json.load(open(sys.argv[2]))['cells']
       if c['area'].startswith('CITY-N') and c['status'] == 'ok'}
want = {k: (n, s / n) for k, (n, s) in cells.items() if k in got}
print('same' if got == want and any(k[2] == 'own' for k in got)
      else 'got %s want %s' % (sorted(got.items()), sorted(cells.items())))
PY
)
check "$1: a table --by tenure equals a count from scratch" "$out" same
}
tenure_exact "tenure a by field"

# The admin narrows the by fields to gender: tenure leaves the pairs,
# and a table --by tenure reads the cells, still exact.
check "aggregates by gender" "$(hub aggregates by --form mapping_survey gender | cut -d';' -f1)" \
  "by fields of mapping_survey: gender"
check "only gender has pairs" \
  "$(sql "SELECT group_concat(DISTINCT by_field) FROM agg_pairs")|$(sql "SELECT group_concat(name) FROM agg_by_fields")" "gender|gender"
tenure_exact "tenure read from the cells"
exact "by fields chosen"
# A field that cannot be one, and a form that does not exist: refused,
# nothing changed.
for bad in "--form mapping_survey gender,phone" "--form mapping_survey faith" "--form mapping_survey belonging" "--form nosuch gender"; do
  # shellcheck disable=SC2086
  if hub aggregates by $bad >"$T/by.out" 2>&1; then
    fail "aggregates by $bad: accepted"
  fi
  check "aggregates by $bad: refused, nothing changed" \
    "$(sql "SELECT group_concat(form_id || '.' || name) FROM agg_by_chosen")" mapping_survey.gender
done
grep -q "not a select_one field of form mapping_survey" "$T/by.out" ||
  grep -q "no published form nosuch" "$T/by.out" || fail "aggregates by: no reason given: $(cat "$T/by.out")"
if hub aggregates by --form mapping_survey "" >"$T/by.out" 2>&1; then
  fail "aggregates by with no field: accepted"
fi
check "aggregates by with no field: refused, nothing changed" \
  "$(sql "SELECT group_concat(form_id || '.' || name) FROM agg_by_chosen")" mapping_survey.gender
hub aggregates by --form mapping_survey '*' >/dev/null
check "every by field again" \
  "$(sql "SELECT group_concat(name) FROM (SELECT name FROM agg_by_fields ORDER BY name)")" gender,tenure
tenure_exact "tenure a by field again"
exact "every by field again"
finish
