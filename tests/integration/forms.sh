#!/usr/bin/env bash
# Forms end to end: the four field instruments publish, fill (record
# --answers), sync and are counted on the hub with their version; a bad
# definition is refused with every problem and its JSON path; the version
# rules hold; answers with several problems are refused with all of them
# listed and nothing stored; consent refusal keeps metadata only; a
# submission of an older version is still accepted; and when the hub
# refuses answers the agent's validator let through (here: the device's
# copy of a form was altered), that one change is refused with
# invalid_answers, the rest of the changeset merges, and the device keeps
# the refused one quarantined with the hub's reason.
. "$(dirname "$0")/../lib.sh"

FIX="$FS_SRC/tests/fixtures/forms"
INSTRUMENTS="resilience_baseline focus_group_record key_informant_interview mechanism_mapping"

for f in $INSTRUMENTS; do
  out=$("$FS_HUB" form publish --db "$DB" "$FS_SRC/schema/forms/$f.json")
  check "publish $f" "$out" "published form $f version 1"
done
publish_sample_form

# A definition with several problems: all reported, each with its path.
cat >"$T/bad.json" <<'JSON'
{"id": "bad_form", "version": 1, "title": {"fr": "Formulaire"},
 "fields": [{"name": "q1", "type": "select_one"},
            {"name": "q2", "type": "likert", "scale": 1},
            {"name": "q1", "type": "text", "requried": true},
            {"name": "q4", "type": "text",
             "relevant": {"field": "q9", "op": "eq", "value": "x"}}]}
JSON
rc=0
"$FS_HUB" form publish --db "$DB" "$T/bad.json" 2>"$T/bad.err" || rc=$?
check "bad definition: exit 1" "$rc" 1
for want in '$.title: no text in the default language' \
            '$.fields[0].choices: required for select_one' \
            '$.fields[1].scale: must be a whole number from 2 to 11' \
            "\$.fields[2].name: 'q1' is already the name of fields[0]" \
            "\$.fields[2]: unknown member 'requried'" \
            "\$.fields[3].relevant.field: no field is named 'q9'"; do
  grep -qF "$want" "$T/bad.err" || fail "bad definition: '$want' not in: $(cat "$T/bad.err")"
done
echo "ok - bad definition: every problem reported with its JSON path"
check "bad definition: nothing stored" "$(sql "SELECT count(*) FROM forms WHERE id='bad_form'")" 0

# Version rules. A type change is refused; a version at or below the
# published one too; a new version that adds a field and a choice is
# stored.
jset() { sqlite3 :memory: "SELECT json_set(readfile('$1'), $2)"; }
sqlite3 :memory: "SELECT json_remove(json_set(readfile('$FS_SRC/schema/forms/resilience_baseline.json'), '\$.version', 2, '\$.fields[5].type', 'integer'), '\$.fields[5].scale', '\$.fields[5].scale_labels')" >"$T/retype.json"
rc=0
"$FS_HUB" form publish --db "$DB" "$T/retype.json" 2>"$T/retype.err" || rc=$?
check "type change: refused" "$rc" 1
grep -qF "'belonging' was likert and cannot become integer" "$T/retype.err" ||
  fail "type change: $(cat "$T/retype.err")"
jset "$FS_SRC/schema/forms/resilience_baseline.json" \
  "'\$.fields[5].label.en', 'Changed'" >"$T/same_version.json"
rc=0
"$FS_HUB" form publish --db "$DB" "$T/same_version.json" 2>"$T/same.err" || rc=$?
check "changing a published version: refused" "$rc" 1
grep -q "a published version never changes" "$T/same.err" || fail "$(cat "$T/same.err")"
jset "$FS_SRC/schema/forms/focus_group_record.json" \
  "'\$.version', 2, '\$.fields[1].label.en', 'Did everyone agree?', '\$.fields[6].choices[#]', json('{\"value\":\"neighbours\",\"label\":{\"en\":\"Neighbours\",\"fr\":\"Voisins\"}}'), '\$.fields[#]', json('{\"name\":\"venue\",\"type\":\"text\",\"label\":{\"en\":\"Venue\",\"fr\":\"Lieu\"}}')" \
  >"$T/fg2.json"
check "new version adding a field and a choice" \
  "$("$FS_HUB" form publish --db "$DB" "$T/fg2.json")" "published form focus_group_record version 2"
jset "$T/fg2.json" "'\$.version', 3, '\$.fields[6].choices', json('[\"residents\"]')" >"$T/fg3.json"
rc=0
"$FS_HUB" form publish --db "$DB" "$T/fg3.json" 2>"$T/fg3.err" || rc=$?
check "removing choices: refused" "$rc" 1
grep -qF "'group_type' lost choice 'young_people'" "$T/fg3.err" || fail "$(cat "$T/fg3.err")"

start_hub
code=$("$FS_HUB" enroll-code --db "$DB" --name tab --areas CITY-N01,CITY-N02)
agent tab enroll --hub "$HUB_URL" --code "$code" >/dev/null
agent tab sync --quiet
check "agent pulled every form version" "$(agent tab forms --json | grep -c '"version"')" 6

