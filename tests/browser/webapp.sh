#!/usr/bin/env bash
# The agent's form app (`fieldsync-agent serve`) end to end, in Chromium on
# a 7-inch tablet viewport, with a real hub and a real agent store:
# fill the resilience survey (a refused answer then a corrected one, skip
# logic, back), save a draft, resume it; kill -9 the agent mid-form and
# find every saved answer after a restart; finalize, sync, see it at the
# hub; an admin marks it "has issues" and the comment shows in the app
# after the next sync. The registry screen adds and edits a stakeholder
# that reaches the hub. With the hub down the sync says so and keeps the
# records; once the device's areas were narrowed, what the hub refuses is
# shown under Quarantined with the hub's reason. Around it, with curl: no device secret -> 401, a one-time
# address works once, cross-site posts -> 403, bad input -> 4xx JSON and
# nothing changed. Prints the serve process's peak RSS (a figure, not a
# check).
. "$(dirname "$0")/../lib.sh"
rel_trap

"$FS_HUB" form publish --db "$DB" "$FS_SRC/schema/forms/resilience_baseline.json" >/dev/null
start_hub
code=$("$FS_HUB" enroll-code --db "$DB" --name tab --areas CITY-N01,CITY-N02 2>/dev/null)
agent tab enroll --hub "$HUB_URL" --code "$code" >/dev/null
agent tab sync --quiet
ADB="$T/tab/agent.db"
adb() { sqlite3 -batch "$ADB" "$@"; }

SERVE_PID=""
# start_serve [PORT]: serve in the background; sets SERVE_PID, APP, LOGIN.
start_serve() {
  rm -f "$T/app.port"
  "$FS_AGENT" --dir "$T/tab" serve --listen "127.0.0.1:${1:-0}" \
    --port-file "$T/app.port" >"$T/serve.out" 2>>"$T/serve.log" &
  SERVE_PID=$!
  BG_PIDS+=("$SERVE_PID")
  local i
  for i in $(seq 1 600); do
    [ -s "$T/app.port" ] && grep -q 'login?token=' "$T/serve.out" && break
    kill -0 "$SERVE_PID" 2>/dev/null || fail "serve exited: $(cat "$T/serve.log")"
    sleep 0.05
  done
  [ -s "$T/app.port" ] || fail "serve did not start within 30 s"
  APP="http://127.0.0.1:$(cat "$T/app.port")"
  LOGIN=$(grep -o 'http://[^ ]*login?token=[0-9a-f]*' "$T/serve.out")
}

# status_of METHOD PATH [CURL ARGS...]: the HTTP status, body in $T/body.
status_of() {
  local m=$1 p=$2
  shift 2
  curl -sS -o "$T/body" -w '%{http_code}' -X "$m" "$@" "$APP$p"
}
error_of() { sed -n 's/.*"error":"\([a-z_]*\)".*/\1/p' "$T/body"; }

browser() {
  FS_APP="$APP" FS_LOGIN="${LOGIN:-}" FS_AGENT_DB="$ADB" FS_STATE="$T/state.json" \
    FS_SHOTS="$T" FS_PHASE="$1" FS_COMMENT="${COMMENT:-}" \
    node "$FS_SRC/tests/browser/webapp.mjs" || fail "browser phase $1 failed"
}

start_serve
check "no device secret: 401" "$(status_of GET /)" 401
check "401 is a JSON error" "$(error_of)" no_device_secret
check "a wrong secret: 401" "$(status_of GET /api/status -H 'Cookie: fieldsync_device=00')" 401
check "a wrong one-time token: 401" "$(status_of GET '/login?token=0123')" 401

browser fill
check "the one-time address works only once" "$(curl -sS -o /dev/null -w '%{http_code}' "$LOGIN")" 401

# kill -9 mid-form: the draft holds every answer up to the last one.
before=$(adb "SELECT answers || ' @' || position FROM drafts")
kill -KILL "$SERVE_PID"
wait "$SERVE_PID" 2>/dev/null || true
check "agent database intact after kill -9" "$(adb 'PRAGMA integrity_check')" ok
check "answers up to the last saved one survive" \
  "$(adb "SELECT json_extract(answers, '$.household_code') || ',' || json_extract(answers, '$.trust_local_gov') || ',' || json_extract(answers, '$.discrimination') || ',' || json_extract(answers, '$.neighbours_help') || ',' || json_extract(answers, '$.trust_services') || ',' || area FROM drafts")" \
  "AB-0042,2,never,5,3,CITY-N01"
