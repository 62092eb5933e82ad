#!/usr/bin/env bash
# Waves by a form's date field, end to end on a real hub with real
# agents: a form names its interview date as "wave_date" (a form naming a
# missing or non-date field is refused, from JSON and from XLSForm);
# interviews typed in today but dated in an earlier round land in that
# round in coverage, the wave list, indicators and the CSV export, an interview without a date falls
# back to the day it was recorded, and one dated outside every wave is in
# none. An admin's correction of the date moves it; a database made
# before the rule gets its dates when it is migrated. The device counts
# its sub-quotas offline by the same rule and agrees with the hub.
# `wave assign` by a filter and by a list of ids: a dry run changes
# nothing, the real run is one audited transaction, and every bad input
# is refused with the reason and changes nothing.
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || fail "python3 missing: run scripts/bootstrap"
FIX="$FS_SRC/tests/fixtures/waves"
hub() { "$FS_HUB" "$1" --db "$DB" "${@:2}"; }
day() { date -u -d "$1 days" +%F; }

# ---- the form ---------------------------------------------------------
hub form publish "$FIX/dated_survey.json" >/dev/null
# Version 2 of it, naming a missing field, then a select_one.
rc=0
hub form publish "$FIX/bad_missing.json" >/dev/null 2>"$T/err" || rc=$?
check "a wave_date naming no field is refused" "$rc:$(grep -c '\$.wave_date: must name a field of this form' "$T/err")" "1:1"
rc=0
hub form publish "$FIX/bad_type.json" >/dev/null 2>"$T/err" || rc=$?
check "a wave_date naming a select_one is refused" "$rc:$(grep -c "'gender' is a select_one field; the wave is decided by a date field" "$T/err")" "1:1"
check "... and neither was published" "$(sql 'SELECT group_concat(version) FROM forms')" 1
# From XLSForm: the settings column wave_date, checked the same way.
MK="python3 $FS_SRC/tests/tools/mkxlsx.py"
$MK "$FIX/xlsform_dated.json" "$T/dated.xlsx"
"$FS_HUB" form import "$T/dated.xlsx" -o "$T/dated_xls.json" 2>/dev/null
check "XLSForm settings wave_date becomes the form's" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["wave_date"])' "$T/dated_xls.json")" visit
sed 's/"visit"]]}/"remarks"]]}/' "$FIX/xlsform_dated.json" >"$T/undated.json"
$MK "$T/undated.json" "$T/undated.xlsx"
rc=0
"$FS_HUB" form import "$T/undated.xlsx" -o "$T/undated_xls.json" 2>"$T/err" || rc=$?
check "an XLSForm wave_date naming a text question is refused" \
  "$rc:$(grep -c "settings: 'remarks' is a text field; the wave is decided by a date field" "$T/err")" "2:1"
hub areas import "$FS_SRC/tests/fixtures/mapping/areas.geojson" >/dev/null

# baseline closed a month ago; round2 holds today.
hub wave add baseline --start "$(day -60)" --end "$(day -31)" >/dev/null
hub wave add round2 --start "$(day -30)" --end "$(day 30)" >/dev/null

start_hub
new_agent e1
new_agent e2
dev1=$(sqlite3 "$T/e1/agent.db" "SELECT value FROM meta WHERE key='device_id'")
hub quota set --area CITY-N01 --wave baseline --form dated_survey --target 10 --device "$dev1" >/dev/null
hub quota set --area CITY-N01 --wave round2 --form dated_survey --target 10 --device "$dev1" >/dev/null
hub quota set --area CITY-N01 --wave baseline --form dated_survey --target 8 >/dev/null
# A sub-quota on the district counts its neighbourhoods, on the device
# (from the area entities it holds) as at the hub.
hub quota set --area CITY-D1 --wave baseline --form dated_survey --target 12 --device "$dev1" >/dev/null
hub quota set --area CITY-N02 --wave baseline --form dated_survey --target 8 >/dev/null
agent e1 sync --quiet

# rec AGENT AREA N DATE GENDER: N interviews dated DATE ("" : no date),
# recorded now; their ids go to AGENT.ids and DATE.ids.
rec() {
  local i
  if [ -n "$4" ]; then
    printf '{"interview_date":"%s","gender":"%s","belonging":3}' "$4" "$5" >"$T/answers.json"
  else
    printf '{"gender":"%s","belonging":3}' "$5" >"$T/answers.json"
  fi
  for i in $(seq 1 "$3"); do
    agent "$1" record dated_survey --answers "$T/answers.json" --area "$2" | tee -a "$T/${4:-undated}.ids" >>"$T/$1.ids"
  done
}
# Expected, by the interview's day (all recorded today, in round2):
#   CITY-N01 (e1): 3 + 3 baseline, 5 round2, 1 undated (round2), 1 in none
#   CITY-N02 (e2): 5 + 1 baseline, 2 + 1 round2: the +1 are dated the
#   baseline's last day and round2's first, recorded by a device whose
#   clock is in UTC+14 and then UTC-10: the day decides, not the zone.
rec e1 CITY-N01 3 "$(day -45)" woman
rec e1 CITY-N01 3 "$(day -45)" man
rec e1 CITY-N01 5 "$(day -3)" woman
rec e1 CITY-N01 1 "" man
rec e1 CITY-N01 1 "$(day -200)" woman
rec e2 CITY-N02 5 "$(day -40)" woman
rec e2 CITY-N02 2 "$(day -10)" man
TZ=Pacific/Kiritimati rec e2 CITY-N02 1 "$(day -31)" woman
TZ=America/Adak rec e2 CITY-N02 1 "$(day -30)" man