# One valid submission of each instrument.
for f in $INSTRUMENTS; do
  id=$(agent tab record "$f" --answers "$FIX/$f.json" --area CITY-N01)
  [ ${#id} -eq 36 ] || fail "record $f printed '$id'"
  echo "$id" >>"$T/ids"
done
check "four instruments recorded" "$(wc -l <"$T/ids")" 4
check "focus group recorded with the newest version" \
  "$(sqlite3 "$T/tab/agent.db" "SELECT form_version FROM submissions WHERE form_id='focus_group_record'")" 2

# Several problems: all listed, one per line; nothing stored.
before=$(sqlite3 "$T/tab/agent.db" 'SELECT count(*) FROM submissions')
rc=0
agent tab record resilience_baseline --answers "$FIX/resilience_baseline.problems.json" \
  --area CITY-N01 2>"$T/rec.err" || rc=$?
check "answers with problems: exit 2 (input)" "$rc" 2
for want in "household_code: does not match the pattern" \
            "interview_date: must be a date YYYY-MM-DD" \
            "belonging: must be a whole number from 1 to 5" \
            "trust_local_gov: must be a whole number from 1 to 5" \
            "discrimination_where: not asked given the earlier answers" \
            "trust_builders: choose at most 3" \
            "favourite_colour: not a field of form resilience_baseline"; do
  grep -qF "$want" "$T/rec.err" || fail "record problems: '$want' not in: $(cat "$T/rec.err")"
done
check "every problem on its own line" "$(grep -c '^  [a-z_]*: ' "$T/rec.err")" 7
check "nothing stored after refused answers" \
  "$(sqlite3 "$T/tab/agent.db" 'SELECT count(*) FROM submissions')" "$before"

# Consent refused: metadata only.
agent tab record resilience_baseline --answers "$FIX/resilience_baseline.refused.json" \
  --area CITY-N02 >>"$T/ids"
echo '{"consent":"no","household_code":"AB-0044","wave":"w1","interview_date":"2026-03-02","belonging":3}' >"$T/refused_more.json"
rc=0
agent tab record resilience_baseline --answers "$T/refused_more.json" --area CITY-N02 2>"$T/consent.err" || rc=$?
check "answers kept after refused consent: refused" "$rc" 2
grep -q "belonging: consent was refused: only metadata is kept" "$T/consent.err" || fail "$(cat "$T/consent.err")"

# An older version is still accepted after a newer one is published.
jset "$FIX/focus_group_record.json" "'\$.facilitator', 'Facilitator D'" >"$T/fg_v1.json"
agent tab record focus_group_record --version 1 --answers "$T/fg_v1.json" --area CITY-N02 >>"$T/ids"

agent tab sync --quiet
check "every submission merged" "$(sql 'SELECT count(*) FROM submissions')" 6
check "nothing held" "$(sql 'SELECT count(*) FROM held_changes')" 0
"$FS_HUB" stats --db "$DB" --json >"$T/stats.json"
for fv in resilience_baseline:1:2 focus_group_record:1:1 focus_group_record:2:1 \
          key_informant_interview:1:1 mechanism_mapping:1:1; do
  IFS=: read -r f v n <<<"$fv"
  got=$(sqlite3 :memory: "SELECT json_extract(value, '\$.submissions') FROM json_each(readfile('$T/stats.json'), '\$.forms') WHERE json_extract(value, '\$.form') = '$f' AND json_extract(value, '\$.version') = $v")
  check "hub stats list $f version $v" "$got" "$n"
done
check "the refused-consent submission kept metadata only" \
  "$(sql "SELECT group_concat(key, ',') FROM (SELECT key FROM submissions, json_each(answers) WHERE json_extract(answers, '\$.consent') = 'no' ORDER BY key)")" \
  "consent,household_code,interview_date,wave"

# Hub-side refusal. The device's copy of demo_household is altered to
# allow a 9-point scale; the agent's validator accepts belonging = 9, the
# hub's published version does not. Good records around it still merge.
sqlite3 "$T/tab/agent.db" "UPDATE forms SET definition = json_remove(json_set(definition, '\$.fields[2].scale', 9), '\$.fields[2].scale_labels') WHERE id = 'demo_household'"
echo '{"age_band":"25-34","belonging":4}' >"$T/good.json"
echo '{"age_band":"25-34","belonging":9}' >"$T/nine.json"
agent tab record demo_household --answers "$T/good.json" --area CITY-N01 >/dev/null
bad=$(agent tab record demo_household --answers "$T/nine.json" --area CITY-N01)
agent tab record demo_household --answers "$T/good.json" --area CITY-N01 >/dev/null
out=$(agent tab sync)
echo "$out" | grep -q "1 refused" || fail "sync did not report the refusal: $out"
check "the good ones around it merged" "$(sql "SELECT count(*) FROM submissions WHERE form_id='demo_household'")" 2
check "the refused one is not at the hub" "$(sql "SELECT count(*) FROM submissions WHERE id='$bad'")" 0
check "hub kept it aside as invalid_answers" \
  "$(sql "SELECT outcome || ':' || error FROM held_changes")" "refused:invalid_answers"
sql "SELECT message FROM held_changes" | grep -qF "form demo_household v1: belonging: must be a whole number from 1 to 5" ||
  fail "hub message: $(sql 'SELECT message FROM held_changes')"
check "device keeps it quarantined" \
  "$(sqlite3 "$T/tab/agent.db" "SELECT state FROM submissions WHERE id='$bad'")" refused
agent tab status >"$T/status"
grep -q "1 submission(s) refused by the hub" "$T/status" || fail "status: $(cat "$T/status")"
grep -qF "$bad  demo_household: form demo_household v1: belonging: must be a whole number from 1 to 5" "$T/status" ||
  fail "status lacks the hub's reason: $(cat "$T/status")"
check "queue is empty" "$(pending tab)" 0
finish
