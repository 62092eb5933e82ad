#!/usr/bin/env bash
# A request body that stalls is dropped at the request timeout (here 6 s),
# not after twice it: the hub answers 400 short_body within 9 s and says
# it closes the connection. Then it serves as before.
. "$(dirname "$0")/../lib.sh"

HUB_ARGS="--request-timeout 6"
start_hub
exec 3<>"/dev/tcp/127.0.0.1/$(hub_port)"
printf 'POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"co' >&3
# Everything the hub sends until it closes, or what came within 9 s.
timeout 9 cat <&3 >"$T/stall.out" || true
exec 3<&-
check "the stalled body is answered within 1.5 timeouts" \
  "$(head -n 1 "$T/stall.out" | tr -d '\r')" "HTTP/1.1 400 Bad Request"
grep -aq '"error":"short_body"' "$T/stall.out" || fail "no short_body error: $(cat "$T/stall.out")"
grep -aqi '^connection: close' "$T/stall.out" || fail "the connection is not closed: $(cat "$T/stall.out")"
check "the hub still serves" "$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/healthz")" 200
finish
