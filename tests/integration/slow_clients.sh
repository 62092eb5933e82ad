#!/usr/bin/env bash
# One attacker cannot stall the hub (SECURITY.md, "Slow or stalled
# clients"). A hub with only 4 worker threads runs behind nginx with the
# shipped deploy/nginx/fieldsync-hub.conf and a throwaway CA. 200 slow
# TLS clients, each from its own loopback address, hold connections
# open: 100 dribble their headers a byte a second, 100 sent whole
# headers of an enrolment (which the hub reads before anything else) and
# dribble its 1000-byte body (half-open requests).
# While every one of them is still open, /healthz answers (through nginx
# and on the hub itself) and a real agent syncs 200 records through
# nginx; only then are they closed, and every one was still open. Then
# nginx's per-address cap: 40 half-open pushes from one address, 32 are
# held and 8 are answered 429 at once.
#
# The shipped config gives headers 10 s and a stalled body 30 s; here
# both are raised to 300 s so that the slow clients certainly outlive
# the sync (a longer hold is the harder case for the hub, not an easier
# one).
. "$(dirname "$0")/../lib.sh"

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || fail "nginx is not installed (scripts/bootstrap)"
command -v openssl >/dev/null || fail "openssl is not installed"
command -v python3 >/dev/null || fail "python3 is not installed"
SLOW="$FS_SRC/tests/tools/slowclients.py"

NGINX_PID=""
SLOW_PIDS=()
slow_cleanup() {
  local rc=$? p
  set +e
  for p in "${SLOW_PIDS[@]}" $NGINX_PID; do
    kill -TERM "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  if [ $rc -ne 0 ] && [ -f "$T/nginx-error.log" ]; then
    echo "--- nginx error log (last 20 lines) ---" >&2
    tail -n 20 "$T/nginx-error.log" >&2
  fi
  (exit $rc)
  cleanup
}
trap slow_cleanup EXIT

