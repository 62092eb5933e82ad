#!/usr/bin/env bash
# The hub's admin page in a real browser, against a real hub that real
# agents synced to: a wrong token is refused with a message, a reviewer
# sees only their areas and approves a submission (the hub database and
# the audit log must show it), an admin sees the devices.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent north
new_agent south
record_n north 3 N-01
record_n south 2 N-02
agent north sync --quiet
agent south sync --quiet
check "five submissions at the hub" "$(sql "SELECT count(*) FROM submissions")" 5

reviewer=$("$FS_HUB" token create --db "$DB" --role reviewer --name rita --areas N-01 2>/dev/null)
admin=$("$FS_HUB" token create --db "$DB" --role admin --name ada 2>/dev/null)
target=$(sed -n 2p "$T/north.ids")

FS_URL="$HUB_URL" FS_REVIEWER="$reviewer" FS_ADMIN="$admin" \
  FS_TARGET="$target" FS_SHOTS="$T" \
  node "$FS_SRC/tests/browser/admin_page.mjs" || fail "browser checks failed (see above)"

check "the approval is in the hub database" \
  "$(sql "SELECT review_state || '|' || review_comment FROM submissions WHERE id='$target'")" \
  "approved|checked on the admin page"
check "no other submission changed state" \
  "$(sql "SELECT count(*) FROM submissions WHERE review_state <> 'received'")" 1
check "the audit log names the reviewer and the submission" \
  "$(sql "SELECT actor || '|' || json_extract(detail, '$.submission') || '|' || json_extract(detail, '$.state') FROM audit_log WHERE action='submission.review'")" \
  "token:rita|$target|approved"
agent north sync --quiet
check "the approval reached the device" \
  "$(sqlite3 "$T/north/agent.db" "SELECT review_state FROM submissions WHERE id='$target'")" approved
finish
