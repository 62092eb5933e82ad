#!/usr/bin/env bash
# Hostile input beyond malformed.sh: oversized headers, huge strings, SQL
# metacharacters, odd identifiers and slow senders. Each gets its 4xx (or
# is refused alone inside a changeset), the hub stays up, and what it had
# stored is byte-identical afterwards.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
HUB_ARGS="--request-timeout 2" start_hub
new_agent a1

# SQL metacharacters in values are data, stored and returned verbatim.
nasty="x'); DROP TABLE submissions; -- \" OR 1=1 /* \\\\ %_"
printf '{"comment":"%s","age_band":"18-24"}' "${nasty//\"/\\\"}" >"$T/nasty.json"
agent a1 record demo_household --answers "$T/nasty.json" --area "N-01" >/dev/null
agent a1 sync --quiet
stored=$(sql "SELECT json_extract(answers, '\$.comment') FROM submissions")
check "SQL metacharacters stored verbatim" "$stored" "${nasty//\\\\/\\}"
check "tables intact" "$(sql "SELECT count(*) FROM sqlite_master WHERE name='submissions'")" 1

token=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")
device=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='device_id'")
before=$(hub_fingerprint)

status_of() { curl -sS -o "$T/reply" -w '%{http_code}' "$@"; }
json_error() { sed -n 's/.*"error":"\([a-z0-9_]*\)".*/\1/p' "$T/reply"; }

big=$(head -c 20000 /dev/zero | tr '\0' a)
check "oversized header: 4xx" "$(status_of -H "X-Big: $big" "$HUB_URL/healthz")" 400
check "oversized header: JSON error" "$(json_error)" bad_request
check "oversized URL: 4xx" "$(status_of "$HUB_URL/healthz?$big")" 400

push() { status_of -X POST "$HUB_URL/api/v1/push" -H "Authorization: Bearer $token" \
  -H 'Content-Encoding: gzip' --data-binary @"$1"; }
cs() {  # cs SEQ CHANGE-MEMBERS: one-change changeset, gzipped, to $T/cs.gz
  printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[{"seq":%d,"kind":"submission","id":"%s","form":"demo_household","form_version":1,"hlc":"0190000000000000","created_ms":1,%s}]}' \
    "$device" "$1" "$1" "$1" "$(cat /proc/sys/kernel/random/uuid)" "$2" | gzip -c >"$T/cs.gz"
}
huge=$(head -c 70000 /dev/zero | tr '\0' b)
cs 2 "\"answers\":{\"comment\":\"$huge\"}"
check "string over 64 KiB: 413" "$(push "$T/cs.gz")" 413
check "string over 64 KiB: error" "$(json_error)" too_big
check "nothing changed" "$(hub_fingerprint)" "$before"

# Odd identifiers inside a change: refused alone, never stored.
n0=$(sql 'SELECT count(*) FROM submissions')
for bad in "\"area\":\"N-01'; DROP TABLE devices;--\"" "\"area\":\"../../etc\"" \
           "\"area\":\"Zoné\"" "\"answers\":{\"Robert'); --\":1},\"area\":\"N-01\""; do
  seq=$(( $(sql "SELECT acked_seq FROM devices WHERE id='$device'") + 1 ))
  case "$bad" in *answers*) cs "$seq" "$bad" ;; *) cs "$seq" "$bad,\"answers\":{}" ;; esac
  check "odd identifier ($bad): push answered" "$(push "$T/cs.gz")" 200
  grep -q '"status":"refused","error":"bad_identifier"' "$T/reply" || fail "not refused: $(cat "$T/reply")"
done
check "no odd identifier was stored" "$(sql 'SELECT count(*) FROM submissions')" "$n0"
check "every refusal kept for an admin" "$(sql "SELECT count(*) FROM held_changes WHERE error='bad_identifier'")" 4
before=$(hub_fingerprint)

# Slow senders: three clients send half a body and stall. They hold a
# worker each until the request timeout; everyone else is served.
slow() {
  exec {fd}<>"/dev/tcp/127.0.0.1/$(hub_port)"
  printf 'POST /api/v1/push HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\nAuthorization: Bearer %s\r\nContent-Encoding: gzip\r\n\r\nabc' "$token" >&$fd
  timeout 15 cat <&$fd >"$T/slow.$1" || true
  exec {fd}<&-
}
slow_pids=()
for i in 1 2 3; do slow "$i" & slow_pids+=($!); done
sleep 0.5
check "hub serves others while slow senders stall" \
  "$(curl -sS -m 5 -o /dev/null -w '%{http_code}' "$HUB_URL/healthz")" 200
record_n a1 2
agent a1 sync --quiet
for p in "${slow_pids[@]}"; do wait "$p"; done
for i in 1 2 3; do
  grep -q '"error":"short_body"' "$T/slow.$i" || fail "slow sender $i: $(cat "$T/slow.$i")"
done
echo "ok - each slow sender was cut off with a short_body error"
check "slow senders stored nothing" "$(sql 'SELECT count(*) FROM submissions')" $((n0 + 2))
kill -0 "$HUB_PID" || fail "hub died"
finish
