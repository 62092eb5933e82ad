#!/usr/bin/env bash
# An area's boundary is checked on every write, not only on `areas
# import`: a device that edits its area's geometry with text that closes
# the feature and opens a fake one is refused (held for an admin) and the
# areas GeoJSON the admin map draws keeps its features; text stored
# before writes were checked is exported as a null geometry, written by
# the serializer, never pasted.
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || fail "python3 missing: run scripts/bootstrap"
"$FS_HUB" areas import --db "$DB" "$FS_SRC/tests/fixtures/mapping/areas.geojson" >/dev/null
publish_sample_form
start_hub
code=$("$FS_HUB" enroll-code --db "$DB" --name d1 --role outreach --areas CITY-N01 2>/dev/null)
agent d1 enroll --hub "$HUB_URL" --code "$code" >/dev/null
agent d1 sync --quiet

features() {  # features FILE: the feature count and codes of an areas GeoJSON
  python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(len(d["features"]), " ".join(f["properties"]["code"] for f in d["features"]))' "$1"
}
"$FS_HUB" export geojson areas --db "$DB" -o "$T/before.geojson" 2>/dev/null
check "six areas" "$(features "$T/before.geojson")" \
  "6 CITY CITY-D1 CITY-D2 CITY-N01 CITY-N02 CITY-N03"

token=$(sqlite3 "$T/d1/agent.db" "SELECT value FROM meta WHERE key='token'")
dev=$(sqlite3 "$T/d1/agent.db" "SELECT value FROM meta WHERE key='device_id'")
eid=$(sql "SELECT id FROM entities WHERE type='area' AND area='CITY-N01'")
base=$(sql "SELECT version FROM entity_fields WHERE entity_id='$eid' AND name='geometry'")
before=$(sql "SELECT value FROM entity_fields WHERE entity_id='$eid' AND name='geometry'")
# A JSON string holding a polygon, then the end of the feature and a
# whole fake feature after it.
evil='{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,2],[0,0]]]},\"properties\":{\"code\":\"CITY-N01\"}},{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[0.5,1]},\"properties\":{\"code\":\"FAKE\",\"name\":\"Gather here tonight\"}'
push_geometry() {  # push_geometry VALUE-JSON: one entity set from d1
  local seq
  seq=$(($(sql "SELECT acked_seq FROM devices WHERE id='$dev'") + 1))
  printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[{"seq":%d,"kind":"entity","op":"set","type":"area","id":"%s","hlc":"0190000000000000","created_ms":1,"fields":{"geometry":{"base":%d,"value":%s}}}]}' \
    "$dev" "$seq" "$seq" "$seq" "$eid" "$base" "$1" | gzip -c >"$T/cs.gz"
  curl -sS -o "$T/reply" -w '%{http_code}' -X POST "$HUB_URL/api/v1/push" \
    -H "Authorization: Bearer $token" -H 'Content-Encoding: gzip' --data-binary @"$T/cs.gz"
}
check "the push is answered" "$(push_geometry "\"$evil\"")" 200
grep -q '"status":"refused","error":"invalid_entity"' "$T/reply" || fail "not refused: $(cat "$T/reply")"
grep -q 'geometry' "$T/reply" || fail "the refusal does not name the geometry: $(cat "$T/reply")"
echo "ok - an injected feature is refused as an invalid geometry"
check "the stored boundary is unchanged" \
  "$(sql "SELECT value FROM entity_fields WHERE entity_id='$eid' AND name='geometry'")" "$before"
check "the refusal is held for an admin" \
  "$(sql "SELECT count(*) FROM held_changes WHERE device_id='$dev' AND error='invalid_entity'")" 1
check "an unclosed ring is refused too" \
  "$(push_geometry '"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,2],[0,2]]]}"')" 200
grep -q '"error":"invalid_entity"' "$T/reply" || fail "not refused: $(cat "$T/reply")"
check "a valid boundary from the device is taken" \
  "$(push_geometry '"{\"type\":\"Polygon\",\"coordinates\":[[[0,0],[1,0],[1,1.5],[0,2],[0,0]]]}"')" 200
grep -q '"status":"applied"' "$T/reply" || fail "not applied: $(cat "$T/reply")"
base=$(sql "SELECT version FROM entity_fields WHERE entity_id='$eid' AND name='geometry'")

# The admin's own writes are checked the same way.
rc=0
"$FS_HUB" entity put --db "$DB" area "$eid" --fields "{\"geometry\":\"$evil\"}" >/dev/null 2>"$T/err" || rc=$?
check "entity put refuses a bad geometry" "$rc" 2
grep -q 'geometry' "$T/err" || fail "no reason given: $(cat "$T/err")"
echo "ok - and says why"

# Text stored before writes were checked: the export never pastes it.
sql "UPDATE entity_fields SET value = json_quote('$(printf '%s' "$evil" | sed 's/\\"/"/g')') WHERE entity_id='$eid' AND name='geometry'"
"$FS_HUB" export geojson areas --db "$DB" -o "$T/after.geojson" 2>/dev/null
check "the export keeps its six features" "$(features "$T/after.geojson")" \
  "6 CITY CITY-D1 CITY-D2 CITY-N01 CITY-N02 CITY-N03"
check "the bad boundary is exported as null" \
  "$(python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print([f["geometry"] for f in d["features"] if f["properties"]["code"] == "CITY-N01"][0])' "$T/after.geojson")" None
admin=$("$FS_HUB" token create --db "$DB" --role admin --name ana 2>/dev/null)
curl -sS -H "Authorization: Bearer $admin" -o "$T/api.geojson" "$HUB_URL/api/v1/admin/export/geojson/areas"
check "so does the API" "$(features "$T/api.geojson")" \
  "6 CITY CITY-D1 CITY-D2 CITY-N01 CITY-N02 CITY-N03"
kill -0 "$HUB_PID" || fail "hub died"
finish
