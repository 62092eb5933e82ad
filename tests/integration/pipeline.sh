#!/usr/bin/env bash
# Two pushes of one device in flight (field-agent/pipeline.c, fa__push_two,
# sync-server/push.c hold_for_gap):
#  (a) a device with a few thousand records syncs with the next changeset
#      in flight beside the one being merged; every record arrives exactly
#      once and the agent's and the hub's sequences agree;
#  (b) the hub is killed (SIGKILL) in the middle of such a sync: nothing
#      the agent saw acknowledged is lost, and after a restart a second
#      sync completes with nothing lost or doubled;
#  (c) pushes sent by hand: the later changeset sent while the earlier one
#      is still on its way is held, not refused, and both succeed; held
#      past its bound (10 s), or with a real gap, it is still 409 seq_gap;
#  (d) a hub with fewer request threads than the connections its devices
#      open (each open connection holds one): four devices syncing at
#      once on three threads all finish, each record exactly once.
. "$(dirname "$0")/../lib.sh"
rel_trap

publish_sample_form
# Pushes of a few ms each, far faster than a field device: the hub's
# per-device request limit (20 a second) is not what this tests.
HUB_ARGS="--rate-limit 0" start_hub
port=$(hub_port)
new_agent a1

agent_db() {
  sqlite3 "$T/$1/agent.db" "$2"
}
dev1=$(agent_db a1 "SELECT value FROM meta WHERE key='device_id'")

# ---- (a) a few thousand records, two changesets in flight -------------
record_n a1 2
clone_records a1 3000 0
check "3002 records queued" "$(pending a1)" 3002
mkdir -p "$T/tr1" "$T/tr2" "$T/tr3"
FIELDSYNC_TRACE_DIR="$T/tr1" agent a1 sync --quiet --batch 100
log="$T/tr1/pushes.log"
[ -s "$log" ] || fail "the sync left no pushes.log in the trace directory"
beside=$(grep -c ' beside ' "$log" || true)
echo "pushes sent beside another: $beside of $(grep -c '^push ' "$log")"
# Every answer was a 200 (below), so no push fell back to one at a time:
# after the first, sent alone, and the second, which opens the stretch,
# each went out beside the one before it.
check "every push after the first two went out beside another" "$beside" 29
check "every answer was a 200" "$(grep '^answer ' "$log" | grep -vc ' 200$' || true)" 0
check "31 changesets, each answered once" "$(grep -c '^answer ' "$log")" 31
check "31 receipts at the hub" \
  "$(sql "SELECT count(*) FROM receipts WHERE device_id='$dev1'")" 31
check "agent acked 3002" "$(agent_db a1 "SELECT value FROM meta WHERE key='acked_seq'")" 3002
check "hub acked 3002" "$(sql "SELECT acked_seq FROM devices WHERE id='$dev1'")" 3002
check "every record marked sent" \
  "$(agent_db a1 "SELECT count(*) FROM submissions WHERE state='sent'")" 3002
audit_exactly_once a1

# ---- (b) the hub killed inside a sync with two in flight --------------
clone_records a1 4000 3000
FIELDSYNC_TRACE_DIR="$T/tr2" agent a1 sync --quiet --batch 50 --retries 0 \
  >"$T/kill.out" 2>&1 &
spid=$!
BG_PIDS+=($spid)
# Kill once ten changesets of this sync are merged and pushes go out two
# at a time: inside the stretch, with 70 changesets still to go.
for _ in $(seq 1 1500); do
  acked=$(sql "SELECT acked_seq FROM devices WHERE id='$dev1'")
  if [ "$acked" -ge 3502 ] && grep -q ' beside ' "$T/tr2/pushes.log" 2>/dev/null; then
    break
  fi
  kill -0 "$spid" 2>/dev/null || break
  sleep 0.02
done
kill_hub
rc=0
wait "$spid" || rc=$?
BG_PIDS=()
[ $rc -eq 3 ] || fail "the sync was to be cut off by the kill (exit 3), got $rc: $(cat "$T/kill.out")"
check "hub database intact after the kill" "$(sql 'PRAGMA integrity_check')" ok
a_acked=$(agent_db a1 "SELECT value FROM meta WHERE key='acked_seq'")
h_acked=$(sql "SELECT acked_seq FROM devices WHERE id='$dev1'")
echo "at the kill: agent acked $a_acked, hub $h_acked of 7002"
[ "$a_acked" -lt 7002 ] || fail "the kill came after the sync ended"
[ "$h_acked" -ge "$a_acked" ] ||
  fail "agent acknowledged up to $a_acked but the hub stored only $h_acked"
