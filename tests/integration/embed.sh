#!/usr/bin/env bash
# The embeddable agent as an app gets it: `cmake --install` of the agent
# library's components into a fresh prefix, the example program built
# against the installed header and library with pkg-config alone (no
# path into the source or build tree), run against a real hub: it enrols,
# records and syncs through the public API, and the record arrives.
. "$(dirname "$0")/../lib.sh"

: "${FS_BUILD:?FS_BUILD must name the build directory (ctest sets it)}"
CC=${CC:-cc}

# ---- install: runtime and development components only ----------------
P="$T/prefix"
for c in agent-lib agent-dev; do
  cmake --install "$FS_BUILD" --prefix "$P" --component "$c" >/dev/null
done
pc=$(find "$P" -name fieldsync-agent.pc)
[ -n "$pc" ] || fail "no fieldsync-agent.pc installed under the prefix"
export PKG_CONFIG_PATH=${pc%/*}
libdir=$(pkg-config --variable=libdir fieldsync-agent)
case $(realpath "$libdir") in
  "$(realpath "$P")"/*) ;;
  *) fail "pkg-config libdir $libdir is not under the prefix $P" ;;
esac
lib="$libdir/libfieldsync-agent.so.0"
[ -f "$lib" ] || fail "$lib not installed"
check "soname" "$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')" \
  libfieldsync-agent.so.0
check "one public header" "$(find "$P" -name '*.h' -printf '%f\n')" fieldsync.h
flags=$(pkg-config --cflags --libs fieldsync-agent)
case $flags in
  *"$FS_SRC"* | *"$FS_BUILD"*) fail "pkg-config points into the tree: $flags" ;;
esac

# Exactly the functions the header declares are exported, all versioned.
declared=$(sed -n 's/^FA_API .*[ *]\(fa_[a-z_]*\)(.*/\1/p' \
  "$(pkg-config --variable=includedir fieldsync-agent)/fieldsync.h" | sort)
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { print $3 }' |
  sed 's/@@FIELDSYNC_AGENT_0$//' | sort)
[ "$(echo "$declared" | wc -l)" -ge 10 ] || fail "header parse: $declared"
check "exports are the header's functions" "$exported" "$declared"
check "every export carries the version node" \
  "$(nm -D --defined-only "$lib" | awk '$2 == "T"' | grep -vc '@@FIELDSYNC_AGENT_0$' || true)" 0

# ---- build the example as an app would -------------------------------
# FS_EMBED_CFLAGS: the sanitizer flags when the library was built with
# them (its runtime must come first in the program).
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror ${FS_EMBED_CFLAGS:-} \
  -o "$T/record_and_sync" "$FS_SRC/examples/record_and_sync.c" $flags ||
  fail "the example does not build against the installed library"
check "example under 150 lines" \
  "$(($(wc -l <"$FS_SRC/examples/record_and_sync.c") < 150))" 1
app() { LD_LIBRARY_PATH="$libdir" "$T/record_and_sync" "$@"; }
check "the example runs the installed library" \
  "$(LD_LIBRARY_PATH="$libdir" ldd "$T/record_and_sync" |
    sed -n 's/.*libfieldsync-agent.so.0 => \([^ ]*\) .*/\1/p')" "$lib"

# ---- enrol, record and sync through the public API -------------------
publish_sample_form
start_hub
code=$("$FS_HUB" enroll-code --db "$DB" --name embedded)
answers='{"age_band":"25-34","gender":"woman","belonging":4,"trust_local_gov":2,"comment":"from an app"}'
app "$T/dev" demo_household N-01 "$answers" "$HUB_URL" "$code" \
  >"$T/out1" 2>"$T/err1" || fail "example failed: $(cat "$T/err1")"
id1=$(sed -n 's/^recorded //p' "$T/out1")
[ -n "$id1" ] || fail "no id printed: $(cat "$T/out1")"
check "first record at the hub" \
  "$(sql "SELECT form_id || ' ' || area FROM submissions WHERE id='$id1'")" \
  "demo_household N-01"
check "sync reports: the form pulled, then the record sent" \
  "$(grep '^sent' "$T/out1" | tr '\n' ';')" \
  "sent 0, pulled 1, queued 0;sent 1, pulled 0, queued 0;"
grep -q '^sending 1/1$' "$T/err1" || fail "no progress callback: $(cat "$T/err1")"
grep -q '^status {.*"pending":0' "$T/out1" || fail "status: $(cat "$T/out1")"

# The directory stays enrolled: a second run needs no code.
app "$T/dev" demo_household N-01 "$answers" >"$T/out2" 2>"$T/err2" ||
  fail "second run failed: $(cat "$T/err2")"
id2=$(sed -n 's/^recorded //p' "$T/out2")
check "second record at the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE id='$id2'")" 1
check "the command sees the app's directory" "$(pending dev)" 0

# Wrong answers: FA_EINPUT, the library's words, nothing queued.
rc=0
app "$T/dev" demo_household N-01 '{"age_band":"ancient"}' >"$T/out3" \
  2>"$T/err3" || rc=$?
check "bad answers fail" "$rc" 1
grep -q '(code -1)$' "$T/err3" || fail "not FA_EINPUT: $(cat "$T/err3")"
check "nothing queued by bad answers" "$(pending dev)" 0

# Hub gone: FA_EUNREACHABLE, the record kept and sent by the next sync.
port=$(hub_port)
stop_hub
rc=0
app "$T/dev" demo_household N-01 "$answers" >"$T/out4" 2>"$T/err4" || rc=$?
check "unreachable hub fails" "$rc" 1
grep -q '(code -3)$' "$T/err4" || fail "not FA_EUNREACHABLE: $(cat "$T/err4")"
check "record kept while the hub is away" "$(pending dev)" 1
start_hub "$port"
agent dev sync --quiet
check "kept record arrives" "$(sql 'SELECT count(*) FROM submissions')" 3

# One handle per thread, four threads at once, each its own device: the
# library keeps no state one handle could disturb in another (and races
# its one-time libcurl load safely). Under the sanitizers of this build.
# shellcheck disable=SC2086
"$CC" -std=c11 -Wall -Wextra -Werror -pthread ${FS_EMBED_CFLAGS:-} \
  -o "$T/embed_threads" "$FS_SRC/tests/integration/embed_threads.c" $flags ||
  fail "the thread test does not build against the installed library"
args=()
for i in 1 2 3 4; do
  args+=("$T/t$i" "$("$FS_HUB" enroll-code --db "$DB" --name "t$i")")
done
LD_LIBRARY_PATH="$libdir" "$T/embed_threads" "$HUB_URL" "${args[@]}" \
  >"$T/threads.out" 2>"$T/threads.err" ||
  fail "threads: $(cat "$T/threads.err" "$T/threads.out")"
check "four threads' records all at the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE answers LIKE '%another%'")" 20
check "from four devices" \
  "$(sql "SELECT count(DISTINCT device_id) FROM submissions WHERE answers LIKE '%another%'")" 4

finish