# The device's sub-quotas, counted offline before any sync.
quotas() {  # quotas AGENT: "wave recorded" per quota
  agent "$1" status --json | python3 -c 'import json,sys
for q in json.load(sys.stdin)["quotas"]: print(q["wave"], q["recorded"])'
}
offline=$(quotas e1)
check "the device counts its sub-quotas by the interview's date, offline" "$offline" \
"baseline 6
baseline 6
round2 6"
sync_until_done e1
sync_until_done e2
check "every submission at the hub" "$(sql 'SELECT count(*) FROM submissions')" 22
check "a wave's last day and the next one's first, whatever the device's zone" \
  "$(sql "SELECT group_concat(wave, ' ') FROM (SELECT wave FROM mapping_submissions WHERE id IN ('$(cat "$T/$(day -31).ids")', '$(cat "$T/$(day -30).ids")') ORDER BY dated_ms)")" \
  "baseline round2"

cov() {  # the coverage table: wave area device? collected
  hub coverage --csv | tr -d '\r' | python3 -c 'import csv,sys
for r in csv.DictReader(sys.stdin): print(r["wave"], r["area"], "dev" if r["device"] else "-", r["collected"])'
}
check "coverage counts each interview in the wave of its date" "$(cov)" \
"baseline CITY-D1 dev 6
baseline CITY-N01 - 6
baseline CITY-N01 dev 6
baseline CITY-N02 - 6
round2 CITY-N01 dev 6"
check "the device's offline count equals the hub's" "$offline" \
  "$(cov | awk '$3 == "dev" {print $1, $4}')"
check "the device's count after the sync too" "$(quotas e1)" "$offline"
check "waves with their counts (one interview is in no wave)" \
  "$(hub wave list --csv | tr -d '\r' | tail -n 2 | cut -d, -f1,5)" \
"baseline,12
round2,9"

check "indicators count baseline interviews per area" \
  "$(hub indicators --form dated_survey --indicator count --wave baseline --json | python3 -c 'import json,sys
for c in json.load(sys.stdin)["cells"]:
    if c["area"] in ("CITY-N01", "CITY-N02") and c["category"] == "*": print(c["area"], c["n"])')" \
"CITY-N01 6
CITY-N02 6"

export_waves() {
  hub export csv --form dated_survey -o "$T/export.csv" >/dev/null 2>&1
  python3 - "$T/export.csv" <<'PY'
import collections, csv, sys
n = collections.Counter(r['wave'] or '-' for r in csv.DictReader(open(sys.argv[1], newline='')))
print(' '.join('%s:%d' % kv for kv in sorted(n.items())))
PY
}
check "the export names each interview's wave" "$(export_waves)" "-:1 baseline:12 round2:9"

# ---- the current revision's date decides ------------------------------
moved=$(head -n 1 "$T/$(day -45).ids")
printf '{"interview_date":"%s","gender":"woman","belonging":4}' "$(day -2)" >"$T/fix.json"
hub correct "$moved" --answers "$T/fix.json" >/dev/null
check "a corrected date moves the interview to its wave" \
  "$(sql "SELECT wave FROM mapping_submissions WHERE id = '$moved'")" round2
check "... and the counts follow" "$(hub wave list --csv | tr -d '\r' | tail -n 2 | cut -d, -f1,5)" \
"baseline,11
round2,10"

# ---- a database made before the rule --------------------------------
# A database of schema version 7 (hub.sql to hub-7.sql, the view of
# hub-5.sql) holding the same forms, waves and submissions; then any
# command migrates it: the dates are filled from the answers.
stop_hub
for f in hub.sql hub-2.sql hub-3.sql hub-4.sql hub-5.sql hub-6.sql hub-7.sql; do
  sqlite3 -batch -bail "$T/before.db" <"$FS_SRC/schema/$f"
done
copy=""
for t in forms waves wave_assignments submissions; do
  cols=$(sqlite3 "$T/before.db" "SELECT group_concat(name, ',') FROM pragma_table_info('$t')")
  copy="$copy INSERT INTO $t ($cols) SELECT $cols FROM cur.$t;"
done
sqlite3 -batch -bail "$T/before.db" "ATTACH '$DB' AS cur; $copy PRAGMA user_version = 7;"
check "the old rule counted by the recording day" \
  "$(sqlite3 "$T/before.db" "SELECT wave, count(*) FROM mapping_submissions GROUP BY wave ORDER BY wave" | tr '\n' ' ')" \
  "round2|22 "
