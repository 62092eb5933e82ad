#!/usr/bin/env bash
# When a device's areas or forms change, the hub tells it on its next
# sync and it purges what it may no longer hold - but never a record it
# has not yet delivered. Newly assigned forms reach it even though its
# cursor passed them long ago.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
sed 's/demo_household/mechanism_check/' "$FS_SRC/schema/forms/demo_household.json" >"$T/f2.json"
"$FS_HUB" form publish --db "$DB" "$T/f2.json" >/dev/null
start_hub
code=$("$FS_HUB" enroll-code --db "$DB" --name tab --areas CITY-N01,CITY-N02 --forms demo_household)
agent tab enroll --hub "$HUB_URL" --code "$code" >/dev/null
agent tab sync --quiet
dev=$(sqlite3 "$T/tab/agent.db" "SELECT value FROM meta WHERE key='device_id'")
check "device got only its form" "$(agent tab forms --json | grep -c '"id"')" 1

record_n tab 3 CITY-N01
record_n tab 2 CITY-N02
agent tab sync --quiet
record_n tab 1 CITY-N02                     # not yet delivered
check "hub holds 5" "$(sql 'SELECT count(*) FROM submissions')" 5

"$FS_HUB" device scope --db "$DB" "$dev" --areas CITY-N01 --forms demo_household,mechanism_check >/dev/null
out=$(agent tab sync)
echo "$out"
echo "$out" | grep -q "removed 2 record(s)" || fail "no purge reported: $out"
local_n() { sqlite3 "$T/tab/agent.db" "SELECT count(*) FROM submissions WHERE area='$1' AND state='$2'"; }
check "device purged the delivered CITY-N02 records" "$(local_n CITY-N02 sent)" 0
check "device keeps the refused one to show its reason" "$(local_n CITY-N02 refused)" 1
check "device kept its CITY-N01 records" "$(local_n CITY-N01 sent)" 3
check "the undelivered CITY-N02 record was sent, and held by the hub as out of scope" \
  "$(sql "SELECT error FROM held_changes")" out_of_scope
check "hub still holds everything it had" "$(sql 'SELECT count(*) FROM submissions')" 5
check "newly assigned form arrived" "$(agent tab forms --json | grep -c '"id"')" 2
rc=0
agent tab record demo_household --answers "$T/tab.answers.json" --area CITY-N02 2>/dev/null || rc=$?
check "recording in the removed area is refused offline" "$rc" 2
check "integrity of the device database" "$(sqlite3 "$T/tab/agent.db" 'PRAGMA integrity_check')" ok
agent tab sync --quiet
check "nothing left to send" "$(pending tab)" 0
sql "SELECT detail FROM audit_log WHERE action='device.scope'" | grep -q '"previous_areas":"CITY-N01,CITY-N02"' \
  || fail "scope change not audited"
echo "ok - scope change audited"
finish
