#!/usr/bin/env bash
# Power cuts of a device (tests/tools/powercut.c): the agent runs under
# the power-cut simulation and loses power at a random change or sync of
# its files, or at rest, while it enrols, records, edits the registry,
# syncs, or records and syncs at once; its directory is rebuilt as a
# disk could hold it, and it goes on from there. After every cut:
#  - PRAGMA integrity_check is ok;
#  - every record and registry edit the agent confirmed (exit 0, id
#    printed) is there, with its outbox row; the outbox is gap-free
#    after the acknowledged sequence;
#  - the agent believes the hub holds nothing it does not hold: its
#    acknowledged sequence is not ahead of the hub's, and everything it
#    marked sent is at the hub (acked_stored);
#  - an enrolment that was confirmed survived (the device, its token).
# After the last cut the agent syncs until done and the audit of the
# reliability tests runs: everything exactly once (what the hub did not
# hold was sent again, what it held was not taken twice).
#
# FS_SEED (default 6), FS_CUTS (default 56), FS_ENROLL_CUTS (default 8).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/powercut_lib.sh"
rel_trap

SEED=${FS_SEED:-6}
CUTS=${FS_CUTS:-56}
ENROLL_CUTS=${FS_ENROLL_CUTS:-8}
RANDOM=$SEED
echo "seed $SEED, $CUTS + $ENROLL_CUTS device power cuts"

DISK="$T/dev"
PCS="$T/pc-dev"
A=dev/a1 # the agent's directory is $T/dev/a1 (lib.sh's helpers add $T)
mkdir -p "$DISK"

publish_sample_form
start_hub
new_agent "$A"
mech=$(agent "$A" entity new mechanism name="Youth council" \
  type=youth_council area=N-01 status=active)
agent "$A" sync --quiet
: >"$T/ids.keep"
: >"$T/mechs.keep"
echo "$mech" >>"$T/mechs.keep"

# pc_agent CUT_AT OUT ARGS...: the agent under the simulation; its
# standard output goes to OUT. Sets RC.
pc_agent() {
  local cut=$1 out=$2
  shift 2
  RC=0
  # shellcheck disable=SC2046 # one word per variable
  env $(pc_env "$DISK" "$PCS" "$cut" "$T/agent.count") \
    "$FS_AGENT" --dir "$T/$A" "$@" >"$out" 2>>"$T/agent.err" || RC=$?
}

N=0
# rec_args: a record of new answers.
rec_args() {
  N=$((N + 1))
  answers_file "$T/ans.json" "$N"
  echo "record demo_household --answers $T/ans.json --area K-$((N % 7))"
}

# calibrate NAME ARGS...: how many changes and syncs the command makes.
calibrate() {
  local name=$1
  shift
  pc_init "$DISK" "$PCS"
  rm -f "$T/agent.count"
  pc_agent 0 "$T/cal.out" "$@"
  [ $RC -eq 0 ] || fail "$name without a cut exited $RC: $(tail -n 2 "$T/agent.err")"
  eval "SPAN_$name=$(pc_count "$T/agent.count")"
  pc_cut "$DISK" "$PCS" 1
  PC_CUTS=$((PC_CUTS - 1)) # not one of the cuts counted below
}
# shellcheck disable=SC2046
calibrate record $(rec_args)
agent "$A" record demo_household --answers "$T/ans.json" --area N-01 >>"$T/ids.keep"
agent "$A" record demo_household --answers "$T/ans.json" --area N-01 >>"$T/ids.keep"
calibrate sync sync --quiet --retries 0 --batch 1
calibrate entity entity set "$mech" name="Council $RANDOM"
echo "record ~$SPAN_record, sync ~$SPAN_sync, registry edit ~$SPAN_entity changes and syncs"

# after_cut WHY: the checks of every cut of the device.
after_cut() {
  local db="$T/$A/agent.db" id
  [ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] ||
    fail "agent database damaged ($1)"
  sort -u "$T/ids.keep" >"$T/ids.want"
  sqlite3 "$db" "SELECT s.id FROM submissions s JOIN outbox o ON
    o.kind = 'submission' AND o.ref_id = s.id AND o.ref_rev = s.rev" |
    sort -u >"$T/ids.have"
  id=$(comm -23 "$T/ids.want" "$T/ids.have" | head -n 1)
  [ -z "$id" ] || fail "record $id was confirmed and is gone, or has no outbox row ($1)"
  sort -u "$T/mechs.keep" >"$T/ids.want"
  sqlite3 "$db" "SELECT id FROM entities" | sort -u >"$T/ids.have"
  id=$(comm -23 "$T/ids.want" "$T/ids.have" | head -n 1)
  [ -z "$id" ] || fail "registry entry $id was confirmed and is gone ($1)"
  # Rows the hub may not hold yet follow acked_seq with no gap (below it
  # a realignment may leave one: PROTOCOL.md 4.4).
  [ "$(sqlite3 "$db" "SELECT count(*) = coalesce(max(seq) - a.v, 0) FROM
        outbox, (SELECT coalesce((SELECT value FROM meta WHERE
        key = 'acked_seq'), 0) AS v) AS a WHERE seq > a.v")" = 1 ] ||
    fail "the outbox has a gap after acked_seq ($1)"
  acked_stored "$A"
}

