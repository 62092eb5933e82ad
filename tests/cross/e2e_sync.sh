#!/usr/bin/env bash
# An agent built for another architecture (armhf or arm64, run under
# qemu-user: FS_AGENT is its wrapper) records offline and syncs to a
# native x86-64 hub, which merges every record exactly once. The formats
# are the same on both sides of the emulation:
#  - a native agent reads the emulated agent's database (a copy taken
#    before its sync) and builds the very same changesets, byte for byte
#    once decompressed; the hub takes the native copy's push as a replay
#    (same receipt digest) and changes nothing;
#  - the emulated agent shows a time after January 2038 (a 32-bit
#    time_t would wrap it to 1901).
# Inputs: FS_HUB, FS_AGENT (emulated), FS_AGENT_NATIVE, FS_SRC.
. "$(dirname "$0")/../lib.sh"
: "${FS_AGENT_NATIVE:?FS_AGENT_NATIVE must name a native fieldsync-agent}"

publish_sample_form
start_hub
new_agent arm
record_n arm 6
cp -a "$T/arm" "$T/x86" # the same database, before its sync
mkdir "$T/trace-arm" "$T/trace-x86"

FIELDSYNC_TRACE_DIR=$T/trace-arm agent arm sync --quiet --batch 4
check "the hub holds the six records" "$(sql 'SELECT count(*) FROM submissions')" 6
audit_exactly_once arm

state() {
  sql "SELECT id, rev, digest, answers FROM submissions ORDER BY id, rev;
       SELECT first_seq, last_seq, digest, reply FROM receipts ORDER BY 1;
       SELECT count(*) FROM held_changes"
}
before=$(state)
rc=0
FIELDSYNC_TRACE_DIR=$T/trace-x86 "$FS_AGENT_NATIVE" --dir "$T/x86" sync \
  --quiet --batch 4 2>"$T/x86.err" || rc=$?
check "a native agent syncs the emulated agent's database" "$rc" 0
check "its push is a replay: the hub changes nothing" "$(state)" "$before"
check "the native agent's copy has nothing left to send" "$(pending x86)" 0

n=0
for f in "$T"/trace-arm/push-*.json.gz; do
  g=$T/trace-x86/$(basename "$f")
  [ -f "$g" ] || fail "no native push $(basename "$g")"
  cmp -s <(gzip -dc "$f") <(gzip -dc "$g") ||
    fail "$(basename "$f") differs between the architectures"
  n=$((n + 1))
done
check "changesets compared (6 records in batches of 4)" "$n" 2

# 2041-01-01T00:00:00Z in milliseconds: past 2038-01-19, where a 32-bit
# time_t ends.
sqlite3 "$T/arm/agent.db" \
  "UPDATE meta SET value = '2240611200000' WHERE key = 'last_sync_ms'"
agent arm status >"$T/status.txt"
grep -q '2041-01-01 00:00:00 UTC' "$T/status.txt" ||
  fail "status shows no 2041 date: $(grep -i sync "$T/status.txt")"
check "a date after 2038 is shown as it is" ok ok
finish
