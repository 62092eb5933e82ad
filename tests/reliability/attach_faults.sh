#!/usr/bin/env bash
# Attachments through faultproxy (issue 19): an agent records submissions
# with a photo each and syncs through a proxy that drops, truncates,
# corrupts and stalls connections at offsets inside the file chunks.
# Syncs are repeated (bounded) until nothing waits. Then every file is at
# the hub once, byte-identical (its SHA-256 checked here), no partial file
# is left, and the bytes the agent sent are compared with what the files
# hold (a restart-from-zero client would resend every file from its start
# after each fault).
#
# FS_SEED (default 19), FS_FAULTS: faults that must have been injected
# (default 12; the long run: FS_FAULTS=500).
. "$(dirname "$0")/../lib.sh"
rel_trap

SEED=${FS_SEED:-19}
FAULTS=${FS_FAULTS:-12}
RANDOM=$SEED
echo "seed $SEED, at least $FAULTS faults"

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
  --max-offset 120000 --idle-ms 1500
sqlite3 "$T/a1/agent.db" "UPDATE meta SET value='$PROXY_URL' WHERE key='hub_url'"
printf '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' >"$T/ans.json"

status_field() {
  agent a1 status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"
}
total=0
faults=0
round=0
while [ "$faults" -lt "$FAULTS" ]; do
  round=$((round + 1))
  [ $round -le $((FAULTS * 3 + 100)) ] || fail "only $faults faults after $round rounds"
  size=$((100000 + RANDOM * 7))
  # A real PNG of random pixels (the agent refuses one that does not
  # decode), stored as it is: it holds no metadata to strip.
  "${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize \
    "$T/p$round.png" "$size"
  total=$((total + size))
  agent a1 record photo_walk --answers "$T/ans.json" --area N-01 \
    --attach photo="$T/p$round.png" >>"$T/a1.ids"
  agent a1 sync --quiet --retries 1 >/dev/null 2>>"$T/a1.sync.log" || true
  kill -USR1 "$PROXY_PID"
  # The proxy writes its stats file on USR1: the first time, wait for it.
  for _ in $(seq 1 100); do [ -s "$T/proxy.stats" ] && break; sleep 0.05; done
  faults=$(proxy_stat faults)
done
# Until nothing waits: no submission and no file.
for i in $(seq 1 80); do
  rc=0
  agent a1 sync --quiet --retries 1 >/dev/null 2>>"$T/a1.sync.log" || rc=$?
  case " 0 3 4 " in *" $rc "*) ;; *) fail "sync exited $rc: $(tail -n 2 "$T/a1.sync.log")" ;; esac
  [ "$(pending a1)" = 0 ] && [ "$(status_field attachments_waiting)" = 0 ] && break
done
check "nothing waits after the faults" \
  "$(pending a1) $(status_field attachments_waiting)" "0 0"
stop_proxy
cat "$T/proxy.stats"
faults=$(proxy_stat faults)

check "every submission at the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE form_id = 'photo_walk'")" "$round"
bad=0
for f in "$T"/p*.png; do
  h=$(sha256sum "$f" | cut -c1-64)
  [ -f "$T/blobs/$h" ] || { echo "missing at the hub: $f" >&2; bad=$((bad + 1)); continue; }
  [ "$(sha256sum "$T/blobs/$h" | cut -c1-64)" = "$h" ] || { echo "differs: $f" >&2; bad=$((bad + 1)); }
done
check "every file at the hub, byte-identical" "$bad" 0
check "one file per photo, none partial" "$(ls -A "$T/blobs" | wc -l)" "$round"
sent=$(status_field attachment_bytes_sent)
refused=$(grep -c 'refused: its bytes hash to' "$T/hub.log" || true)
echo "figures: faults=$faults rounds=$round file_bytes=$total sent=$sent" \
  "ratio=$(python3 -c "print(round($sent / $total, 3))") hash_refusals=$refused"
# Resumed, not restarted: a drop or stall costs at most the chunk in
# flight; only a corrupted file (refused whole at its hash check) is sent
# again from 0.
check "bytes sent within files + one resend per hash refusal + a chunk per fault" \
  "$((sent <= total + refused * 400000 + faults * 65536))" 1
finish
