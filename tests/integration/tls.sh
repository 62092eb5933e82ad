#!/usr/bin/env bash
# TLS deployment (deploy/README.md): the hub on loopback behind stunnel,
# run with the shipped deploy/stunnel/fieldsync-hub.conf and a throwaway
# CA. An agent that trusts the CA enrols and syncs through it; agents
# trusting another CA or only the system CAs are refused with a message
# about the certificate, and never reach the hub; a synced agent that
# meets a certificate it does not trust stops at once, data kept. The
# hub refuses to open a TLS port it cannot serve.
. "$(dirname "$0")/../lib.sh"

STUNNEL=$(command -v stunnel4 || command -v stunnel || true)
[ -n "$STUNNEL" ] || fail "stunnel4 is not installed (scripts/bootstrap)"
command -v openssl >/dev/null || fail "openssl is not installed"

# Terminators this test started; stopped on any exit, before lib.sh's
# cleanup, and their logs shown when the test failed.
TLS_PIDS=()
tls_cleanup() {
  local rc=$? p
  # Under set -e the "(exit $rc)" below would end the shell before
  # lib.sh's cleanup could stop the hub.
  set +e
  for p in "${TLS_PIDS[@]}"; do
    kill -TERM "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ $rc -ne 0 ]; then
    for p in "$T"/stunnel-*.log; do
      [ -f "$p" ] || continue
      echo "--- $p (last 20 lines) ---" >&2
      tail -n 20 "$p" >&2
    done
  fi
  (exit $rc)
  cleanup
}
trap tls_cleanup EXIT

# start_tls NAME CERT CA: stunnel with the shipped configuration, its
# listening port, certificate and user changed for this test, in front
# of the hub. Tries free-looking ports until one is bound by this
# terminator, which is known when a client trusting CA reaches the hub's
# /healthz through it. Sets TLS_PORT; the pid joins TLS_PIDS.
start_tls() {
  local name=$1 cert=$2 ca=$3 try i port pid conf=$T/stunnel-$1.conf
  for try in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    sed -e "s|^accept = .*|accept = 127.0.0.1:$port|" \
      -e "s|^connect = .*|connect = 127.0.0.1:$(hub_port)|" \
      -e "s|^cert = .*|cert = $T/$cert.crt|" \
      -e "s|^key = .*|key = $T/$cert.key|" \
      -e '/^set[ug]id = /d' \
      "$FS_SRC/deploy/stunnel/fieldsync-hub.conf" >"$conf"
    # Each substitution must have found its line in the shipped file.
    [ "$(grep -cE "^(accept = 127.0.0.1:$port|connect = 127.0.0.1:$(hub_port)|cert = $T/|key = $T/)" "$conf")" = 4 ] ||
      fail "deploy/stunnel/fieldsync-hub.conf lacks an accept, connect, cert or key line"
    grep -q '^foreground = yes' "$conf" || fail "the shipped config must keep stunnel in the foreground"
    "$STUNNEL" "$conf" >>"$T/stunnel-$name.log" 2>&1 &
    pid=$!
    for i in $(seq 1 100); do
      if curl -fsS --cacert "$T/$ca.pem" -o /dev/null \
        "https://127.0.0.1:$port/healthz" 2>/dev/null; then
        TLS_PIDS+=("$pid")
        TLS_PORT=$port
        return 0
      fi
      kill -0 "$pid" 2>/dev/null || break # port taken: try another
      sleep 0.05
    done
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  fail "stunnel did not start (see $T/stunnel-$name.log)"
}

publish_sample_form
start_hub
make_ca ca
make_ca other_ca
make_cert hub ca
make_cert rogue other_ca
start_tls main hub ca
tls_url="https://127.0.0.1:$TLS_PORT"

# The terminator answers TLS only, with the modern versions the config
# allows: TLS 1.1 is refused.
rc=0
curl -sS --cacert "$T/ca.pem" --tlsv1.1 --tls-max 1.1 -o /dev/null \
  "$tls_url/healthz" 2>/dev/null || rc=$?
check "TLS 1.1 fails" "$([ $rc -ne 0 ] && echo failed)" failed
check "the terminator refused the TLS 1.1 handshake" \
  "$(grep -c 'unsupported protocol' "$T/stunnel-main.log")" 1

# An agent trusting the throwaway CA enrols over https, pulls the forms
# and pushes its records through the terminator.
code=$("$FS_HUB" enroll-code --db "$DB" --name good)
agent good enroll --hub "$tls_url" --code "$code" --cacert "$T/ca.pem" >/dev/null
check "enrolled over TLS: hub URL stored" \
  "$(sqlite3 "$T/good/agent.db" "SELECT value FROM meta WHERE key='hub_url'")" "$tls_url"
