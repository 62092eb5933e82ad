#!/usr/bin/env bash
# An agent enrols with a plain http:// hub only when the hub is on this
# machine (localhost, 127.0.0.0/8, [::1]) or when --insecure-http says the
# network is trusted: otherwise its token and every answer would cross the
# network in clear. The refusal says why and what to do, and sends
# nothing. The off-machine hub here is this test's own hub reached by an
# address the agent does not recognise as loopback (127.0.0.1 written as
# one decimal number), so the test stays on 127.0.0.1.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
port=$(hub_port)
far="http://2130706433:$port"

code=$("$FS_HUB" enroll-code --db "$DB" --name far)
rc=0
agent far enroll --hub "$far" --code "$code" >/dev/null 2>"$T/err" || rc=$?
check "a plain http:// hub off this machine is refused" "$rc" 2
grep -q "unencrypted" "$T/err" || fail "the refusal does not say why: $(cat "$T/err")"
grep -q -- "--insecure-http" "$T/err" || fail "the refusal does not name --insecure-http: $(cat "$T/err")"
grep -q "https://" "$T/err" || fail "the refusal does not point at https: $(cat "$T/err")"
check "the code was not spent" \
  "$(sql "SELECT count(*) FROM devices WHERE name = 'far'")" 0

agent far enroll --hub "$far" --code "$code" --insecure-http >/dev/null
agent far sync --quiet
record_n far 2
agent far sync --quiet
check "with --insecure-http it enrols and syncs" \
  "$(sql "SELECT count(*) FROM submissions")" 2

for url in "$HUB_URL" "http://localhost:$port" "http://127.8.9.10:$port/"; do
  code=$("$FS_HUB" enroll-code --db "$DB" --name "near")
  rc=0
  agent "near$CHECKS" enroll --hub "$url" --code "$code" >/dev/null 2>"$T/err" || rc=$?
  # 127.8.9.10 has no hub: refused for want of an answer, never by the rule.
  if grep -q "unencrypted" "$T/err"; then fail "$url was refused as off this machine"; fi
  [ "$url" = "http://127.8.9.10:$port/" ] || check "$url enrols" "$rc" 0
done
finish
