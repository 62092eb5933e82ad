#!/usr/bin/env bash
# Who may do what: runs every row of authz_matrix.txt against a real hub,
# then checks that no data crosses a scope (areas, forms, personal
# fields), that revocation and rate limits hold, and that admin actions
# and personal reads are audited.
. "$(dirname "$0")/../lib.sh"

cat >"$T/form.json" <<'JSON'
{"id": "authz_survey", "version": 1, "title": "Authz test survey",
 "fields": [{"name": "age_band", "type": "text"},
            {"name": "respondent_name", "type": "text", "personal": true},
            {"name": "notes", "type": "text", "sensitive": true},
            {"name": "fear", "type": "integer", "sensitive": true},
            {"name": "photo", "type": "image"},
            {"name": "face", "type": "image", "personal": true}]}
JSON
sed 's/authz_survey/other_form/' "$T/form.json" >"$T/other.json"
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
"$FS_HUB" form publish --db "$DB" "$T/other.json" >/dev/null
# The areas' hierarchy: CITY > CITY-D1 > CITY-N01, CITY-N02; CITY-D2 >
# CITY-N03. A scope of a district covers its neighbourhoods.
"$FS_HUB" areas import --db "$DB" "$FS_SRC/tests/fixtures/mapping/areas.geojson" >/dev/null
HUB_ARGS="--rate-limit 1000" start_hub

enrol() {  # enrol NAME ROLE AREAS
  local code
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$1" --role "$2" \
    --areas "$3" --forms authz_survey)
  agent "$1" enroll --hub "$HUB_URL" --code "$code" >/dev/null
  agent "$1" sync --quiet
}
enrol enum_n1 enumerator CITY-N01
enrol outreach_n2 outreach CITY-N02
enrol revoked_dev enumerator CITY-N01
enrol spare_n1 enumerator CITY-N01
enrol enum_d1 enumerator CITY-D1
meta() { sqlite3 "$T/$1/agent.db" "SELECT value FROM meta WHERE key='$2'"; }

declare -A TOKEN
for a in enum_n1 outreach_n2 revoked_dev enum_d1; do TOKEN[$a]=$(meta $a token); done
TOKEN[admin]=$("$FS_HUB" token create --db "$DB" --role admin --name boss 2>/dev/null)
TOKEN[admin_n1]=$("$FS_HUB" token create --db "$DB" --role admin --name boss_n1 --areas CITY-N01 2>/dev/null)
TOKEN[reviewer]=$("$FS_HUB" token create --db "$DB" --role reviewer --name rev1 --areas CITY-N01 2>/dev/null)
TOKEN[reviewer_d1]=$("$FS_HUB" token create --db "$DB" --role reviewer --name rev_d1 --areas CITY-D1 2>/dev/null)
TOKEN[admin_d2]=$("$FS_HUB" token create --db "$DB" --role admin --name boss_d2 --areas CITY-D2 2>/dev/null)
TOKEN[revoked_tok]=$("$FS_HUB" token create --db "$DB" --role reviewer --name gone 2>/dev/null)
TOKEN[bad]=$(printf '%064d' 7)
"$FS_HUB" device revoke --db "$DB" "$(meta revoked_dev device_id)" >/dev/null
"$FS_HUB" token revoke --db "$DB" gone >/dev/null

# Data: three records in CITY-N01, two in CITY-N02.
echo '{"age_band":"25-34","respondent_name":"Person A","notes":"n"}' >"$T/a.json"
for i in 1 2 3; do agent enum_n1 record authz_survey --answers "$T/a.json" --area CITY-N01 >/dev/null; done
for i in 1 2; do agent outreach_n2 record authz_survey --answers "$T/a.json" --area CITY-N02 >/dev/null; done
# One of each with photos (a personal one in CITY-N01): the matrix's
# {SUB_N1} and {SUB_N2} in file paths.
"${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$T/p.png" 3008
"${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$T/f.png" 2008
SUB_N1=$(agent enum_n1 record authz_survey --answers "$T/a.json" --area CITY-N01 \
  --attach photo="$T/p.png" --attach face="$T/f.png")
