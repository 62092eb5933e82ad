#!/usr/bin/env bash
# ODK's own form engine (@getodk/xforms-engine, npm, the engine of ODK Web
# Forms) in Chromium against a real hub's OpenRosa endpoints, used as ODK
# Collect uses them: the form list, every XForm downloaded and its listed
# MD5 checked, every one of the five shipped forms (and a fixture with a
# translated constraint message) loaded by the engine without error; the
# resilience survey filled in the engine: French then English labels,
# refused then corrected answers, skip logic, required answers, the
# instance XML it makes posted as a multipart submission (201), and a
# second one whose consent was changed to no (only metadata). Then the
# hub database: the submission stored like an agent's (the device as
# collector, its area, the form, the same answers as an agent recording
# the same survey), in the CSV export, counted in coverage.
. "$(dirname "$0")/../lib.sh"

forms=(demo_household resilience_baseline focus_group_record key_informant_interview mechanism_mapping)
for f in "${forms[@]}"; do
  "$FS_HUB" form publish --db "$DB" "$FS_SRC/schema/forms/$f.json" >/dev/null
done
"$FS_HUB" form publish --db "$DB" "$FS_SRC/tests/browser/fixtures/engine_messages.json" >/dev/null
all=$(IFS=,; echo "${forms[*]},engine_messages")
today=$(date -u +%F)
day() { date -u -d "$1 days" +%F; }
"$FS_HUB" wave add baseline --db "$DB" --start "$(day -30)" --end "$(day 30)" >/dev/null
"$FS_HUB" quota set --db "$DB" --area CITY-N01 --wave baseline --form resilience_baseline --target 10 >/dev/null

start_hub
BASE=$("$FS_HUB" enroll-code --db "$DB" --name odk-web --areas CITY-N01 \
  --forms "$all" --collect "$HUB_URL/")
device=$(sql "SELECT id FROM devices WHERE name = 'odk-web'")

FS_COLLECT="$BASE" FS_FORMS="$all" FS_OUT="$T" FS_TODAY="$today" FS_SHOTS="$T" \
  node "$FS_SRC/tests/browser/odk_engine.mjs" || fail "browser checks failed (see above)"

iid=$(cat "$T/instance.id")
check "the engine's submission is stored once" "$(sql "SELECT count(*) FROM submissions WHERE id = '$iid'")" 1
check "stored as the device's, in its area, with the form and version" \
  "$(sql "SELECT device_id, collector, area, form_id, form_version, rev FROM submissions WHERE id = '$iid'")" \
  "$device|odk-web|CITY-N01|resilience_baseline|1|1"
check "answers typed as the form says" \
  "$(sql "SELECT json_extract(answers, '\$.belonging'), json_type(answers, '\$.belonging'), json_extract(answers, '\$.discrimination_where'), json_extract(answers, '\$.trust_builders_other'), json_extract(answers, '\$.interview_date') FROM submissions WHERE id = '$iid'")" \
  "4|integer|[\"street\",\"online\"]|Des bancs <publics>|$today"

rid=$(cat "$T/refused.id")
check "a refusal keeps only consent and metadata" \
  "$(sql "SELECT (SELECT group_concat(key, ',') FROM (SELECT key FROM json_each(answers) ORDER BY key)) FROM submissions WHERE id = '$rid'")" \
  "consent,household_code,interview_date,wave"

# The same survey recorded by an agent: the hub stores the same answers.
code=$("$FS_HUB" enroll-code --db "$DB" --name tab --areas CITY-N01 --forms resilience_baseline 2>/dev/null)
agent tab enroll --hub "$HUB_URL" --code "$code" >/dev/null
agent tab sync --quiet
aid=$(agent tab record resilience_baseline --answers "$T/answers.json" --area CITY-N01)
agent tab sync --quiet
check "the agent's submission is at the hub" "$(sql "SELECT count(*) FROM submissions WHERE id = '$aid'")" 1
check "stored alike: the same answers, area and form as the agent's" \
  "$(sql "SELECT count(DISTINCT answers || area || form_id || form_version), count(*) FROM submissions WHERE id IN ('$iid', '$aid')")" "1|2"

# The export shows it; the coverage counts it.
"$FS_HUB" export csv --db "$DB" --form resilience_baseline -o "$T/export.csv" >/dev/null
row=$(python3 - "$T/export.csv" "$iid" <<'PY'
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline='')):
    if sys.argv[2] in r.values():
        print(r.get('collector', '?'), r.get('area', '?'), r.get('belonging', '?'), r.get('trust_builders', '?'),
              r.get('trust_builders/other', '?'))
PY
)
check "the CSV export has the engine's submission" "$row" "odk-web CITY-N01 4 listening other 1"
# The form has its own question called wave beside the hub's wave: two
# columns, never under one name.
check "the CSV's column names are unique" \
  "$(head -1 "$T/export.csv" | tr -d '\r' | tr ',' '\n' | sort | uniq -d | tr '\n' ' ')" ""
check "the hub's wave and the form's wave question, each in its column" \
  "$(python3 -c 'import csv,sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    if sys.argv[2] in r.values(): print(r["wave"], r["answers.wave"])' "$T/export.csv" "$iid")" "baseline w1"
# Three in CITY-N01: the engine's survey, its refusal (a visit made),
# the agent's survey.
check "coverage counts the engine's submissions with the agent's" \
  "$("$FS_HUB" coverage --db "$DB" --wave baseline --csv | tr -d '\r' | tail -n 1)" \
  "baseline,CITY-N01,resilience_baseline,,,10,3,7,30"
finish
