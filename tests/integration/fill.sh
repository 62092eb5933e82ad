#!/usr/bin/env bash
# The interactive fill, driven through piped input as a person would type:
# a refused answer then a corrected one, skip logic, going back, saving a
# draft, resuming it, finalizing, syncing; a killed fill keeps every answer
# given; an amendment travels as revision 2 with base_rev 1.
. "$(dirname "$0")/../lib.sh"

"$FS_HUB" form publish --db "$DB" "$FS_SRC/tests/fixtures/forms/fill_survey.json" >/dev/null
start_hub
code=$("$FS_HUB" enroll-code --db "$DB" --name tab --areas CITY-N01,CITY-N02 2>/dev/null)
agent tab enroll --hub "$HUB_URL" --code "$code" >/dev/null
agent tab sync --quiet
adb() { sqlite3 "$T/tab/agent.db" "$@"; }
check "forms lists titles in the chosen language" \
  "$(agent tab forms --lang fr | grep -c 'Visite de quartier (test de saisie)')" 1
check "an unknown language falls back to the form's default" \
  "$(agent tab forms --lang de | grep -c 'Neighbourhood visit (fill test)')" 1

# Area, consent, date, a refused age then the right one, low trust (which
# brings the follow-up), back, higher trust (which drops it), places, and
# save as draft before the last question.
printf '%s\n' CITY-N01 1 today 150 12 2 '<' 4 '1 3' ':save' |
  agent tab fill fill_survey --lang fr >"$T/fill1.out"
grep -q "Depuis combien d'années habitez-vous ici" "$T/fill1.out" || fail "no French label"
grep -q "0 si moins d'un an" "$T/fill1.out" || fail "no French hint"
grep -q "! above the maximum 100" "$T/fill1.out" || fail "refused answer not explained: $(cat "$T/fill1.out")"
grep -q "Qu'est-ce qui renforcerait" "$T/fill1.out" || fail "follow-up for low trust never asked"
draft=$(sed -n 's/^Saved as draft \([0-9a-f-]*\)\..*/\1/p' "$T/fill1.out")
[ -n "$draft" ] || fail "no draft id in: $(tail -3 "$T/fill1.out")"
check "one draft listed" "$(agent tab drafts | grep -c "$draft")" 1
check "draft answers so far" "$(adb "SELECT json_extract(answers, '$.years') || ',' || json_extract(answers, '$.trust') || ',' || json_extract(answers, '$.places') || ',' || coalesce(json_extract(answers, '$.why_low'), 'none') FROM drafts")" \
  '12,4,["market","park"],none'
check "nothing finalized yet" "$(adb 'SELECT count(*) FROM submissions')" 0

# Resume: the location, then finalize.
printf '%s\n' '48.8566 2.3522 15' y | agent tab resume "$draft" >"$T/fill2.out"
grep -q "^Finalized: $draft" "$T/fill2.out" || fail "not finalized: $(tail -5 "$T/fill2.out")"
check "draft gone" "$(adb 'SELECT count(*) FROM drafts')" 0
check "submission stored with its outbox row" "$(adb "SELECT count(*) FROM submissions s JOIN outbox o ON o.ref_id = s.id WHERE s.id = '$draft'")" 1
agent tab show "$draft" >"$T/show"
grep -q "Where do you meet neighbours?: Market, Park" "$T/show" || fail "show: $(cat "$T/show")"
agent tab sync --quiet
check "at the hub" "$(sql "SELECT json_extract(answers, '$.location.lat') || ' ' || area FROM submissions WHERE id = '$draft'")" "48.8566 CITY-N01"

# Refused consent: only metadata is kept, the rest is not even asked.
printf '%s\n' CITY-N02 2 today y | agent tab fill fill_survey >"$T/fill3.out"
grep -q "How many years" "$T/fill3.out" && fail "asked beyond refused consent"
refused=$(sed -n 's/^Finalized: \([0-9a-f-]*\).*/\1/p' "$T/fill3.out")
check "refused consent keeps metadata only" "$(adb "SELECT answers FROM submissions WHERE id = '$refused'" | sed 's/"visit_date":"[0-9-]*"/"visit_date":D/')" \
  '{"consent":"no","visit_date":D}'

# Killed mid-form: every answer given before the kill is in the draft.
mkfifo "$T/typing"
# The binary itself, not the agent() function: a function in the
# background is a subshell, and the kill would miss the agent.
"$FS_AGENT" --dir "$T/tab" fill fill_survey <"$T/typing" >"$T/fill4.out" &
filler=$!
exec {w}>"$T/typing"
printf '%s\n' CITY-N01 1 today 7 >&$w
for i in $(seq 1 300); do   # up to 30 s on a loaded machine
  [ "$(adb "SELECT coalesce(json_extract(answers, '$.years'), 0) FROM drafts ORDER BY created_ms DESC LIMIT 1")" = 7 ] && break
  sleep 0.1
done
kill -KILL "$filler"
rc=0
wait "$filler" 2>/dev/null || rc=$?
exec {w}>&-
check "the fill was killed, not ended" "$rc" 137
check "no fill left running" "$(pgrep -f -- "--dir $T/tab fill" | wc -l)" 0
check "answers given before SIGKILL survive" \
  "$(adb "SELECT json_extract(answers, '$.consent') || ',' || json_extract(answers, '$.years') || ',' || area FROM drafts ORDER BY created_ms DESC LIMIT 1")" "yes,7,CITY-N01"
check "agent database intact after the kill" "$(adb 'PRAGMA integrity_check')" ok

# Amend the first submission: keep every answer but trust, which drops to
# 1 and brings the follow-up question.
printf '%s\n' '' '' '' 1 'More listening' '' '' y | agent tab amend "$draft" >"$T/amend.out"
grep -q "^Finalized: $draft (amended)" "$T/amend.out" || fail "amend: $(tail -5 "$T/amend.out")"
check "revision 2 kept beside revision 1" "$(adb "SELECT group_concat(rev || ':' || base_rev) FROM (SELECT rev, base_rev FROM submissions WHERE id = '$draft' ORDER BY rev)")" "1:0,2:1"
agent tab sync --quiet
check "the hub holds both revisions" "$(sql "SELECT group_concat(rev || ':' || base_rev || ':' || json_extract(answers, '$.trust')) FROM (SELECT * FROM submissions WHERE id = '$draft' ORDER BY rev)")" "1:0:4,2:1:1"
check "the amendment carries the follow-up" "$(sql "SELECT json_extract(answers, '$.why_low') FROM submissions WHERE id = '$draft' AND rev = 2")" "More listening"
finish
