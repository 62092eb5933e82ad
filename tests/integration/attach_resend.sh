#!/usr/bin/env bash
# attach_resend.sh - a chunk cut on a kept-alive connection is not sent
# again whole behind the agent's back (issue 19, the thin-link bench).
#
# The hub keeps the bytes of a cut chunk (PROTOCOL.md 4.7). An HTTP client
# that replays a request when a reused connection turns out dead would
# send the whole chunk again at its old offset, which the hub has moved
# past: a whole chunk over a thin link for a 409. The agent must instead
# see the failure, ask the hub's offset and send only the rest.
#
# Between agent and hub a small relay (below) reads each request whole,
# counts PATCH requests by their Upload-Offset and the hub's 409 replies,
# and resets the connection once, 4,000 body bytes into the first PATCH,
# which follows the offset request on the same connection.
source "$(dirname "$0")/../lib.sh"

start_hub
publish_photo_form 300000
"${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$T/p.png" 100000

# The submission goes first, straight to the hub, with the file held back:
# the sync through the relay below carries only the file.
new_agent a
H=$(record_photo_held a "$T/p.png")
check "the submission is at the hub, its file is not" \
  "$(sql "SELECT count(*) FROM submissions")|$([ -e "$T/blobs/$H" ] && echo there || echo absent)" \
  "1|absent"

python3 - "$(hub_port)" "$T/relay.port" "$T/relay.json" "$T/blobs/.part-$H" >"$T/relay.log" 2>&1 <<'PY' &
import json, os, socket, sys, threading, time
hub_port, port_file, stats_file, part = (int(sys.argv[1]), sys.argv[2],
                                         sys.argv[3], sys.argv[4])
lock = threading.Lock()
stats = {"patch_offsets": [], "replies_409": 0, "cuts": 0, "conns": 0}
state = {"armed": True}

def save():
    with open(stats_file + ".tmp", "w") as f:
        json.dump(stats, f)
    os.replace(stats_file + ".tmp", stats_file)

def cut(c, h, link):
    # The link dies: the hub sees its end of the chunk, and once it has
    # kept what arrived (its .part file says so, at most 30 s), the device
    # gets a reset. On a real thin link the device's next request takes
    # round trips to reach the hub; on loopback it must be held back.
    link["cut"] = True
    h.shutdown(socket.SHUT_RDWR) # close() alone waits for the other thread
    for _ in range(600):
        try:
            if os.path.getsize(part) >= 4000:
                break
        except OSError:
            pass
        time.sleep(0.05)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    c.close()
    h.close()

def upstream(c, h, link):
    buf = b""
    need = None   # body bytes left of the request being passed on
    cut_at = None # stream bytes still to pass before the cut
    while True:
        try:
            data = c.recv(65536)
        except OSError:
            break
        if not data:
            break
        out = b""
        buf += data
        while buf:
            if need is None:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head, buf = buf[:end + 4], buf[end + 4:]
                lines = head.decode("latin-1").split("\r\n")
                fields = {k.strip().lower(): v.strip() for k, _, v in
                          (l.partition(":") for l in lines[1:] if l)}
                need = int(fields.get("content-length", "0"))
                with lock:
                    if lines[0].startswith("PATCH "):
                        stats["patch_offsets"].append(
                            int(fields.get("upload-offset", "-1")))
                        if state["armed"]:
                            state["armed"] = False
                            stats["cuts"] += 1
                            cut_at = 4000
                    save()
                out += head
            else:
                k = min(need, len(buf))
                out += buf[:k]
                buf, need = buf[k:], need - k
                if cut_at is not None:
                    cut_at -= k
            if need == 0:
                need = None
        if cut_at is not None and cut_at <= 0:
            h.sendall(out[:len(out) + cut_at])
            cut(c, h, link)
            return
        try:
            h.sendall(out)
        except OSError:
            break
    for s in (c, h):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

def downstream(c, h, link):
    while True:
        try:
            data = h.recv(65536)
        except OSError:
            break
        if not data:
            break
        with lock:
            stats["replies_409"] += data.count(b"HTTP/1.1 409 ")
            save()
        try:
            c.sendall(data)
        except OSError:
            break
    if not link["cut"]: # the cut resets the device's side itself
        try:
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass

srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(16)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.getsockname()[1]))
os.replace(port_file + ".tmp", port_file)
while True:
    c, _ = srv.accept()
    h = socket.create_connection(("127.0.0.1", hub_port))
    with lock:
        stats["conns"] += 1
        save()
    link = {"cut": False}
    threading.Thread(target=upstream, args=(c, h, link), daemon=True).start()
    threading.Thread(target=downstream, args=(c, h, link), daemon=True).start()
PY
BG_PIDS+=($!)
rel_trap
for i in $(seq 1 600); do
  [ -s "$T/relay.port" ] && break
  kill -0 "${BG_PIDS[0]}" 2>/dev/null || fail "the relay exited at start: $(cat "$T/relay.log")"
  sleep 0.05
done
[ -s "$T/relay.port" ] || fail "the relay did not start within 30 s"
sqlite3 "$T/a/agent.db" \
  "UPDATE meta SET value='http://127.0.0.1:$(cat "$T/relay.port")' WHERE key='hub_url'"

# One sync, chunks of 16 KiB, no batches (the file would go whole in one).
mkdir -p "$T/trace"
FIELDSYNC_TRACE_DIR="$T/trace" FIELDSYNC_FILE_BATCH=0 FIELDSYNC_ATTACH_CHUNK=16384 agent a sync --quiet \
  --retries 5 >"$T/sync.out" 2>&1 || fail "the sync failed: $(cat "$T/sync.out")"
relay_stat() {
  python3 -c "import json,sys; d = json.load(open(sys.argv[1])); v = d[sys.argv[2]]; print(' '.join(map(str, v)) if isinstance(v, list) else v)" \
    "$T/relay.json" "$1"
}
check "the relay cut one PATCH on a kept-alive connection" "$(relay_stat cuts)" 1
offsets=$(relay_stat patch_offsets)
echo "PATCH offsets seen by the relay: $offsets"
check "the cut chunk was not sent again at its old offset" \
  "$(tr ' ' '\n' <<<"$offsets" | grep -cx 0)" 1
check "the hub answered no 409 (no chunk at an offset it had moved past)" \
  "$(relay_stat replies_409)" 0
second=$(cut -d' ' -f2 <<<"$offsets")
check "the next PATCH starts at the bytes the hub kept of the cut one" \
  "$([ "$second" -gt 0 ] && [ "$second" -le 4000 ] && echo yes || echo "no ($second)")" yes
check "the file is at the hub, byte-identical" \
  "$(sha256sum "$T/blobs/$H" 2>/dev/null | cut -c1-64)" "$H"
check "the agent has nothing left to send" \
  "$(agent a status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachments_waiting"])')" 0
finish
