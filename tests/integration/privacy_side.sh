#!/usr/bin/env bash
# Personal values do not leak through side channels of the admin API:
# /conflicts, /duplicates and the audit log withhold values of fields
# marked personal or sensitive (a stakeholder's contact phone, the
# answers that make a dedupe key) unless an admin asks with personal=1,
# and that read is written to the audit log before the data leaves.
. "$(dirname "$0")/../lib.sh"

"$FS_HUB" form publish --db "$DB" "$FS_SRC/tests/fixtures/forms/dedupe_survey.json" >/dev/null
start_hub
enroll() { # NAME
  local code
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$1" --areas CITY-N01 --role outreach 2>/dev/null)
  agent "$1" enroll --hub "$HUB_URL" --code "$code" --collector "${1^}" >/dev/null
  agent "$1" sync --quiet
}
enroll amina
enroll omar

# A stakeholder whose contact phone two devices change at once: a
# conflict holding both personal values.
s=$(agent amina entity new stakeholder name="Youth club Nord" kind=ngo area=CITY-N01 contact_phone="+33 1 11 11 11 11")
agent amina sync --quiet
agent omar sync --quiet
agent amina entity set "$s" contact_phone="+33 1 22 22 22 22"
agent omar entity set "$s" contact_phone="+33 1 33 33 33 33"
for n in amina omar amina; do agent "$n" sync --quiet; done
check "one open conflict on the phone" \
  "$(sql "SELECT count(*) FROM conflicts WHERE ref='$s' AND field='contact_phone' AND status='open'")" 1
# An admin writes a phone: the audit log records the fields written.
"$FS_HUB" entity put --db "$DB" stakeholder --fields '{"name":"Library","kind":"other","area":"CITY-N01","contact_phone":"+33 1 44 44 44 44"}' >/dev/null
# Two households with the same dedupe key.
echo '{"household_code":"AB-0042","wave":"w1","members":4}' >"$T/d.json"
agent amina record dedupe_survey --answers "$T/d.json" --area CITY-N01 >/dev/null
agent omar record dedupe_survey --answers "$T/d.json" --area CITY-N01 >/dev/null
agent amina sync --quiet
agent omar sync --quiet

ADMIN=$("$FS_HUB" token create --db "$DB" --role admin --name boss 2>/dev/null)
REV=$("$FS_HUB" token create --db "$DB" --role reviewer --name rev 2>/dev/null)
api() {  # api TOKEN PATH -> body to $T/body, status echoed
  curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" "$HUB_URL$2"
}
leaks() { grep -o '+33 1 [0-9 ]*\|AB-0042' "$T/body" | sort -u | tr '\n' ' '; }
audited() { sql "SELECT count(*) FROM audit_log WHERE action = '$1' AND actor = 'token:boss'"; }

check "conflicts for an admin" "$(api "$ADMIN" /api/v1/admin/conflicts)" 200
check "... list the phone conflict" "$(grep -c "\"entity\":\"$s\"" "$T/body")" 1
check "... without the phone numbers" "$(leaks)" ""
check "... and say so" "$(python3 -c 'import json,sys; print([c.get("withheld") for c in json.load(open(sys.argv[1]))["conflicts"]])' "$T/body")" "[True]"
check "duplicates for an admin" "$(api "$ADMIN" /api/v1/admin/duplicates)" 200
check "... list the pair" "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["duplicates"]; print(len(d), len(d[0]["submissions"]))' "$T/body")" "1 2"
check "... without the household code" "$(leaks)" ""
check "the audit log for an admin" "$(api "$ADMIN" /api/v1/admin/audit)" 200
check "... holds the entity write" "$(grep -c '"action":"entity.write"' "$T/body")" 1
check "... without the phone" "$(leaks)" ""
check "no personal read audited yet" \
  "$(sql "SELECT count(*) FROM audit_log WHERE action LIKE '%read_personal'")" 0

check "conflicts with personal=1" "$(api "$ADMIN" '/api/v1/admin/conflicts?personal=1')" 200
check "... show the values" "$(leaks)" "+33 1 22 22 22 22 +33 1 33 33 33 33 "
check "... audited" "$(audited conflicts.read_personal)" 1
check "duplicates with personal=1" "$(api "$ADMIN" '/api/v1/admin/duplicates?personal=1')" 200
check "... show the key" "$(leaks)" "AB-0042 "
check "... audited" "$(audited duplicates.read_personal)" 1
check "the audit log with personal=1" "$(api "$ADMIN" '/api/v1/admin/audit?personal=1')" 200
check "... shows the phone written" "$(leaks)" "+33 1 44 44 44 44 "
check "... audited" "$(audited audit.read_personal)" 1
check "a reviewer may not read conflicts" "$(api "$REV" '/api/v1/admin/conflicts?personal=1')" 403
check "personal=2 is refused" "$(api "$ADMIN" '/api/v1/admin/conflicts?personal=2')" 400
finish
