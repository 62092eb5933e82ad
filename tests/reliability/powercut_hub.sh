#!/usr/bin/env bash
# Power cuts of the hub (tests/tools/powercut.c): the hub runs under the
# power-cut simulation and loses power at a random change or sync of its
# files, or at rest; its directory is rebuilt as a disk could hold it
# (writes since the last fsync dropped, kept, torn or reordered; names
# since the last fsync of their directory gone or not), and it restarts
# on that. After every cut, before the restart:
#  - PRAGMA integrity_check is ok;
#  - every push an agent saw answered 200 is stored (acked_stored);
#  - receipts tile 1..acked_seq per device, none overlap, and the changes
#    stored per device are exactly those its receipts applied;
#  - a device whose enrolment was answered still exists.
# Cuts land during pushes of three agents in small batches (group
# commits, two changesets in flight), enrolments, registry edits and
# merges, WAL checkpoints (the hub's checkpoint thread is woken every 8
# pages here, FIELDSYNC_CHECKPOINT_PAGES, instead of every 1,000) and
# restarts of the WAL, exports and backups written into place, and the
# migration of an old-schema database. After the last cut every agent syncs until done and the audit of the reliability
# tests runs: everything exactly once.
#
# FS_SEED (default 6), FS_CUTS (cuts during pushes, default 30),
# FS_EXPORT_CUTS (default 4), FS_BACKUP_CUTS (default 4),
# FS_MIGRATE_CUTS (default 4).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/powercut_lib.sh"
rel_trap

SEED=${FS_SEED:-6}
CUTS=${FS_CUTS:-30}
MIGRATE_CUTS=${FS_MIGRATE_CUTS:-4}
EXPORT_CUTS=${FS_EXPORT_CUTS:-4}
BACKUP_CUTS=${FS_BACKUP_CUTS:-4}
RANDOM=$SEED
echo "seed $SEED, $CUTS + $EXPORT_CUTS + $BACKUP_CUTS + $MIGRATE_CUTS hub power cuts"

DISK="$T/hubdisk"
PCS="$T/pc-hub"
mkdir -p "$DISK"
DB="$DISK/hub.db"
AGENTS=(a1 a2 a3)
ENROLLED=()

publish_sample_form
HUB_ARGS="--rate-limit 0" start_hub
port=$(hub_port)
for a in "${AGENTS[@]}"; do
  new_agent "$a"
  record_n "$a" 1
done
# Each device keeps a registry entry of its own up to date (edits that
# merge as fast-forwards; conflicts have tests/integration/entities.sh).
declare -A MECH
for a in "${AGENTS[@]}"; do
  MECH[$a]=$(agent "$a" entity new mechanism name="Committee of $a" \
    type=peace_committee area=N-01 status=active)
  agent "$a" sync --quiet
done
stop_hub

# pc_start_hub CUT_AT: the hub under the simulation on the same port.
# Returns 1 when the power went before it served.
pc_start_hub() {
  rm -f "$T/port" "$T/hub.count"
  # shellcheck disable=SC2046 # one word per variable
  env $(pc_env "$DISK" "$PCS" "$1" "$T/hub.count") \
    FIELDSYNC_CHECKPOINT_PAGES=8 "$FS_HUB" serve --db "$DB" \
    --listen "127.0.0.1:$port" --port-file "$T/port" --threads 16 \
    --rate-limit 0 2>>"$T/hub.log" &
  HUB_PID=$!
  local i
  for i in $(seq 1 600); do
    [ -s "$T/port" ] && return 0
    kill -0 "$HUB_PID" 2>/dev/null || return 1
    sleep 0.05
  done
  fail "hub did not start within 30 s"
}

# pc_end_hub: the power goes now if it has not gone already.
pc_end_hub() {
  kill -KILL "$HUB_PID" 2>/dev/null || true
  { wait "$HUB_PID" || true; } 2>/dev/null
  HUB_PID=""
}

# Records are queued with clone_records (tests/lib.sh): `record` would
# cost a process each, and the agent is not what this test cuts.
QN=0
queue_records() {
  clone_records "$1" "$2" "$QN"
  QN=$((QN + $2))
}

# Offline work for one round: new records and, now and then, a registry
# edit.
offline_work() {
  local a
  for a in "${AGENTS[@]}"; do
    queue_records "$a" $((RANDOM % 4 + 1))
    if [ $((RANDOM % 4)) -eq 0 ]; then
      agent "$a" entity set "${MECH[$a]}" name="Committee $RANDOM" >/dev/null
    fi
  done
}

