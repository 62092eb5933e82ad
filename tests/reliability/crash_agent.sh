#!/usr/bin/env bash
# SIGKILL the agent at random moments while it records, while it syncs and
# while it does both at once. After every kill its database passes
# PRAGMA integrity_check; after a final sync every submission the agent
# holds, and every id it printed as recorded, is at the hub exactly once.
#
# FS_SEED (default 6) makes the run reproducible as far as scheduling
# allows; FS_KILLS (default 80) is the number of kills that must land.
. "$(dirname "$0")/../lib.sh"
rel_trap

SEED=${FS_SEED:-6}
KILLS=${FS_KILLS:-80}
RANDOM=$SEED
echo "seed $SEED, $KILLS kills"

publish_sample_form
start_hub
new_agent a1

# How long one record and one sync take on this build: kills are drawn
# uniformly over a bit more than that, so some land before the work
# starts, most in the middle, some after it ended.
t0=$(ms_now)
record_n a1 4
rec_ms=$((($(ms_now) - t0) / 4 + 1))
t0=$(ms_now)
agent a1 sync --quiet
sync_ms=$(($(ms_now) - t0 + 1))
echo "record ~${rec_ms} ms, sync ~${sync_ms} ms"

n=0
kills=0
record_bg() {
  n=$((n + 1))
  answers_file "$T/ans.$n" "$n"
  # The binary itself, not the agent() function: a function in the
  # background is a subshell, and the kill would miss the agent.
  "$FS_AGENT" --dir "$T/a1" record demo_household --answers "$T/ans.$n" --area "K-$((n % 7))" \
    >"$T/rec.out" 2>"$T/rec.err" &
  REC_PID=$!
}
sync_bg() {
  "$FS_AGENT" --dir "$T/a1" sync --quiet --retries 0 --batch $((RANDOM % 20 + 1)) \
    >/dev/null 2>"$T/sync.err" &
  SYNC_PID=$!
}
# reap PID NAME: waits; counts a kill when the process died of SIGKILL.
reap() {
  local rc=0
  wait "$1" || rc=$?
  if [ $rc -eq 137 ]; then
    kills=$((kills + 1))
    return 1
  fi
  return $rc
}

round=0
while [ $kills -lt "$KILLS" ]; do
  round=$((round + 1))
  [ $round -le $((KILLS * 6)) ] || fail "too few kills landed: $kills"
  mode=$((RANDOM % 3))         # 0 record, 1 sync, 2 both
  REC_PID=""
  SYNC_PID=""
  # Keep a queue worth syncing: a few records that are not killed.
  if [ $((round % 4)) -eq 0 ]; then record_n a1 3; fi
  case $mode in
    0) record_bg; wait_ms=$((RANDOM % (rec_ms * 3 / 2 + 1))) ;;
    1) sync_bg; wait_ms=$((RANDOM % (sync_ms * 3 / 2 + 1))) ;;
    2) record_bg; sync_bg; wait_ms=$((RANDOM % (rec_ms * 3 / 2 + 1))) ;;
  esac
  sleep_ms "$wait_ms"
  # The process may have ended already: then the kill does not land.
  for p in $REC_PID $SYNC_PID; do kill -KILL "$p" 2>/dev/null || true; done
  if [ -n "$REC_PID" ]; then
    # A record that ended on its own and printed an id is one the user
    # was told about: it must reach the hub.
    if reap "$REC_PID"; then
      [ -s "$T/rec.out" ] || fail "record exited 0 without an id"
      cat "$T/rec.out" >>"$T/a1.ids"
    fi
  fi
  if [ -n "$SYNC_PID" ]; then
    rc=0
    reap "$SYNC_PID" || rc=$?
    case $rc in 0 | 1 | 3) ;; *) fail "sync exited $rc: $(cat "$T/sync.err")" ;; esac
  fi
  [ "$(sqlite3 "$T/a1/agent.db" 'PRAGMA integrity_check')" = ok ] ||
    fail "agent database damaged after kill $kills"
done
echo "kills: $kills in $round rounds"

sync_until_done a1
audit_exactly_once a1
echo "figures: kills=$kills"
finish
