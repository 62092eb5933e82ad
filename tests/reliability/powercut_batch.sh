#!/usr/bin/env bash
# Power cuts of the hub while it takes small files in batches (issue 19,
# PROTOCOL.md 4.7; tests/tools/powercut.c): each round an agent records
# tiny files, pushes their submissions, and sends the files to a hub under
# the power-cut simulation; the power goes at a random write, rename or
# fsync of the hub, or at rest after the sync, and the hub's directory is rebuilt as a disk could hold
# it. After every cut, before the restart:
#  - every file the agent was told is stored (it marked it sent and will
#    never send it again) is at the hub under its hash, byte-identical;
#  - no file under a hash name is partial or other bytes (nothing is
#    visible under its hash before it is whole and durable);
#  - the database is sound and every acknowledged push is stored.
# After the last cut the agent syncs until done: every file at the hub
# exactly once, byte-identical.
#
# FS_SEED (default 7), FS_CUTS (default 8), FS_REST_CUTS (default 4),
# FS_FILES (files a round,
# default 100: one batch; up to 1,000 fit one).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/powercut_lib.sh"
rel_trap

SEED=${FS_SEED:-7}
CUTS=${FS_CUTS:-8}
REST_CUTS=${FS_REST_CUTS:-4}
FILES=${FS_FILES:-100}
RANDOM=$SEED
echo "seed $SEED, $CUTS hub power cuts, $FILES files a round"

DISK="$T/hubdisk"
PCS="$T/pc-hub"
mkdir -p "$DISK"
DB="$DISK/hub.db"
BLOBS="$DISK/blobs"

HUB_ARGS="--rate-limit 0" start_hub
port=$(hub_port)
python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "notes_walk"
f["fields"] += [{"name": "doc", "type": "file", "label": {"en": "Note"},
                 "max_bytes": 100000}]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
new_agent a1
printf '%s' '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' \
  >"$T/ans.json"
printf 'first note\n' >"$T/first.txt"
agent a1 record notes_walk --answers "$T/ans.json" --area N-01 \
  --attach doc="$T/first.txt" >/dev/null
agent a1 sync --quiet
stop_hub

pc_start_hub() {
  rm -f "$T/port" "$T/hub.count"
  # shellcheck disable=SC2046 # one word per variable
  env $(pc_env "$DISK" "$PCS" "$1" "$T/hub.count") "$FS_HUB" serve \
    --db "$DB" --listen "127.0.0.1:$port" --port-file "$T/port" \
    --threads 16 --rate-limit 0 2>>"$T/hub.log" &
  HUB_PID=$!
  local i
  for i in $(seq 1 600); do
    [ -s "$T/port" ] && return 0
    kill -0 "$HUB_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  fail "hub did not start within 30 s"
}

pc_end_hub() {
  kill -KILL "$HUB_PID" 2>/dev/null || true
  { wait "$HUB_PID" || true; } 2>/dev/null
  HUB_PID=""
}

# files_sound WHY: what the agent was told is stored is there whole, and
# nothing under a hash name is anything but its file.
files_sound() {
  local bad
  bad=$(sqlite3 "$T/a1/agent.db" "SELECT sha256 FROM attachments WHERE sent = size" |
    python3 -c '
import hashlib, os, sys
d = sys.argv[1]
told = set(sys.stdin.read().split())
bad = [h for h in told if not os.path.exists(os.path.join(d, h))]
for n in os.listdir(d) if os.path.isdir(d) else []:
    if len(n) == 64 and hashlib.sha256(open(os.path.join(d, n), "rb").read()).hexdigest() != n:
        bad.append(n)
print(len(bad), " ".join(x[:12] for x in bad[:5]))' "$BLOBS")
  [ "${bad%% *}" = 0 ] ||
    fail "$1: $bad file(s) told stored and not there, or not whole under their hash"
}

# round CUT_AT: new tiny files; their submissions are pushed to the hub
# running as usual (the files hidden from that sync), then the files are
# sent to the hub under the simulation, so the cuts land in batches.
NEXT=0
round() {
  tiny_files a1 "$FILES" doc $((SEED * 1000 + NEXT)) "$NEXT"
  NEXT=$((NEXT + FILES))
  sqlite3 "$T/a1/agent.db" "UPDATE attachments SET sent = size + 1 WHERE sent < size"
  HUB_ARGS="--rate-limit 0" start_hub "$port"
  agent a1 sync --quiet
  stop_hub
  sqlite3 "$T/a1/agent.db" "UPDATE attachments SET sent = 0 WHERE sent = size + 1"
  pc_init "$DISK" "$PCS"
  if pc_start_hub "$1"; then
    HUB_URL="http://127.0.0.1:$port"
    local rc=0
    agent a1 sync --quiet --retries 0 >/dev/null 2>>"$T/a1.sync.log" || rc=$?
    case $rc in 0 | 3) ;; *) fail "a sync exited $rc (cut $((PC_CUTS + 1)))" ;; esac
  fi
}

# How many writes, renames and fsyncs sending a round's files makes,
# counted on one without a cut.
round 0
stop_hub
span=$(pc_count "$T/hub.count")
files_sound "the counting round"
echo "a round makes ~$span writes and syncs"
for k in $(seq 1 "$CUTS"); do
  # A third of the cuts land after the sync, at rest: a file answered
  # stored must be there however the disk settles.
  round $(((RANDOM * 32768 + RANDOM) % (span * 3 / 2) + 1))
  pc_end_hub
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + k))
  files_sound "cut $k"
  hub_sound "cut $k"
  acked_stored a1
done
echo "$CUTS cuts, each followed by the checks"
# And cuts at rest, after a sync that ended: every file was answered
# stored, so every one must be there whatever the disk kept of what was
# not yet durable.
for k in $(seq 1 "$REST_CUTS"); do
  round 0
  pc_end_hub
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + 500 + k))
  files_sound "cut at rest $k"
  hub_sound "cut at rest $k"
  acked_stored a1
done
echo "$REST_CUTS cuts at rest, each followed by the checks"

HUB_ARGS="--rate-limit 0" start_hub "$port"
sync_until_done a1
check "nothing waits at the agent" \
  "$(agent a1 status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachments_waiting"])')" 0
files_sound "the end"
(cd "$BLOBS" && ls -A) | grep -E '^[0-9a-f]{64}$' | sort >"$T/hub.names"
sqlite3 "$T/a1/agent.db" "SELECT sha256 FROM attachments" | sort >"$T/agent.names"
check "the hub holds exactly the agent's files, once each" \
  "$(comm -3 "$T/hub.names" "$T/agent.names" | wc -l)" 0
check "no partial chunked upload left" "$(ls -A "$BLOBS" | grep -c '^\.part-' || true)" 0
echo "figures: files=$(wc -l <"$T/hub.names") batch_temporaries_left=$(ls -A "$BLOBS" | grep -c '^\.batch-' || true)"
# The writes of a batch are fsynced at once, so few cuts find one
# pending; what the cuts must find is renames not yet durable.
tr -d '(),:' <"$PC_LOG" | awk '{ w += $5; p += $7; d += $13; n += $15; np += $17 }
  END { printf "figures: cuts=%d writes=%d pending=%d dropped=%d names=%d pending_names=%d\n", NR, w, p, d, n, np }' >"$T/pc.fig"
cat "$T/pc.fig"
grep -q ' pending_names=[1-9]' "$T/pc.fig" ||
  fail "no cut found a name that was not durable yet: $(cat "$T/pc.fig")"
finish