agent good sync --quiet
record_n good 6
agent good sync --quiet
check "6 records synced through TLS are at the hub" \
  "$(sql 'SELECT count(*) FROM submissions')" 6
check "nothing waits on the agent" "$(pending good)" 0
good_dev=$(sqlite3 "$T/good/agent.db" "SELECT value FROM meta WHERE key='device_id'")
check "the hub knows the device that synced over TLS" \
  "$(sql "SELECT count(*) FROM devices WHERE id='$good_dev'")" 1

# The certificate names localhost too; verification uses the name.
code=$("$FS_HUB" enroll-code --db "$DB" --name byname)
agent byname enroll --hub "https://localhost:$TLS_PORT" --code "$code" \
  --cacert "$T/ca.pem" >/dev/null
agent byname sync --quiet
record_n byname 2
agent byname sync --quiet
check "an agent using the host name syncs too" \
  "$(sql 'SELECT count(*) FROM submissions')" 8

# refused_enrol NAME CODE ARGS...: enrolment must fail with exit 4 and a
# message naming the certificate.
refused_enrol() {
  local name=$1 c=$2 rc=0
  shift 2
  agent "$name" enroll --hub "$tls_url" --code "$c" "$@" \
    >/dev/null 2>"$T/$name.err" || rc=$?
  check "$name: enrolment refused (exit 4)" "$rc" 4
  grep -q "certificate" "$T/$name.err" ||
    fail "$name: message does not mention the certificate: $(cat "$T/$name.err")"
  grep -q -- "--cacert" "$T/$name.err" ||
    fail "$name: message does not say what to do: $(cat "$T/$name.err")"
  check "$name: nothing enrolled in its directory" \
    "$(sqlite3 "$T/$name/agent.db" "SELECT count(*) FROM meta WHERE key='device_id' AND value <> ''")" 0
}

code=$("$FS_HUB" enroll-code --db "$DB" --name wrong)
refused_enrol wrong_ca "$code" --cacert "$T/other_ca.pem"
refused_enrol system_cas "$code"
# The refused handshakes never reached the hub: the code is still unused
# and enrols an agent that trusts the right CA.
agent late enroll --hub "$tls_url" --code "$code" --cacert "$T/ca.pem" >/dev/null
check "the code survived the refused attempts" \
  "$(sql 'SELECT count(*) FROM devices')" 3

# A synced agent meeting a certificate it does not trust (here a second
# terminator with a certificate from another CA) stops at the first
# request - one connection, no retries - with exit 4, and keeps its data.
start_tls rogue rogue other_ca
record_n good 3
sqlite3 "$T/good/agent.db" \
  "UPDATE meta SET value='https://127.0.0.1:$TLS_PORT' WHERE key='hub_url'"
seen=$(grep -c 'accepted connection' "$T/stunnel-rogue.log")
rc=0
agent good sync --quiet 2>"$T/good.err" || rc=$?
check "sync to an untrusted certificate: exit 4" "$rc" 4
grep -q "not trusted" "$T/good.err" ||
  fail "sync message does not say the certificate is not trusted: $(cat "$T/good.err")"
check "the rogue terminator saw one connection (no retries)" \
  "$(($(grep -c 'accepted connection' "$T/stunnel-rogue.log") - seen))" 1
check "the agent keeps its 3 records" "$(pending good)" 3
check "nothing new at the hub" "$(sql 'SELECT count(*) FROM submissions')" 8
# Back to the real terminator: they go through.
sqlite3 "$T/good/agent.db" "UPDATE meta SET value='$tls_url' WHERE key='hub_url'"
agent good sync --quiet
check "after the real hub is back, 11 at the hub" \
  "$(sql 'SELECT count(*) FROM submissions')" 11

# The hub itself will not open a TLS port (CivetWeb's trailing "s").
rc=0
"$FS_HUB" serve --db "$T/tls-port.db" --listen 127.0.0.1:8443s \
  --port-file "$T/tls-port" 2>"$T/tls-port.err" || rc=$?
check "hub --listen 127.0.0.1:8443s exits 2" "$rc" 2
grep -q "does not serve TLS" "$T/tls-port.err" ||
  fail "hub message does not say it serves no TLS: $(cat "$T/tls-port.err")"
check "no port file written" "$([ -e "$T/tls-port" ] && echo yes || echo no)" no

finish
