#!/usr/bin/env bash
# libcurl is loaded only by the commands that reach a hub: record, status,
# forms, drafts and show never load it (the loader's own trace says so),
# and they work on a device where it cannot be loaded. There, sync names
# the missing package, keeps every record and changes nothing at the hub;
# with libcurl loadable again the same records are sent.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a1

# The dynamic loader reports every library it loads, at start or later
# by dlopen, on stderr with LD_DEBUG=files.
loads() {  # loads COMMAND...: the loader's trace of an agent command
  { LD_DEBUG=files "$FS_AGENT" --dir "$T/a1" "$@" >/dev/null || true; } 2>&1
}
printf '{"age_band":"25-34","gender":"woman","belonging":4,"trust_local_gov":3,"comment":"offline"}' >"$T/ans.json"
for cmd in "record demo_household --answers $T/ans.json --area N-01" \
  "status" "forms" "drafts"; do
  # shellcheck disable=SC2086 # the words of the command
  check "${cmd%% *} does not load libcurl" \
    "$(loads $cmd | grep -c 'file=libcurl' || true)" 0
done
id=$(sqlite3 "$T/a1/agent.db" "SELECT id FROM submissions LIMIT 1")
check "show does not load libcurl" \
  "$(loads show "$id" | grep -c 'file=libcurl' || true)" 0
# The same trace does show it when a command needs it.
[ "$(loads sync --quiet | grep -c 'file=libcurl.so.4')" -ge 1 ] ||
  fail "the loader's trace did not show sync loading libcurl"
check "the traced record was sent" "$(pending a1)" 0

# A device where libcurl.so.4 cannot be loaded: a file of that name that
# is no library, found first on the library path.
mkdir -p "$T/nolib"
printf 'not a library\n' >"$T/nolib/libcurl.so.4"
nolib() { LD_LIBRARY_PATH="$T/nolib" agent a1 "$@"; }
record_n a1 2
for _ in 1 2; do
  nolib record demo_household --answers "$T/ans.json" --area N-01 >/dev/null ||
    fail "record failed where libcurl cannot be loaded"
done
nolib status >/dev/null || fail "status failed where libcurl cannot be loaded"
check "4 waiting" "$(pending a1)" 4
before=$(hub_fingerprint)
rc=0
nolib sync --quiet 2>"$T/err" || rc=$?
check "sync without libcurl exits 1" "$rc" 1
grep -q "cannot load libcurl.so.4" "$T/err" || fail "no reason: $(cat "$T/err")"
grep -q "install Debian's libcurl4 package" "$T/err" ||
  fail "no remedy: $(cat "$T/err")"
check "all 4 kept" "$(pending a1)" 4
check "the hub is unchanged" "$(hub_fingerprint)" "$before"

agent a1 sync --quiet
check "sent once libcurl loads" "$(pending a1)" 0
check "the hub holds all 5" "$(sql 'SELECT count(*) FROM submissions')" 5
finish
