#!/usr/bin/env bash
# `scripts/demo --exit` runs end to end on the binaries under test and
# prints the merged counts per form and per area, coverage of the quotas,
# an indicator table with small cells hidden, and the registry conflict
# the two tablets made.
. "$(dirname "$0")/../lib.sh"

FIELDSYNC_DEMO_DIR="$T/demo" "$FS_SRC/scripts/demo" --exit \
  --listen 127.0.0.1:0 >"$T/out" 2>"$T/err" || {
  cat "$T/out" "$T/err" >&2
  fail "scripts/demo --exit failed"
}
cat "$T/out"
grep -q "^48 submissions from 2 devices" "$T/out" || fail "no total line"
grep -Eq "demo_household +1 +48$" "$T/out" || fail "no per-form line"
for a in CITY-N01 CITY-N02 CITY-N03; do
  grep -Eq "^  $a +[0-9]+" "$T/out" || fail "no per-area line for $a"
done
grep -Eq "^baseline +CITY-N02 +demo_household +20 +24 " "$T/out" || fail "no coverage line"
grep -Eq "suppressed +small_cell" "$T/out" || fail "no suppressed indicator cell"
grep -Eq '^#1 open field mechanism .* field status \(area CITY-N02\)' "$T/out" || fail "no conflict listed"
DB="$T/demo/hub.db"
check "demo hub holds 48" "$(sql 'SELECT count(*) FROM submissions')" 48
check "demo areas imported" "$(sql "SELECT count(*) FROM entities WHERE type = 'area'")" 6
check "one open conflict, two values" \
  "$(sql "SELECT count(*) FROM conflicts WHERE status = 'open'")/$(sql 'SELECT count(*) FROM conflict_values')" "1/2"
check "demo hub stopped" "$(pgrep -f "$T/demo/hub.db" | wc -l)" 0
finish
