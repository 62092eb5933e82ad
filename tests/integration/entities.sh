#!/usr/bin/env bash
# The shared registry edited offline by several real agents against a real
# hub: concurrent edits of one field give exactly one open conflict with
# both values and the same provisional value whichever device syncs first
# (the same edits replayed in both orders on two copies); disjoint fields
# and equal values merge without a conflict; a delete meets an edit as a
# conflict; resolutions (CLI and API) reach every device and a later edit
# based on them fast-forwards; devices hold only their areas; bad input is
# refused with a clear error and changes nothing; resolutions are audited.
. "$(dirname "$0")/../lib.sh"

start_hub
enroll() { # NAME AREAS COLLECTOR
  local code
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$1" --areas "$2" --role "${4:-outreach}" 2>/dev/null)
  agent "$1" enroll --hub "$HUB_URL" --code "$code" --collector "$3" >/dev/null
  agent "$1" sync --quiet
}
enroll amina CITY-N01 Amina
enroll omar CITY-N01 Omar
enroll lea CITY-N02 Lea
enroll enum CITY-N01 Eva enumerator

# Field value on the hub, and on an agent.
hval() { sql "SELECT value FROM entity_fields WHERE entity_id='$1' AND name='$2'"; }
aval() { sqlite3 "$T/$1/agent.db" "SELECT value FROM entity_fields WHERE entity_id='$2' AND name='$3'"; }
open_conflicts() { sql "SELECT count(*) FROM conflicts WHERE status='open' AND ref='$1'"; }
sync_all() { local n; for n in "$@"; do agent "$n" sync --quiet; done; }

# ---- creation reaches the devices of its area only ----------------------
m=$(agent amina entity new mechanism name="Youth council Nord" type=youth_council \
  area=CITY-N01 status=active location=48.85,2.35)
sync_all amina omar lea
check "created at the hub" "$(hval "$m" name)" '"Youth council Nord"'
check "the other device of the area holds it" "$(aval omar "$m" status)" '"active"'
check "a device of another area does not" \
  "$(agent lea entity list mechanism | grep -c "$m" || true)" 0
check "versions start at 1" \
  "$(sqlite3 "$T/omar/agent.db" "SELECT version FROM entity_fields WHERE entity_id='$m' AND name='status'")" 1

# ---- same field, different values: one conflict, order-independent -----
agent amina entity set "$m" status=dormant
agent omar entity set "$m" status=closed
# The provisional value is the edit with the higher (HLC, device id).
pick=$(sqlite3 "$T/amina/agent.db" "SELECT hlc FROM entity_changes WHERE op='set'")
pick_o=$(sqlite3 "$T/omar/agent.db" "SELECT hlc FROM entity_changes WHERE op='set'")
dev_a=$(sqlite3 "$T/amina/agent.db" "SELECT value FROM meta WHERE key='device_id'")
dev_o=$(sqlite3 "$T/omar/agent.db" "SELECT value FROM meta WHERE key='device_id'")
if [[ "$pick_o" > "$pick" || ( "$pick_o" == "$pick" && "$dev_o" > "$dev_a" ) ]]; then
  want='"closed"'
else
  want='"dormant"'
fi
# A copy of everything, to replay the same edits in the other order.
cp -r "$T/amina" "$T/amina2"
cp -r "$T/omar" "$T/omar2"
sqlite3 "$DB" ".backup '$T/hub2.db'"

sync_all amina omar amina
check "order amina first: one open conflict" "$(open_conflicts "$m")" 1
check "order amina first: it holds both values" \
  "$(sql "SELECT group_concat(value, ' ') FROM (SELECT value FROM conflict_values v JOIN conflicts c ON c.id = v.conflict_id WHERE c.ref='$m' ORDER BY value)")" \
  '"closed" "dormant"'
check "order amina first: provisional value" "$(hval "$m" status)" "$want"
first=$(hval "$m" status)
check "both devices show the provisional value" "$(aval amina "$m" status) $(aval omar "$m" status)" "$want $want"
"$FS_HUB" conflicts --db "$DB" >"$T/conflicts.txt"
grep -q "field status" "$T/conflicts.txt" || fail "conflicts lists no status conflict: $(cat "$T/conflicts.txt")"
grep -q "Amina" "$T/conflicts.txt" && grep -q "Omar" "$T/conflicts.txt" || fail "conflicts does not name both collectors"
grep -q "provisional" "$T/conflicts.txt" || fail "conflicts marks no provisional value"
agent omar entity show "$m" >"$T/show.txt"
grep -q "hub: conflict: .*conflict #" "$T/show.txt" \
  || fail "the device that synced second is not told of the conflict: $(cat "$T/show.txt")"

