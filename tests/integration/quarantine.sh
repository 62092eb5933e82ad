#!/usr/bin/env bash
# One bad change never blocks the queue: a submission the hub cannot
# accept (its form version is unknown to a hub restored from a backup) is
# refused alone, quarantined on the device with the hub's reason and shown
# in status; the rest merges.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a1
sqlite3 "$DB" ".backup '$T/hub-before-v2.db'"

# Version 2 adds a field; the agent pulls it and records with it.
sed 's/"version": 1/"version": 2/; s/"type": "text"}/"type": "text"}, {"name": "followup", "type": "text"}/' \
  "$FS_SRC/schema/forms/demo_household.json" >"$T/v2.json"
"$FS_HUB" form publish --db "$DB" "$T/v2.json" >/dev/null
agent a1 sync --quiet
check "agent has both versions" "$(agent a1 forms --json | grep -c '"version"')" 2
echo '{"age_band":"18-24"}' >"$T/v1.json"
echo '{"age_band":"18-24","followup":"yes"}' >"$T/v2a.json"
agent a1 record demo_household --version 1 --answers "$T/v1.json" --area N-01 >/dev/null
bad=$(agent a1 record demo_household --answers "$T/v2a.json" --area N-01)
agent a1 record demo_household --version 1 --answers "$T/v1.json" --area N-01 >/dev/null

# The hub loses version 2: restored from the earlier backup.
port=$(hub_port)
stop_hub
cp "$T/hub-before-v2.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
start_hub "$port"

out=$(agent a1 sync)
echo "$out" | grep -q "1 refused" || fail "sync did not report the refusal: $out"
check "the two good ones merged" "$(sql 'SELECT count(*) FROM submissions')" 2
check "the bad one is not at the hub" "$(sql "SELECT count(*) FROM submissions WHERE id='$bad'")" 0
check "the hub kept the refused change for an admin" \
  "$(sql "SELECT outcome || ':' || error FROM held_changes")" "refused:unknown_form"
check "queue is empty" "$(pending a1)" 0
check "device keeps it as refused" \
  "$(sqlite3 "$T/a1/agent.db" "SELECT state FROM submissions WHERE id='$bad'")" refused
agent a1 status >"$T/status"
grep -q "1 submission(s) refused by the hub" "$T/status" || fail "status: $(cat "$T/status")"
grep -q "$bad.*version 2 is not published" "$T/status" || fail "status lacks reason: $(cat "$T/status")"
finish
