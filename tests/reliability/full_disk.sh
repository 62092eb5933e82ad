#!/usr/bin/env bash
# Full disks. The hub's database lives on a small tmpfs: when it is full, a
# push is refused with 507 storage_full and a clear message, nothing of it
# is acknowledged or stored, the hub keeps serving reads, and once space
# returns the agent's retry lands exactly once. An agent whose own disk is
# full refuses a new record with a clear message and keeps what it had.
# Needs root for mount(8); without it the test is skipped (exit 77).
. "$(dirname "$0")/../lib.sh"
rel_trap

mkdir -p "$T/hubfs" "$T/agentfs"
if ! mount -t tmpfs -o size=2m tmpfs "$T/hubfs" 2>/dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root)"
  exit 77
fi
MOUNTS+=("$T/hubfs")
mount -t tmpfs -o size=1m tmpfs "$T/agentfs" || fail "second tmpfs"
MOUNTS+=("$T/agentfs")

DB="$T/hubfs/hub.db"
publish_sample_form
start_hub
new_agent a1
record_n a1 5
agent a1 sync --quiet
check "5 at the hub" "$(sql 'SELECT count(*) FROM submissions')" 5

# fill DIR: takes every free block of DIR's file system.
fill() {
  dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null || true
  sync
}

# --- the hub's disk is full ---------------------------------------------
# Enough new records with long comments that the merge needs new pages.
long=$(head -c 9000 /dev/zero | tr '\0' 'x')
for i in $(seq 1 14); do
  printf '{"age_band":"25-34","comment":"%s %d"}' "$long" "$i" >"$T/big.json"
  agent a1 record demo_household --answers "$T/big.json" --area F-1 >>"$T/a1.ids"
done
fill "$T/hubfs"
before=$(hub_fingerprint)
rc=0
agent a1 sync --retries 1 2>"$T/err" || rc=$?
check "sync against a full hub exits 3 (kept, retry later)" "$rc" 3
grep -q "disk is full" "$T/err" || fail "no clear message: $(cat "$T/err")"
check "message names the storage_full error" "$(grep -c storage_full "$T/err")" 1
check "nothing acknowledged on the device" "$(pending a1)" 14
check "nothing of the push stored at the hub" "$(hub_fingerprint)" "$before"
check "hub still answers /healthz" "$(curl -fsS "$HUB_URL/healthz" | grep -c '"ok"')" 1
tok=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")
check "hub still serves pulls" "$(curl -s -o /dev/null -w '%{http_code}' \
  -H "Authorization: Bearer $tok" "$HUB_URL/api/v1/pull?after=0")" 200
check "admin stats still read" "$("$FS_HUB" stats --db "$DB" >/dev/null && echo ok)" ok

rm -f "$T/hubfs/filler"
agent a1 sync --quiet
check "after space returns: 19 at the hub" "$(sql 'SELECT count(*) FROM submissions')" 19

# --- the device's disk is full ------------------------------------------
code=$("$FS_HUB" enroll-code --db "$DB" --name a2)
"$FS_AGENT" --dir "$T/agentfs/a2" enroll --hub "$HUB_URL" --code "$code" >/dev/null
"$FS_AGENT" --dir "$T/agentfs/a2" sync --quiet
for i in 1 2 3; do
  answers_file "$T/a2.json" "$i"
  "$FS_AGENT" --dir "$T/agentfs/a2" record demo_household --answers "$T/a2.json" \
    --area F-2 >>"$T/a2.ids"
done
fill "$T/agentfs"
rc=0
for i in $(seq 1 40); do
  printf '{"age_band":"25-34","comment":"%s %d"}' "$long" "$i" >"$T/big.json"
  "$FS_AGENT" --dir "$T/agentfs/a2" record demo_household --answers "$T/big.json" \
    --area F-2 >>"$T/a2.ids" 2>"$T/err" || { rc=$?; break; }
done
check "record on a full device exits 1" "$rc" 1
grep -q "storage is full" "$T/err" || fail "no clear message: $(cat "$T/err")"
rm -f "$T/agentfs/filler"
check "device database intact once space returns" \
  "$(sqlite3 "$T/agentfs/a2/agent.db" 'PRAGMA integrity_check')" ok
kept=$(wc -l <"$T/a2.ids")
check "device kept every record it accepted" \
  "$("$FS_AGENT" --dir "$T/agentfs/a2" status --json | sed -n 's/.*"pending":[[:space:]]*\([0-9]*\).*/\1/p')" "$kept"
"$FS_AGENT" --dir "$T/agentfs/a2" sync --quiet
mkdir -p "$T/a2"
ln -sf "$T/agentfs/a2/agent.db" "$T/a2/agent.db"
audit_exactly_once a1 a2
finish