agent_db a1 "SELECT id FROM submissions WHERE state <> 'queued'" | sort >"$T/acked"
sql "SELECT id FROM submissions WHERE device_id='$dev1'" | sort >"$T/stored"
check "every acknowledged record survived the kill" \
  "$(comm -23 "$T/acked" "$T/stored" | wc -l)" 0
start_hub "$port"
FIELDSYNC_TRACE_DIR="$T/tr3" agent a1 sync --quiet --batch 50
check "nothing waits after the second sync" "$(pending a1)" 0
check "agent acked 7002" "$(agent_db a1 "SELECT value FROM meta WHERE key='acked_seq'")" 7002
audit_exactly_once a1

# ---- (c) the hub's reordering, by hand --------------------------------
new_agent a2
dev2=$(agent_db a2 "SELECT value FROM meta WHERE key='device_id'")
tok2=$(agent_db a2 "SELECT value FROM meta WHERE key='token'")
# Changesets of 5 submissions: 1-5, 6-10, 11-15, 16-20, and 26-30.
python3 "$FS_SRC/tests/tools/changesets.py" --out "$T/cs" --device "$dev2" \
  --collector a2 --size 5 1 6 11 16 26

# wait_file PATH: bounded wait for a file a background push writes.
wait_file() {
  local i
  for i in $(seq 1 3000); do
    [ -s "$1" ] && return 0
    sleep 0.01
  done
  fail "no $1 within 30 s"
}

# push FILE OUT: one push with curl; OUT gets the status line then the body.
push() {
  curl -sS -o "$2.body" -w '%{http_code}' -H "Authorization: Bearer $tok2" \
    -H 'Content-Encoding: identity' -X POST "$HUB_URL/api/v1/push" \
    --data-binary @"$1" >"$2.code"
}

# slow_push FILE TAG: sends the headers and half of the body, says so by
# creating $T/TAG.started, and sends the rest once $T/TAG.go exists; the
# answer's status goes to $T/TAG.code, its body to $T/TAG.body. The hub
# sees this push as on its way for as long as the test wants.
slow_push() {
  python3 - "$(hub_port)" "$tok2" "$1" "$T/$2" <<'EOF' &
import os, socket, sys, time
port, token, path, tag = sys.argv[1:5]
body = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", int(port)), timeout=60)
head = ("POST /api/v1/push HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n"
        "Content-Type: application/json\r\nContent-Encoding: identity\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")
half = len(body) // 2
s.sendall(head.encode() + body[:half])
open(tag + ".started", "w").write("1")
deadline = time.time() + 60
while not os.path.exists(tag + ".go"):
    if time.time() > deadline:
        sys.exit("slow_push: never told to send the rest")
    time.sleep(0.01)
s.sendall(body[half:])
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
head, _, rest = data.partition(b"\r\n\r\n")
open(tag + ".code", "w").write(head.split(b" ")[1].decode())
open(tag + ".body", "wb").write(rest)
EOF
  BG_PIDS+=($!)
  wait_file "$T/$2.started"
}

# wait_log TEXT: bounded wait for a line of the hub's log.
wait_log() {
  local i
  for i in $(seq 1 3000); do
    grep -qF "$1" "$T/hub.log" && return 0
    sleep 0.01
  done
  fail "the hub did not log '$1' within 30 s"
}

# 6-10 goes out complete while 1-5 is still on its way: the hub says it
# holds it for 1-5 (its curl still waits), then both are merged, in order.
slow_push "$T/cs1.json" p1
push "$T/cs6.json" "$T/p6" &
p6=$!
BG_PIDS+=($p6)
wait_log "push 6-10 of device $dev2 held: the hub has it up to 0"
[ ! -s "$T/p6.code" ] ||
  fail "6-10 was answered before 1-5 arrived: $(cat "$T/p6.code") $(cat "$T/p6.body")"
