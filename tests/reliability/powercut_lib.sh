# tests/reliability/powercut_lib.sh - helpers of the power-cut tests
# (powercut_hub.sh, powercut_agent.sh), sourced after tests/lib.sh.
#
# A tree under power-cut simulation (tests/tools/powercut.c) is written
# only by processes started with pc_env; anything else that writes there
# must run between a restore and the next pc_init, or the restore would
# undo it.
: "${FS_POWERCUT:?FS_POWERCUT must name the powercut library}"
: "${FS_POWERCUT_RESTORE:?FS_POWERCUT_RESTORE must name powercut-restore}"

PC_CUTS=0
PC_LOG="$T/powercut.log"

# pc_init ROOT STATE: what ROOT holds now is durable.
pc_init() {
  "$FS_POWERCUT_RESTORE" init "$1" "$2"
}

# pc_env ROOT STATE CUT_AT COUNT_FILE: the environment of a process run
# under the simulation (CUT_AT 0: no cut of its own). AddressSanitizer
# wants to be loaded first; here the library is, on purpose.
pc_env() {
  echo "LD_PRELOAD=$FS_POWERCUT PC_ROOT=$1 PC_STATE=$2 PC_CUT_AT=$3" \
    "PC_COUNT_FILE=$4 ASAN_OPTIONS=${ASAN_OPTIONS:-}:verify_asan_link_order=0"
}

# pc_cut ROOT STATE SEED: the power is gone (every process under the
# simulation has stopped): ROOT becomes what a disk could hold.
pc_cut() {
  PC_CUTS=$((PC_CUTS + 1))
  "$FS_POWERCUT_RESTORE" cut "$1" "$2" "$3" >>"$PC_LOG" ||
    fail "powercut-restore failed after cut $PC_CUTS"
}

# pc_draw SPAN: a cut point in 1..SPAN*5/4: most land inside the work
# (SPAN changes and syncs were counted for it), some after it ended.
pc_draw() {
  echo $(((RANDOM * 32768 + RANDOM) % ($1 * 5 / 4 + 1) + 1))
}

# pc_count FILE: the count a process under the simulation left at exit.
pc_count() {
  [ -s "$1" ] || fail "no count in $1: did the process exit normally?"
  cat "$1"
}

# pc_figures: totals over every restore of this test, and a check that
# the simulation saw what it is for: writes not yet durable at a cut,
# some dropped, and some torn when the tearing mode (the fourth) was
# drawn.
pc_figures() {
  local f
  f=$(tr -d '(),:' <"$PC_LOG" | awk '{ m[$3]++; w += $5; p += $7; k += $9; t += $11; d += $13; n += $15; np += $17; nk += $19 }
    END { printf "figures: cuts=%d modes=%d/%d/%d/%d writes=%d pending=%d kept=%d torn=%d dropped=%d names=%d pending_names=%d kept_names=%d\n",
          NR, m[0], m[1], m[2], m[3], w, p, k, t, d, n, np, nk }')
  echo "$f"
  case $f in
    *" pending=0 "* | *" dropped=0 "* | *"/0 "*) ;;
    *" torn=0 "*) fail "no write was torn in a cut of the tearing mode: $f" ;;
  esac
  case $f in
    *" pending=0 "* | *" dropped=0 "*)
      fail "the cuts found no write that was not durable yet, or none was lost: $f" ;;
  esac
  echo "ok - $PC_CUTS power cuts dropped and tore writes not yet durable"
}

# hub_sound: after a cut of the hub, before it restarts: the database
# is sound, each device's receipts tile 1..acked_seq without overlap,
# and no push is half there: the submissions of each device are exactly
# those its receipts say were applied.
hub_sound() {
  local why=$1 bad
  [ "$(sql 'PRAGMA integrity_check')" = ok ] || fail "hub database damaged ($why)"
  bad=$(sql "SELECT count(*) FROM devices d WHERE d.acked_seq <>
    (SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM receipts r
     WHERE r.device_id = d.id)")
  [ "$bad" = 0 ] || fail "$bad device(s) whose receipts do not tile 1..acked_seq ($why)"
  bad=$(sql 'SELECT count(*) FROM receipts a JOIN receipts b ON a.device_id = b.device_id
    AND a.rowid < b.rowid AND a.first_seq <= b.last_seq AND b.first_seq <= a.last_seq')
  [ "$bad" = 0 ] || fail "$bad receipts overlap ($why)"
  bad=$(sql "SELECT group_concat(d.id) FROM devices d WHERE
    (SELECT count(*) FROM submissions s WHERE s.device_id = d.id) +
    (SELECT count(DISTINCT v.entity_id || v.hlc) FROM entity_versions v
     WHERE v.device_id = d.id AND v.origin = 'device') <>
    (SELECT count(*) FROM receipts r, json_each(r.reply, '\$.results') j
     WHERE r.device_id = d.id AND json_extract(j.value, '\$.status') = 'applied')")
  [ -z "$bad" ] || fail "device(s) $bad: stored changes and receipts disagree, a push half there ($why)"
}
