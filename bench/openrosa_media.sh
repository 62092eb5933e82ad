#!/usr/bin/env bash
# bench/openrosa_media.sh [HUB-BINARY]: OpenRosa submissions with media
# files, as ODK Collect sends them, against a real hub on 127.0.0.1: N
# submissions (default 40), each a distinct photo of SIZE bytes (default
# 1 MB) and a 100 kB recording in one multipart POST, sent one after the
# other by curl; then one 64 MiB document to a file question. Prints the
# time and MB/s of each, and the hub's peak RSS (VmHWM) before and after:
# the parts are streamed to disk, so it should not grow with the file.
# Figures only; exits non-zero only when a submission is not answered 201
# or a file is not stored under its hash.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
HUB=${1:-$SRC/build-bench/sync-server/fieldsync-hub}
N=${BENCH_OR_N:-40}
SIZE=${BENCH_OR_SIZE:-1000000}
BIG=${BENCH_OR_BIG:-67108864}
T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-ormedia.XXXXXX")
PID=
trap 'kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$T"' EXIT
echo "bench/openrosa_media.sh $HUB N=$N SIZE=$SIZE BIG=$BIG"

python3 "$SRC/tests/tools/mkxlsx.py" "$SRC/tests/fixtures/xlsform/specs/media.json" "$T/media.xlsx"
"$HUB" form import "$T/media.xlsx" -o "$T/media.json" 2>/dev/null
python3 - "$T/media.json" "$BIG" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
for x in f["fields"]:
    if x["type"] in ("image", "audio", "file"):
        x["max_bytes"] = 268435456
        x.pop("content_types", None)
json.dump(f, open(sys.argv[1], "w"))
PY
"$HUB" form publish --db "$T/hub.db" "$T/media.json" >/dev/null
"$HUB" serve --db "$T/hub.db" --listen 127.0.0.1:0 --port-file "$T/port" \
  --rate-limit 0 2>"$T/hub.log" &
PID=$!
for _ in $(seq 1 200); do [ -s "$T/port" ] && break; sleep 0.05; done
URL="http://127.0.0.1:$(cat "$T/port")"
BASE=$("$HUB" enroll-code --db "$T/hub.db" --name bench --areas CITY-N01 \
  --forms focus_media --collect "$URL/")
hwm() { sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$PID/status"; }
echo "hub VmHWM at start: $(hwm)"

python3 - "$T" "$N" "$SIZE" <<'PY'
import os, random, sys
t, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(1)
wav = b"RIFF\x10\x00\x00\x00WAVEfmt " + r.randbytes(100000 - 16)
open(os.path.join(t, "talk.wav"), "wb").write(wav)
for i in range(n):
    open(os.path.join(t, "p%d.png" % i), "wb").write(
        b"\x89PNG\r\n\x1a\n" + r.randbytes(size - 8))
PY
instance() { # FILE UUID PHOTO RECORDING DOC
  printf '<data id="focus_media" version="1"><_area>CITY-N01</_area><place>bench</place><flipchart>%s</flipchart><recording>%s</recording><consent_scan>%s</consent_scan><meta><instanceID>uuid:%s</instanceID></meta></data>' \
    "$3" "$4" "$5" "$2" >"$1"
}
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
# curl asks "Expect: 100-continue" before a body over 1 MiB and waits a
# second for an answer the hub does not give (a CivetWeb callback handler
# does not send it); Collect (OkHttp) never asks. -H "Expect:" sends as
# Collect does.

for i in $(seq 0 $((N - 1))); do instance "$T/x$i.xml" "$(uuid)" "p$i.png" talk.wav ""; done
start=$(date +%s.%N)
for i in $(seq 0 $((N - 1))); do
  s=$(curl -sS -o /dev/null -w "%{http_code}" -H "Expect:" -F "xml_submission_file=@$T/x$i.xml" \
    -F "p$i.png=@$T/p$i.png" -F "talk.wav=@$T/talk.wav" "$BASE/submission")
  [ "$s" = 201 ] || { echo "submission $i: $s" >&2; exit 1; }
done
end=$(date +%s.%N)
python3 -c "import sys; n,s,a,b=int(sys.argv[1]),int(sys.argv[2]),float(sys.argv[3]),float(sys.argv[4]); t=b-a; mb=n*(s+100000)/1e6; print('%d submissions with a %d-byte photo and a 100 kB recording: %.2f s, %.1f/s, %.1f MB/s' % (n, s, t, n/t, mb/t))" "$N" "$SIZE" "$start" "$end"
for i in 0 $((N - 1)); do
  h=$(sha256sum "$T/p$i.png" | cut -d' ' -f1)
  cmp -s "$T/p$i.png" "$T/blobs/$h" || { echo "photo $i not stored under its hash" >&2; exit 1; }
done
echo "hub VmHWM after them: $(hwm)"

head -c 5 <<<'%PDF-' >"$T/big.pdf"
head -c $((BIG - 5)) /dev/urandom >>"$T/big.pdf"
instance "$T/big.xml" "$(uuid)" "" "" big.pdf
start=$(date +%s.%N)
s=$(curl -sS -o /dev/null -w "%{http_code}" -H "Expect:" -F "xml_submission_file=@$T/big.xml" \
  -F "big.pdf=@$T/big.pdf" "$BASE/submission")
end=$(date +%s.%N)
[ "$s" = 201 ] || { echo "the large document: $s" >&2; exit 1; }
cmp -s "$T/big.pdf" "$T/blobs/$(sha256sum "$T/big.pdf" | cut -d' ' -f1)" ||
  { echo "the large document is not stored under its hash" >&2; exit 1; }
python3 -c "import sys; n,a,b=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3]); print('one %d-byte document: %.2f s, %.1f MB/s' % (n, b-a, n/1e6/(b-a)))" "$BIG" "$start" "$end"
echo "hub VmHWM after it: $(hwm)"
