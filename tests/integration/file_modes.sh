#!/usr/bin/env bash
# Files that hold personal data are readable by their owner only, whatever
# the umask: the hub's database with its -wal and -shm files, a backup,
# the CLI's exports, and the agent's database with its -wal and -shm
# files, also when the agent's directory already exists and is open to
# others.
. "$(dirname "$0")/../lib.sh"

umask 022
publish_sample_form
start_hub
mkdir -m 0755 "$T/a"
new_agent a
record_n a 3
agent a sync --quiet
"$FS_HUB" backup --db "$DB" -o "$T/backup.db" >/dev/null
"$FS_HUB" export json --db "$DB" --form demo_household -o "$T/export.json" >/dev/null
"$FS_HUB" export csv --db "$DB" --form demo_household -o "$T/export.csv" >/dev/null

# The hub runs, so its -wal and -shm files are there.
for f in "$DB" "$DB-wal" "$DB-shm" "$T/backup.db" "$T/export.json" \
  "$T/export.csv" "$T/a/agent.db"; do
  [ -e "$f" ] || fail "$f was not made"
  check "${f#"$T"/} is mode 0600" "$(stat -c %a "$f")" 600
done
# The agent's -wal and -shm files live only while it has the database
# open; any left are checked too.
for f in "$T/a/agent.db-wal" "$T/a/agent.db-shm"; do
  [ -e "$f" ] && check "${f#"$T"/} is mode 0600" "$(stat -c %a "$f")" 600
done
finish