SUB_N2=$(agent outreach_n2 record authz_survey --answers "$T/a.json" --area CITY-N02 \
  --attach photo="$T/p.png")
agent enum_n1 sync --quiet
agent outreach_n2 sync --quiet

# Bodies.
expired=$("$FS_HUB" enroll-code --db "$DB" --name late --areas CITY-N01 --expires 0.0002 2>/dev/null)
used=$("$FS_HUB" enroll-code --db "$DB" --name once --areas CITY-N01 2>/dev/null)
curl -fsS -o /dev/null -X POST "$HUB_URL/api/v1/enroll" --data-binary "{\"code\":\"$used\"}"
sleep 1
body() {  # body KIND CALLER -> file name
  local f="$T/body.$1.$2"
  case "$1" in
    -) : >"$f" ;;
    push)
      local dev seq
      dev=$(sql "SELECT id FROM devices WHERE token_hash='$(printf %s "${TOKEN[$2]:-x}" | sha256sum | cut -d' ' -f1)'")
      [ -n "$dev" ] || dev=01900000-0000-7000-8000-0000000000aa
      seq=$(( $(sql "SELECT coalesce(max(acked_seq),0) FROM devices WHERE id='$dev'") + 1 ))
      printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[{"seq":%d,"kind":"submission","id":"%s","form":"authz_survey","form_version":1,"area":"CITY-N01","hlc":"0190000000000000","created_ms":1,"answers":{"age_band":"x"}}]}' \
        "$dev" "$seq" "$seq" "$seq" "$(cat /proc/sys/kernel/random/uuid)" | gzip -c >"$f" ;;
    push_entity|push_entity_n2)
      local dev seq area=CITY-N01
      [ "$1" = push_entity_n2 ] && area=CITY-N02
      dev=$(sql "SELECT id FROM devices WHERE token_hash='$(printf %s "${TOKEN[$2]:-x}" | sha256sum | cut -d' ' -f1)'")
      [ -n "$dev" ] || dev=01900000-0000-7000-8000-0000000000aa
      seq=$(( $(sql "SELECT coalesce(max(acked_seq),0) FROM devices WHERE id='$dev'") + 1 ))
      printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[{"seq":%d,"kind":"entity","op":"new","type":"mechanism","id":"%s","hlc":"0190000000000000","created_ms":1,"fields":{"area":{"base":0,"value":"%s"},"name":{"base":0,"value":"Club"},"status":{"base":0,"value":"active"},"type":{"base":0,"value":"sports_club"}}}]}' \
        "$dev" "$seq" "$seq" "$seq" "$(cat /proc/sys/kernel/random/uuid)" "$area" | gzip -c >"$f" ;;
    resolve) printf '{"conflict":999999,"choose":1}' >"$f" ;;
    revoke) printf '{"device":"01900000-0000-7000-8000-0000000000bb"}' >"$f" ;;
    revoke_n1) printf '{"device":"%s"}' "$(meta spare_n1 device_id)" >"$f" ;;
    revoke_n2) printf '{"device":"%s"}' "$(meta outreach_n2 device_id)" >"$f" ;;
    review) printf '{"submission":"%s","state":"approved"}' "$(sql "SELECT id FROM submissions WHERE area='CITY-N01' LIMIT 1")" >"$f" ;;
    review_n2) printf '{"submission":"%s","state":"approved"}' "$(sql "SELECT id FROM submissions WHERE area='CITY-N02' LIMIT 1")" >"$f" ;;
    code_expired) printf '{"code":"%s"}' "$expired" >"$f" ;;
    code_used) printf '{"code":"%s"}' "$used" >"$f" ;;
    code_fresh) printf '{"code":"%s"}' "$("$FS_HUB" enroll-code --db "$DB" --name fresh --areas CITY-N01 2>/dev/null)" >"$f" ;;
  esac
  echo "$f"
}

