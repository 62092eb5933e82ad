#!/usr/bin/env bash
# Devices stay in their lane: a device cannot revise another device's
# submission (its attempt is refused alone and held), cannot rename
# itself at enrolment over the admin's name, and what it writes cannot
# run as a formula in the spreadsheet an analyst opens the CSV export in.
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || fail "python3 missing: run scripts/bootstrap"
publish_sample_form
start_hub

# The admin names the device; the device's own --name does not win.
code=$("$FS_HUB" enroll-code --db "$DB" --name alice)
agent a enroll --hub "$HUB_URL" --code "$code" --name "Regional Supervisor" >/dev/null
agent a sync --quiet
check "the admin's name stays the device's name" \
  "$(sql "SELECT name FROM devices")" alice
check "the agent learns the admin's name" \
  "$(sqlite3 "$T/a/agent.db" "SELECT value FROM meta WHERE key='device_name'")" alice
sql "SELECT detail FROM audit_log WHERE action='device.enrol'" | grep -q '"requested_name":"Regional Supervisor"' ||
  fail "the audit log does not keep the name the device asked for"
echo "ok - the audit log keeps the name the device asked for"
new_agent b

# Device a records one submission and syncs it.
printf '%s\n' '{"age_band":"25-34","gender":"woman","belonging":4,"comment":"mine"}' >"$T/a.json"
id=$(agent a record demo_household --answers "$T/a.json" --area N-01)
agent a sync --quiet
check "a's record at the hub" "$(sql "SELECT count(*) FROM submissions WHERE id='$id'")" 1

# Device b sends revision 2 of a's record, moving it to another area.
btoken=$(sqlite3 "$T/b/agent.db" "SELECT value FROM meta WHERE key='token'")
bdev=$(sqlite3 "$T/b/agent.db" "SELECT value FROM meta WHERE key='device_id'")
seq=$(($(sql "SELECT acked_seq FROM devices WHERE id='$bdev'") + 1))
printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[{"seq":%d,"kind":"submission","id":"%s","form":"demo_household","form_version":1,"area":"N-02","hlc":"0190000000000000","created_ms":1,"rev":2,"base_rev":1,"answers":{"age_band":"65+","comment":"taken"}}]}' \
  "$bdev" "$seq" "$seq" "$seq" "$id" | gzip -c >"$T/steal.gz"
before=$(sql "SELECT group_concat(rev || ':' || area || ':' || device_id) FROM submissions WHERE id='$id'")
st=$(curl -sS -o "$T/reply" -w '%{http_code}' -X POST "$HUB_URL/api/v1/push" \
  -H "Authorization: Bearer $btoken" -H 'Content-Encoding: gzip' --data-binary @"$T/steal.gz")
check "the push is answered" "$st" 200
grep -q '"status":"refused","error":"not_owner"' "$T/reply" || fail "not refused: $(cat "$T/reply")"
echo "ok - another device's revision is refused as not_owner"
check "a's record is unchanged" \
  "$(sql "SELECT group_concat(rev || ':' || area || ':' || device_id) FROM submissions WHERE id='$id'")" "$before"
check "the refusal is held for an admin" \
  "$(sql "SELECT count(*) FROM held_changes WHERE device_id='$bdev' AND error='not_owner'")" 1

# The owner still amends its own record.
printf '%s\n' '' '' '' '' '' '' y | agent a amend "$id" >/dev/null
agent a sync --quiet
check "the owner's amendment is revision 2" \
  "$(sql "SELECT max(rev) || ':' || count(*) FROM submissions WHERE id='$id'")" "2:2"

# Formula cells: a comment a spreadsheet would run is written as text.
n=0
for c in '=HYPERLINK(\"http://x\",\"y\")' '+1+1' '-2+3' '@SUM(A1)' '-7' '+2.5' 'plain'; do
  n=$((n + 1))
  printf '{"age_band":"18-24","comment":"%s"}\n' "$c" >"$T/f.json"
  agent a record demo_household --answers "$T/f.json" --area N-01 >/dev/null
done
agent a sync --quiet
"$FS_HUB" export csv --db "$DB" --form demo_household -o "$T/safe.csv" 2>/dev/null
"$FS_HUB" export csv --db "$DB" --form demo_household --raw-cells -o "$T/raw.csv" 2>/dev/null
comments() {
  python3 -c 'import csv,sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
print("|".join(sorted(r["comment"] for r in rows if r["comment"] not in ("mine", ""))))' "$1"
}
check "CSV export neutralises formula cells" "$(comments "$T/safe.csv")" \
  "'+1+1|'-2+3|'=HYPERLINK(\"http://x\",\"y\")|'@SUM(A1)|+2.5|-7|plain"
check "--raw-cells writes them as they are" "$(comments "$T/raw.csv")" \
  "+1+1|+2.5|-2+3|-7|=HYPERLINK(\"http://x\",\"y\")|@SUM(A1)|plain"
admin=$("$FS_HUB" token create --db "$DB" --role admin --name ana 2>/dev/null)
curl -sS -H "Authorization: Bearer $admin" -o "$T/api.csv" "$HUB_URL/api/v1/admin/export/csv?form=demo_household"
check "the API export neutralises too" "$(comments "$T/api.csv")" "$(comments "$T/safe.csv")"
curl -sS -H "Authorization: Bearer $admin" -o "$T/apiraw.csv" "$HUB_URL/api/v1/admin/export/csv?form=demo_household&raw=1"
check "raw=1 gives raw cells" "$(comments "$T/apiraw.csv")" "$(comments "$T/raw.csv")"
st=$(curl -sS -o "$T/reply" -w '%{http_code}' -H "Authorization: Bearer $admin" \
  "$HUB_URL/api/v1/admin/export/csv?form=demo_household&raw=yes")
check "a bad raw value is refused" "$st" 400
grep -q '"error":' "$T/reply" || fail "no JSON error: $(cat "$T/reply")"
echo "ok - with a JSON error"
finish
