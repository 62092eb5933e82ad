#!/usr/bin/env bash
# Attachments through faultproxy (issue 19): an agent records submissions
# with photos and syncs through a proxy that drops, truncates, corrupts
# and stalls connections at offsets inside the file chunks. Files are 3
# to 6 chunks (FIELDSYNC_ATTACH_CHUNK=16384), four per round, now and
# then one recorded before again (stored once). Syncs are repeated
# (bounded) until nothing waits. Then:
#  - every submission is at the hub exactly once;
#  - every distinct file is at the hub once as blobs/HASH, byte-identical
#    (its SHA-256 checked here), and nothing else is there: no .part of
#    a finished file, no file visible under a name it does not hash to;
#  - the bytes the agent sent are bounded by the files' bytes plus what
#    the faults can cost a resuming client (a restart-from-zero client
#    would resend every file from its start after each fault).
#
# FS_SEED (default 19), FS_FAULTS: faults that must have been injected
# (default 40; the long run, tests/reliability/run-long: 500).
. "$(dirname "$0")/../lib.sh"
rel_trap

SEED=${FS_SEED:-19}
FAULTS=${FS_FAULTS:-40}
CHUNK=16384
export FIELDSYNC_ATTACH_CHUNK=$CHUNK
RANDOM=$SEED
echo "seed $SEED, at least $FAULTS faults, chunks of $CHUNK bytes"

start_hub
python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "photo_walk"
f["fields"].append({"name": "photo", "type": "image", "max_bytes": 400000})
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
new_agent a1
start_proxy --seed "$SEED" --drop-request 0.3 --drop-reply 0.1 \
  --truncate 0.15 --corrupt 0.2 --delay 0.1 --delay-ms 300 \
  --max-offset 40000 --idle-ms 1500 --refault 1
sqlite3 "$T/a1/agent.db" "UPDATE meta SET value='$PROXY_URL' WHERE key='hub_url'"
printf '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' >"$T/ans.json"

status_field() {
  agent a1 status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
# sync_once: one sync with a few retries in a row (the count starts
# over at every chunk the hub takes); a sync cut short by the faults
# (3) or one the hub refused for now (4) is tried again later.
sync_once() {
  local rc=0
  agent a1 sync --quiet --retries 5 >/dev/null 2>>"$T/a1.sync.log" || rc=$?
  case " 0 3 4 " in *" $rc "*) ;; *) fail "sync exited $rc: $(tail -n 2 "$T/a1.sync.log")" ;; esac
}
total=0
files=0
records=0
faults=0
round=0
t0=$SECONDS
while [ "$faults" -lt "$FAULTS" ]; do
  round=$((round + 1))
  [ $round -le $((FAULTS * 2 + 50)) ] || fail "only $faults faults after $round rounds"
  for j in 1 2 3 4; do
    if [ $files -gt 0 ] && [ $((RANDOM % 8)) -eq 0 ]; then
      f=$T/p$((RANDOM % files + 1)).png # an earlier photo again
    else
      files=$((files + 1))
      size=$((CHUNK * 2 + 1 + RANDOM % (CHUNK * 4)))
      f=$T/p$files.png
      # A real PNG of random pixels (the agent refuses one that does not
      # decode), stored as it is: it holds no metadata to strip.
      "${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$f" "$size"
      total=$((total + size))
    fi
    agent a1 record photo_walk --answers "$T/ans.json" --area N-01 \
      --attach photo="$f" >>"$T/a1.ids"
    records=$((records + 1))
  done
  sync_once
  rm -f "$T/proxy.stats"
  kill -USR1 "$PROXY_PID"
  for i in $(seq 1 250); do [ -s "$T/proxy.stats" ] && break; sleep 0.02; done
  [ -s "$T/proxy.stats" ] || fail "faultproxy wrote no counts"
  faults=$(proxy_stat faults)
done
# Until nothing waits: no submission and no file.
for i in $(seq 1 80); do
  sync_once
  [ "$(pending a1)" = 0 ] && [ "$(status_field attachments_waiting)" = 0 ] && break
done
check "nothing waits after the faults" \
  "$(pending a1) $(status_field attachments_waiting) $(status_field attachments_damaged)" "0 0 0"
stop_proxy
cat "$T/proxy.stats"
faults=$(proxy_stat faults)
check "at least $FAULTS faults injected (got $faults)" "$((faults >= FAULTS))" 1

check "every submission at the hub once" \
  "$(sql "SELECT count(*), count(DISTINCT id) FROM submissions WHERE form_id = 'photo_walk'")" \
  "$records|$records"
check "the hub holds the submissions this device recorded" \
  "$(sql "SELECT group_concat(id, ' ') FROM (SELECT id FROM submissions WHERE form_id = 'photo_walk' ORDER BY id)")" \
  "$(sort "$T/a1.ids" | tr '\n' ' ' | sed 's/ $//')"
bad=0
for f in "$T"/p*.png; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ -f "$T/blobs/$h" ] || { echo "missing at the hub: $f" >&2; bad=$((bad + 1)); continue; }
  cmp -s "$f" "$T/blobs/$h" || { echo "differs: $f" >&2; bad=$((bad + 1)); }
done
check "every file at the hub, byte-identical" "$bad" 0
halfseen=0
for b in "$T"/blobs/*; do
  [ "$(sha256sum "$b" | cut -c1-64)" = "$(basename "$b")" ] || halfseen=$((halfseen + 1))
done
check "no file visible under a name it does not hash to" "$halfseen" 0
check "one file per distinct photo, no .part left" \
  "$(ls -A "$T/blobs" | wc -l) $(ls -A "$T/blobs" | grep -c '^\.' || true)" "$files 0"
sent=$(status_field attachment_bytes_sent)
refused=$(grep -c 'refused: its bytes hash to' "$T/hub.log" || true)
echo "figures: faults=$faults files=$files records=$records rounds=$round" \
  "file_bytes=$total sent=$sent ratio=$(python3 -c "print(round($sent / $total, 3))")" \
  "hash_refusals=$refused seconds=$((SECONDS - t0))"
# Resumed, not restarted: a drop or stall costs at most the chunk in
# flight; only a corrupted file (refused whole at its hash check) is sent
# again from 0.
check "bytes sent within files + one resend per hash refusal + a chunk per fault" \
  "$((sent <= total + refused * CHUNK * 6 + faults * CHUNK))" 1
finish
