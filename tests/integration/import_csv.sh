#!/usr/bin/env bash
# `fieldsync-hub import csv`: an earlier round collected with other
# tools comes in as submissions. An ODK Central export (group paths
# grp-name, DD/MM/YYYY dates, a quoted comment over two lines with
# doubled quotes, blank cells, UTF-8 with a byte order mark and CRLF line
# ends) and a KoboToolbox export (grp/name paths, D/M/YY dates, _uuid as
# the key, columns named by --map). A typo in a choice is listed by row
# and column by the dry run and refuses the whole file; a second import
# of the same file changes nothing; a changed row is refused; the rows
# show in `export csv` and coverage like any submission, and a hub
# serving meanwhile sees them.
. "$(dirname "$0")/../lib.sh"

command -v python3 >/dev/null || fail "python3 missing: run scripts/bootstrap"
FIX="$FS_SRC/tests/fixtures/import"
hub() { "$FS_HUB" "$1" --db "$DB" "${@:2}"; }
count() { sql "SELECT count(*) FROM $1"; }

hub form publish "$FIX/baseline_survey.json" >/dev/null
hub areas import "$FS_SRC/tests/fixtures/mapping/areas.geojson" >/dev/null
hub wave add baseline-2023 --start 2023-01-01 --end 2023-12-31 >/dev/null
hub wave add pilot --start 2022-01-01 --end 2022-12-31 >/dev/null
start_hub

# The ODK file as Windows tools write it: a BOM and CRLF line ends.
mkdir -p "$T/odk" "$T/typo"
{ printf '\xef\xbb\xbf'; sed 's/$/\r/' "$FIX/odk_central.csv"; } >"$T/odk/odk_central.csv"
ODK="$T/odk/odk_central.csv"
imp() { hub import csv --form baseline_survey "$@"; }
audit0=$(count audit_log)

# Dates that are not ISO are never guessed.
rc=0
imp --wave baseline-2023 "$ODK" >"$T/out" 2>"$T/err" || rc=$?
check "non-ISO dates without --date-format: refused" "$rc" 2
check "the refusal names the column, the row and the option" \
  "$(grep -c '^row 2, column interview_date: .01/03/2023. is not an ISO date .*--date-format' "$T/err")" 1
check "every row with such a date is listed" "$(grep -c '^row [0-9]*, column interview_date:' "$T/err")" 5
check "nothing stored" "$(count submissions)/$(count imports)/$(count imported_rows)" 0/0/0

# A typo in a choice (row 5, after the record over two lines) and a
# household size below the form's minimum (row 6).
python3 - "$ODK" "$T/typo/odk_central.csv" <<'EOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
assert rows[4][4] == "another" and rows[5][5] == "3"
rows[4][4] = "anothr"
rows[5][5] = "0"
csv.writer(open(sys.argv[2], "w", encoding="utf-8", newline="")).writerows(rows)
EOF
rc=0
imp --wave baseline-2023 --date-format DD/MM/YYYY --dry-run "$T/typo/odk_central.csv" >"$T/out" 2>"$T/err" || rc=$?
check "dry run of a file with refused rows: exit 2" "$rc" 2
check "the dry run lists every refused row by row and column" \
  "$(grep '^row ' "$T/err")" \
  "row 5, column respondent-gender: 'anothr' is not one of the choices
row 6, column respondent-household_size: below the minimum 1"
check "the dry run counts them" \
  "$(grep -c 'dry run: 3 rows would be imported, 0 were imported before, 2 refused' "$T/err")" 1
check "the dry run wrote nothing" "$(count submissions)/$(count imports)/$(count audit_log)" "0/0/$audit0"

# All or nothing: the good rows of a refused file are not stored.
rc=0
imp --wave baseline-2023 --date-format DD/MM/YYYY "$T/typo/odk_central.csv" >"$T/out" 2>"$T/err" || rc=$?
check "import of a file with a refused row: exit 2" "$rc" 2
check "it says nothing is imported" "$(grep -c '2 rows refused (listed above); nothing is imported' "$T/err")" 1
check "not one of its rows is stored" \
  "$(count submissions)/$(count imported_rows)/$(count wave_assignments)/$(count audit_log)" "0/0/0/$audit0"

