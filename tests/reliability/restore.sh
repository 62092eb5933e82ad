#!/usr/bin/env bash
# Restores on both sides at once, taken while agents were syncing: the hub
# is restored (fieldsync-hub restore, into a new path) from a live backup
# (fieldsync-hub backup), one agent from a live copy of its
# database made later. Everything either side still holds reaches the hub
# exactly once; what neither side holds any more (records made after the
# agent's copy and stored at the hub after its backup) is listed by id,
# and must be exactly those records: nothing else may be missing.
# (realign.sh covers each restore alone.)
. "$(dirname "$0")/../lib.sh"
rel_trap

publish_sample_form
start_hub
port=$(hub_port)
for a in a1 a2; do new_agent "$a"; done

# bg_sync: both agents sync in the background, small batches.
bg_sync() {
  SPIDS=()
  for a in a1 a2; do
    agent "$a" sync --quiet --batch 2 >/dev/null 2>>"$T/$a.sync.log" &
    SPIDS+=($!)
  done
}
wait_sync() {
  local p
  for p in "${SPIDS[@]}"; do wait "$p" || fail "a sync failed"; done
}

for a in a1 a2; do record_n "$a" 8; done
bg_sync
sleep 0.1
"$FS_HUB" backup --db "$DB" -o "$T/hub-backup.db" >/dev/null  # hub, mid-sync
wait_sync
for a in a1 a2; do record_n "$a" 4; done
bg_sync
sqlite3 "$T/a1/agent.db" ".backup '$T/a1-copy.db'" # a1, mid-sync, later
wait_sync
cp "$T/a1.ids" "$T/a1.ids-at-copy"
record_n a1 6                                      # after a1's copy
record_n a2 2
for a in a1 a2; do agent "$a" sync --quiet; done
check "hub holds 32 before the restores" "$(sql 'SELECT count(*) FROM submissions')" 32

stop_hub
rc=0
"$FS_HUB" restore --db "$DB" "$T/hub-backup.db" 2>/dev/null || rc=$?
check "restore refuses to replace an existing database" "$rc" 2
"$FS_HUB" restore --db "$T/restored.db" "$T/hub-backup.db" >/dev/null
DB=$T/restored.db # the new hub serves the restored copy
cp "$T/a1-copy.db" "$T/a1/agent.db"
rm -f "$T/a1/agent.db-wal" "$T/a1/agent.db-shm"
start_hub "$port"
restored=$(sql 'SELECT count(*) FROM submissions')
echo "hub restored with $restored submissions"

record_n a1 3                                      # life goes on
record_n a2 3
for a in a1 a2; do sync_until_done "$a"; done

# What is gone for good: printed by a1 after its copy, absent at the hub.
comm -23 <(sort "$T/a1.ids") <(sort "$T/a1.ids-at-copy") | sort >"$T/after-copy"
sql 'SELECT id FROM submissions' | sort >"$T/hub-now"
comm -23 "$T/after-copy" "$T/hub-now" >"$T/unrecoverable"
for id in $(head -n 3 "$T/unrecoverable"); do echo "unrecoverable: $id"; done
# a1's six records after its copy were at the hub only after its backup,
# so neither side holds them; the three after the restore arrive.
check "unrecoverable records are a1's six made after its copy" \
  "$(wc -l <"$T/unrecoverable")" 6
check "each of them was made after a1's copy" \
  "$(comm -12 "$T/unrecoverable" "$T/after-copy" | wc -l)" 6
grep -vxF -f "$T/unrecoverable" "$T/a1.ids" >"$T/a1.ids-kept" || true
mv "$T/a1.ids-kept" "$T/a1.ids"
audit_exactly_once a1 a2
check "hub holds 32 - 6 + 6 new" "$(sql 'SELECT count(*) FROM submissions')" 32
finish
