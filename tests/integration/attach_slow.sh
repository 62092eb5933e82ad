#!/usr/bin/env bash
# attach_slow.sh - a device that sends a chunk slowly (a 2G link) does not
# hold up anyone else's upload: the hub reads a chunk's body without its
# store's lock. Two devices sending the same file stay correct: the slow
# one's chunk, arriving after the other finished the file, is answered
# with the whole file's offset and changes nothing.
source "$(dirname "$0")/../lib.sh"

start_hub
publish_photo_form 300000
"${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$T/g.png" 200000

# The slow device: its submission is at the hub, its file is not.
new_agent slow
H=$(record_photo_held slow "$T/g.png")
tok=$(sqlite3 "$T/slow/agent.db" "SELECT value FROM meta WHERE key='token'")

# It starts a 64 KiB chunk at offset 0, sends 1,000 bytes of it, and
# stalls until told to go on ($T/go), at most 120 s.
python3 - "$(hub_port)" "$H" "$tok" "$T/g.png" "$T" >"$T/slow.out" 2>&1 <<'PY' &
import os, socket, sys, time
port, h, tok, path, t = sys.argv[1:6]
chunk = open(path, "rb").read()[:65536]
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall((f"PATCH /api/v1/blobs/{h} HTTP/1.1\r\nHost: x\r\n"
           f"Authorization: Bearer {tok}\r\nUpload-Offset: 0\r\n"
           f"Content-Length: {len(chunk)}\r\nConnection: close\r\n\r\n").encode()
          + chunk[:1000])
open(os.path.join(t, "stalled"), "w").close()
for _ in range(1200):
    if os.path.exists(os.path.join(t, "go")):
        break
    time.sleep(0.1)
s.sendall(chunk[1000:])
s.settimeout(60)
reply = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    reply += b
print(reply.split(b"\r\n", 1)[0].decode())
print(reply.split(b"\r\n\r\n", 1)[1].decode())
PY
SLOW_PID=$!
for _ in $(seq 1 600); do
  [ -e "$T/stalled" ] && break
  kill -0 "$SLOW_PID" 2>/dev/null || fail "the slow client ended early: $(cat "$T/slow.out")"
  sleep 0.05
done
[ -e "$T/stalled" ] || fail "the slow client did not start"

# Meanwhile another device sends the same file whole. With the lock held
# across the slow body it would wait for the slow client (or the hub's
# request timeout); the bound below is far above its own time.
new_agent fast
agent fast record photo_walk --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/g.png" >/dev/null
rc=0
timeout 40 "$FS_AGENT" --dir "$T/fast" sync --quiet || rc=$?
check "the other device's upload is not held up by the stalled one" "$rc" 0
check "its file is whole at the hub while the slow chunk is still open" \
  "$(sha256sum "$T/blobs/$H" | cut -c1-64)" "$H"
kill -0 "$SLOW_PID" 2>/dev/null || fail "the slow client is gone: $(cat "$T/slow.out")"

# The slow chunk ends now: the file is whole already, so its bytes change
# nothing and the answer says the whole file is there.
touch "$T/go"
wait "$SLOW_PID" || fail "the slow client failed: $(cat "$T/slow.out")"
check "the late chunk is answered 200" "$(head -n 1 "$T/slow.out" | cut -d' ' -f2)" 200
check "... with the whole file's offset" "$(tail -n 1 "$T/slow.out")" \
  '{"offset":200000,"size":200000,"complete":true}'
check "the file is unchanged and stored once" \
  "$(sha256sum "$T/blobs/$H" | cut -c1-64) $(ls -A "$T/blobs" | wc -l)" "$H 1"
agent slow sync --quiet
check "the slow device has nothing left to send" \
  "$(agent slow status --json | sed -n 's/.*"attachments_waiting":[[:space:]]*\([0-9]*\).*/\1/p')" 0

finish