rc=0
imp --wave baseline-2023 --date-format DD/MM/YYYY --dry-run "$ODK" >"$T/out" 2>"$T/err" || rc=$?
check "dry run of the good file" "$rc:$(cat "$T/out")" \
  "0:dry run: 5 rows would be imported, 0 were imported before, 0 refused; nothing was written"
check "the columns left out are named" \
  "$(grep -c '^  SubmissionDate, start, end, services/youth, services/sport, services/library, meta-instanceID, KEY' "$T/err")" 1
check "still nothing stored" "$(count submissions)" 0

imp --wave baseline-2023 --date-format DD/MM/YYYY "$ODK" >"$T/out" 2>"$T/err"
check "the import" "$(cat "$T/out")" \
  "imported 5 rows of odk_central.csv into form baseline_survey v1, wave baseline-2023; 0 were imported before (unchanged); 0 refused"
check "stored as submissions of device 'import', in the wave" \
  "$(sql "SELECT count(*) || ' ' || group_concat(DISTINCT device_id) || ' ' || group_concat(DISTINCT wave) FROM mapping_submissions")" \
  "5 import baseline-2023"
# Expected answers, from the fixture by Python's csv module: dates
# DD/MM/YYYY to ISO, blank cells left out, numbers as numbers.
python3 - "$FIX/odk_central.csv" >"$T/expected" <<'EOF'
import csv, json, sys
for r in csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")):
    d, m, y = r["interview_date"].split("/")
    a = {"interview_date": f"{y}-{m}-{d}", "gender": r["respondent-gender"]}
    if r["respondent-household_size"]: a["household_size"] = int(r["respondent-household_size"])
    if r["belonging"]: a["belonging"] = int(r["belonging"])
    if r["services"]: a["services"] = r["services"].split()
    # The CRLF copy ends the line inside the quoted comment with CRLF too.
    if r["comment"]: a["comment"] = r["comment"].replace("\n", "\r\n")
    print(r["location-area"], json.dumps(a, sort_keys=True, ensure_ascii=False))
EOF
python3 - "$DB" >"$T/stored" <<'EOF'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = ("SELECT s.area, s.answers FROM submissions s JOIN imported_rows r "
     "ON r.submission_id = s.id ORDER BY r.row_number")
for area, answers in db.execute(q):
    print(area, json.dumps(json.loads(answers), sort_keys=True, ensure_ascii=False))
EOF
check "every row's area and answers as the file has them" "$(cat "$T/stored")" "$(cat "$T/expected")"
check "provenance: file, SHA-256, rows, who" \
  "$(sql "SELECT i.source_name, i.source_sha256, group_concat(r.row_number, ','), i.actor FROM imported_rows r JOIN imports i ON i.id = r.import_id")" \
  "odk_central.csv|$(sha256sum "$ODK" | cut -d' ' -f1)|2,3,4,5,6|cli"
check "the import is in the audit log" \
  "$(sql "SELECT actor, detail ->> 'source', detail ->> 'imported' FROM audit_log WHERE action = 'submission.import'")" \
  "cli|odk_central.csv|5"
check "one audit entry for the whole import (it names the wave), none per row" \
  "$(count audit_log)/$(count wave_assignments)" "$((audit0 + 1))/5"

# Importing the same file again changes nothing.
before=$(sql "SELECT group_concat(id || rev || digest) FROM (SELECT * FROM submissions ORDER BY id)")
rc=0
imp --wave baseline-2023 --date-format DD/MM/YYYY "$ODK" >"$T/out" 2>"$T/err" || rc=$?
check "a second import: everything imported before" "$rc:$(cat "$T/out")" \
  "0:imported 0 rows of odk_central.csv into form baseline_survey v1, wave baseline-2023; 5 were imported before (unchanged); 0 refused"
check "the same submissions, revisions and content" \
  "$(sql "SELECT group_concat(id || rev || digest) FROM (SELECT * FROM submissions ORDER BY id)")" "$before"
