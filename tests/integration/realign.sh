#!/usr/bin/env bash
# An agent whose view of the hub's sequence is behind (its database restored
# from an old copy) or ahead (the hub's database restored from a backup)
# realigns: no loss, no duplicate.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a1

# --- agent behind: restore the agent's directory from an older copy ----
record_n a1 12
cp -a "$T/a1" "$T/a1-backup"              # 12 queued, acked 0
agent a1 sync --quiet --batch 5           # hub acks 1..12 in 3 batches
check "12 at the hub" "$(sql 'SELECT count(*) FROM submissions')" 12
rm -rf "$T/a1" && mv "$T/a1-backup" "$T/a1"
check "restored agent thinks 12 are pending" "$(pending a1)" 12
record_n a1 3                              # new records after the restore
agent a1 sync --quiet --batch 4            # different batch boundaries
check "15 at the hub, none doubled" "$(sql 'SELECT count(*) FROM submissions')" 15
check "15 distinct" "$(sql 'SELECT count(DISTINCT id) FROM submissions')" 15
check "restored agent has nothing pending" "$(pending a1)" 0
check "no divergent or refused changes" "$(sql 'SELECT count(*) FROM held_changes')" 0

# --- agent behind, with records the hub never saw under sequence numbers
# the hub already acknowledged for other records --------------------------
record_n a1 4
cp -a "$T/a1" "$T/a1-backup"              # 4 queued
record_n a1 4
agent a1 sync --quiet                      # hub acks all 8
rm -rf "$T/a1" && mv "$T/a1-backup" "$T/a1"
: >"$T/new.ids"
for i in 1 2 3 4; do                       # new records reuse seqs 5..8
  echo '{"age_band":"65+","comment":"after restore"}' >"$T/late.json"
  agent a1 record demo_household --answers "$T/late.json" --area N-01 >>"$T/new.ids"
done
cat "$T/new.ids" >>"$T/a1.ids"
agent a1 sync --quiet
check "the 4 records made after the restore reached the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE id IN ($(sed "s/.*/'&'/" "$T/new.ids" | paste -sd,))")" 4
check "27 at the hub, none doubled" "$(sql 'SELECT count(*) FROM submissions')" 27
check "27 distinct" "$(sql 'SELECT count(DISTINCT id) FROM submissions')" 27
check "nothing pending" "$(pending a1)" 0

# --- hub behind: restore the hub's database from a backup ---------------
sqlite3 "$DB" ".backup '$T/hub-backup.db'"   # hub holds 27
record_n a1 7
agent a1 sync --quiet
check "34 at the hub" "$(sql 'SELECT count(*) FROM submissions')" 34
port=$(hub_port)
stop_hub
cp "$T/hub-backup.db" "$DB"
rm -f "$DB-wal" "$DB-shm"
start_hub "$port"
check "restored hub lost 7" "$(sql 'SELECT count(*) FROM submissions')" 27
record_n a1 2
agent a1 sync --quiet
check "36 at the hub after realigning" "$(sql 'SELECT count(*) FROM submissions')" 36
check "36 distinct" "$(sql 'SELECT count(DISTINCT id) FROM submissions')" 36
check "agent has nothing pending" "$(pending a1)" 0
cat "$T/a1.ids" | sort >"$T/agent-ids"
sql 'SELECT id FROM submissions' | sort >"$T/hub-ids"
cmp -s "$T/agent-ids" "$T/hub-ids" || fail "ids at the hub differ from the agent's"
check "a further sync sends nothing" "$(agent a1 sync)" \
  "sync done: sent 0 change(s), received 0; 0 waiting"
finish
