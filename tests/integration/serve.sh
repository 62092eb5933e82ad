#!/usr/bin/env bash
# `fieldsync-agent serve --auto-sync`: with the hub down the background
# sync fails honestly, keeps the record and backs off (the next attempt
# waits twice the interval); once the hub is back it sends the record and
# the interval returns to normal. Wrong options are refused with a clear
# message; SIGTERM stops serve cleanly.
. "$(dirname "$0")/../lib.sh"
rel_trap

publish_sample_form
start_hub
new_agent tab
record_n tab 1
port=$(hub_port)
stop_hub

rc=0
agent tab serve --listen nonsense >/dev/null 2>"$T/err" || rc=$?
check "a bad --listen is refused" "$rc" 2
grep -q 'expected IPv4-HOST:PORT' "$T/err" || fail "no reason: $(cat "$T/err")"
rc=0
agent tab serve --auto-sync 1 >/dev/null 2>"$T/err" || rc=$?
check "an auto-sync interval below 5 s is refused" "$rc" 2

"$FS_AGENT" --dir "$T/tab" serve --listen 127.0.0.1:0 --port-file "$T/app.port" --auto-sync 5 \
  >"$T/serve.out" 2>"$T/serve.log" &
serve=$!
BG_PIDS+=("$serve")
for i in $(seq 1 600); do [ -s "$T/app.port" ] && break; sleep 0.05; done
[ -s "$T/app.port" ] || fail "serve did not start"
APP="http://127.0.0.1:$(cat "$T/app.port")"
secret=$(sqlite3 "$T/tab/agent.db" "SELECT value FROM meta WHERE key = 'web_secret'")
state() { curl -sS -H "Cookie: fieldsync_device=$secret" "$APP/api/sync"; }
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }

# The first automatic attempt runs at start, with the hub down.
for i in $(seq 1 200); do
  s=$(state)
  [ "$(echo "$s" | field last_end_ms)" != 0 ] && break
  sleep 0.1
done
check "the failed attempt is reported" "$(echo "$s" | field last_ok)" false
echo "$s" | grep -q 'hub unreachable, 1 record(s) kept on this device' || fail "not honest: $s"
echo "ok - it says the hub is unreachable and the record is kept"
end=$(echo "$s" | field last_end_ms)
next=$(echo "$s" | field next_attempt_ms)
delay=$((${next%.*} - ${end%.*}))
[ "$delay" -ge 10000 ] && [ "$delay" -le 11000 ] || fail "backoff after one failure: $delay ms, want 10-11 s"
echo "ok - backoff: the next attempt waits twice the interval ($delay ms)"
check "the record is kept" "$(pending tab)" 1

start_hub "$port"
for i in $(seq 1 300); do # the next attempt is due within 11 s
  s=$(state)
  [ "$(echo "$s" | field last_ok)" = true ] && break
  sleep 0.1
done
check "the background sync succeeds once the hub answers" "$(echo "$s" | field last_ok)" true
check "the record reached the hub" "$(sql 'SELECT count(*) FROM submissions')" 1
check "nothing waits on the device" "$(pending tab)" 0
end=$(echo "$s" | field last_end_ms)
next=$(echo "$s" | field next_attempt_ms)
delay=$((${next%.*} - ${end%.*}))
[ "$delay" -ge 5000 ] && [ "$delay" -le 5500 ] || fail "interval after success: $delay ms, want 5-5.5 s"
echo "ok - after a success the interval is back to 5 s"

kill -TERM "$serve"
rc=0
wait "$serve" || rc=$?
check "SIGTERM stops serve cleanly" "$rc" 0
finish
