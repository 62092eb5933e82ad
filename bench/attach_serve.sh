#!/usr/bin/env bash
# bench/attach_serve.sh - what serving an attachment to an admin costs the
# hub: time and the hub's peak RSS (VmHWM) while one client downloads a
# file of SIZE MiB through GET /api/v1/admin/submissions/ID/files/FIELD.
# Not a test: prints figures, fails only when the download is not the
# file.
#
#   bench/attach_serve.sh [HUB_BINARY] [SIZE_MIB]
#
# The submission and its file are written straight into the hub's
# database and blobs/ (uploading is the agent's and blobs.c's job, timed
# elsewhere); the hub is then started fresh, so its VmHWM before the
# download is its start-up peak, and the growth is what serving cost.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
hub=${1:-$src/build-bench/sync-server/fieldsync-hub}
mib=${2:-64}
[ -x "$hub" ] || { echo "no hub binary at $hub; build first (bench/run builds build-bench)" >&2; exit 2; }
t=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench-attach.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"' EXIT
db=$t/hub.db

echo "bench/attach_serve.sh $hub $mib"
cat >"$t/form.json" <<'JSON'
{"id": "bench_files", "version": 1, "title": "Bench files",
 "fields": [{"name": "doc", "type": "file", "max_bytes": 268435456}]}
JSON
"$hub" form publish --db "$db" "$t/form.json" >/dev/null
mkdir -p "$t/blobs"
head -c $((mib * 1048576)) /dev/urandom >"$t/file"
hash=$(sha256sum "$t/file" | cut -c1-64)
mv "$t/file" "$t/blobs/$hash"
id=01900000-0000-7000-8000-000000000001
sqlite3 "$db" "INSERT INTO submissions (id, rev, form_id, form_version, area,
  device_id, collector, hlc, created_ms, received_ms, answers, digest,
  review_state, review_comment) VALUES ('$id', 1, 'bench_files', 1, 'N-01',
  '01900000-0000-7000-8000-0000000000aa', 'bench', '0190000000000000', 1, 1,
  json_object('doc', json_object('sha256', '$hash', 'size', $((mib * 1048576)),
  'type', 'application/octet-stream', 'name', 'big.bin')),
  printf('%064x', 1), 'received', '')"
admin=$("$hub" token create --db "$db" --role admin --name bench 2>/dev/null)

"$hub" serve --db "$db" --listen 127.0.0.1:0 --port-file "$t/port" --rate-limit 0 2>"$t/hub.log" &
pid=$!
for _ in $(seq 1 200); do [ -s "$t/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$t/port")"
hwm() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status"; }
curl -fsS -o /dev/null -H "Authorization: Bearer $admin" "$url/api/v1/admin/whoami"
before=$(hwm)
read -r secs size <<<"$(curl -fsS -o "$t/got" -w '%{time_total} %{size_download}' \
  -H "Authorization: Bearer $admin" "$url/api/v1/admin/submissions/$id/files/doc")"
after=$(hwm)
[ "$(sha256sum "$t/got" | cut -c1-64)" = "$hash" ] || { echo "the download is not the file" >&2; exit 1; }
awk -v s="$secs" -v n="$size" -v b="$before" -v a="$after" -v m="$mib" 'BEGIN {
  printf "download of %d MiB: %.2f s (%.0f MiB/s); hub VmHWM %.1f MiB before, %.1f MiB after (+%.1f MiB)\n",
    m, s, n / 1048576 / s, b / 1024, a / 1024, (a - b) / 1024 }'
