#!/usr/bin/env bash
# Figures of small files in batches (issue 19, "10,000 tiny files";
# PROTOCOL.md 4.7): N tiny files (20 to 300 bytes, each answering its own
# submission's file field) sent by a real agent to a real hub, one file
# at a time (FIELDSYNC_FILE_BATCH=0: an offset request and a chunk each)
# and in batches. Prints wall time and the file requests the agent made
# (its trace) for each; never fails on speed, only when a file does not
# end at the hub byte-identical.
#
#   bench/attach_batch.sh [BUILD-DIR]   (default build-bench; any build
#                                        with the hub and agent works)
#   BENCH_ATTACH_N=2000 bench/attach_batch.sh build/test
#   BENCH_ATTACH_BUDGET=600   seconds the one-at-a-time sync may take
#
# The submissions are pushed by a first sync with the files hidden from
# it (marked sent), so the timed sync sends files only. The hub runs with
# --rate-limit 0: at the default 20 requests a second the one-at-a-time
# run would be held to 20 files a second by the limiter alone.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$src/build-bench}" && pwd)
export FS_HUB=$build/sync-server/fieldsync-hub FS_AGENT=$build/field-agent/fieldsync-agent
export FS_SRC=$src
N=${BENCH_ATTACH_N:-10000}
# The one-at-a-time sync is stopped after this many seconds and its rate
# extrapolated: on a busy machine under the sanitizers it runs for hours.
BUDGET=${BENCH_ATTACH_BUDGET:-600}
[ -x "$FS_HUB" ] && [ -x "$FS_AGENT" ] ||
  { echo "no hub or agent in $build; build them first" >&2; exit 2; }
HUB_ARGS="--rate-limit 0"
source "$src/tests/lib.sh"

start_hub
python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "notes_walk"
f["fields"] += [{"name": "doc", "type": "file", "label": {"en": "Note"},
                 "max_bytes": 100000}]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
printf '%s' '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' \
  >"$T/ans.json"

# run NAME BATCH: a fresh agent with N files; the files-only sync timed.
run() {
  local name=$1 batch=$2 t0 t1
  new_agent "$name"
  printf 'first note of %s\n' "$name" >"$T/$name.first"
  agent "$name" record notes_walk --answers "$T/ans.json" --area N-01 \
    --attach doc="$T/$name.first" >/dev/null
  tiny_files "$name" $((N - 1)) doc "$RANDOM"
  sqlite3 "$T/$name/agent.db" "UPDATE attachments SET sent = size"
  agent "$name" sync --quiet
  sqlite3 "$T/$name/agent.db" "UPDATE attachments SET sent = 0"
  mkdir -p "$T/$name.trace"
  local rc=0
  t0=$(ms_now)
  FIELDSYNC_FILE_BATCH=$batch FIELDSYNC_TRACE_DIR="$T/$name.trace" \
    timeout "$BUDGET" "$FS_AGENT" --dir "$T/$name" sync --quiet || rc=$?
  t1=$(ms_now)
  local reqs batches done
  batches=$(grep -c '^blobs batch' "$T/$name.trace/pushes.log" || true)
  reqs=$(grep -c '^blob \(GET\|PATCH\)' "$T/$name.trace/pushes.log" || true)
  done=$(sqlite3 "$T/$name/agent.db" "SELECT count(*) FROM attachments WHERE sent = size")
  case $rc in
    0) ;;
    124) echo "$name: stopped after $BUDGET s (BENCH_ATTACH_BUDGET): $done of $N files sent;" \
      "at that rate all $N would take $((BUDGET * N / (done > 0 ? done : 1))) s" ;;
    *) fail "$name: sync exited $rc" ;;
  esac
  local missing
  missing=$(sqlite3 "$T/$name/agent.db" "SELECT sha256 FROM attachments WHERE sent = size" |
    python3 -c '
import hashlib, os, sys
bad = 0
for h in sys.stdin.read().split():
    p = os.path.join(sys.argv[1], h)
    bad += not os.path.exists(p) or hashlib.sha256(open(p, "rb").read()).hexdigest() != h
print(bad)' "$T/blobs")
  [ "$missing" = 0 ] || fail "$name: $missing files not at the hub byte-identical"
  printf '%-14s files=%d of %d requests=%d (batches %d, per-file %d) seconds=%d.%03d\n' \
    "$name" "$done" "$N" $((batches + reqs)) "$batches" "$reqs" \
    $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000))
  echo "$(((batches + reqs) * N / (done > 0 ? done : 1)))" >"$T/$name.reqs"
}

echo "bench/attach_batch.sh: N=$N, hub $FS_HUB --rate-limit 0, $(nproc) cores"
run one_at_a_time 0
run batches 1
b=$(cat "$T/one_at_a_time.reqs") a=$(cat "$T/batches.reqs")
# A 2G link's round trip is about 300 ms: what the requests alone cost.
echo "requests for all $N (extrapolated when stopped): one at a time $b, batches $a"
echo "round trips at 300 ms: one at a time $((b * 3 / 10)) s, batches $((a * 3 / 10)) s"
