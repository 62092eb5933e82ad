#!/usr/bin/env bash
# Peak memory and time of `fieldsync-hub export media` (issue 19): a real
# hub and agent, one submission whose file field holds a file of
# BENCH_MEDIA_MB MiB (default 100) recorded with `record --attach` and
# synced, beside one with a 1 KiB file; then the export of each form
# under maxrss (wait4's ru_maxrss of the export process). The archive is
# streamed in 64 KiB chunks, so the two peaks should be about the same:
# what the export holds does not grow with the file. Prints figures;
# never fails on them (only when the export or its check fails).
#
#   bench/export_media.sh [BUILD_DIR]      (default build-bench)
#   BENCH_MEDIA_MB=500 bench/export_media.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-bench}
hub=$build/sync-server/fieldsync-hub
agent=$build/field-agent/fieldsync-agent
maxrss=$build/bench/maxrss
mb=${BENCH_MEDIA_MB:-100}
for b in "$hub" "$agent" "$maxrss"; do
  [ -x "$b" ] || { echo "no $b; build it first (bench/run)" >&2; exit 2; }
done
t=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench-media.XXXXXX")
pid=""
trap '[ -z "$pid" ] || kill "$pid" 2>/dev/null || true; rm -rf "$t"' EXIT

"$hub" serve --db "$t/hub.db" --listen 127.0.0.1:0 --port-file "$t/port" --rate-limit 0 \
  2>"$t/hub.log" &
pid=$!
for _ in $(seq 1 600); do [ -s "$t/port" ] && break; sleep 0.05; done
[ -s "$t/port" ] || { echo "the hub did not start" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$t/port")"
for form in big_media small_media; do
  python3 - "$src/schema/forms/demo_household.json" "$t/$form.json" "$form" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = sys.argv[3]
f["fields"].append({"name": "doc", "type": "file", "label": {"en": "Doc"},
                    "max_bytes": 268435456})
json.dump(f, open(sys.argv[2], "w"))
PY
  "$hub" form publish --db "$t/hub.db" "$t/$form.json" >/dev/null
done
code=$("$hub" enroll-code --db "$t/hub.db" --name bench 2>/dev/null)
"$agent" --dir "$t/a" enroll --hub "$url" --code "$code" >/dev/null
"$agent" --dir "$t/a" sync --quiet
printf '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' >"$t/ans.json"
{ printf '%%PDF-1.4\n'; head -c $((mb * 1048576 - 9)) /dev/urandom; } >"$t/big.pdf"
{ printf '%%PDF-1.4\n'; head -c $((1024 - 9)) /dev/urandom; } >"$t/small.pdf"
big=$("$agent" --dir "$t/a" record big_media --answers "$t/ans.json" --area N-01 \
  --attach doc="$t/big.pdf")
"$agent" --dir "$t/a" record small_media --answers "$t/ans.json" --area N-01 \
  --attach doc="$t/small.pdf" >/dev/null
a=$(date +%s%N)
"$agent" --dir "$t/a" sync --quiet
b=$(date +%s%N)
echo "export_media: hub and agent $build (bench/export_media.sh)"
echo "  upload of $mb MiB + 1 KiB over loopback: $(((b - a) / 1000000)) ms"

run() { # FORM: peak RSS (KiB) and wall ms of one export
  local a b kib
  rm -f "$t/$1.zip"
  a=$(date +%s%N)
  kib=$("$maxrss" "$hub" export media --db "$t/hub.db" --form "$1" -o "$t/$1.zip" 2>/dev/null)
  b=$(date +%s%N)
  echo "$kib $(((b - a) / 1000000))"
}
read -r small_kib small_ms < <(run small_media)
read -r big_kib big_ms < <(run big_media)
got=$(unzip -p "$t/big_media.zip" "$big/doc.pdf" | sha256sum | cut -c1-64)
[ "$got" = "$(sha256sum "$t/big.pdf" | cut -c1-64)" ] ||
  { echo "the exported file differs from the original" >&2; exit 1; }
printf '  export media, one 1 KiB file:  peak RSS %6.1f MiB, %6d ms\n' \
  "$(echo "$small_kib / 1024" | bc -l)" "$small_ms"
printf '  export media, one %d MiB file: peak RSS %6.1f MiB, %6d ms (%.0f MB/s; the file is read twice)\n' \
  "$mb" "$(echo "$big_kib / 1024" | bc -l)" "$big_ms" \
  "$(echo "$mb * 1.048576 * 1000 / ($big_ms + 1)" | bc -l)"
echo "  archive: $(stat -c %s "$t/big_media.zip") bytes; the file inside byte-identical"