rows=0
while read -r method path kind caller status result; do
  case "$method" in ''|\#*) continue ;; esac
  rows=$((rows + 1))
  path=${path//\{SUB_N1\}/$SUB_N1}
  path=${path//\{SUB_N2\}/$SUB_N2}
  f=$(body "$kind" "$caller")
  args=(-sS -o "$T/reply" -w '%{http_code}' -X "$method")
  [ "$caller" != none ] && args+=(-H "Authorization: Bearer ${TOKEN[$caller]}")
  case "$kind" in push*) args+=(-H 'Content-Encoding: gzip') ;; esac
  [ "$kind" != - ] && args+=(--data-binary @"$f")
  got=$(curl "${args[@]}" "$HUB_URL$path")
  check "$method $path as $caller" "$got" "$status"
  if [ "$status" -ge 400 ]; then
    grep -q '"error":"[a-z_]*","message":"[^"]' "$T/reply" || fail "no JSON error: $(cat "$T/reply")"
  fi
  if [ "$result" != - ]; then
    grep -q "\"status\":\"$result\"" "$T/reply" || fail "$caller push: expected $result in $(cat "$T/reply")"
  fi
done <"$(dirname "$0")/authz_matrix.txt"
[ "$rows" -ge 40 ] || fail "the matrix has only $rows rows"

# --- no data crosses a scope ---------------------------------------------
grep -q 'out_of_scope' <(sql "SELECT error FROM held_changes") || fail "outreach push into CITY-N01 not held as out_of_scope"
check "CITY-N02 device wrote nothing into CITY-N01" \
  "$(sql "SELECT count(*) FROM submissions s JOIN devices d ON d.id=s.device_id WHERE d.name='outreach_n2' AND s.area='CITY-N01'")" 0
api() { curl -sS -H "Authorization: Bearer ${TOKEN[$1]}" "$HUB_URL$2"; }
areas=$(api reviewer /api/v1/admin/submissions | grep -o '"area":"[^"]*"' | sort -u | tr -d '\n')
check "reviewer sees only CITY-N01 submissions" "$areas" '"area":"CITY-N01"'
check "a CITY-D1 reviewer sees both of its neighbourhoods' submissions, all of them" \
  "$(api reviewer_d1 /api/v1/admin/submissions | grep -o '"area":"[A-Z0-9-]*"' | sort | uniq -c | tr -s ' ' | tr '\n' ' ')" \
  "$(sql "SELECT group_concat(' ' || n || ' \"area\":\"' || area || '\"', ' ') FROM (SELECT area, count(*) n FROM submissions WHERE area IN ('CITY-N01', 'CITY-N02') GROUP BY area ORDER BY area)") "
check "reviewer sees all of CITY-N01" \
  "$(api reviewer /api/v1/admin/submissions | grep -o '"area":"CITY-N01"' | wc -l)" \
  "$(sql "SELECT count(*) FROM submissions WHERE area='CITY-N01'")"
api reviewer /api/v1/admin/stats | grep -q 'CITY-N02' && fail "reviewer stats show CITY-N02"
api admin_n1 /api/v1/admin/stats | grep -q 'CITY-N02' && fail "CITY-N01 admin's stats show CITY-N02"
check "a CITY-N01 admin lists the CITY-N01 devices only" \
  "$(api admin_n1 /api/v1/admin/devices | grep -o '"name":"[a-z_0-9]*"' | sort | tr '\n' ' ')" \
  '"name":"enum_n1" "name":"fresh" "name":"once" "name":"revoked_dev" "name":"spare_n1" '
api admin /api/v1/admin/devices | grep -q '"name":"outreach_n2"' || fail "the admin for all areas lacks outreach_n2"
check "a CITY-N01 admin cannot revoke a CITY-N02 device" \
  "$(sql "SELECT revoked_ms IS NULL FROM devices WHERE name='outreach_n2'")" 1
check "but revokes a CITY-N01 one, audited under its name" \
  "$(sql "SELECT count(*) FROM audit_log WHERE action='device.revoke' AND actor='token:boss_n1'")" 1
api admin /api/v1/admin/stats | grep -q 'CITY-N02' || fail "admin stats lack CITY-N02"
curl -sS -H "Authorization: Bearer ${TOKEN[enum_n1]}" "$HUB_URL/api/v1/pull?after=0" >"$T/pull"
grep -q '"id":"authz_survey"' "$T/pull" || fail "device did not get its form"
grep -q 'other_form' "$T/pull" && fail "device got a form not assigned to it"
check "device holds only its forms" "$(agent enum_n1 forms --json | grep -c '"id"')" 1

# --- personal and sensitive fields ---------------------------------------
audits=$(sql "SELECT count(*) FROM audit_log WHERE action='submissions.read_personal'")
api admin /api/v1/admin/submissions >"$T/plain"
grep -q '"age_band"' "$T/plain" || fail "answers missing"
grep -Eq 'respondent_name|"notes"' "$T/plain" && fail "personal or sensitive field in a default read"
check "default read is not audited as personal" \
  "$(sql "SELECT count(*) FROM audit_log WHERE action='submissions.read_personal'")" "$audits"
api admin '/api/v1/admin/submissions?personal=1' >"$T/personal"
grep -q '"respondent_name":"Person A"' "$T/personal" || fail "admin's explicit personal read lacks the field"
check "personal read audited" \
  "$(sql "SELECT count(*) FROM audit_log WHERE action='submissions.read_personal' AND actor='token:boss'")" $((audits + 1))

# --- the device side ------------------------------------------------------
rc=0
agent enum_n1 record authz_survey --answers "$T/a.json" --area CITY-N02 2>"$T/err" || rc=$?
check "recording outside the device's areas is refused offline" "$rc" 2
grep -q "records for areas CITY-N01 (and the areas below them) only" "$T/err" || fail "unclear message: $(cat "$T/err")"
rc=0
agent revoked_dev sync 2>"$T/err" || rc=$?
check "a revoked device's sync is refused (exit 4)" "$rc" 4
grep -q "revoked" "$T/err" || fail "no revoked message: $(cat "$T/err")"

# --- audit of admin actions ----------------------------------------------
for action in enrolment_code.create device.enrol token.create device.revoke token.revoke submission.review; do
  n=$(sql "SELECT count(*) FROM audit_log WHERE action='$action'")
  [ "$n" -ge 1 ] || fail "no audit entry for $action"
done
api admin /api/v1/admin/audit | grep -q '"action":"device.revoke"' || fail "audit API lacks device.revoke"
echo "ok - audit log holds every admin action"

# --- rate limit ------------------------------------------------------------
port=$(hub_port)
stop_hub
HUB_ARGS="--rate-limit 2" start_hub "$port"
limited=0
for i in $(seq 1 12); do
  code=$(curl -sS -o "$T/reply" -D "$T/headers" -w '%{http_code}' \
    -H "Authorization: Bearer ${TOKEN[enum_n1]}" "$HUB_URL/api/v1/pull?after=0")
  if [ "$code" = 429 ]; then
    limited=$((limited + 1))
    grep -qi '^Retry-After: 1' "$T/headers" || fail "429 without Retry-After"
    grep -q '"error":"rate_limited"' "$T/reply" || fail "429 without JSON error"
  fi
done
[ "$limited" -ge 1 ] || fail "12 requests at once were never limited at 2/s"
echo "ok - $limited of 12 rapid requests got 429 with Retry-After"
check "another device is not limited by the first" \
  "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN[outreach_n2]}" "$HUB_URL/api/v1/pull?after=0")" 200
sleep 1.5
check "the limited device is served again after waiting" \
  "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN[enum_n1]}" "$HUB_URL/api/v1/pull?after=0")" 200
finish
