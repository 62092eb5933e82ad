#!/usr/bin/env bash
# The hub is stopped (cleanly, then killed) and restarted between syncs:
# nothing acknowledged is lost, nothing is doubled.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a1
record_n a1 30
agent a1 sync --quiet
check "30 after first sync" "$(sql 'SELECT count(*) FROM submissions')" 30

port=$(hub_port)
stop_hub
grep -q "stopped" "$T/hub.log" || fail "hub did not report a clean stop"
start_hub "$port"
check "30 after a clean restart" "$(sql 'SELECT count(*) FROM submissions')" 30
record_n a1 20
agent a1 sync --quiet
check "50 after second sync" "$(sql 'SELECT count(*) FROM submissions')" 50

# A power-cut-like stop: SIGKILL, no chance to flush anything.
kill_hub
check "integrity after SIGKILL" "$(sql 'PRAGMA integrity_check')" ok
check "50 survive SIGKILL" "$(sql 'SELECT count(*) FROM submissions')" 50
start_hub "$port"
record_n a1 10
agent a1 sync --quiet
check "60 after restart from SIGKILL" "$(sql 'SELECT count(*) FROM submissions')" 60
check "60 distinct" "$(sql 'SELECT count(DISTINCT id) FROM submissions')" 60
check "agent has nothing pending" "$(pending a1)" 0
finish