"$FS_HUB" wave list --db "$T/before.db" --csv >/dev/null
check "after the migration, the interview's date decides" \
  "$(sqlite3 "$T/before.db" "SELECT wave, count(*) FROM mapping_submissions GROUP BY wave ORDER BY wave" | tr '\n' ' ')" \
  "|1 baseline|11 round2|10 "
start_hub "$(hub_port)"

# ---- wave assign by a filter and by a list -----------------------------
before=$(hub_fingerprint)
out=$(hub wave assign round2 --form dated_survey --area CITY-N02 --from "$(day -60)" --to "$(day -31)" --dry-run)
check "a dry run counts the matches" "$out" "6 submissions would be put in wave round2 (dry run: nothing was changed)"
check "... and changes nothing" "$(hub_fingerprint)" "$before"
# --area covers the areas below it: district CITY-D1 holds CITY-N01 and
# CITY-N02, so it matches what the two neighbourhoods match.
n1=$(hub wave assign round2 --form dated_survey --area CITY-N01 --dry-run | cut -d' ' -f1)
n2=$(hub wave assign round2 --form dated_survey --area CITY-N02 --dry-run | cut -d' ' -f1)
check "--area takes the areas below it" \
  "$(hub wave assign round2 --form dated_survey --area CITY-D1 --dry-run | cut -d' ' -f1)" "$((n1 + n2))"

audits=$(sql "SELECT count(*) FROM audit_log WHERE action = 'wave.assign'")
out=$(hub wave assign round2 --form dated_survey --area CITY-N02 --from "$(day -60)" --to "$(day -31)")
check "wave assign by form, area and dates" "$out" "6 submissions put in wave round2"
check "... the baseline interviews of CITY-N02 are in round2" \
  "$(sql "SELECT group_concat(wave) FROM (SELECT DISTINCT wave FROM mapping_submissions WHERE area = 'CITY-N02')")" round2
check "... one audit row naming the filter and the six" \
  "$(sql "SELECT count(*), detail ->> '\$.count', detail ->> '\$.filter.area', json_array_length(detail, '\$.submissions') FROM audit_log WHERE action = 'wave.assign' AND id > (SELECT max(id) - 1 FROM audit_log)")" \
  "1|6|CITY-N02|6"
check "... and no other audit row of it" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'wave.assign'")" $((audits + 1))
check "coverage follows the assignment" "$(cov | grep 'baseline CITY-N02')" "baseline CITY-N02 - 0"

check "--in-wave picks the interviews now in a wave" \
  "$(hub wave assign baseline --in-wave round2 --area CITY-N02 --dry-run)" \
  "9 submissions would be put in wave baseline (dry run: nothing was changed)"

{ echo "# two interviews of round2 that belong to the baseline"; sed -n 1,2p "$T/$(day -3).ids"; echo; } >"$T/list.txt"
check "wave assign by a list of ids" "$(hub wave assign baseline --ids "$T/list.txt")" "2 submissions put in wave baseline"
check "... they are in the baseline" \
  "$(sql "SELECT count(*) FROM mapping_submissions WHERE wave = 'baseline' AND id IN ($(sed -n 2,3p "$T/list.txt" | sed "s/.*/'&'/" | paste -sd,))")" 2

# Bad input: the reason, exit status 2, nothing changed.
refused() {  # refused DESCRIPTION EXPECTED-MESSAGE ARGS...
  local what=$1 msg=$2 rc=0 fp
  shift 2
  fp=$(hub_fingerprint)
  hub wave assign "$@" >"$T/out" 2>"$T/err" || rc=$?
  check "$what: exit status" "$rc" 2
  grep -qF -- "$msg" "$T/err" || fail "$what: no '$msg' in: $(cat "$T/err")"
  check "$what: nothing changed" "$(hub_fingerprint)" "$fp"
}
refused "unknown wave" "no wave 'round9'" round9 --form dated_survey
refused "unknown form" "no form 'nosuch' at this hub" baseline --form nosuch
refused "unknown area" "no area 'CITY-N99' at this hub" baseline --area CITY-N99
refused "unknown --in-wave" "no wave 'round9'" baseline --in-wave round9
refused "empty match" "no submission matches" baseline --from "$(day 300)"
refused "a bad date" "--from must be a date YYYY-MM-DD, not '2026-02-30'" baseline --from 2026-02-30
refused "--to before --from" "is before --from" baseline --from "$(day -1)" --to "$(day -2)"
echo "not-an-id" >"$T/bad.txt"
refused "a line that is no id" "line 1: 'not-an-id' is not a submission id" baseline --ids "$T/bad.txt"
echo "01890000-0000-7000-8000-000000000000" >"$T/unknown.txt"
refused "an id the hub does not hold" "no submission 01890000-0000-7000-8000-000000000000" baseline --ids "$T/unknown.txt"
refused "no id and no filter" "wave assign needs a submission id, --ids FILE or a filter" baseline
refused "an option of another command" "--k is not an option of this command" baseline --form dated_survey --k 5
aggregates_exact
finish
