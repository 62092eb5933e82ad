#!/usr/bin/env bash
# HTTP framing (RFC 9112 6.1, 6.3): a request with both Content-Length
# and Transfer-Encoding, two Content-Length headers or a Content-Length
# that is not one number gets 400 and its connection is closed, so the
# bytes after it are never answered as a request of their own (a
# terminator in front of the hub could have framed them differently). A
# target with %00 is refused rather than served as the path before it.
# The hub keeps serving.
. "$(dirname "$0")/../lib.sh"

start_hub
port=$(hub_port)
# Writes after the hub closed the connection fail with EPIPE instead.
trap '' PIPE

# raw NAME BYTES: sends BYTES on a new connection and keeps everything the
# hub answers until it closes the connection, in $T/NAME.out. Ends with
# 124 when the hub keeps it open for 10 s (its keep-alive lasts longer).
raw() {
  local rc=0
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  # The hub may close before it has read all of it: a failed write is
  # expected then, and must not end the test.
  printf '%b' "$2" >&3 2>/dev/null || true
  timeout 10 cat <&3 >"$T/$1.out" || rc=$?
  exec 3<&-
  return $rc
}

# answers NAME PREFIX: how many status lines starting with PREFIX the hub
# sent (a body without a newline runs into the next status line).
answers() {
  grep -ao "$2" "$T/$1.out" | wc -l | tr -d ' '
}

smuggled='GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'
cases=(
  "clte|POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
  "tecl|POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"
  "clcl|POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{}"
  "cllist|POST /api/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 40\r\n\r\n{}"
)
for c in "${cases[@]}"; do
  name=${c%%|*}
  rc=0
  raw "$name" "${c#*|}$smuggled" || rc=$?
  check "$name: the hub closes the connection" "$rc" 0
  check "$name: one answer only" "$(answers "$name" 'HTTP/1.1 ')" 1
  check "$name: 400" "$(head -n 1 "$T/$name.out" | tr -d '\r')" "HTTP/1.1 400 Bad Request"
  grep -aq '"error":"bad_framing"' "$T/$name.out" || fail "$name: no JSON error: $(cat "$T/$name.out")"
done

rc=0
raw nul 'GET /healthz%00.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' || rc=$?
check "%00: answered and closed" "$rc" 0
check "%00 in the path is refused" "$(head -n 1 "$T/nul.out" | tr -d '\r')" "HTTP/1.1 400 Bad Request"

# The same connection still carries well-framed requests one after the other.
rc=0
raw ok "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" || rc=$?
check "two well-framed requests on one connection are both answered" \
  "$(answers ok 'HTTP/1.1 200')" 2
check "the hub still serves" "$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/healthz")" 200
finish