# sync_all: every agent syncs at once, in batches of 1-4, no retries.
sync_all() {
  local a p rc pids=()
  for a in "${AGENTS[@]}"; do
    agent "$a" sync --quiet --retries 0 --batch $((RANDOM % 4 + 1)) \
      >/dev/null 2>>"$T/$a.sync.log" &
    pids+=($!)
  done
  BG_PIDS+=("${pids[@]}")
  for p in "${pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    case $rc in 0 | 3) ;; *) fail "a sync exited $rc (cut $((PC_CUTS + 1)))" ;; esac
  done
  BG_PIDS=()
}

# after_cut WHY: the checks of every cut, before the hub restarts.
after_cut() {
  local a d
  hub_sound "$1"
  for a in "${AGENTS[@]}"; do acked_stored "$a"; done
  for d in "${ENROLLED[@]}"; do
    [ "$(sql "SELECT count(*) FROM devices WHERE id='$d'")" = 1 ] ||
      fail "device $d was told it is enrolled, and the hub lost it ($1)"
  done
}

# One round: offline work, maybe an enrolment code, then the hub under
# the simulation while every agent syncs (and maybe a new one enrols);
# the power goes at CUT_AT or, if the work ended first, at rest.
round() {
  local cut_at=$1 code="" name="" rc
  offline_work
  if [ $((RANDOM % 5)) -eq 0 ]; then
    name="e$((${#ENROLLED[@]} + PC_CUTS))"
    code=$("$FS_HUB" enroll-code --db "$DB" --name "$name")
  fi
  pc_init "$DISK" "$PCS"
  if pc_start_hub "$cut_at"; then
    HUB_URL="http://127.0.0.1:$port"
    if [ -n "$code" ]; then
      rc=0
      "$FS_AGENT" --dir "$T/$name" enroll --hub "$HUB_URL" --code "$code" \
        >/dev/null 2>>"$T/enroll.log" || rc=$?
      if [ $rc -eq 0 ]; then
        ENROLLED+=("$(sqlite3 "$T/$name/agent.db" "SELECT value FROM meta WHERE key='device_id'")")
      fi
    fi
    sync_all
  fi
}

# ---- cuts during pushes, group commits, enrolments, merges ------------
# How many changes and syncs a round makes, counted on one without a cut.
round 0
stop_hub
span=$(pc_count "$T/hub.count")
echo "a round makes ~$span changes and syncs"
for k in $(seq 1 "$CUTS"); do
  round "$(pc_draw "$span")"
  pc_end_hub
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + k))
  after_cut "cut $k"
done
echo "$CUTS cuts during pushes, each followed by the checks"

# ---- cuts while an export is written into place -----------------------
# An export that reported success is there, whole, after a cut.
"$FS_HUB" export json --form demo_household --db "$DB" -o "$T/export.ref" 2>/dev/null
export_once() {
  rm -f "$DISK/export.json"
  pc_init "$DISK" "$PCS"
  rm -f "$T/hub.count"
  EXPORT_RC=0
  # shellcheck disable=SC2046 # one word per variable
  env $(pc_env "$DISK" "$PCS" "$1" "$T/hub.count") "$FS_HUB" export json \
    --form demo_household --db "$DB" -o "$DISK/export.json" 2>/dev/null || EXPORT_RC=$?
}
export_once 0
span=$(pc_count "$T/hub.count")
for k in $(seq 1 "$EXPORT_CUTS"); do
  # Most land after the export ended: its file must be there.
  export_once "$(pc_draw $((span * 2)))"
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + 80000 + k))
  if [ $EXPORT_RC -eq 0 ]; then
    cmp -s "$T/export.ref" "$DISK/export.json" ||
      fail "export cut $k: the export reported success and is not there whole"
  fi
  hub_sound "export cut $k"
done
echo "$EXPORT_CUTS cuts while exporting, each followed by the checks"

