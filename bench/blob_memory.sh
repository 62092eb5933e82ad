#!/usr/bin/env bash
# blob_memory.sh - the hub's peak RSS (VmHWM) while it takes one large
# attachment: a device's submission references an N MiB file (default
# 128), the file goes up in 1 MiB PATCH chunks with curl, and VmHWM is
# read before the last chunk and after it (when the hub hashes the whole
# file). A hub that hashed a file in one buffer would grow by the file's
# size at that last chunk; one that streams it grows by its buffer.
#
#   bench/blob_memory.sh [HUB-BINARY [AGENT-BINARY]]   (BLOB_MIB=N)
# Not part of bench/run.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
HUB=${1:-$src/build-bench/sync-server/fieldsync-hub}
AGENT=${2:-$(dirname "$HUB")/../field-agent/fieldsync-agent}
MIB=${BLOB_MIB:-128}
T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench.XXXXXX")
HUB_PID=""
trap '[ -n "$HUB_PID" ] && kill "$HUB_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$HUB_PID/status"; }

python3 - "$src/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "big_file"
f["fields"] += [{"name": "doc", "type": "file", "label": {"en": "File"},
                 "max_bytes": 268435456}]
json.dump(f, open(sys.argv[2], "w"))
PY
"$HUB" form publish --db "$T/hub.db" "$T/form.json" >/dev/null
"$HUB" serve --db "$T/hub.db" --listen 127.0.0.1:0 --port-file "$T/port" \
  --rate-limit 0 2>"$T/hub.log" &
HUB_PID=$!
for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$T/port")"
code=$("$HUB" enroll-code --db "$T/hub.db" --name bench 2>/dev/null)
"$AGENT" --dir "$T/a" enroll --hub "$url" --code "$code" >/dev/null
"$AGENT" --dir "$T/a" sync --quiet
head -c $((MIB << 20)) /dev/urandom >"$T/file.bin"
H=$(sha256sum "$T/file.bin" | cut -c1-64)
printf '%s' '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' >"$T/ans.json"
"$AGENT" --dir "$T/a" record big_file --answers "$T/ans.json" --area N-01 \
  --attach doc="$T/file.bin" >/dev/null
# The submission only: the file is sent below, by hand.
mv "$T/a/blobs/$H" "$T/held"
"$AGENT" --dir "$T/a" sync --quiet >/dev/null 2>&1 || true
tok=$(sqlite3 "$T/a/agent.db" "SELECT value FROM meta WHERE key='token'")
start=$(hwm)
for i in $(seq 0 $((MIB - 1))); do
  [ "$i" = $((MIB - 1)) ] && before=$(hwm)
  dd if="$T/file.bin" bs=1M skip="$i" count=1 status=none >"$T/chunk"
  st=$(curl -s -o "$T/reply" -w '%{http_code}' -X PATCH \
    -H "Authorization: Bearer $tok" -H "Upload-Offset: $((i << 20))" \
    --data-binary @"$T/chunk" "$url/api/v1/blobs/$H")
  [ "$st" = 200 ] || { echo "chunk $i: $st $(cat "$T/reply")" >&2; exit 1; }
done
after=$(hwm)
grep -q '"complete":true' "$T/reply" || { echo "not complete" >&2; exit 1; }
echo "command: $0 $HUB (BLOB_MIB=$MIB)"
echo "file: $MIB MiB in 1 MiB chunks; hub VmHWM: $((start / 1024)) MiB at the first chunk, $((before / 1024)) MiB before the last, $((after / 1024)) MiB after the whole file was hashed (+$(((after - before) / 1024)) MiB)"
