#!/usr/bin/env bash
# bench/attach_thin.sh [BUILD_DIR]: photos over a thin link that drops.
#
# A real hub and a real agent; between them bench_relay (bench/proxy.c):
# 64 kbit/s each way, 300 ms round trip, 3% of segments late by 1.5 round
# trips, and the link dies every 30 s (every open connection reset; what
# was on the way is lost). The agent records BENCH_FILES (default 10)
# photos of BENCH_FILE_BYTES (default 1,000,000) each (PNGs of random
# pixels, which do not compress) and syncs, again after
# each sync the drops cut short, until no file waits. Printed: the time,
# the ideal time (the file bytes over the link's payload rate), their
# ratio, the bytes the relay carried to the hub, the file bytes the agent
# counted as taken, and what a client that restarts a file from zero
# after a drop would have to send on the same link.
#
# Figures, not a test: bench/README.md, "Attachments on a thin link".
# FIELDSYNC_ATTACH_CHUNK fixes the agent's chunk (by default the agent
# sizes each to about 4 s of the link, PROTOCOL.md 4.7);
# BENCH_DROP_MS the time between drops (default 30000, 0: none).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-bench}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$(nproc)" --target fieldsync-hub fieldsync-agent \
  bench_relay mkimage >/dev/null
HUB=$build/sync-server/fieldsync-hub
AGENT=$build/field-agent/fieldsync-agent
RELAY=$build/bench/bench_relay
MKIMAGE=$build/tests/tools/mkimage
FILES=${BENCH_FILES:-10}
BYTES=${BENCH_FILE_BYTES:-1000000}
DROP_MS=${BENCH_DROP_MS:-30000}
RATE=64000 RTT=300 LOSS=30
T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-attach-thin.XXXXXX")
HUB_PID="" RELAY_PID=""
cleanup() {
  [ -z "$RELAY_PID" ] || kill "$RELAY_PID" 2>/dev/null || true
  [ -z "$HUB_PID" ] || kill "$HUB_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
echo "command: BENCH_FILES=$FILES BENCH_FILE_BYTES=$BYTES BENCH_DROP_MS=$DROP_MS" \
  "${FIELDSYNC_ATTACH_CHUNK:+FIELDSYNC_ATTACH_CHUNK=$FIELDSYNC_ATTACH_CHUNK }bench/attach_thin.sh"
echo "link: $RATE bit/s each way, $RTT ms RTT, $((LOSS / 10)).$((LOSS % 10))% of segments late, a drop every $DROP_MS ms"

wait_file() {
  local i
  for i in $(seq 1 400); do [ -s "$1" ] && return 0; sleep 0.05; done
  echo "no $1" >&2
  exit 1
}
"$HUB" serve --db "$T/hub.db" --listen 127.0.0.1:0 --port-file "$T/port" \
  --rate-limit 0 2>>"$T/hub.log" &
HUB_PID=$!
wait_file "$T/port"
python3 - "$src/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "photo_walk"
f["fields"].append({"name": "photo", "type": "image", "max_bytes": 16000000})
json.dump(f, open(sys.argv[2], "w"))
PY
"$HUB" form publish --db "$T/hub.db" "$T/form.json" >/dev/null
code=$("$HUB" enroll-code --db "$T/hub.db" --name thin 2>/dev/null)
"$AGENT" --dir "$T/a" enroll --hub "http://127.0.0.1:$(cat "$T/port")" \
  --code "$code" >/dev/null
"$AGENT" --dir "$T/a" sync --quiet
printf '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' >"$T/ans.json"
# Valid PNGs of random pixels stored uncompressed (mkimage pngsize): the
# agent stores them as they are, and they do not compress.
for i in $(seq 0 $((FILES - 1))); do
  "$MKIMAGE" pngsize "$T/p$i.png" "$BYTES"
done
for f in "$T"/p*.*; do
  "$AGENT" --dir "$T/a" record photo_walk --answers "$T/ans.json" \
    --area N-01 --attach photo="$f" >/dev/null
done

"$RELAY" --target "$(cat "$T/port")" --port-file "$T/relay.port" \
  --stats-file "$T/relay.stats" --rate-bps $RATE --rtt-ms $RTT \
  --loss-permille $LOSS --drop-every-ms "$DROP_MS" &
RELAY_PID=$!
wait_file "$T/relay.port"
sqlite3 "$T/a/agent.db" \
  "UPDATE meta SET value='http://127.0.0.1:$(cat "$T/relay.port")' WHERE key='hub_url'"
waiting() {
  "$AGENT" --dir "$T/a" status --json |
    python3 -c "import json,sys; d = json.load(sys.stdin); print(d['attachments_waiting'], d['attachment_bytes_sent'])"
}
t0=$(date +%s.%N)
syncs=0
while :; do
  syncs=$((syncs + 1))
  [ $syncs -le 500 ] || { echo "files still waiting after 500 syncs" >&2; exit 1; }
  "$AGENT" --dir "$T/a" sync --quiet --retries 5 >/dev/null 2>>"$T/sync.log" || true
  set -- $(waiting)
  [ "$1" = 0 ] && break
done
t1=$(date +%s.%N)
kill "$RELAY_PID"
wait "$RELAY_PID" || true
RELAY_PID=""
taken=$2
for f in "$T"/p*.*; do
  h=$(sha256sum "$f" | cut -c1-64)
  cmp -s "$f" "$T/blobs/$h" || { echo "FAILED: $f is not whole at the hub" >&2; exit 1; }
done
stat() { sed -n "s/^$1 //p" "$T/relay.stats"; }
python3 - "$t0" "$t1" "$FILES" "$BYTES" "$RATE" "$DROP_MS" "$taken" "$syncs" \
  "$(stat up)" "$(stat down)" "$(stat late)" "$(stat conns)" "$(stat drops)" \
  "$(stat drop_lost)" <<'PY'
import sys
t0, t1 = float(sys.argv[1]), float(sys.argv[2])
files, size, rate, drop_ms, taken, syncs = map(int, sys.argv[3:9])
up, down, late, conns, drops, lost = map(int, sys.argv[9:15])
secs = t1 - t0
total = files * size
payload = rate / 8 * 1448 / 1500          # bytes/s of TCP payload
ideal = total / payload
print(f"{files} files of {size:,} B = {total:,} B in {secs:.1f} s over {syncs} syncs; "
      f"ideal {ideal:.1f} s (file bytes / {payload:,.0f} B/s of payload): {secs / ideal:.2f}x")
print(f"relay to the hub: {up:,} B = {up / total:.3f}x the file bytes "
      f"(back: {down:,} B); {conns} connections, {drops} reset by drops, "
      f"{lost:,} B queued on the way at the drops, {late} segments late")
print(f"agent: {taken:,} file bytes taken by the hub ({taken / total:.3f}x)")
if drop_ms > 0:
    window = payload * drop_ms / 1000
    print(f"restart-from-zero client: between two drops the link carries at most "
          f"{window:,.0f} B, a {size:,} B file needs {size / payload:.0f} s: "
          + ("no file would ever arrive; " if window < size else "")
          + f"in the same {secs:.0f} s it would send {payload * secs:,.0f} B "
          f"and lose every file it had started at each of the {drops} drops")
PY