check "no second provenance" "$(count imports)/$(count imported_rows)" 1/5
rc=0
imp --wave pilot --date-format DD/MM/YYYY "$ODK" >"$T/out" 2>"$T/err" || rc=$?
check "the same rows into another wave: refused" "$rc/$(grep -c 'was imported from odk_central.csv row [2-6], submission' "$T/err")/$(count submissions)" 2/5/5

# The Kobo layout: columns named by --map, D/M/YY dates, _uuid as key.
KOBO="$T/kobo.csv"
{ printf '\xef\xbb\xbf'; cat "$FIX/kobo.csv"; } >"$KOBO"
rc=0
imp --wave pilot --date-format D/M/YY --key _uuid "$KOBO" >"$T/out" 2>"$T/err" || rc=$?
check "no column gives the area: refused" \
  "$rc/$(grep -c 'no column gives it: name one with --map COLUMN=@area' "$T/err")" 2/1
rc=0
imp --wave pilot --date-format D/M/YY --key _uuid --map nosuch=gender "$KOBO" >"$T/out" 2>"$T/err" || rc=$?
check "--map of a column the file lacks: refused" "$rc/$(grep -c "the file has no column 'nosuch'" "$T/err")" 2/1
kobo() {
  imp --wave pilot --date-format D/M/YY --key _uuid --map hh_size=household_size \
    --map district_code=@area --map _submission_time= "$@"
}
kobo "$KOBO" >"$T/out" 2>"$T/err"
check "the Kobo file" "$(cat "$T/out")" \
  "imported 3 rows of kobo.csv into form baseline_survey v1, wave pilot; 0 were imported before (unchanged); 0 refused"
check "a column left out with --map COLUMN= is not in the note" \
  "$(grep -c '_submission_time' "$T/err" || true)" 0
check "D/M/YY dates (pivot: 00-68 are 20YY), --map and @area" \
  "$(sql "SELECT group_concat(area || ' ' || (answers ->> 'interview_date') || ' ' || coalesce(answers ->> 'household_size', '-'), ', ') FROM (SELECT s.* FROM submissions s JOIN imported_rows r ON r.submission_id = s.id WHERE r.row_key LIKE 'column _uuid=%' ORDER BY r.row_number)")" \
  "CITY-N03 2022-11-05 2, CITY-N03 2022-11-06 5, CITY-N01 2024-02-29 -"
# Keyed by _uuid: the same rows under another name are the same rows; a
# changed row is refused, whatever the file's name.
cp "$KOBO" "$T/kobo-again.csv"
kobo "$T/kobo-again.csv" >"$T/out" 2>"$T/err"
check "renamed file, same keys: nothing new" "$(cat "$T/out" | grep -o '0 rows.*3 were imported before')/$(count submissions)" \
  "0 rows of kobo-again.csv into form baseline_survey v1, wave pilot; 3 were imported before/8"
sed 's/^\(3b1d5f0e-aaaa-4b6e-8c1e-000000000002,[^,]*,[^,]*,man,5,\)1,/\14,/' "$KOBO" >"$T/kobo-changed.csv"
cmp -s "$KOBO" "$T/kobo-changed.csv" && fail "the changed copy is not changed"
rc=0
kobo "$T/kobo-changed.csv" >"$T/out" 2>"$T/err" || rc=$?
check "a changed row under a key imported before: refused" \
  "$rc/$(grep -c '^row 3, column _uuid: its key (column _uuid=3b1d5f0e-aaaa-4b6e-8c1e-000000000002) was imported from kobo.csv row 3' "$T/err")/$(count submissions)" \
  2/1/8

# Month first, and the two-digit year pivot (69 is 1969, before the
# form's minimum of 2020; 68 is 2068).
printf 'interview_date,gender,area\n12/31/2023,woman,CITY-N01\n' >"$T/us.csv"
rc=0
imp --wave pilot --date-format MM/DD/YYYY --dry-run "$T/us.csv" >"$T/out" 2>"$T/err" || rc=$?
check "MM/DD/YYYY" "$rc:$(grep -o '1 rows would be imported' "$T/out")" "0:1 rows would be imported"
rc=0
imp --wave pilot --date-format DD/MM/YYYY --dry-run "$T/us.csv" >"$T/out" 2>"$T/err" || rc=$?
check "the same date read day first: refused, not guessed" \
  "$rc:$(grep '^row ' "$T/err")" "2:row 2, column interview_date: '12/31/2023' is not a date written DD/MM/YYYY"
