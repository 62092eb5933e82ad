#!/usr/bin/env bash
# The registry's change log does not keep old personal values servable:
# an admin changes a stakeholder's contact phone, and a device enrolled
# afterwards that pulls the whole log never sees the old number. Moving
# an entity to another area tells the devices of the old area to drop
# it.
. "$(dirname "$0")/../lib.sh"

start_hub
enroll() { # NAME AREAS
  local code
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$1" --areas "$2" --role outreach 2>/dev/null)
  agent "$1" enroll --hub "$HUB_URL" --code "$code" --collector "${1^}" >/dev/null
  agent "$1" sync --quiet
}
aval() { sqlite3 "$T/$1/agent.db" "SELECT value FROM entity_fields WHERE entity_id='$2' AND name='$3'"; }
held() { sqlite3 "$T/$1/agent.db" "SELECT count(*) FROM entities WHERE id='$2' AND deleted = 0"; }

enroll amina CITY-N01
s=$(agent amina entity new stakeholder name="Youth club Nord" kind=ngo area=CITY-N01 contact_phone="+33 1 11 11 11 11")
agent amina sync --quiet
agent amina entity set "$s" contact_phone="+33 1 22 22 22 22"
agent amina sync --quiet
"$FS_HUB" entity put --db "$DB" stakeholder "$s" --fields '{"contact_phone":"+33 1 33 33 33 33"}' >/dev/null
agent amina sync --quiet
check "the device holds the admin's number" "$(aval amina "$s" contact_phone)" '"+33 1 33 33 33 33"'

# A device enrolled later pulls the whole log.
enroll late CITY-N01
check "the late device holds the current number" "$(aval late "$s" contact_phone)" '"+33 1 33 33 33 33"'
tok=$(sqlite3 "$T/late/agent.db" "SELECT value FROM meta WHERE key='token'")
curl -sS -H "Authorization: Bearer $tok" "$HUB_URL/api/v1/pull?after=0&limit=500" >"$T/pull.json"
check "the log served from the start" "$(grep -c "$s" "$T/pull.json")" 1
check "... holds no old number" "$(grep -o '+33 1 [0-9 ]*' "$T/pull.json" | sort -u | tr '\n' ' ')" "+33 1 33 33 33 33 "
check "... nor does the hub's change log" \
  "$(sql "SELECT count(*) FROM change_log WHERE payload LIKE '%11 11 11 11%' OR payload LIKE '%22 22 22 22%'")" 0

# Moved to another area by an admin: the old area's devices drop it.
enroll lea CITY-N02
check "a device of another area does not hold it" "$(held lea "$s")" 0
"$FS_HUB" entity put --db "$DB" stakeholder "$s" --fields '{"area":"CITY-N02"}' >/dev/null
for n in amina late lea; do agent "$n" sync --quiet; done
check "the devices of the old area dropped it" "$(held amina "$s") $(held late "$s")" "0 0"
check "the device of the new area holds it" "$(held lea "$s") $(aval lea "$s" contact_phone)" '1 "+33 1 33 33 33 33"'
enroll later CITY-N01
check "a device enrolled later in the old area never holds it" "$(held later "$s")" 0
finish
