#!/usr/bin/env bash
# bench/sealed_file.sh - what sealing a large file costs the device and
# the steward. Not a test: prints figures, fails only when a step fails.
#
#   bench/sealed_file.sh [BUILD-DIR] [MB]
#
# A hub, a steward key, a form with a sealed `file` field and its control
# without the seal; one agent records an MB-megabyte file (default 100)
# into each, and the peak RSS (bench/maxrss, wait4's ru_maxrss) and wall
# time of each `record --attach` are printed: the sealed one streams the
# file through the cipher in 64 KiB chunks, the plain one as it does.
# Then the sealed file is synced and `open-file` opens it (time, peak
# RSS), and the result is compared byte for byte.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build-bench}
mb=${2:-100}
hub=$build/sync-server/fieldsync-hub
agent=$build/field-agent/fieldsync-agent
maxrss=$build/bench/maxrss
for b in "$hub" "$agent" "$maxrss"; do
  [ -x "$b" ] || { echo "no $b; build first (bench/run builds build-bench)" >&2; exit 2; }
done
t=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-bench-sealed.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$t"' EXIT
db=$t/hub.db
echo "bench/sealed_file.sh $build ${mb} MB"

printf 'correct horse battery staple\n' >"$t/pass"
"$hub" keys generate --out "$t/steward.key" --id bench --passphrase-fd 3 \
  3<"$t/pass" >/dev/null
"$hub" keys publish --db "$db" "$t/steward.key.pub" >/dev/null
for form in sealed_big open_big; do
  seal=""
  [ "$form" = sealed_big ] && seal='"seal_key": "bench",'
  s=false
  [ "$form" = sealed_big ] && s=true
  cat >"$t/$form.json" <<EOF
{"id": "$form", "version": 1, "kind": "survey", "title": "Big file", "area": "optional", $seal
 "fields": [{"name": "code", "type": "text", "label": "Code"},
            {"name": "doc", "type": "file", "sealed": $s, "label": "Document",
             "max_bytes": 268435456}]}
EOF
  "$hub" form publish --db "$db" "$t/$form.json" >/dev/null
done
"$hub" serve --db "$db" --listen 127.0.0.1:0 --port-file "$t/port" \
  --rate-limit 100000 \
  2>"$t/hub.log" &
pid=$!
for _ in $(seq 1 200); do [ -s "$t/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$t/port")"
code=$("$hub" enroll-code --db "$db" --name bench 2>/dev/null)
"$agent" --dir "$t/a" enroll --hub "$url" --code "$code" >/dev/null
"$agent" --dir "$t/a" sync --quiet

head -c $((mb * 1024 * 1024)) /dev/urandom >"$t/big.bin"
printf '{"code":"x"}' >"$t/ans.json"
rec() { # FORM: peak RSS KiB and seconds of one record --attach
  local s0 s1 rss
  s0=$(date +%s.%N)
  rss=$("$maxrss" "$agent" --dir "$t/a" record "$1" --answers "$t/ans.json" \
    --attach doc="$t/big.bin")
  s1=$(date +%s.%N)
  printf '%s KiB %.2f s' "$rss" "$(echo "$s1 - $s0" | bc)"
}
echo "record --attach, plain:  $(rec open_big)"
echo "record --attach, sealed: $(rec sealed_big)"
id=$(sqlite3 "$t/a/agent.db" "SELECT id FROM submissions WHERE form_id = 'sealed_big'")
"$agent" --dir "$t/a" sync --quiet
s0=$(date +%s.%N)
rss=$("$maxrss" "$hub" open-file "$id" doc --db "$db" --key "$t/steward.key" \
  --passphrase-fd 3 -o "$t/opened.bin" 3<"$t/pass")
s1=$(date +%s.%N)
printf 'open-file (Argon2id key unlock included): %s KiB %.2f s\n' "$rss" \
  "$(echo "$s1 - $s0" | bc)"
cmp -s "$t/big.bin" "$t/opened.bin" || { echo "opened file differs" >&2; exit 1; }
echo "opened byte for byte"