printf 'interview_date,gender,area\n1/1/69,woman,CITY-N01\n1/1/68,woman,CITY-N01\n' >"$T/yy.csv"
rc=0
imp --wave pilot --date-format D/M/YY --dry-run "$T/yy.csv" >"$T/out" 2>"$T/err" || rc=$?
check "two-digit years: 69 is 1969, 68 is 2068" \
  "$rc:$(grep '^row ' "$T/err")" "2:row 2, column interview_date: below the minimum 2020-01-01"

# Progress on long imports: a line every 1000 rows with --progress.
{ echo 'interview_date,gender,area'; for i in $(seq 1 1001); do echo "2023-01-05,man,CITY-N03"; done; } >"$T/long.csv"
imp --wave pilot --dry-run --progress "$T/long.csv" >"$T/out" 2>"$T/err"
check "progress and summary" "$(grep -c 'import: 1000 rows read' "$T/err")/$(cat "$T/out")" \
  "1/dry run: 1001 rows would be imported, 0 were imported before, 0 refused; nothing was written"

# Not CSV: a quote left open.
printf 'interview_date,gender,area\n2023-01-05,"woman,CITY-N01\n' >"$T/open.csv"
rc=0
imp --wave pilot "$T/open.csv" >"$T/out" 2>"$T/err" || rc=$?
check "an unclosed quote: refused with where" \
  "$rc/$(grep -c 'line 2 (row 2): a quoted field is not closed' "$T/err")" 2/1

# Too large: refused before a byte is read (a sparse file takes no disk).
truncate -s 513M "$T/big.csv"
rc=0
imp --wave pilot "$T/big.csv" >"$T/out" 2>"$T/err" || rc=$?
check "a file over the size limit: refused, saying so" \
  "$rc/$(grep -c 'big.csv is larger than 512 MiB' "$T/err")/$(count submissions)" 2/1/8
rm -f "$T/big.csv"

# Like any submission: reviews, export, coverage, the serving hub's API.
sid=$(sql "SELECT submission_id FROM imported_rows WHERE row_key = 'row odk_central.csv:4'")
hub review "$sid" --state approved >/dev/null
check "an imported submission is reviewed like any" \
  "$(sql "SELECT review_state FROM mapping_submissions WHERE id = '$sid'")" approved
hub export csv --form baseline_survey -o "$T/export.csv"
check "export csv holds every imported row with its answers" \
  "$(python3 -c '
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")) if r["device_id"] == "import"]
print(len(rows), sum(1 for r in rows if r["comment"].startswith("She said \"we stay\"")), sorted({r["wave"] for r in rows}))' "$T/export.csv")" \
  "8 1 ['baseline-2023', 'pilot']"
n02=$(python3 -c '
import csv, sys
print(sum(1 for r in csv.DictReader(open(sys.argv[1], encoding="utf-8", newline="")) if r["location-area"] == "CITY-N02"))' "$FIX/odk_central.csv")
hub quota set --area CITY-N02 --wave baseline-2023 --form baseline_survey --target 4 >/dev/null
check "coverage counts them" "$(hub coverage --wave baseline-2023 --csv | awk -F, '$2 == "CITY-N02" {print $7}')" "$n02"
token=$(hub token create --role admin --name imp 2>/dev/null)
check "the serving hub's API sees them" \
  "$(curl -fsS -H "Authorization: Bearer $token" "$HUB_URL/api/v1/admin/coverage?wave=baseline-2023" | python3 -c 'import json,sys; print([c["collected"] for c in json.load(sys.stdin)["coverage"] if c["area"] == "CITY-N02"])')" \
  "[$n02]"
aggregates_exact
finish