# ---- cuts while a backup is written into place ------------------------
# A backup that reported success is there after a cut: sound, and
# holding what the hub held (no push runs meanwhile).
want=$(sql 'SELECT count(*) FROM submissions')
backup_once() {
  rm -f "$DISK/backup.db"
  pc_init "$DISK" "$PCS"
  rm -f "$T/hub.count"
  BACKUP_RC=0
  # shellcheck disable=SC2046 # one word per variable
  env $(pc_env "$DISK" "$PCS" "$1" "$T/hub.count") "$FS_HUB" backup \
    --db "$DB" -o "$DISK/backup.db" >/dev/null 2>&1 || BACKUP_RC=$?
}
backup_once 0
span=$(pc_count "$T/hub.count")
for k in $(seq 1 "$BACKUP_CUTS"); do
  backup_once "$(pc_draw $((span * 2)))"
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + 90000 + k))
  if [ $BACKUP_RC -eq 0 ]; then
    [ -f "$DISK/backup.db" ] ||
      fail "backup cut $k: the backup reported success and is not there"
    [ "$(sqlite3 "$DISK/backup.db" 'PRAGMA integrity_check')" = ok ] ||
      fail "backup cut $k: the backup reported success and is damaged"
    [ "$(sqlite3 "$DISK/backup.db" 'SELECT count(*) FROM submissions')" = "$want" ] ||
      fail "backup cut $k: the backup reported success and lacks submissions"
  fi
  hub_sound "backup cut $k"
done
rm -f "$DISK/backup.db"
echo "$BACKUP_CUTS cuts while backing up, each followed by the checks"

# ---- cuts during the migration of an old-schema database --------------
# A database of schema version 3 (the hub's first three steps), made
# with its own SQL, in a directory of its own: the hub migrates it at
# start.
main_disk=$DISK main_pcs=$PCS main_db=$DB
DISK="$T/migdisk" PCS="$T/pc-mig" DB="$T/migdisk/hub.db"
mkdir -p "$DISK"
OLD="$T/old-hub.db"
for f in hub.sql hub-2.sql hub-3.sql; do sqlite3 -bail "$OLD" <"$FS_SRC/schema/$f"; done
sqlite3 -bail "$OLD" "PRAGMA user_version = 3; PRAGMA journal_mode = WAL;" >/dev/null
migrate_from_old() {
  rm -rf "${DISK:?}"/*
  cp "$OLD" "$DB"
  pc_init "$DISK" "$PCS"
  pc_start_hub "$1" || true
}
# The version this hub writes: hub.sql is step 1, each hub-N.sql one more.
latest=$(($(find "$FS_SRC/schema" -name 'hub-*.sql' | wc -l) + 1))
migrate_from_old 0
stop_hub
span=$(pc_count "$T/hub.count")
check "the old database migrated" "$(sql 'PRAGMA user_version')" "$latest"
echo "a migration and start make ~$span changes and syncs"
for k in $(seq 1 "$MIGRATE_CUTS"); do
  migrate_from_old $(((RANDOM % span) + 1))
  pc_end_hub
  pc_cut "$DISK" "$PCS" $((SEED * 100000 + 90000 + k))
  [ "$(sql 'PRAGMA integrity_check')" = ok ] || fail "migration cut $k: database damaged"
  v=$(sql 'PRAGMA user_version')
  [ "$v" -ge 3 ] && [ "$v" -le "$latest" ] || fail "migration cut $k: schema version '$v'"
  # Each step is whole or absent: the tables of step 4 exist exactly
  # when the version says so.
  has4=$(sql "SELECT count(*) FROM sqlite_master WHERE name = 'entity_versions'")
  [ "$has4" = $((v >= 4)) ] || fail "migration cut $k: version $v, step 4's tables: $has4"
  start_hub
  [ "$(sql 'PRAGMA user_version')" = "$latest" ] || fail "migration cut $k: not migrated on restart"
  stop_hub
done
echo "$MIGRATE_CUTS cuts during migration, each followed by the checks"
DISK=$main_disk PCS=$main_pcs DB=$main_db

# ---- after the last cut: everything exactly once ----------------------
HUB_ARGS="--rate-limit 0" start_hub "$port"
for a in "${AGENTS[@]}"; do sync_until_done "$a"; done
audit_exactly_once "${AGENTS[@]}"
# The registry: every edit of every device is at the hub once.
for a in "${AGENTS[@]}"; do
  dev=$(sqlite3 "$T/$a/agent.db" "SELECT value FROM meta WHERE key='device_id'")
  mine=$(sqlite3 "$T/$a/agent.db" "SELECT count(*) FROM entity_changes c, json_each(c.fields)")
  check "$a: each registry edit is at the hub once" \
    "$(sql "SELECT count(*) FROM entity_versions WHERE device_id = '$dev' AND origin = 'device'")" "$mine"
done
echo "enrolled under cuts: ${#ENROLLED[@]}"
pc_figures
finish
