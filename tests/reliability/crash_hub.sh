#!/usr/bin/env bash
# SIGKILL the hub while three agents push to it in small batches, so most
# kills land inside a merge. After every kill, before anything restarts:
# the hub's database passes PRAGMA integrity_check, and everything an
# agent saw acknowledged is stored (no acknowledgement before commit).
# After a final sync: every submission is at the hub exactly once.
#
# FS_SEED (default 6), FS_KILLS (default 20).
. "$(dirname "$0")/../lib.sh"
rel_trap

SEED=${FS_SEED:-6}
KILLS=${FS_KILLS:-20}
RANDOM=$SEED
AGENTS=(a1 a2 a3)
echo "seed $SEED, $KILLS hub kills"

publish_sample_form
start_hub
port=$(hub_port)
for a in "${AGENTS[@]}"; do new_agent "$a"; done

# How long the three syncs of 12 records each take on this build.
for a in "${AGENTS[@]}"; do record_n "$a" 12; done
t0=$(ms_now)
pids=()
for a in "${AGENTS[@]}"; do agent "$a" sync --quiet --batch 3 & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a first sync failed"; done
span=$(($(ms_now) - t0 + 1))
echo "three syncs ~${span} ms"

kills=0
for k in $(seq 1 "$KILLS"); do
  # New work offline, so every round has merges to do.
  for a in "${AGENTS[@]}"; do record_n "$a" $((RANDOM % 2 + 1)); done
  pids=()
  for a in "${AGENTS[@]}"; do
    agent "$a" sync --quiet --retries 0 --batch $((RANDOM % 4 + 1)) \
      >/dev/null 2>>"$T/$a.sync.log" &
    pids+=($!)
    BG_PIDS+=($!)
  done
  sleep_ms $((RANDOM % (span * 2 / 3 + 1)))
  kill_hub
  kills=$((kills + 1))
  for p in "${pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    case $rc in 0 | 3) ;; *) fail "a sync exited $rc during kill $k" ;; esac
  done
  BG_PIDS=()
  [ "$(sql 'PRAGMA integrity_check')" = ok ] ||
    fail "hub database damaged by kill $k"
  for a in "${AGENTS[@]}"; do acked_stored "$a"; done
  start_hub "$port"
done
echo "$kills hub kills, each followed by the checks above"

for a in "${AGENTS[@]}"; do sync_until_done "$a"; done
audit_exactly_once "${AGENTS[@]}"
echo "figures: kills=$kills"
finish
