#!/usr/bin/env bash
# Submissions meeting admin work: an amendment based on a revision an
# admin has corrected meanwhile opens a conflict (the correction is not
# overwritten) that an admin settles; two submissions with the same
# dedupe key are both kept and listed as possible duplicates; bad input
# changes nothing; every admin action is in the audit log.
. "$(dirname "$0")/../lib.sh"

"$FS_HUB" form publish --db "$DB" "$FS_SRC/tests/fixtures/forms/fill_survey.json" >/dev/null
"$FS_HUB" form publish --db "$DB" "$FS_SRC/tests/fixtures/forms/dedupe_survey.json" >/dev/null
start_hub
for n in tab1 tab2; do
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$n" --areas CITY-N01 2>/dev/null)
  agent "$n" enroll --hub "$HUB_URL" --code "$code" --collector "${n^}" >/dev/null
  agent "$n" sync --quiet
done

# ---- amendment after an admin correction ---------------------------------
echo '{"consent":"yes","visit_date":"2026-03-01","years":3,"trust":4}' >"$T/a.json"
id=$(agent tab1 record fill_survey --answers "$T/a.json" --area CITY-N01)
agent tab1 sync --quiet
echo '{"consent":"yes","visit_date":"2026-03-01","years":30,"trust":4}' >"$T/fix.json"
echo '{"consent":"yes","visit_date":"2026-03-01","years":"many","trust":4}' >"$T/bad.json"
before=$(hub_fingerprint)
rc=0; "$FS_HUB" correct --db "$DB" "$id" --answers "$T/bad.json" 2>"$T/err" || rc=$?
check "a correction breaking the form: refused" "$rc" 2
grep -q "years" "$T/err" || fail "the error does not name the field: $(cat "$T/err")"
rc=0; "$FS_HUB" correct --db "$DB" 0192aaaa-0000-7000-8000-000000000000 --answers "$T/fix.json" 2>/dev/null || rc=$?
check "a correction of an unknown submission: refused" "$rc" 2
check "refused corrections changed nothing" "$(hub_fingerprint)" "$before"
"$FS_HUB" correct --db "$DB" "$id" --answers "$T/fix.json" >/dev/null
check "the admin correction is revision 2" "$(sql "SELECT max(rev) FROM submissions WHERE id='$id'")" 2

# The device, not knowing, amends revision 1 (keeps every answer).
printf '%s\n' '' '' '' '' '' '' y | agent tab1 amend "$id" >/dev/null
agent tab1 sync --quiet
check "the amendment opens a conflict" \
  "$(sql "SELECT count(*) FROM conflicts WHERE kind='submission' AND ref='$id' AND status='open'")" 1
check "the correction is not overwritten" \
  "$(sql "SELECT json_extract(answers, '$.years') FROM submissions WHERE id='$id' ORDER BY rev DESC LIMIT 1")" 30
check "the device is told" "$(sqlite3 "$T/tab1/agent.db" "SELECT hub_error FROM submissions WHERE id='$id' AND rev=2")" conflict
"$FS_HUB" conflicts --db "$DB" --json >"$T/c.json"
grep -q "\"submission\":[[:space:]]*\"$id\"" "$T/c.json" || fail "conflicts does not list it: $(cat "$T/c.json")"
cid=$(sql "SELECT id FROM conflicts WHERE ref='$id'")
n_dev=$(sql "SELECT n FROM conflict_values WHERE conflict_id=$cid AND version IS NULL")
rc=0; "$FS_HUB" resolve --db "$DB" "$cid" --value 3 2>/dev/null || rc=$?
check "a submission conflict takes --choose only" "$rc" 2
"$FS_HUB" resolve --db "$DB" "$cid" --choose "$n_dev" >/dev/null
check "choosing the amendment makes it the next revision" \
  "$(sql "SELECT rev || ':' || json_extract(answers, '$.years') FROM submissions WHERE id='$id' ORDER BY rev DESC LIMIT 1")" 3:3

# ---- possible duplicate respondents --------------------------------------
echo '{"household_code":"AB-0042","wave":"w1","members":4}' >"$T/d1.json"
echo '{"household_code":"AB-0042","wave":"w1","members":5}' >"$T/d2.json"
echo '{"household_code":"AB-0043","wave":"w1","members":2}' >"$T/d3.json"
s1=$(agent tab1 record dedupe_survey --answers "$T/d1.json" --area CITY-N01)
s2=$(agent tab2 record dedupe_survey --answers "$T/d2.json" --area CITY-N01)
agent tab2 record dedupe_survey --answers "$T/d3.json" --area CITY-N01 >/dev/null
agent tab1 sync --quiet
agent tab2 sync --quiet
check "all three kept" "$(sql "SELECT count(*) FROM submissions WHERE form_id='dedupe_survey'")" 3
"$FS_HUB" duplicates --db "$DB" --json >"$T/dup.json"
check "one group of possible duplicates" "$(grep -c '"key"' "$T/dup.json")" 1
grep -q "$s1" "$T/dup.json" && grep -q "$s2" "$T/dup.json" || fail "the group lacks one of them: $(cat "$T/dup.json")"
grep -q 'AB-0043' "$T/dup.json" && fail "a lone household is listed"
"$FS_HUB" duplicates --db "$DB" | grep -q 'dedupe_survey key "AB-0042"|"w1"' || fail "duplicates text output"
admin=$("$FS_HUB" token create --db "$DB" --role admin --name ops 2>/dev/null)
out=$(curl -sS -H "Authorization: Bearer $admin" "$HUB_URL/api/v1/admin/duplicates")
grep -q "$s2" <<<"$out" || fail "API duplicates lacks $s2: $out"
echo "ok - the API lists them"

# ---- audit -------------------------------------------------------------
"$FS_HUB" review --db "$DB" "$s1" --state has_issues --comment "same household as another visit?" >/dev/null
for action in submission.correct conflict.resolve submission.review token.create; do
  check "audit: $action" "$(sql "SELECT count(*) > 0 FROM audit_log WHERE action='$action'")" 1
done
out=$(curl -sS -H "Authorization: Bearer $admin" "$HUB_URL/api/v1/admin/audit")
grep -q '"action":"conflict.resolve"' <<<"$out" || fail "the audit API lacks the resolution"
echo "ok - the audit API shows them"
aggregates_exact
finish
