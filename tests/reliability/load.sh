#!/usr/bin/env bash
# Many devices sync at once: FS_DEVICES agent processes (default 40 in the
# quick run, 200 and 500 in the long runs), each with FS_RECORDS
# submissions recorded offline (default 1, 50 in the long runs), all
# started together against one hub. Every sync ends 0 (no agent left
# stuck), the hub logs no storage failure (no 5xx from
# storage), and it holds exactly devices x records submissions, each once.
. "$(dirname "$0")/../lib.sh"
rel_trap

DEVICES=${FS_DEVICES:-40}
RECORDS=${FS_RECORDS:-1}
echo "$DEVICES devices, $RECORDS records each"

publish_sample_form
start_hub
port=$(hub_port)

# Enrol and record, two at a time (the machine has two cores).
AGENTS=()
prep() {
  new_agent "$1"
  record_n "$1" "$RECORDS" "L-$(($2 % 50))"
}
for i in $(seq 1 "$DEVICES"); do
  AGENTS+=("d$i")
  prep "d$i" "$i" &
  BG_PIDS+=($!)
  if [ $((i % 2)) -eq 0 ]; then
    for p in "${BG_PIDS[@]}"; do wait "$p" || fail "preparing a device failed"; done
    BG_PIDS=()
  fi
done
for p in "${BG_PIDS[@]}"; do wait "$p" || fail "preparing a device failed"; done
BG_PIDS=()
check "all devices queued their records" \
  "$(for a in "${AGENTS[@]}"; do pending "$a"; done | sort -u)" "$RECORDS"

# All at once. Retries stay on (the default): a busy hub may ask agents
# to come back, but every one must finish within its retries.
pids=()
for a in "${AGENTS[@]}"; do
  "$FS_AGENT" --dir "$T/$a" sync --quiet >/dev/null 2>"$T/$a.sync.log" &
  pids+=($!)
  BG_PIDS+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
BG_PIDS=()
check "every concurrent sync finished with 0" "$bad" 0
check "no storage failure at the hub" "$(grep -c 'not stored' "$T/hub.log" || true)" 0
check "exact count at the hub" "$(sql 'SELECT count(*) FROM submissions')" \
  $((DEVICES * RECORDS))
check "$DEVICES devices acknowledged in full" \
  "$(sql "SELECT count(*) FROM devices WHERE acked_seq = $RECORDS")" "$DEVICES"
audit_exactly_once "${AGENTS[@]}"
echo "figures: devices=$DEVICES records=$((DEVICES * RECORDS))"
finish
