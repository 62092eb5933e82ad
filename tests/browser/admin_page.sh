#!/usr/bin/env bash
# The hub's admin page in a real browser, against a real hub that real
# agents synced to: a wrong token is refused with a message, a reviewer
# sees only their areas and approves a submission (the hub database and
# the audit log must show it), an admin sees the devices and settles two
# conflicts that two agents made by editing one mechanism offline: one by
# choosing a value, one by writing a new one; both reach the agents. With
# areas imported from a GeoJSON fixture and survey answers that make small
# cells: coverage against a quota, indicator tables whose suppressed cells
# read "suppressed" cell for cell as the hub computed them, the SVG map
# with one path per area, and a CSV export saved from the page.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
# Outreach workers: they record and may edit the registry.
outreach() {
  local code
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$1" --role outreach 2>/dev/null)
  agent "$1" enroll --hub "$HUB_URL" --code "$code" >/dev/null
  agent "$1" sync --quiet
}
outreach north
outreach south
record_n north 3 N-01
record_n south 2 N-02
agent north sync --quiet
agent south sync --quiet
check "five submissions at the hub" "$(sql "SELECT count(*) FROM submissions")" 5

# Two conflicts: both agents hold a mechanism and change its status and
# its name offline, to different values.
m=$(agent north entity new mechanism name="Youth council" type=youth_council \
  area=N-01 status=active)
agent north sync --quiet
agent south sync --quiet
agent north entity set "$m" status=dormant name="Youth council North" >/dev/null
agent south entity set "$m" status=closed name="Youth council (old)" >/dev/null
agent north sync --quiet
agent south sync --quiet
check "two open conflicts" "$(sql "SELECT group_concat(field) FROM (SELECT field FROM conflicts WHERE status='open' AND ref='$m' ORDER BY field)")" "name,status"

# The mapping dataset: areas, a wave, a quota, and survey answers: CITY-N02
# (2) is a small cell, and CITY-N01 (7) is hidden with it so that it
# cannot be worked out from the total.
"$FS_HUB" areas import --db "$DB" "$FS_SRC/tests/browser/fixtures/city_areas.geojson" >/dev/null
"$FS_HUB" form publish --db "$DB" "$FS_SRC/tests/fixtures/mapping/mapping_survey.json" >/dev/null
"$FS_HUB" wave add baseline --db "$DB" --start 2020-01-01 --end 2099-12-31 --title Baseline >/dev/null
"$FS_HUB" quota set --db "$DB" --area CITY-N01 --wave baseline --form mapping_survey --target 10 >/dev/null
# A quota on a district counts its neighbourhoods (CITY-N01 and CITY-N02).
"$FS_HUB" quota set --db "$DB" --area CITY-D1 --wave baseline --form mapping_survey --target 20 >/dev/null
agent north sync --quiet
agent south sync --quiet
survey() {  # survey AGENT AREA N
  local i g=(woman man another)
  for i in $(seq 1 "$3"); do
    printf '{"gender":"%s","belonging":%d,"services":["youth"]}' "${g[$((i % 3))]}" $((i % 5 + 1)) >"$T/s.json"
    agent "$1" record mapping_survey --answers "$T/s.json" --area "$2" >/dev/null
  done
}
survey north CITY-N01 7
survey south CITY-N02 2
survey south CITY-N03 8
agent north sync --quiet
agent south sync --quiet
check "17 survey answers at the hub" "$(sql "SELECT count(*) FROM submissions WHERE form_id='mapping_survey'")" 17

reviewer=$("$FS_HUB" token create --db "$DB" --role reviewer --name rita --areas N-01 2>/dev/null)
admin=$("$FS_HUB" token create --db "$DB" --role admin --name ada 2>/dev/null)

# The conflicts list is paged by the hub, like submissions.
page() { curl -fsS -H "Authorization: Bearer $admin" "$HUB_URL/api/v1/admin/conflicts?$1" |
  node -e 'let t="";process.stdin.on("data",c=>t+=c).on("end",()=>{const d=JSON.parse(t);console.log(d.conflicts.map(c=>c.id).join(",")+" next "+d.next)})'; }
ids=$(sql "SELECT group_concat(id) FROM (SELECT id FROM conflicts ORDER BY id)")
c1=${ids%,*} c2=${ids#*,}
check "first page of one conflict" "$(page limit=1)" "$c1 next $c1"
check "the page after it" "$(page "limit=1&after=$c1")" "$c2 next $c2"
check "nothing after the last" "$(page "after=$c2")" " next $c2"

target=$(sed -n 2p "$T/north.ids")

FS_URL="$HUB_URL" FS_REVIEWER="$reviewer" FS_ADMIN="$admin" \
  FS_TARGET="$target" FS_ENTITY="$m" FS_SHOTS="$T" \
  node "$FS_SRC/tests/browser/admin_page.mjs" || fail "browser checks failed (see above)"

check "the approval is in the hub database" \
  "$(sql "SELECT review_state || '|' || review_comment FROM submissions WHERE id='$target'")" \
  "approved|checked on the admin page"
check "no other submission changed state" \
  "$(sql "SELECT count(*) FROM submissions WHERE review_state <> 'received'")" 1
check "the audit log names the reviewer and the submission" \
  "$(sql "SELECT actor || '|' || json_extract(detail, '$.submission') || '|' || json_extract(detail, '$.state') FROM audit_log WHERE action='submission.review'")" \
  "token:rita|$target|approved"
check "no conflict left open" "$(sql "SELECT count(*) FROM conflicts WHERE status='open'")" 0
check "the chosen status is the hub's value" \
  "$(sql "SELECT value FROM entity_fields WHERE entity_id='$m' AND name='status'")" '"closed"'
check "the written name is the hub's value" \
  "$(sql "SELECT value FROM entity_fields WHERE entity_id='$m' AND name='name'")" '"Youth council Nord-Est"'
check "both resolutions audited, naming the admin" \
  "$(sql "SELECT group_concat(actor || ':' || json_extract(detail, '$.field'), ' ') FROM (SELECT actor, detail FROM audit_log WHERE action='conflict.resolve' ORDER BY json_extract(detail, '$.field'))")" \
  "token:ada:name token:ada:status"
agent north sync --quiet
agent south sync --quiet
check "the approval reached the device" \
  "$(sqlite3 "$T/north/agent.db" "SELECT review_state FROM submissions WHERE id='$target'")" approved
for a in north south; do
  check "$a holds the resolved values" \
    "$(sqlite3 "$T/$a/agent.db" "SELECT group_concat(value, ' ') FROM (SELECT value FROM entity_fields WHERE entity_id='$m' AND name IN ('name', 'status') ORDER BY name)")" \
    '"Youth council Nord-Est" "closed"'
done
finish