port=$(cat "$T/app.port")
start_serve "$port"
check "restarted on the same address" "$(cat "$T/app.port")" "$port"

# Bad input to the JSON endpoints: 4xx JSON, nothing changed.
secret=$(adb "SELECT value FROM meta WHERE key = 'web_secret'")
CK=(-H "Cookie: fieldsync_device=$secret")
H=("${CK[@]}" -H 'X-Fieldsync: 1' -H 'Content-Type: application/json')
draft=$(adb 'SELECT id FROM drafts')
snap() { adb "SELECT count(*) || ' ' || group_concat(answers || position || updated_ms || area) FROM drafts"; }
s0=$(snap)
check "status with the secret" "$(status_of GET /api/status "${CK[@]}")" 200
check "cross-site: no X-Fieldsync header" "$(status_of POST /api/drafts "${CK[@]}" -d '{"form":"resilience_baseline"}')" 403
check "403 is a JSON error" "$(error_of)" cross_site
check "cross-site: another Origin" "$(status_of POST /api/drafts "${H[@]}" -H 'Origin: http://evil.example' -d '{"form":"resilience_baseline"}')" 403
check "cross-site: Sec-Fetch-Site cross-site" "$(status_of POST /api/drafts "${H[@]}" -H 'Sec-Fetch-Site: cross-site' -d '{"form":"resilience_baseline"}')" 403
check "same-site, other origin" "$(status_of POST /api/drafts "${H[@]}" -H 'Sec-Fetch-Site: same-site' -d '{"form":"resilience_baseline"}')" 403
check "a form-encoded cross-site post" "$(status_of POST "/api/drafts/$draft/answer" "${CK[@]}" -H 'Origin: http://127.0.0.1:1' -d 'field=tension_seen&value=never')" 403
check "not JSON: 400" "$(status_of POST "/api/drafts/$draft/answer" "${H[@]}" -d '{"field":')" 400
check "400 names it" "$(error_of)" bad_json
check "a JSON array: 400" "$(status_of POST "/api/drafts/$draft/answer" "${H[@]}" -d '[1]')" 400
check "not the current question: 409" "$(status_of POST "/api/drafts/$draft/answer" "${H[@]}" -d '{"field":"consent","value":"no"}')" 409
check "not a choice: 422" "$(status_of POST "/api/drafts/$draft/answer" "${H[@]}" -d '{"field":"tension_seen","value":"sometimes-ish"}')" 422
check "422 is a JSON error" "$(error_of)" invalid
check "a number where a choice goes: 422" "$(status_of POST "/api/drafts/$draft/answer" "${H[@]}" -d '{"field":"tension_seen","value":7}')" 422
check "text and value together: 400" "$(status_of POST "/api/drafts/$draft/answer" "${H[@]}" -d '{"field":"tension_seen","text":"1","value":"never"}')" 400
check "an unknown form: 422" "$(status_of POST /api/drafts "${H[@]}" -d '{"form":"no_such_form"}')" 422
check "a bad form id: 400" "$(status_of POST /api/drafts "${H[@]}" -d '{"form":"../../etc"}')" 400
check "an area outside the device's: 422" "$(status_of POST /api/drafts "${H[@]}" -d '{"form":"resilience_baseline","area":"CITY-S09"}')" 422
check "a bad draft id: 400" "$(status_of GET /api/drafts/nope "${CK[@]}")" 400
check "an unknown draft: 404" "$(status_of GET /api/drafts/01234567-89ab-7def-8123-456789abcdef "${CK[@]}")" 404
check "a bad language tag: 400" "$(status_of GET '/api/forms?lang=%3Cscript%3E' "${CK[@]}")" 400
head -c 70000 /dev/zero | tr '\0' 'x' >"$T/big"
check "a body over 64 KiB: 413" "$(status_of POST "/api/drafts/$draft/answer" "${H[@]}" --data-binary @"$T/big")" 413
check "an unknown endpoint: 404" "$(status_of GET /api/nothing "${CK[@]}")" 404
check "right-to-left languages get dir=rtl" "$(curl -sS "${CK[@]}" "$APP/api/forms?lang=ar" | grep -o '"dir":"[a-z]*"')" '"dir":"rtl"'
check "a language the form lacks falls back to its default, dir too" \
  "$(curl -sS "${CK[@]}" "$APP/api/drafts/$draft?lang=ar" | grep -o '"lang":"[a-z]*","dir":"[a-z]*"')" '"lang":"en","dir":"ltr"'
