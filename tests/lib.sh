# tests/lib.sh - shared helpers for the integration tests.
#
# Every test runs a real fieldsync-hub on 127.0.0.1 with an OS-chosen port
# and a real SQLite file, and real fieldsync-agent processes talking HTTP
# to it. Nothing of ours is replaced by a stand-in.
#
# Inputs (set by ctest): FS_HUB, FS_AGENT (binaries), FS_SRC (source tree).
set -euo pipefail

: "${FS_HUB:?FS_HUB must name the fieldsync-hub binary}"
: "${FS_AGENT:?FS_AGENT must name the fieldsync-agent binary}"
: "${FS_SRC:?FS_SRC must name the source tree}"

T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-test.XXXXXX")
DB="$T/hub.db"
HUB_PID=""
HUB_URL=""
CHECKS=0

cleanup() {
  local rc=$?
  if [ -n "$HUB_PID" ] && kill -0 "$HUB_PID" 2>/dev/null; then
    kill -TERM "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ]; then
    echo "--- hub log (last 40 lines) ---" >&2
    tail -n 40 "$T/hub.log" 2>/dev/null >&2 || true
  fi
  if [ -z "${FS_KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
  exit $rc
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# check DESCRIPTION ACTUAL EXPECTED
check() {
  CHECKS=$((CHECKS + 1))
  if [ "$2" != "$3" ]; then
    fail "$1: expected '$3', got '$2'"
  fi
  echo "ok - $1"
}

finish() {
  echo "$CHECKS passed, 0 failed"
}

sql() {
  sqlite3 -batch -bail "$DB" "$@"
}

publish_sample_form() {
  "$FS_HUB" form publish --db "$DB" "$FS_SRC/schema/forms/demo_household.json" >/dev/null
}

# start_hub [PORT]: PORT 0 (default) lets the system choose; a restart
# passes the previous port so agents keep their hub URL.
start_hub() {
  rm -f "$T/port"
  "$FS_HUB" serve --db "$DB" --listen "127.0.0.1:${1:-0}" --port-file "$T/port" \
    --threads "${HUB_THREADS:-16}" 2>>"$T/hub.log" &
  HUB_PID=$!
  local i
  for i in $(seq 1 200); do
    [ -s "$T/port" ] && break
    kill -0 "$HUB_PID" 2>/dev/null || fail "hub exited at start"
    sleep 0.05
  done
  [ -s "$T/port" ] || fail "hub did not start within 10 s"
  HUB_URL="http://127.0.0.1:$(cat "$T/port")"
  curl -fsS "$HUB_URL/healthz" >/dev/null || fail "hub /healthz not ok"
}

stop_hub() {
  kill -TERM "$HUB_PID"
  wait "$HUB_PID" || fail "hub did not stop cleanly"
  HUB_PID=""
}

kill_hub() {
  kill -KILL "$HUB_PID"
  wait "$HUB_PID" 2>/dev/null || true
  HUB_PID=""
}

hub_port() {
  echo "${HUB_URL##*:}"
}

agent() {
  sqlite3 "$T/$1/agent.db" "UPDATE meta SET value='$HUB_URL' WHERE key='hub_url'"
}

agent() {
  local name=$1
  shift
  "$FS_AGENT" --dir "$T/$name" "$@"
}

# new_agent NAME: enrol with a fresh code and pull the forms.
new_agent() {
  local code
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$1")
  agent "$1" enroll --hub "$HUB_URL" --code "$code" >/dev/null
  agent "$1" sync --quiet
}

# record_n NAME N [AREA]: N submissions with varied answers.
record_n() {
  local name=$1 n=$2 area=${3:-N-01} i
  local bands=(18-24 25-34 35-49 50-64 65+) genders=(woman man another)
  for i in $(seq 1 "$n"); do
    printf '{"age_band":"%s","gender":"%s","belonging":%d,"trust_local_gov":%d,"comment":"%s #%d"}' \
      "${bands[$((i % 5))]}" "${genders[$((i % 3))]}" $((i % 5 + 1)) \
      $(((i * 7) % 5 + 1)) "$name" "$i" >"$T/$name.answers.json"
    agent "$name" record demo_household --answers "$T/$name.answers.json" \
      --area "$area" >>"$T/$name.ids"
  done
}

pending() {
  agent "$1" status --json | sed -n 's/.*"pending":[[:space:]]*\([0-9]*\).*/\1/p'
}

# A fingerprint of everything the hub stores.
hub_fingerprint() {
  sqlite3 "$DB" .dump | sha256sum | cut -d' ' -f1
}