port=$(hub_port)
agent omar status >"$T/status"
grep -q "registry: 1 edit(s) met another device's edit" "$T/status" || fail "status: $(cat "$T/status")"
echo "ok - the device that synced second sees the conflict in its status"

stop_hub
DB_FIRST=$DB
DB="$T/hub2.db"
start_hub "$port"
sync_all omar2 amina2 omar2
check "order omar first: one open conflict" "$(open_conflicts "$m")" 1
check "order omar first: same provisional value" "$(hval "$m" status)" "$first"
stop_hub
DB=$DB_FIRST
start_hub "$port"

# ---- disjoint fields; equal values --------------------------------------
agent amina entity set "$m" notes="meets on Fridays"
agent omar entity set "$m" location=48.86,2.36
sync_all amina omar amina omar
check "disjoint fields: no new conflict" "$(open_conflicts "$m")" 1
check "disjoint fields: both applied" "$(hval "$m" notes) $(hval "$m" location)" \
  '"meets on Fridays" {"lat":48.86,"lon":2.36}'
check "disjoint fields: both devices hold both" "$(aval omar "$m" notes) $(aval amina "$m" location)" \
  '"meets on Fridays" {"lat":48.86,"lon":2.36}'
agent amina entity set "$m" name="Youth council North"
agent omar entity set "$m" name="Youth council North"
sync_all amina omar
check "equal values: no conflict on name" \
  "$(sql "SELECT count(*) FROM conflicts WHERE ref='$m' AND field='name'")" 0
check "equal values: merged" "$(hval "$m" name)" '"Youth council North"'

# An edit made after seeing the provisional value applies, and joins the
# open conflict so the admin who settles it sees it too.
agent amina entity set "$m" status=active
sync_all amina
check "an edit of a field in conflict applies" "$(hval "$m" status)" '"active"'
check "... and joins its conflict" \
  "$(sql "SELECT count(*) FROM conflict_values v JOIN conflicts c ON c.id = v.conflict_id WHERE c.ref='$m' AND c.status='open'")" 3

# ---- edit versus delete --------------------------------------------------
d=$(agent omar entity new stakeholder name="Imam of the central mosque" kind=faith_group \
  area=CITY-N01 contact_phone="+33 1 23 45 67 89")
sync_all omar amina
agent amina entity delete "$d"
agent omar entity set "$d" notes="agreed to host the forum"
sync_all amina omar amina
check "edit vs delete: a conflict" \
  "$(sql "SELECT count(*) FROM conflicts WHERE kind='delete' AND ref='$d' AND status='open'")" 1
check "edit vs delete: kept meanwhile" "$(sql "SELECT deleted FROM entities WHERE id='$d'")" 0
check "edit vs delete: the edit applied" "$(hval "$d" notes)" '"agreed to host the forum"'

# ---- resolutions reach both devices; a later edit fast-forwards ---------
cid=$(sql "SELECT id FROM conflicts WHERE ref='$m' AND field='status' AND status='open'")
before=$(hub_fingerprint)
rc=0; "$FS_HUB" resolve --db "$DB" "$cid" --value sleeping 2>"$T/err" || rc=$?
check "resolve with a value outside the choices: refused" "$rc" 2
grep -q "status" "$T/err" || fail "the error does not name the field: $(cat "$T/err")"
rc=0; "$FS_HUB" resolve --db "$DB" "$cid" --choose 7 2>"$T/err" || rc=$?
check "resolve choosing a value that is not listed: refused" "$rc" 2
rc=0; "$FS_HUB" resolve --db "$DB" 99999 --choose 1 2>/dev/null || rc=$?
check "resolve an unknown conflict: refused" "$rc" 2
rc=0; "$FS_HUB" resolve --db "$DB" "$cid" 2>/dev/null || rc=$?
check "resolve without --value or --choose: refused" "$rc" 2
check "refused resolutions changed nothing" "$(hub_fingerprint)" "$before"
"$FS_HUB" resolve --db "$DB" "$cid" --value planned >/dev/null
check "resolved" "$(sql "SELECT status FROM conflicts WHERE id=$cid")" resolved
rc=0; "$FS_HUB" resolve --db "$DB" "$cid" --choose 1 2>/dev/null || rc=$?
check "resolving twice: refused" "$rc" 2
ver=$(sql "SELECT version FROM entity_fields WHERE entity_id='$m' AND name='status'")
sync_all amina omar
check "the resolution reaches both devices" "$(aval amina "$m" status) $(aval omar "$m" status)" '"planned" "planned"'
agent omar entity set "$m" status=active
sync_all omar amina
check "an edit based on the resolution fast-forwards" "$(hval "$m" status)" '"active"'
check "... as the next version" "$(sql "SELECT version FROM entity_fields WHERE entity_id='$m' AND name='status'")" $((ver + 1))
check "... without a conflict" "$(open_conflicts "$m")" 0
check "... and reaches the other device" "$(aval amina "$m" status)" '"active"'