# ---- cuts while the agent records, edits, syncs, or records and syncs --
for k in $(seq 1 "$CUTS"); do
  # Work done before this round (durable, outside the simulation): a
  # queue worth syncing.
  if [ $((k % 3)) -eq 0 ]; then
    answers_file "$T/ans.json" $((N + 1000))
    agent "$A" record demo_household --answers "$T/ans.json" --area N-01 >>"$T/ids.keep"
  fi
  pc_init "$DISK" "$PCS"
  mode=$((RANDOM % 4))
  case $mode in
    0)
      # shellcheck disable=SC2046
      pc_agent "$(pc_draw "$SPAN_record")" "$T/rec.out" $(rec_args)
      [ $RC -ne 0 ] || cat "$T/rec.out" >>"$T/ids.keep"
      ;;
    1)
      pc_agent "$(pc_draw "$SPAN_sync")" /dev/null sync --quiet --retries 0 \
        --batch $((RANDOM % 3 + 1))
      ;;
    2)
      # Both at once, one of them with the cut: the other stops at its
      # next change or sync after it (or ends before it).
      cut_rec=0 cut_sync=0
      if [ $((RANDOM % 2)) -eq 0 ]; then
        cut_rec=$(pc_draw "$SPAN_record")
      else
        cut_sync=$(pc_draw "$SPAN_sync")
      fi
      # shellcheck disable=SC2046
      (
        pc_agent "$cut_rec" "$T/rec.out" $(rec_args)
        exit $RC
      ) &
      rec_pid=$!
      BG_PIDS+=($rec_pid)
      pc_agent "$cut_sync" /dev/null sync --quiet --retries 0 --batch 2
      rc=0
      wait "$rec_pid" || rc=$?
      BG_PIDS=()
      [ $rc -ne 0 ] || cat "$T/rec.out" >>"$T/ids.keep"
      ;;
    3)
      if [ $((RANDOM % 2)) -eq 0 ]; then
        pc_agent "$(pc_draw "$SPAN_entity")" "$T/ent.out" entity new mechanism \
          name="Club $k" type=sports_club area=N-01 status=active
        [ $RC -ne 0 ] || cat "$T/ent.out" >>"$T/mechs.keep"
      else
        pc_agent "$(pc_draw "$SPAN_entity")" /dev/null entity set "$mech" \
          name="Council $k"
      fi
      ;;
  esac
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + k))
  after_cut "cut $k, mode $mode"
done
echo "$CUTS cuts while recording and syncing, each followed by the checks"

# ---- cuts during enrolment ---------------------------------------------
pc_init "$DISK" "$PCS"
code=$("$FS_HUB" enroll-code --db "$DB" --name e0 2>/dev/null)
rm -f "$T/agent.count"
env $(pc_env "$DISK" "$PCS" 0 "$T/agent.count") "$FS_AGENT" --dir "$T/dev/e0" \
  enroll --hub "$HUB_URL" --code "$code" >/dev/null
span=$(pc_count "$T/agent.count")
pc_cut "$DISK" "$PCS" 1
PC_CUTS=$((PC_CUTS - 1))
echo "an enrolment makes ~$span changes and syncs"
enrolled=0
for k in $(seq 1 "$ENROLL_CUTS"); do
  code=$("$FS_HUB" enroll-code --db "$DB" --name "e$k" 2>/dev/null)
  pc_init "$DISK" "$PCS"
  rc=0
  # shellcheck disable=SC2046
  # Half of them land after the enrolment ended: its files must be there.
  env $(pc_env "$DISK" "$PCS" "$(pc_draw $((span * 8 / 5)))" /dev/null) "$FS_AGENT" \
    --dir "$T/dev/e$k" enroll --hub "$HUB_URL" --code "$code" \
    >/dev/null 2>>"$T/agent.err" || rc=$?
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + 50000 + k))
  if [ $rc -eq 0 ]; then
    enrolled=$((enrolled + 1))
    dev=$(sqlite3 "$T/dev/e$k/agent.db" "SELECT value FROM meta WHERE key='device_id'" 2>/dev/null || true)
    [ -n "$dev" ] || fail "enrolment $k was confirmed and the device forgot it"
    [ "$(sql "SELECT count(*) FROM devices WHERE id='$dev'")" = 1 ] ||
      fail "enrolment $k: the device holds an id the hub does not know"
    agent "dev/e$k" sync --quiet || fail "enrolment $k: the device cannot sync"
  elif [ -f "$T/dev/e$k/agent.db" ]; then
    [ "$(sqlite3 "$T/dev/e$k/agent.db" 'PRAGMA integrity_check')" = ok ] ||
      fail "enrolment $k: agent database damaged"
  fi
done
echo "enrolments confirmed before the cut: $enrolled of $ENROLL_CUTS"

# ---- after the last cut: everything exactly once ----------------------
sync_until_done "$A"
cp "$T/ids.keep" "$T/$A.ids"
audit_exactly_once "$A"
dev=$(sqlite3 "$T/$A/agent.db" "SELECT value FROM meta WHERE key='device_id'")
mine=$(sqlite3 "$T/$A/agent.db" "SELECT count(*) FROM entity_changes c, json_each(c.fields)")
check "each registry edit is at the hub once" \
  "$(sql "SELECT count(*) FROM entity_versions WHERE device_id = '$dev' AND origin = 'device'")" "$mine"
pc_figures
finish
