#!/usr/bin/env bash
# fieldsync-hub backup and restore: a backup taken while agents sync is a
# consistent database (integrity ok, every receipt's submissions there),
# mode 0600, and leaves no temporary file; restore refuses an existing
# database, a missing file and a damaged backup (nothing written), and a
# restored copy serves: an agent syncs on into it. A wrong --db is
# refused rather than backed up as a new, empty database.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a
record_n a 30
agent a sync --quiet --batch 2 >/dev/null 2>"$T/sync.err" &
spid=$!
"$FS_HUB" backup --db "$DB" -o "$T/b1.db" >"$T/backup.out"
wait "$spid" || fail "sync during the backup failed: $(cat "$T/sync.err")"
grep -q "written to $T/b1.db" "$T/backup.out" || fail "no report: $(cat "$T/backup.out")"
check "the backup is mode 0600" "$(stat -c %a "$T/b1.db")" 600
check "no temporary file is left" "$(ls "$T" | grep -c 'tmp-')" 0
check "the backup passes integrity_check" \
  "$(sqlite3 "$T/b1.db" 'PRAGMA integrity_check')" ok
# Consistent: each receipt's changes are in the copy, and no more.
check "the backup's receipts match its submissions" \
  "$(sqlite3 "$T/b1.db" 'SELECT coalesce(sum(last_seq - first_seq + 1), 0) = (SELECT count(*) FROM submissions) FROM receipts')" 1

rc=0
"$FS_HUB" backup --db "$T/no-such.db" -o "$T/b2.db" 2>"$T/err" || rc=$?
check "a missing --db is refused" "$rc" 2
check "and creates nothing" "$(ls "$T" | grep -c -e no-such -e b2.db)" 0

rc=0
"$FS_HUB" restore --db "$DB" "$T/b1.db" 2>"$T/err" || rc=$?
check "restore refuses a database that exists" "$rc" 2
grep -q -- '--force' "$T/err" || fail "no hint at --force: $(cat "$T/err")"

head -c 8192 "$T/b1.db" >"$T/bad.db"
head -c 100000 /dev/urandom >>"$T/bad.db"
rc=0
"$FS_HUB" restore --db "$T/r-bad.db" "$T/bad.db" 2>"$T/err" || rc=$?
check "a damaged backup is refused" "$rc" 2
check "and nothing is put in place" "$(ls "$T" | grep -c r-bad)" 0

stop_hub
port=$(cut -d: -f3 <<<"$HUB_URL")
"$FS_HUB" restore --db "$T/restored.db" "$T/b1.db" >/dev/null
check "the restored database is mode 0600" "$(stat -c %a "$T/restored.db")" 600
DB=$T/restored.db
start_hub "$port"
sync_until_done a
check "the agent syncs on into the restored hub: all 30 there" \
  "$(sql 'SELECT count(*) FROM submissions')" 30
finish
