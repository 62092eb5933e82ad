#!/usr/bin/env bash
# Malformed and hostile requests get a 4xx JSON error that names the
# problem; the hub keeps serving and its data is unchanged.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a1
record_n a1 3
agent a1 sync --quiet
token=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")
device=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='device_id'")
before=$(hub_fingerprint)

# expect NAME STATUS ERROR-CODE curl-args...: one request, its status and
# the "error" member of its JSON body.
expect() {
  local name=$1 status=$2 code=$3
  shift 3
  local got
  got=$(curl -sS -o "$T/reply" -w '%{http_code}' "$@") || fail "$name: curl failed"
  check "$name: status" "$got" "$status"
  local err
  err=$(sed -n 's/.*"error":"\([a-z0-9_]*\)".*/\1/p' "$T/reply")
  check "$name: error code" "$err" "$code"
  grep -q '"message":"[^"]' "$T/reply" || fail "$name: no message in $(cat "$T/reply")"
}

push_args=(-X POST "$HUB_URL/api/v1/push" -H "Authorization: Bearer $token"
  -H 'Content-Type: application/json')
gz() { printf '%s' "$1" | gzip -c >"$T/$2"; }

head_ok='"protocol":1,"schema":1,"device":"'$device'","first_seq":4,"last_seq":4'
change='{"seq":4,"kind":"submission","id":"01900000-0000-7000-8000-000000000001","form":"demo_household","form_version":1,"hlc":"0190000000000000","created_ms":1,"answers":{}}'

gz "{$head_ok,\"changes\":[$change]}" good.gz
head -c 20 "$T/good.gz" >"$T/truncated.gz"
expect "truncated gzip" 400 malformed "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/truncated.gz"
cp "$T/good.gz" "$T/corrupt.gz"
printf '\xff\xff\xff\xff' | dd of="$T/corrupt.gz" bs=1 seek=12 conv=notrunc status=none
expect "corrupt gzip" 400 malformed "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/corrupt.gz"
gz '{"protocol":1,"schema":1,' bad.gz
expect "invalid JSON" 400 malformed "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/bad.gz"
gz "{$head_ok}" missing.gz
expect "missing changes" 400 malformed "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/missing.gz"
gz "{${head_ok/\"protocol\":1/\"protocol\":9},\"changes\":[$change]}" version.gz
expect "wrong protocol version" 400 unsupported_version "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/version.gz"
gz "{${head_ok/\"schema\":1/\"schema\":7},\"changes\":[$change]}" schema.gz
expect "wrong schema version" 400 unsupported_version "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/schema.gz"
printf '{"protocol":1,"x":"\xc3\x28"}' | gzip -c >"$T/utf8.gz"
expect "invalid UTF-8" 400 bad_utf8 "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/utf8.gz"
printf '%0.s[' $(seq 1 200) | gzip -c >"$T/deep.gz"
expect "deep JSON" 413 too_big "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/deep.gz"
head -c 50000000 /dev/zero | gzip -c >"$T/bomb.gz"
expect "gzip bomb" 413 too_big "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/bomb.gz"
head -c 2000000 /dev/urandom >"$T/big.bin"
expect "oversized body" 413 too_big "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/big.bin"
expect "chunked body" 413 chunked_body "${push_args[@]}" -H 'Content-Encoding: gzip' -H 'Transfer-Encoding: chunked' --data-binary @"$T/good.gz"
expect "unknown content encoding" 415 bad_encoding "${push_args[@]}" -H 'Content-Encoding: br' --data-binary @"$T/good.gz"
other='"device":"01900000-0000-7000-8000-0000000000ff"'
gz "{${head_ok/\"device\":\"$device\"/$other},\"changes\":[$change]}" other.gz
expect "changeset of another device" 403 device_mismatch "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/other.gz"
expect "no token" 401 no_token -X POST "$HUB_URL/api/v1/push" -H 'Content-Encoding: gzip' --data-binary @"$T/good.gz"
expect "wrong token" 401 bad_token -X POST "$HUB_URL/api/v1/push" -H "Authorization: Bearer 00$token" --data-binary @"$T/good.gz"
expect "pull without token" 401 no_token "$HUB_URL/api/v1/pull?after=0"
expect "pull with bad cursor" 400 bad_parameter -H "Authorization: Bearer $token" "$HUB_URL/api/v1/pull?after=abc"
expect "GET on push" 405 method_not_allowed -H "Authorization: Bearer $token" "$HUB_URL/api/v1/push"
expect "unknown endpoint" 404 not_found "$HUB_URL/api/v1/nothing"
expect "enrol with unknown code" 403 invalid_code -X POST "$HUB_URL/api/v1/enroll" --data-binary '{"code":"AAAA-BBBB-CCCC"}'
expect "enrol with no code" 400 malformed -X POST "$HUB_URL/api/v1/enroll" --data-binary '{"name":"x"}'
code=$("$FS_HUB" enroll-code --db "$DB" --name once)
curl -fsS -o /dev/null -X POST "$HUB_URL/api/v1/enroll" --data-binary "{\"code\":\"$code\"}"
before=$(hub_fingerprint)   # the one good enrolment above changed the hub
expect "enrol with a used code" 403 invalid_code -X POST "$HUB_URL/api/v1/enroll" --data-binary "{\"code\":\"$code\"}"

# A change that is well-formed JSON but wrong inside is refused alone.
bad_change=${change/\"form_version\":1/\"form_version\":0}
gz "{$head_ok,\"changes\":[$bad_change]}" badchange.gz
check "bad change: push accepted" "$(curl -sS -o "$T/reply" -w '%{http_code}' "${push_args[@]}" -H 'Content-Encoding: gzip' --data-binary @"$T/badchange.gz")" 200
grep -q '"status":"refused"' "$T/reply" || fail "bad change not refused: $(cat "$T/reply")"
grep -q 'form_version' "$T/reply" || fail "refusal does not name the field: $(cat "$T/reply")"
check "bad change: nothing merged" "$(sql 'SELECT count(*) FROM submissions')" 3
check "bad change: held for an admin" "$(sql "SELECT outcome FROM held_changes")" refused
before=$(hub_fingerprint)

check "hub still healthy" "$(curl -sS -o /dev/null -w '%{http_code}' "$HUB_URL/healthz")" 200
check "data unchanged by bad requests" "$(hub_fingerprint)" "$before"
kill -0 "$HUB_PID" || fail "hub died"
finish
