#!/usr/bin/env bash
# debs.sh DEB_DIR: the Debian packages as an admin meets them (run by
# scripts/test-package, as root; it installs packages on this machine and
# removes them again). Installs fieldsync-hub, fieldsync-agent and the
# agent library's libfieldsync-agent0 and libfieldsync-agent-dev from
# DEB_DIR, then checks that
#  - the package made the service's user and a 0700 state directory;
#  - the hub starts as the service starts it: the unit's ExecStart line
#    with /etc/default/fieldsync-hub, run as the service's user with its
#    umask (when systemd is not PID 1, as in CI), and listens on loopback;
#  - a real agent syncs through stunnel run with the packaged example
#    configuration and a throwaway CA;
#  - `fieldsync-hub backup` while the hub serves and a second agent
#    syncs, then `restore` into a new path: a hub serves the restored
#    database and every record of the first agent is there;
#  - the example program builds against the installed library with
#    pkg-config alone and its record reaches the hub;
#  - reinstalling (the upgrade path of the maintainer scripts) keeps the
#    data; removing keeps it, purging deletes it, and nothing of the
#    packages is left.
set -euo pipefail
debs=$(cd "${1:?usage: debs.sh DEB_DIR}" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" -eq 0 ] || { echo "debs.sh: must run as root (it installs packages)" >&2; exit 1; }
pkgs=(fieldsync-hub fieldsync-agent libfieldsync-agent0 libfieldsync-agent-dev)
for p in "${pkgs[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    echo "debs.sh: $p is installed already; remove it first" >&2
    exit 1
  fi
done
if [ -e /var/lib/fieldsync-hub ]; then
  echo "debs.sh: /var/lib/fieldsync-hub is left from an earlier install;" \
       "move it away first" >&2
  exit 1
fi
# Other apt users of the machine: wait for the package database's lock.
apt() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"; }

T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-debs.XXXXXX")
chmod 0755 "$T"
CHECKS=0
PIDS=()
state=/var/lib/fieldsync-hub
db=$state/hub.db
cleanup() {
  local rc=$? p
  set +e
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  if [ $rc -ne 0 ]; then
    for p in "$T"/*.log; do
      echo "--- $p (last 20 lines) ---" >&2
      tail -n 20 "$p" >&2
    done
  fi
  # Never leave the packages or their data behind (apt refuses to purge
  # a package it no longer knows, so only those dpkg still has).
  local left=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
      grep -q 'installed\|config-files' && left+=("$p")
  done
  if [ ${#left[@]} -gt 0 ]; then
    apt purge -y -qq "${left[@]}" >/dev/null 2>&1 ||
      echo "debs.sh: could not purge ${left[*]}: apt-get purge them" >&2
  fi
  rm -rf "$T"
  exit $rc
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
check() {
  CHECKS=$((CHECKS + 1))
  [ "$2" = "$3" ] || fail "$1: expected '$3', got '$2'"
  echo "ok - $1"
}
# as_hub CMD...: as the service's user with the service's umask, as an
# admin runs fieldsync-hub commands on its database.
as_hub() {
  (umask 0077 && exec setpriv --reuid=fieldsync-hub --regid=fieldsync-hub \
    --clear-groups "$@")
}

apt install -y -qq --no-install-recommends \
  "$debs"/fieldsync-hub_*.deb "$debs"/fieldsync-agent_*.deb \
  "$debs"/libfieldsync-agent0_*.deb "$debs"/libfieldsync-agent-dev_*.deb \
  >"$T/install.log" 2>&1 ||
  fail "apt-get install: $(tail -n 5 "$T/install.log")"
check "the hub's system user exists" "$(id -u fieldsync-hub >/dev/null && echo yes)" yes
check "its state directory is 0700 and its own" "$(stat -c '%a %U' "$state")" "700 fieldsync-hub"
unit=/lib/systemd/system/fieldsync-hub.service
[ -f "$unit" ] || fail "no $unit"
score=$(systemd-analyze security --offline=true "$unit" 2>/dev/null |
  sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
echo "figures: systemd-analyze security exposure $score"

# The service's start, as systemd would make it: ExecStart with the
# options file's variables, the user, UMask=0077, the state directory.
sed -i 's|^FIELDSYNC_HUB_OPTS=.*|FIELDSYNC_HUB_OPTS="--listen 127.0.0.1:0 --port-file /var/lib/fieldsync-hub/port"|' \
  /etc/default/fieldsync-hub
start_service() {
  local exec
  exec=$(sed -n 's/^ExecStart=//p' "$unit")
  # shellcheck disable=SC1091
  (. /etc/default/fieldsync-hub
   cd "$state" && umask 0077 && eval "exec setpriv --reuid=fieldsync-hub \
     --regid=fieldsync-hub --clear-groups --no-new-privs $exec") 2>>"$T/hub.log" &
  HUB=$!
  PIDS+=("$HUB")
  local i
  for i in $(seq 1 200); do
    [ -s "$state/port" ] && break
    kill -0 "$HUB" 2>/dev/null || fail "the hub exited at start"
    sleep 0.05
  done
  [ -s "$state/port" ] || fail "the hub did not start"
  HUB_PORT=$(cat "$state/port")
}
stop_service() {
  kill -TERM "$HUB"
  wait "$HUB" || fail "the hub did not stop cleanly"
  rm -f "$state/port"
}
as_hub fieldsync-hub form publish --db "$db" "$src/schema/forms/demo_household.json" >/dev/null
start_service
check "the hub's database is 0600 and the service's" "$(stat -c '%a %U' "$db")" "600 fieldsync-hub"
check "the hub answers on loopback" \
  "$(curl -fsS "http://127.0.0.1:$HUB_PORT/healthz" >/dev/null && echo ok)" ok

# stunnel with the packaged example configuration, a throwaway CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$T/ca.key" -out "$T/ca.pem" -days 2 -subj "/CN=test CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$T/hub.key" -out "$T/hub.csr" -subj "/CN=localhost" 2>/dev/null
printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
  'basicConstraints=critical,CA:FALSE' 'extendedKeyUsage=serverAuth' >"$T/hub.ext"
openssl x509 -req -in "$T/hub.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
  -set_serial 0x1234 -days 2 -extfile "$T/hub.ext" -out "$T/hub.crt" 2>/dev/null
conf=/usr/share/doc/fieldsync-hub/examples/stunnel/fieldsync-hub.conf
[ -f "$conf" ] || fail "the package has no $conf"
stunnel=$(command -v stunnel4 || command -v stunnel)
for try in $(seq 1 20); do
  port=$((20000 + RANDOM % 40000))
  sed -e "s|^accept = .*|accept = 127.0.0.1:$port|" \
    -e "s|^connect = .*|connect = 127.0.0.1:$HUB_PORT|" \
    -e "s|^cert = .*|cert = $T/hub.crt|" -e "s|^key = .*|key = $T/hub.key|" \
    "$conf" >"$T/stunnel.conf"
  "$stunnel" "$T/stunnel.conf" 2>>"$T/stunnel.log" &
  spid=$!
  for i in $(seq 1 100); do
    curl -fsS --cacert "$T/ca.pem" "https://127.0.0.1:$port/healthz" \
      >/dev/null 2>&1 && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.05
  done
  if kill -0 "$spid" 2>/dev/null; then PIDS+=("$spid"); break; fi
done
curl -fsS --cacert "$T/ca.pem" "https://127.0.0.1:$port/healthz" >/dev/null ||
  fail "stunnel with the packaged configuration does not reach the hub"
url=https://127.0.0.1:$port

# agent NAME ARGS...: the installed agent, in its own directory.
agent() { local n=$1; shift; fieldsync-agent --dir "$T/$n" "$@"; }
enroll() {
  local code
  code=$(as_hub fieldsync-hub enroll-code --db "$db" --name "$1" 2>/dev/null)
  agent "$1" enroll --hub "$url" --code "$code" --cacert "$T/ca.pem" >/dev/null
  agent "$1" sync --quiet
}
record() { # record NAME N
  local i
  for i in $(seq 1 "$2"); do
    printf '{"age_band":"25-34","gender":"woman","belonging":%d,"trust_local_gov":3,"comment":"%s %d"}' \
      $((i % 5 + 1)) "$1" "$i" >"$T/answers.json"
    agent "$1" record demo_household --answers "$T/answers.json" --area N-01 >>"$T/$1.ids"
  done
}
enroll a
enroll b
record a 12
agent a sync --quiet
hub_count() { sqlite3 "$1" 'SELECT count(*) FROM submissions'; }
check "the agent's 12 records reached the hub through TLS" "$(hub_count "$db")" 12

# A backup while the hub serves and b syncs.
record b 20
agent b sync --quiet --batch 1 2>>"$T/b.log" &
bsync=$!
# Back up once b's first pushes are in, while the rest are on their way.
for i in $(seq 1 600); do
  [ "$(hub_count "$db")" -gt 12 ] && break
  kill -0 "$bsync" 2>/dev/null || break
  sleep 0.05
done
install -d -o fieldsync-hub -g fieldsync-hub -m 0700 "$T/backups"
as_hub fieldsync-hub backup --db "$db" -o "$T/backups/hub.db" >/dev/null
wait "$bsync" || fail "b's sync during the backup failed"
check "the backup is 0600 and the service's" \
  "$(stat -c '%a %U' "$T/backups/hub.db")" "600 fieldsync-hub"
as_hub fieldsync-hub restore --db "$T/backups/restored.db" "$T/backups/hub.db" >/dev/null
(umask 0077 && exec setpriv --reuid=fieldsync-hub --regid=fieldsync-hub \
  --clear-groups fieldsync-hub serve --db "$T/backups/restored.db" \
  --listen 127.0.0.1:0 --port-file "$T/backups/port") 2>>"$T/restored.log" &
PIDS+=($!)
for i in $(seq 1 200); do [ -s "$T/backups/port" ] && break; sleep 0.05; done
check "a hub serves the restored database" \
  "$(curl -fsS "http://127.0.0.1:$(cat "$T/backups/port")/healthz" >/dev/null && echo ok)" ok
missing=0
while read -r id; do
  [ "$(sqlite3 "$T/backups/restored.db" "SELECT count(*) FROM submissions WHERE id = '$id'")" = 1 ] ||
    missing=$((missing + 1))
done <"$T/a.ids"
check "every record of a is in the restored hub" "$missing" 0
b_in=$(sqlite3 "$T/backups/restored.db" "SELECT count(*) FROM submissions WHERE json_extract(answers, '\$.comment') LIKE 'b %'")
check "b's records in the backup match its receipts (a consistent copy)" \
  "$(sqlite3 "$T/backups/restored.db" 'SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM receipts') " \
  "$((12 + b_in)) "
echo "figures: the backup holds $b_in of b's 20 records (taken while b synced)"

# The embeddable agent from its packages: the example built as an app
# would be, with pkg-config alone, enrols with the hub on loopback (the
# example trusts no private CA), records and syncs.
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o "$T/record_and_sync" \
  "$src/examples/record_and_sync.c" $(pkg-config --cflags --libs fieldsync-agent) ||
  fail "the example does not build against the installed library"
code=$(as_hub fieldsync-hub enroll-code --db "$db" --name embedded 2>/dev/null)
"$T/record_and_sync" "$T/embedded" demo_household N-01 '{"gender":"man"}' \
  "http://127.0.0.1:$HUB_PORT" "$code" >"$T/embed.log" 2>&1 ||
  fail "the example failed: $(cat "$T/embed.log")"
eid=$(sed -n 's/^recorded //p' "$T/embed.log")
check "the embedded agent's record reached the hub" \
  "$(sqlite3 "$db" "SELECT count(*) FROM submissions WHERE id = '$eid'")" 1

# The upgrade path (dpkg runs prerm upgrade, postinst configure OLD).
stop_service
before=$(hub_count "$db")
apt install -y -qq --reinstall "$debs"/fieldsync-hub_*.deb >"$T/upgrade.log" 2>&1 || fail "reinstall failed"
start_service
check "reinstalling keeps the hub's data" "$(hub_count "$db")" "$before"
stop_service

apt remove -y -qq "${pkgs[@]}" \
  >"$T/remove.log" 2>&1 || fail "apt-get remove failed"
check "removal keeps the database" "$(hub_count "$db")" "$before"
check "the commands are gone" \
  "$(ls /usr/bin/fieldsync-hub /usr/bin/fieldsync-agent 2>/dev/null | wc -l)" 0
check "and the library, its header and pkg-config file" \
  "$(ls /usr/lib/*/libfieldsync-agent* /usr/include/fieldsync.h \
    /usr/lib/*/pkgconfig/fieldsync-agent.pc 2>/dev/null | wc -l)" 0
apt purge -y -qq fieldsync-hub >"$T/purge.log" 2>&1 || fail "apt-get purge failed"
check "purging deletes the data" "$([ -e "$state" ] && echo left || echo gone)" gone
check "and the unit and options file" \
  "$(ls "$unit" /etc/default/fieldsync-hub 2>/dev/null | wc -l)" 0
check "dpkg knows none of the packages any more" \
  "$(dpkg-query -W -f='${db:Status-Abbrev}\n' "${pkgs[@]}" 2>/dev/null | grep -c '^.i' || true)" 0
echo "$CHECKS passed, 0 failed"
