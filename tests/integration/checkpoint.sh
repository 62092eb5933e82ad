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
python3 - "$T" "$dev" "$seq" "$N_PUSH" <<'EOF'
import json, os, sys, time
out, dev, seq, npush = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
now = int(time.time() * 1000)
def uuid7(ms):
    r = bytearray(os.urandom(16))
    r[0:6] = ms.to_bytes(6, "big")
    r[6] = 0x70 | (r[6] & 0x0F)
    r[8] = 0x80 | (r[8] & 0x3F)
    h = r.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
for p in range(npush):
    changes = []
    for i in range(200):
        ms = now + p * 200 + i
        changes.append({
            "seq": seq, "kind": "submission", "id": uuid7(ms),
            "form": "demo_household", "form_version": 1, "area": "N-01",
            "collector": "a1", "hlc": f"{ms:012x}0000", "created_ms": ms,
            "rev": 1,
            "answers": {"age_band": "25-34", "gender": "woman",
                        "belonging": 1 + i % 5, "trust_local_gov": 3,
                        "comment": os.urandom(1500).hex()}})
        seq += 1
    body = {"protocol": 1, "schema": 1, "device": dev,
            "first_seq": changes[0]["seq"], "last_seq": changes[-1]["seq"],
            "changes": changes}
    with open(f"{out}/push{p}.json", "w") as f:
        json.dump(body, f)
EOF

wal_max=0
for p in $(seq 0 $((N_PUSH - 1))); do
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
