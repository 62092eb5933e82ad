#!/usr/bin/env bash
# bench/arm.sh [ARCH...]: what the agent costs on the cheap devices it is
# for, measured under qemu-user (default: armhf arm64, beside x86-64).
# Emulation makes times meaningless, so it prints sizes and memory:
#  - the agent's binary as built and stripped, and its text/data/bss;
#  - peak RSS (ru_maxrss of the qemu process, read by bench/maxrss.c) of `--version` (the
#    emulator's and the C library's share), of one `record`, of `status`
#    and of one `sync` of N submissions to a native hub on 127.0.0.1, and
#    each of the three above `--version`: what the agent itself adds.
# Cross builds go through scripts/test-cross (sysroots of Debian's own
# packages); BENCH_ARM_N (default 200) submissions are recorded and
# synced. Build directory: BENCH_ARM_BUILD (default build-arm).
# Figures: bench/README.md, "ARM".
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_ARM_BUILD:-$src/build-arm}
n=${BENCH_ARM_N:-200}
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(armhf arm64)
mkdir -p "$build"
build=$(cd "$build" && pwd)

echo "command: bench/arm.sh ${archs[*]} (BENCH_ARM_N=$n)"
# The native hub and the x86-64 agent to compare with.
cmake -S "$src" -B "$build/native" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DFS_BENCH=ON >/dev/null
cmake --build "$build/native" -j"$(nproc)" --target fieldsync-hub \
  fieldsync-agent maxrss >/dev/null
hub=$build/native/sync-server/fieldsync-hub

T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-arm.XXXXXX")
HUB_PID=""
cleanup() {
  [ -z "$HUB_PID" ] || kill "$HUB_PID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

"$hub" form publish --db "$T/hub.db" \
  "$src/schema/forms/demo_household.json" >/dev/null
"$hub" serve --db "$T/hub.db" --listen 127.0.0.1:0 --port-file "$T/port" \
  --rate-limit 0 2>>"$T/hub.log" &
HUB_PID=$!
for _ in $(seq 1 600); do
  [ -s "$T/port" ] && break
  sleep 0.05
done
[ -s "$T/port" ] || { echo "arm.sh: the hub did not start" >&2; exit 1; }
url="http://127.0.0.1:$(cat "$T/port")"

# maxrss_kb CMD...: the peak RSS of CMD (it must succeed).
maxrss_kb() {
  "$build/native/bench/maxrss" "$@"
}

# measure LABEL AGENT-COMMAND... : one row of figures.
measure() {
  local label=$1
  shift
  local dir=$T/agent-$label code base rec st sy
  code=$("$hub" enroll-code --db "$T/hub.db" --name "$label")
  "$@" --dir "$dir" enroll --hub "$url" --code "$code" >/dev/null
  "$@" --dir "$dir" sync --quiet
  printf '{"age_band":"25-34","gender":"woman","belonging":4,"trust_local_gov":2,"comment":"bench"}' \
    >"$T/answers.json"
  base=$(maxrss_kb "$@" --version)
  rec=$(maxrss_kb "$@" --dir "$dir" record demo_household \
    --answers "$T/answers.json" --area N-01)
  for _ in $(seq 2 "$n"); do
    "$@" --dir "$dir" record demo_household --answers "$T/answers.json" \
      --area N-01 >/dev/null
  done
  st=$(maxrss_kb "$@" --dir "$dir" status)
  sy=$(maxrss_kb "$@" --dir "$dir" sync --quiet)
  local held
  held=$(sqlite3 "$T/hub.db" "SELECT count(*) FROM submissions s JOIN devices d
    ON d.id = s.device_id WHERE d.name = '$label'")
  [ "$held" = "$n" ] || { echo "arm.sh: the hub holds $held of $label's $n" >&2; exit 1; }
  printf '%-7s peak RSS KiB: --version %6d | record %6d (+%d) | status %6d (+%d) | sync of %d %6d (+%d)\n' \
    "$label" "$base" "$rec" $((rec - base)) "$st" $((st - base)) "$n" "$sy" $((sy - base))
}

sizes() {
  local label=$1 bin=$2 tool=$3
  local stripped=$T/stripped-$label
  "${tool}strip" -o "$stripped" "$bin"
  printf '%-7s fieldsync-agent: %d B as built, %d B stripped; ' "$label" \
    "$(stat -c %s "$bin")" "$(stat -c %s "$stripped")"
  "${tool}size" "$stripped" | awk 'NR == 2 { printf "text %d, data %d, bss %d\n", $1, $2, $3 }'
}

sizes x86-64 "$build/native/field-agent/fieldsync-agent" ""
for arch in "${archs[@]}"; do
  bash "$src/scripts/test-cross" --arch "$arch" --step build \
    --build-dir "$build" >/dev/null
  case $arch in
    armhf) t=arm-linux-gnueabihf- ;;
    arm64) t=aarch64-linux-gnu- ;;
    *) echo "arm.sh: unknown architecture $arch" >&2; exit 2 ;;
  esac
  sizes "$arch" "$build/$arch/field-agent/fieldsync-agent" "$t"
done
measure x86-64 "$build/native/field-agent/fieldsync-agent"
for arch in "${archs[@]}"; do
  measure "$arch" "$build/agent-$arch"
done