# The admin API: list, refuse bad requests, resolve the delete conflict.
admin=$("$FS_HUB" token create --db "$DB" --role admin --name ops 2>/dev/null)
api() { curl -sS -w ' %{http_code}' -H "Authorization: Bearer $admin" "$@"; }
out=$(api "$HUB_URL/api/v1/admin/conflicts")
check "API lists the open conflict" "${out##* }" 200
dcid=$(sql "SELECT id FROM conflicts WHERE ref='$d' AND status='open'")
grep -q "\"id\":$dcid" <<<"$out" || fail "API list lacks conflict $dcid: $out"
n_del=$(sql "SELECT n FROM conflict_values WHERE conflict_id=$dcid AND value='\"delete\"'")
before=$(hub_fingerprint)
out=$(api -X POST "$HUB_URL/api/v1/admin/conflicts/resolve" --data-binary '{"conflict":"x"}')
check "API: malformed resolve is 400" "${out##* }" 400
grep -q '"error":"malformed"' <<<"$out" || fail "no JSON error: $out"
out=$(api -X POST "$HUB_URL/api/v1/admin/conflicts/resolve" --data-binary "{\"conflict\":$dcid,\"value\":\"x\"}")
check "API: a value for a delete conflict is 400" "${out##* }" 400
out=$(api -X POST "$HUB_URL/api/v1/admin/conflicts/resolve" --data-binary '{"conflict":424242,"choose":1}')
check "API: unknown conflict is 404" "${out##* }" 404
check "refused API calls changed nothing" "$(hub_fingerprint)" "$before"
out=$(api -X POST "$HUB_URL/api/v1/admin/conflicts/resolve" --data-binary "{\"conflict\":$dcid,\"choose\":$n_del}")
check "API: resolve by choosing the delete" "${out##* }" 200
check "the entity is deleted at the hub" "$(sql "SELECT deleted FROM entities WHERE id='$d'")" 1
sync_all amina omar
check "... and on both devices" \
  "$(agent amina entity list stakeholder | grep -c "$d" || true)$(agent omar entity list stakeholder | grep -c "$d" || true)" 00

# ---- bad input on the device: clear error, nothing stored ---------------
agent enum sync --quiet
check "an enumerator device of the area receives the registry" "$(aval enum "$m" name)" '"Youth council North"'
q=$(sqlite3 "$T/amina/agent.db" "SELECT count(*) FROM outbox")
rc=0; agent amina entity new mechanism name=X type=castle area=CITY-N01 2>"$T/err" >/dev/null || rc=$?
check "a value outside the choices: exit 2" "$rc" 2
grep -q "type" "$T/err" || fail "error does not name the field: $(cat "$T/err")"
rc=0; agent amina entity new mechanism name=X 2>"$T/err" >/dev/null || rc=$?
check "required fields missing: exit 2" "$rc" 2
grep -q "status: is required" "$T/err" || fail "error does not list the missing field: $(cat "$T/err")"
rc=0; agent amina entity new mechanism name=X type=other status=active area=CITY-N02 2>"$T/err" >/dev/null || rc=$?
check "outside the device's areas: exit 2" "$rc" 2
rc=0; agent amina entity set "$m" colour=red 2>"$T/err" || rc=$?
check "an unknown field: exit 2" "$rc" 2
rc=0; agent amina entity set "$m" name= 2>"$T/err" || rc=$?
check "clearing a required field: exit 2" "$rc" 2
rc=0; agent amina entity set 0192aaaa-0000-7000-8000-000000000000 status=active 2>/dev/null || rc=$?
check "an unknown entity: exit 2" "$rc" 2
rc=0; agent amina entity list castle 2>/dev/null || rc=$?
check "an unknown type: exit 2" "$rc" 2
check "nothing was queued" "$(sqlite3 "$T/amina/agent.db" "SELECT count(*) FROM outbox")" "$q"

