#!/usr/bin/env bash
# The hub copies its write-ahead log into the database file on a thread of
# its own (sync-server/checkpoint.c). Pushes that write several times
# SQLite's 1,000-page mark while the hub serves: every push is answered
# and applied, the data reaches the database file while the hub runs (not
# only at shutdown), and the log is started over instead of growing with
# everything ever pushed.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a1
dev=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='device_id'")
tok=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")
[ -n "$dev" ] && [ -n "$tok" ] || fail "no device id or token in the agent"
seq=$(( $(sql "SELECT acked_seq FROM devices WHERE id='$dev'") + 1 ))

# 24 changesets of 200 submissions with ~3 KB of free text each: ~17 MB of
# table rows, far past the 1,000 pages (4 MB) that start a checkpoint.
N_PUSH=24
firsts=$(seq "$seq" 200 $((seq + 200 * (N_PUSH - 1))))
# shellcheck disable=SC2086 # one argument per changeset
python3 "$FS_SRC/tests/tools/changesets.py" --out "$T/push" --device "$dev" \
  --collector a1 --size 200 --comment-bytes 1500 $firsts

wal_max=0
for p in $firsts; do
  code=$(curl -sS -o "$T/reply" -w '%{http_code}' -H "Authorization: Bearer $tok" \
    -H 'Content-Encoding: identity' -X POST "$HUB_URL/api/v1/push" \
    --data-binary @"$T/push$p.json")
  [ "$code" = 200 ] || fail "push $p answered $code: $(head -c 300 "$T/reply")"
  n=$(grep -o '"status":"applied"' "$T/reply" | wc -l)
  [ "$n" = 200 ] || fail "push $p: $n of 200 applied"
  w=$(stat -c %s "$DB-wal" 2>/dev/null || echo 0)
  [ "$w" -gt "$wal_max" ] && wal_max=$w
done
check "every submission at the hub" "$(sql 'SELECT count(*) FROM submissions')" $((N_PUSH * 200))

# The database file holds most of it while the hub still runs: the thread
# checkpointed (bounded wait, it runs beside the pushes).
rows_mb=$(( N_PUSH * 200 * 3000 / 1048576 ))
db_mb=0
for i in $(seq 1 100); do
  db_mb=$(( $(stat -c %s "$DB") / 1048576 ))
  [ "$db_mb" -ge $((rows_mb / 2)) ] && break
  sleep 0.1
done
[ "$db_mb" -ge $((rows_mb / 2)) ] ||
  fail "database file is $db_mb MB while the hub runs; ~$rows_mb MB were pushed (no checkpoint?)"
kill -0 "$HUB_PID" || fail "hub died"

# The log was started over: at its largest it held a fraction of what was
# pushed, not all of it.
wal_mb=$(( wal_max / 1048576 ))
[ "$wal_mb" -lt $((rows_mb / 2)) ] ||
  fail "the WAL grew to $wal_mb MB for ~$rows_mb MB pushed: it is never started over"
echo "pushed ~$rows_mb MB; database file $db_mb MB while serving; WAL at most $wal_mb MB"

# Still consistent and complete after a clean stop.
stop_hub
check "integrity" "$(sql 'PRAGMA integrity_check')" ok
check "every submission after stop" "$(sql 'SELECT count(*) FROM submissions')" $((N_PUSH * 200))
finish
