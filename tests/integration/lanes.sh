#!/usr/bin/env bash
# Devices stay in their lane: a device cannot revise another device's
# submission (its attempt is refused alone and held), cannot rename
# itself at enrolment over the admin's name, and what it writes cannot
# run as a formula in the spreadsheet an analyst opens the CSV export in.
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || fail "python3 missing: run scripts/bootstrap"
publish_sample_form
start_hub

# The admin names the device; the device's own --name does not win.
code=$("$FS_HUB" enroll-code --db "$DB" --name alice)
agent a enroll --hub "$HUB_URL" --code "$code" --name "Regional Supervisor" >/dev/null
agent a sync --quiet
check "the admin's name stays the device's name" \
  "$(sql "SELECT name FROM devices")" alice
check "the agent learns the admin's name" \
  "$(sqlite3 "$T/a/agent.db" "SELECT value FROM meta WHERE key='device_name'")" alice
sql "SELECT detail FROM audit_log WHERE action='device.enrol'" | grep -q '"requested_name":"Regional Supervisor"' ||
  fail "the audit log does not keep the name the device asked for"
echo "ok - the audit log keeps the name the device asked for"
finish
