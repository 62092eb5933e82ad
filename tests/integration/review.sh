#!/usr/bin/env bash
# Review back to the field: a reviewer marks a submission "has issues"
# with a comment, an admin approves another; both reach the submitting
# device on its next sync, its status lists what needs attention, and an
# amendment answers the reviewer.
. "$(dirname "$0")/../lib.sh"

"$FS_HUB" form publish --db "$DB" "$FS_SRC/tests/fixtures/forms/fill_survey.json" >/dev/null
start_hub
code=$("$FS_HUB" enroll-code --db "$DB" --name tab --areas CITY-N01 2>/dev/null)
agent tab enroll --hub "$HUB_URL" --code "$code" >/dev/null
agent tab sync --quiet
one='{"consent":"yes","visit_date":"2026-03-01","years":3,"trust":4}'
echo "$one" >"$T/a.json"
first=$(agent tab record fill_survey --answers "$T/a.json" --area CITY-N01)
second=$(agent tab record fill_survey --answers "$T/a.json" --area CITY-N01)
agent tab sync --quiet
check "both at the hub, received" "$(sql "SELECT group_concat(review_state) FROM submissions")" "received,received"

token=$("$FS_HUB" token create --db "$DB" --role reviewer --name lina --areas CITY-N01 2>/dev/null)
out=$(curl -sS -w ' %{http_code}' -H "Authorization: Bearer $token" -X POST "$HUB_URL/api/v1/admin/review" \
  --data-binary "{\"submission\":\"$first\",\"state\":\"has_issues\",\"comment\":\"age missing, please revisit\"}")
check "reviewer marks has_issues" "${out##* }" 200
"$FS_HUB" review --db "$DB" "$second" --state approved >/dev/null
rc=0
"$FS_HUB" review --db "$DB" "$second" --state maybe 2>/dev/null || rc=$?
check "an unknown state is refused" "$rc" 2

agent tab sync --quiet
check "device holds the review states" \
  "$(sqlite3 "$T/tab/agent.db" "SELECT group_concat(review_state, ',') FROM (SELECT review_state FROM submissions ORDER BY created_ms)")" "has_issues,approved"
agent tab status >"$T/status"
grep -q "1 submission(s) need attention" "$T/status" || fail "status: $(cat "$T/status")"
grep -q "$first  fill_survey: has_issues: age missing, please revisit" "$T/status" || fail "status lacks the comment: $(cat "$T/status")"
agent tab show "$first" | grep -q 'review: has_issues - "age missing, please revisit"' || fail "show lacks the review"
check "status --json counts it" "$(agent tab status --json | sed -n 's/.*"needs_attention":[[:space:]]*\([0-9]*\).*/\1/p')" 1

# The enumerator revisits and amends: revision 2 goes to the hub.
printf '%s\n' '' '' '' '' '' '' y | agent tab amend "$first" >/dev/null
agent tab sync --quiet
check "amendment at the hub" "$(sql "SELECT max(rev) FROM submissions WHERE id='$first'")" 2
check "every review audited" "$(sql "SELECT count(*) FROM audit_log WHERE action='submission.review'")" 2
sql "SELECT actor FROM audit_log WHERE action='submission.review'" | grep -q 'token:lina' || fail "reviewer not named in the audit log"
echo "ok - the audit log names the reviewer"
aggregates_exact
finish
