#!/usr/bin/env bash
# Marks only tighten: a field marked personal or sensitive in any version
# of a form is treated so for every version's rows, on every read
# (submissions API, CSV and JSON exports, indicators). Version 1 of the
# survey leaves `tension` unmarked; version 2 marks it sensitive. Rows
# recorded with version 1 must not show it to a reviewer either. When
# the marks cannot be read, nothing personal leaves: the read is refused.
. "$(dirname "$0")/../lib.sh"

FIX="$FS_SRC/tests/fixtures"
hub() { "$FS_HUB" "$1" --db "$DB" "${@:2}"; }
day() { date -u -d "$1 days" +%F; }

hub form publish "$FIX/privacy/privacy_survey.json" >/dev/null
hub areas import "$FIX/mapping/areas.geojson" >/dev/null
hub wave add baseline --start "$(day -30)" --end "$(day 30)" >/dev/null
start_hub
new_agent e1
echo '{"gender":"woman","belonging":4,"tension":4,"phone":"+33 6 00 00 00 03"}' >"$T/a.json"
for i in 1 2 3; do agent e1 record privacy_survey --answers "$T/a.json" --area CITY-N01 >/dev/null; done
sync_until_done e1
hub form publish "$FIX/privacy/privacy_survey_v2.json" >/dev/null
agent e1 sync --quiet
for i in 1 2; do agent e1 record privacy_survey --answers "$T/a.json" --area CITY-N01 >/dev/null; done
sync_until_done e1
check "rows of both versions at the hub" \
  "$(sql "SELECT group_concat(n, ' ') FROM (SELECT count(*) AS n FROM submissions GROUP BY form_version ORDER BY form_version)")" "3 2"

ADMIN=$(hub token create --role admin --name boss 2>/dev/null)
REV=$(hub token create --role reviewer --name rev 2>/dev/null)
api() {  # api TOKEN PATH -> body to $T/body, status echoed
  curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" "$HUB_URL$2"
}
# with_field FIELD: "rows-with-it of rows" in a submissions or JSON export body
with_field() {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["submissions"]; print(sum(sys.argv[2] in x["answers"] for x in s), "of", len(s))' "$T/body" "$1"
}

check "the submissions API for a reviewer" "$(api "$REV" '/api/v1/admin/submissions?form=privacy_survey')" 200
check "... no row shows tension, version 1's included" "$(with_field tension)" "0 of 5"
check "... nor the phone" "$(with_field phone)" "0 of 5"
check "an admin asking personal=1 gets it, audited" "$(api "$ADMIN" '/api/v1/admin/submissions?form=privacy_survey&personal=1')" 200
check "... on every row" "$(with_field tension)" "5 of 5"
check "the JSON export for a reviewer" "$(api "$REV" '/api/v1/admin/export/json?form=privacy_survey')" 200
check "... no tension" "$(with_field tension)" "0 of 5"
csv_cols() { python3 -c 'import csv,sys; print(" ".join(next(csv.reader(open(sys.argv[1], newline="")))[11:]))' "$1"; }
check "the version 1 CSV over HTTP" "$(api "$REV" '/api/v1/admin/export/csv?form=privacy_survey&version=1')" 200
check "... has no tension column" "$(csv_cols "$T/body")" "gender belonging"
hub export csv --form privacy_survey --version 1 -o "$T/v1.csv"
check "the version 1 CSV from the CLI: no tension column" "$(csv_cols "$T/v1.csv")" "gender belonging"
hub export csv --form privacy_survey --version 1 --personal -o "$T/v1p.csv"
check "... unless asked, audited" "$(csv_cols "$T/v1p.csv")" "gender belonging threatened tension phone"
check "a reviewer may not aggregate tension" \
  "$(api "$REV" '/api/v1/admin/indicators?form=privacy_survey&wave=baseline&indicator=mean:tension')" 403

# Marks that cannot be read: version 1's definition broken in storage.
sql "UPDATE forms SET definition = '{\"broken' WHERE id = 'privacy_survey' AND version = 1"
check "the submissions API refuses" "$(api "$REV" '/api/v1/admin/submissions?form=privacy_survey')" 503
if grep -q '+33' "$T/body"; then fail "a personal value left with the refusal"; fi
check "the JSON export refuses" "$(api "$REV" '/api/v1/admin/export/json?form=privacy_survey')" 503
check "indicators refuse" \
  "$(api "$REV" '/api/v1/admin/indicators?form=privacy_survey&wave=baseline&indicator=mean:belonging')" 503
finish