# start_nginx CERT CA: nginx in the foreground with the shipped site
# config, its port, certificate, hub address and the two timeouts
# changed, in a main config of this test's own (logs and temporary
# files in $T). Tries free-looking ports until one answers /healthz
# through it. Sets NGINX_PORT.
start_nginx() {
  local cert=$1 ca=$2 try i port site=$T/nginx-site.conf
  for try in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    sed -e "s|^    listen 443 ssl;|    listen 127.0.0.1:$port ssl;|" \
      -e '/^    listen \[::\]:443 ssl;/d' \
      -e "s|^    ssl_certificate .*|    ssl_certificate $T/$cert.crt;|" \
      -e "s|^    ssl_certificate_key .*|    ssl_certificate_key $T/$cert.key;|" \
      -e "s|proxy_pass http://127.0.0.1:8080;|proxy_pass http://127.0.0.1:$(hub_port);|" \
      -e "s|^    client_header_timeout 10s;|    client_header_timeout 300s;|" \
      -e "s|^    client_body_timeout 30s;|    client_body_timeout 300s;|" \
      "$FS_SRC/deploy/nginx/fieldsync-hub.conf" >"$site"
    # Each substitution must have found its line in the shipped file.
    [ "$(grep -cE "listen 127.0.0.1:$port ssl;|ssl_certificate(_key)? $T/|proxy_pass http://127.0.0.1:$(hub_port);|_timeout 300s;" "$site")" = 7 ] ||
      fail "deploy/nginx/fieldsync-hub.conf changed: listen, certificate, proxy_pass or timeout lines not found"
    grep -q 'proxy_request_buffering on;' "$site" ||
      fail "the shipped nginx config must buffer whole requests"
    grep -q 'limit_conn fieldsync_conn 32;' "$site" ||
      fail "the shipped nginx config must cap connections per address at 32"
    {
      echo "daemon off;"
      echo "worker_processes 1;"
      echo "pid $T/nginx.pid;"
      echo "error_log $T/nginx-error.log info;"
      [ "$(id -u)" -ne 0 ] || echo "user root;"
      echo "events { worker_connections 1024; }"
      echo "http {"
      echo "  access_log $T/nginx-access.log;"
      for t in client_body proxy fastcgi uwsgi scgi; do
        echo "  ${t}_temp_path $T/nginx-$t;"
      done
      echo "  include $site;"
      echo "}"
    } >"$T/nginx.conf"
    "$NGINX" -e "$T/nginx-error.log" -p "$T" -c "$T/nginx.conf" \
      >>"$T/nginx.out" 2>&1 &
    NGINX_PID=$!
    for i in $(seq 1 100); do
      if curl -fsS --cacert "$T/$ca.pem" -o /dev/null \
        "https://127.0.0.1:$port/healthz" 2>/dev/null; then
        NGINX_PORT=$port
        return 0
      fi
      kill -0 "$NGINX_PID" 2>/dev/null || break # port taken: try another
      sleep 0.05
    done
    kill -TERM "$NGINX_PID" 2>/dev/null || true
    wait "$NGINX_PID" 2>/dev/null || true
    NGINX_PID=""
  done
  fail "nginx did not start (see $T/nginx.out)"
}

# start_slow NAME ARGS...: slowclients.py in the background; returns when
# it says every connection is open (or fails when it died first).
start_slow() {
  local name=$1 i
  shift
  rm -f "$T/$name.stop" "$T/$name.status"
  python3 "$SLOW" --port "$NGINX_PORT" --cacert "$T/ca.pem" \
    --status "$T/$name.status" --answers "$T/$name.answers" \
    --stop "$T/$name.stop" --max-seconds 240 --path /api/v1/enroll "$@" \
    2>"$T/$name.err" &
  SLOW_PIDS+=($!)
  for i in $(seq 1 1200); do
    grep -q '^open ' "$T/$name.status" 2>/dev/null && return 0
    kill -0 "${SLOW_PIDS[-1]}" 2>/dev/null ||
      fail "$name: slow clients died: $(tail -n 3 "$T/$name.err")"
    sleep 0.05
  done
  fail "$name: slow clients not all open within 60 s"
}

# stop_slow NAME: tells it to stop; prints its last status line.
stop_slow() {
  local i
  touch "$T/$1.stop"
  for i in $(seq 1 600); do
    grep -q '^still-open ' "$T/$1.status" && break
    sleep 0.05
  done
  grep '^still-open ' "$T/$1.status" || fail "$1: no final status"
}

publish_sample_form
HUB_THREADS=4 start_hub
make_ca ca
make_cert hub ca
start_nginx hub ca
url="https://127.0.0.1:$NGINX_PORT"

code=$("$FS_HUB" enroll-code --db "$DB" --name field)
agent field enroll --hub "$url" --code "$code" --cacert "$T/ca.pem" >/dev/null
agent field sync --quiet
record_n field 1
clone_records field 199 1
check "200 records wait on the agent" "$(pending field)" 200

start_slow spread --headers 100 --body 100 --sources 127.0.1.
check "200 slow connections are open" "$(head -n 1 "$T/spread.status")" "open 200"

check "/healthz through nginx answers while they are open" \
  "$(curl -sS --max-time 20 --cacert "$T/ca.pem" -o /dev/null -w '%{http_code}' "$url/healthz")" 200
check "/healthz on the hub answers while they are open" \
  "$(curl -sS --max-time 20 -o /dev/null -w '%{http_code}' "$HUB_URL/healthz")" 200
rc=0
agent field sync --quiet 2>"$T/field.err" || rc=$?
check "the agent's sync through nginx succeeds while they are open" "$rc" 0
check "nothing waits on the agent" "$(pending field)" 0
check "the 200 records are at the hub" "$(sql 'SELECT count(*) FROM submissions')" 200

check "every slow connection was still open after both" \
  "$(stop_slow spread)" "still-open 200 answered 0"

# The per-address cap: 40 half-open pushes from one address (pushes,
# since enrolments from one address meet nginx's rate limit first).
start_slow one --body 40 --same-source --sources 127.0.2. \
  --path /api/v1/sync/push
for i in $(seq 1 600); do
  [ "$(wc -l <"$T/one.answers")" -ge 8 ] && break
  sleep 0.05
done
check "8 of 40 requests from one address were answered at once" \
  "$(wc -l <"$T/one.answers")" 8
check "they were answered 429" \
  "$(sort -u "$T/one.answers")" "HTTP/1.1 429 Too Many Requests"
check "/healthz through nginx answers meanwhile" \
  "$(curl -sS --max-time 20 --cacert "$T/ca.pem" -o /dev/null -w '%{http_code}' "$url/healthz")" 200
check "32 were held open, 8 answered" "$(stop_slow one)" "still-open 32 answered 8"

finish
