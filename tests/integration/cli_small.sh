#!/usr/bin/env bash
# The small things a new user met (issue of the mapping dataset): an
# agent directory whose parents do not exist yet is made whole at
# enrolment (the store private, mode 0700); a pull-only sync and an ODK
# Collect form list count as the device being seen; an option a command
# does not take is refused before anything is done, with the same
# message from every command, naming the option and showing the
# command's own usage.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub

# ---- enrolment makes the directory's parents --------------------------------

code=$("$FS_HUB" enroll-code --db "$DB" --name deep --areas CITY-N01)
deep="$T/field/team-a/tablet-3"
"$FS_AGENT" --dir "$deep" enroll --hub "$HUB_URL" --code "$code" >"$T/enroll.out" 2>&1 ||
  fail "enrolment into a new nested directory: $(cat "$T/enroll.out")"
echo "ok - enrolment into a directory whose parents did not exist"
check "the store is there" "$(test -s "$deep/agent.db" && echo yes)" yes
check "the agent directory is private" "$(stat -c %a "$deep")" 700
: >"$T/plainfile"
"$FS_AGENT" --dir "$T/plainfile/sub" status >"$T/notdir.out" 2>&1 && fail "a directory under a file was accepted"
grep -q "cannot create the agent directory" "$T/notdir.out" ||
  fail "a directory under a file: $(cat "$T/notdir.out")"
echo "ok - a parent that is a file is named as the problem"

# ---- last seen after a sync that only pulls ---------------------------------

seen() {
  sql "SELECT coalesce(last_seen_ms, 0) > 0 FROM devices WHERE name = '$1'"
}
check "not seen before its first sync" "$(seen deep)" 0
"$FS_AGENT" --dir "$deep" sync --quiet || fail "sync failed"
check "a sync with nothing to send made no push" \
  "$(sql "SELECT coalesce(last_push_ms, 0) FROM devices WHERE name = 'deep'")" 0
check "and the device is seen" "$(seen deep)" 1
"$FS_HUB" devices --db "$DB" >"$T/devices.txt"
grep "deep" "$T/devices.txt" | grep -q never && fail "devices says never: $(cat "$T/devices.txt")"
echo "ok - devices no longer says never after a pull-only sync"
BASE=$("$FS_HUB" enroll-code --db "$DB" --name phone --areas CITY-N01 \
  --forms demo_household --collect "$HUB_URL")
check "a Collect phone is not seen before it asks" "$(seen phone)" 0
curl -fsS -o /dev/null -H 'X-OpenRosa-Version: 1.0' "$BASE/formList" || fail "formList"
check "a form list makes it seen" "$(seen phone)" 1

# ---- options a command does not take ----------------------------------------

# refused CMD...: exit status 2, a message naming the option and the
# command's usage, nothing written.
refused() {
  local opt=$1
  shift
  "$FS_HUB" "$@" --db "$DB" >"$T/out" 2>"$T/err" && fail "$* was accepted"
  local rc=$?
  set -- "${@//$T\//}"
  check "$*: exit status 2" "$rc" 2
  grep -q -- "^fieldsync-hub: $opt is not an option of this command" "$T/err" ||
    fail "$*: $(cat "$T/err")"
  echo "ok - $*: the message names $opt"
}
refused --by export geojson areas --by _area -o "$T/areas.json"
grep -q "^  export geojson areas" "$T/err" || fail "the usage shown is not the command's: $(cat "$T/err")"
echo "ok - the command's own usage is shown"
test -e "$T/areas.json" && fail "the refused export wrote its file"
echo "ok - the refused export wrote nothing"
refused --form coverage --form demo_household
refused --areas token list --areas CITY-N01
refused --qr serve --qr "$T/x.png"
refused --comment device revoke --comment why nobody
check "the refused revoke changed nothing" "$(sql "SELECT count(*) FROM devices WHERE revoked_ms IS NOT NULL")" 0
# The same options where they belong still work.
"$FS_HUB" export geojson areas --db "$DB" -o "$T/areas.json" || fail "export geojson areas"
check "export geojson areas writes GeoJSON" "$(sed -n 's/^{"type":"\([A-Za-z]*\)".*/\1/p' "$T/areas.json" | head -1)" FeatureCollection
"$FS_HUB" token list --db "$DB" --json >/dev/null || fail "token list --json"
echo "ok - options a command takes are still taken"
# A wrong subcommand keeps its own message.
"$FS_HUB" export pdf --db "$DB" 2>"$T/err" && fail "export pdf accepted"
grep -q "usage: fieldsync-hub export" "$T/err" || fail "export pdf: $(cat "$T/err")"
echo "ok - a wrong subcommand gets the command's usage"

stop_hub
finish