check "registry: an unknown type: 400" "$(status_of GET '/api/registry?type=area' "${CK[@]}")" 400
check "registry: fields not an object: 400" "$(status_of POST /api/registry "${H[@]}" -d '{"type":"stakeholder","fields":[1]}')" 400
check "registry: a value not typed text: 400" "$(status_of POST /api/registry "${H[@]}" -d '{"type":"stakeholder","fields":{"name":7}}')" 400
check "registry: not a choice: 422" "$(status_of POST /api/registry "${H[@]}" -d '{"type":"stakeholder","fields":{"name":"X","kind":"army","area":"CITY-N01"}}')" 422
check "registry: outside the device's areas: 422" "$(status_of POST /api/registry "${H[@]}" -d '{"type":"stakeholder","fields":{"name":"X","kind":"ngo","area":"CITY-S09"}}')" 422
check "registry: a bad id: 400" "$(status_of POST /api/registry/x "${H[@]}" -d '{"fields":{"name":"Y"}}')" 400
check "registry: an unknown id: 404" "$(status_of POST /api/registry/01234567-89ab-7def-8123-456789abcdef "${H[@]}" -d '{"fields":{"name":"Y"}}')" 404
check "registry: nothing stored by bad input" "$(adb 'SELECT count(*) FROM entities') $(adb 'SELECT count(*) FROM outbox')" "0 0"
check "nothing changed by bad input" "$(snap)" "$s0"
check "nothing recorded by bad input" "$(adb 'SELECT count(*) FROM submissions')" 0

browser finish
id=$(adb 'SELECT id FROM submissions')
check "at the hub, with the corrected answer" \
  "$(sql "SELECT area || ' ' || json_extract(answers, '$.household_code') || ' ' || json_extract(answers, '$.initiatives_known') FROM submissions WHERE id = '$id'")" \
  "CITY-N01 AB-0042 Youth football on Saturdays"
check "skip logic kept the skipped question out" \
  "$(sql "SELECT coalesce(json_extract(answers, '$.discrimination_where'), 'absent') FROM submissions WHERE id = '$id'")" absent
hwm=$(sed -n 's/^VmHWM:[[:space:]]*//p' "/proc/$SERVE_PID/status")
echo "figures: serve peak RSS (VmHWM) after filling and syncing a form: $hwm"

COMMENT="age missing, please revisit"
"$FS_HUB" review --db "$DB" "$id" --state has_issues --comment "$COMMENT" >/dev/null
browser review
check "the device holds the review" "$(adb "SELECT review_state || ': ' || review_comment FROM submissions WHERE id = '$id'")" \
  "has_issues: $COMMENT"

browser registry
check "the stakeholder is at the hub with its edit" \
  "$(sql "SELECT e.area || ' ' || json_extract(n.value, '$') || ' ' || json_extract(p.value, '$') FROM entities e JOIN entity_fields n ON n.entity_id = e.id AND n.name = 'name' JOIN entity_fields p ON p.entity_id = e.id AND p.name = 'contact_phone' WHERE e.type = 'stakeholder'")" \
  "CITY-N01 Youth centre Les Tilleuls +33 1 23 45 67 89"

hub_port >"$T/hub.port.saved"
stop_hub
browser offline
check "the records made offline are kept, queued" "$(pending tab)" 2
check "it is in the store" "$(adb "SELECT area || ' ' || json_extract(answers, '$.consent') FROM submissions WHERE state = 'queued'")" "CITY-N02 no"

# An admin narrows the device to CITY-N01 while it was offline.
dev=$(adb "SELECT value FROM meta WHERE key = 'device_id'")
"$FS_HUB" device scope --db "$DB" "$dev" --areas CITY-N01 >/dev/null
start_hub "$(cat "$T/hub.port.saved")"
browser quarantine
check "the device keeps the refused submission" "$(adb "SELECT state FROM submissions WHERE area = 'CITY-N02'")" refused
check "and the refused registry entry" "$(adb "SELECT state FROM entity_changes WHERE type = 'mechanism'")" refused
kill -0 "$SERVE_PID" || fail "serve died"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID" || fail "serve did not stop cleanly on SIGTERM"
finish