# ---- a hand-made push with bad entity changes: refused change by change,
# kept aside, the registry unchanged; the device realigns and goes on -----
tok=$(sqlite3 "$T/amina/agent.db" "SELECT value FROM meta WHERE key='token'")
seq=$(( $(sql "SELECT acked_seq FROM devices WHERE id='$dev_a'") + 1 ))
reg() { sql "SELECT group_concat(entity_id || name || value || version) FROM (SELECT * FROM entity_fields ORDER BY 1, 2)"; }
before=$(reg)
printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[{"seq":%d,"kind":"entity","op":"set","type":"mechanism","id":"%s","hlc":"0190000000000000","created_ms":1,"fields":{"status":{"base":1,"value":"sleeping"}}},{"seq":%d,"kind":"entity","op":"set","type":"mechanism","id":"%s","hlc":"0190000000000000","created_ms":1,"fields":{"status":{"base":999,"value":"active"}}},{"seq":%d,"kind":"entity","op":"set","type":"castle","id":"%s","hlc":"0190000000000000","created_ms":1,"fields":{"moat":{"base":0,"value":1}}}]}' \
  "$dev_a" "$seq" $((seq + 2)) "$seq" "$m" $((seq + 1)) "$m" $((seq + 2)) "$m" >"$T/bad.json"
out=$(curl -sS -H "Authorization: Bearer $tok" -X POST "$HUB_URL/api/v1/push" --data-binary @"$T/bad.json")
check "bad entity changes: each refused" "$(grep -o '"status":"refused"' <<<"$out" | wc -l)" 3
grep -q '"error":"invalid_entity","message":"mechanism [^"]*status' <<<"$out" || fail "no reason for the bad value: $out"
grep -q 'base version 999 is newer' <<<"$out" || fail "no reason for the bad base: $out"
grep -q "unknown entity type 'castle'" <<<"$out" || fail "no reason for the bad type: $out"
check "... kept aside for an admin" "$(sql "SELECT count(*) FROM held_changes WHERE device_id='$dev_a' AND outcome='refused'")" 3
check "... the registry unchanged" "$(reg)" "$before"
agent amina entity set "$m" notes="after the bad push"
agent amina sync --quiet
check "the device realigns and its next edit arrives" "$(hval "$m" notes)" '"after the bad push"'

# ---- areas change: a device given an area gets its entities; an entity
# moved to another area leaves the devices of the old one -----------------
s2=$(agent lea entity new stakeholder name="Sports association Sud" kind=ngo area=CITY-N02)
agent lea sync --quiet
"$FS_HUB" device scope --db "$DB" "$dev_a" --areas CITY-N01,CITY-N02 >/dev/null
agent amina sync --quiet
check "a device given an area gets its entities" "$(aval amina "$s2" name)" '"Sports association Sud"'
agent amina entity set "$m" area=CITY-N02
sync_all amina omar lea
check "moved at the hub" "$(sql "SELECT area FROM entities WHERE id='$m'")" CITY-N02
check "the device of the old area no longer holds it" \
  "$(sqlite3 "$T/omar/agent.db" "SELECT count(*) FROM entities WHERE id='$m'")" 0
check "the device of the new area does" "$(aval lea "$m" area)" '"CITY-N02"'

# ---- an admin writes the registry (e.g. an import of areas) -------------
before=$(hub_fingerprint)
rc=0; "$FS_HUB" entity put --db "$DB" area --fields '{"code":"CITY-N01"}' 2>"$T/err" >/dev/null || rc=$?
check "admin write missing required fields: refused" "$rc" 2
grep -q "name: is required" "$T/err" || fail "the error does not list the field: $(cat "$T/err")"
rc=0; "$FS_HUB" entity put --db "$DB" area --fields '{"code":"CITY N01",' 2>/dev/null >/dev/null || rc=$?
check "admin write with bad JSON: refused" "$rc" 2
check "refused admin writes changed nothing" "$(hub_fingerprint)" "$before"
a=$("$FS_HUB" entity put --db "$DB" area --fields \
  '{"code":"CITY-N01","name":"Nord","level":"neighbourhood","parent":"CITY","geometry":"{\"type\":\"Point\",\"coordinates\":[2.35,48.85]}"}')
"$FS_HUB" entity put --db "$DB" area "$a" --fields '{"name":"Quartier Nord"}' >/dev/null
sync_all omar
check "an admin write reaches the devices of the area" "$(aval omar "$a" name)" '"Quartier Nord"'
check "... as version 2 of the field" \
  "$(sqlite3 "$T/omar/agent.db" "SELECT version FROM entity_fields WHERE entity_id='$a' AND name='name'")" 2
check "admin writes audited" "$(sql "SELECT count(*) FROM audit_log WHERE action='entity.write'")" 2

# ---- audit ---------------------------------------------------------------
check "every resolution audited" "$(sql "SELECT count(*) FROM audit_log WHERE action='conflict.resolve'")" 2
sql "SELECT actor FROM audit_log WHERE action='conflict.resolve'" | grep -q 'token:ops' || fail "the API resolution does not name its token"
echo "ok - the audit log names who resolved"
aggregates_exact
finish