touch "$T/p1.go"
wait_file "$T/p1.code"
wait "$p6" || fail "curl of 6-10 failed"
check "1-5, sent first but finished last, answered 200" "$(cat "$T/p1.code")" 200
check "6-10, finished first, held and answered 200" "$(cat "$T/p6.code")" 200
grep -q '"last_seq":10' "$T/p6.body" || fail "6-10's answer: $(cat "$T/p6.body")"
check "hub acked 10 for the hand-made device" \
  "$(sql "SELECT acked_seq FROM devices WHERE id='$dev2'")" 10
check "10 hand-made submissions stored" \
  "$(sql "SELECT count(*) FROM submissions WHERE device_id='$dev2'")" 10

# The hold is bounded: 16-20 waits for 11-15 only so long (10 s), then
# the seq_gap answer stands; 11-15 is merged when it does arrive.
slow_push "$T/cs11.json" p11
push "$T/cs16.json" "$T/p16"
grep -qF "push 16-20 of device $dev2: still a gap after" "$T/hub.log" ||
  fail "16-20 was not held: $(tail -n 3 "$T/hub.log")"
grep -F "push 16-20 of device $dev2: still a gap" "$T/hub.log" |
  grep -qF "(the hold's bound passed)" ||
  fail "16-20 was answered before its bound: $(grep -F 'push 16-20' "$T/hub.log")"
check "16-20, held past its bound, is 409" "$(cat "$T/p16.code")" 409
grep -q '"error":"seq_gap"' "$T/p16.body" || fail "not seq_gap: $(cat "$T/p16.body")"
grep -q '"hub_seq":10' "$T/p16.body" || fail "no hub_seq 10: $(cat "$T/p16.body")"
touch "$T/p11.go"
wait_file "$T/p11.code"
check "11-15, arriving after all, answered 200" "$(cat "$T/p11.code")" 200

# A real gap, with nothing else of the device on its way: 409 at once,
# as for any device that sends one push at a time.
push "$T/cs26.json" "$T/p26"
check "26-30 (gap after 15) is 409" "$(cat "$T/p26.code")" 409
grep -q '"error":"seq_gap"' "$T/p26.body" || fail "not seq_gap: $(cat "$T/p26.body")"
grep -q '"hub_seq":15' "$T/p26.body" || fail "no hub_seq 15: $(cat "$T/p26.body")"
push "$T/cs16.json" "$T/p16b"
check "16-20 sent again in order: 200" "$(cat "$T/p16b.code")" 200
check "hub acked 20" "$(sql "SELECT acked_seq FROM devices WHERE id='$dev2'")" 20
check "20 hand-made submissions, none twice" \
  "$(sql "SELECT count(DISTINCT id) || ' ' || count(*) FROM submissions WHERE device_id='$dev2'")" "20 20"

# ---- (d) more connections than request threads ------------------------
# A hub of its own, so that the audit below sees only these devices.
stop_hub
DB="$T/busy.db"
publish_sample_form
HUB_THREADS=3 HUB_ARGS="--rate-limit 0" start_hub
busy=(b1 b2 b3 b4)
for a in "${busy[@]}"; do
  new_agent "$a"
  record_n "$a" 1
  clone_records "$a" 800 0
done
pids=()
t0=$(ms_now)
for a in "${busy[@]}"; do
  mkdir -p "$T/tr-$a"
  FIELDSYNC_TRACE_DIR="$T/tr-$a" timeout 120 "$FS_AGENT" --dir "$T/$a" \
    sync --quiet --batch 50 >"$T/$a.sync.out" 2>&1 &
  pids+=($!)
done
BG_PIDS+=("${pids[@]}")
for i in "${!busy[@]}"; do
  rc=0
  wait "${pids[$i]}" || rc=$?
  check "${busy[$i]} synced on a hub of 3 threads" "$rc" 0
done
BG_PIDS=()
echo "busy hub: four syncs of 801 took $(($(ms_now) - t0)) ms"
beside=$(cat "$T"/tr-b?/pushes.log | grep -c ' beside ' || true)
echo "busy hub: $beside pushes went out beside another"
[ "$beside" -ge 1 ] || fail "no push went out beside another on the busy hub"
audit_exactly_once "${busy[@]}"
finish
