#!/usr/bin/env bash
# XLSForm in, XForm out: `form import` and `form publish` of .xlsx
# workbooks, `form xform`. The pyxform samples fieldsync can carry import
# and publish; each one it cannot is refused with exactly the cells at
# fault. A hand-made household form (groups, two languages, metadata,
# likert, skip logic, constraints, cascading and fixed choice filters)
# publishes, gives a well-formed XForm with the same bytes each time,
# syncs to a real agent over a real hub, and its constraints and choice
# filter hold there; a new version follows the version rules. Hostile
# workbooks (broken zips, zip and XML bombs, huge sheets, a shared
# string out of range) are refused with the reason, and the hub's
# database is left as it was.
. "$(dirname "$0")/../lib.sh"

X="$FS_SRC/tests/fixtures/xlsform"
MK="python3 $FS_SRC/tests/tools/mkxlsx.py"

# The problem cells of a refusal, in the order printed.
cells() {
  sed -n "s/^fieldsync-hub: [^:]*: \([^:]*\): .*/\1/p" "$1" |
    grep -v '^not converted' | tr '\n' ' ' | sed 's/ $//'
}

# Well-formed XML, read by expat (python's xml.parsers.expat).
wellformed() {
  python3 -c 'import sys, xml.parsers.expat as e
p = e.ParserCreate()
p.ParseFile(open(sys.argv[1], "rb"))' "$1"
}

# ---- the pyxform samples fieldsync can carry ----------------------------

for f in text_and_integer yes_or_no_question field-list extra_columns; do
  "$FS_HUB" form import "$X/pyxform/$f.xlsx" -o "$T/$f.json" 2>"$T/$f.err" ||
    fail "$f: not imported: $(cat "$T/$f.err")"
  id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/$f.json")
  check "$f imports" "$id" "$(echo "$f" | tr - _)"
  check "$f publishes" "$("$FS_HUB" form publish --db "$DB" "$X/pyxform/$f.xlsx")" \
    "published form $id version 1"
  "$FS_HUB" form xform --db "$DB" --form "$id" -o "$T/$id.xml"
  wellformed "$T/$id.xml" || fail "$id: the XForm is not well-formed XML"
done
python3 - "$T/yes_or_no_question.json" "$T/field-list.json" <<'PY' || fail "sample conversions"
import json, sys
yn = json.load(open(sys.argv[1]))
assert yn["fields"] == [{"name": "good_day", "type": "select_one",
                         "label": "have you had a good day today?",
                         "choices": "yes_or_no"}], yn["fields"]
assert [c["value"] for c in yn["choice_lists"]["yes_or_no"]] == ["yes", "no"]
fl = json.load(open(sys.argv[2]))
# a group: its name prefixes the field's, and it is a section
assert fl["sections"] == [{"name": "name"}], fl["sections"]
f = fl["fields"][0]
assert (f["name"], f["section"], f["label"], f["hint"]) == (
    "name_table_list_question", "name", "table list question", "hint"), f
# choices labelled in the default language and in Chinese
assert fl["choice_lists"]["yes_no"][0]["label"] == {"en": "Yes", "zh": "是"}
PY
echo "ok - sample conversions: old syntax, groups, a second language"

# ---- the pyxform samples it cannot: refused, every cell named ------------

while IFS='|' read -r f want; do
  [ -n "$f" ] || continue
  rc=0
  "$FS_HUB" form import "$X/pyxform/$f.xlsx" >"$T/out" 2>"$T/$f.err" || rc=$?
  check "$f refused (exit 2)" "$rc" 2
  check "$f: the cells at fault" "$(cells "$T/$f.err")" "$want"
  [ -s "$T/out" ] && fail "$f: a refusal printed a definition"
done <"$X/refused.txt"
grep -qF "survey!A2: type 'calculate' is not supported" "$T/pull_data.err" &&
  grep -qF "survey!D2: pulldata() is not supported" "$T/pull_data.err" ||
  fail "pull_data: $(cat "$T/pull_data.err")"
grep -qF "survey!A15: type 'begin repeat' is not supported: repeats are not supported" \
  "$T/attribute_columns_test.err" || fail "repeats: $(cat "$T/attribute_columns_test.err")"
grep -qF "EXTERNAL_CHOICES!A1: external choices are not supported" \
  "$T/case_insensitivity.err" || fail "external choices"
grep -qF "choices!B6: 'king' is already a choice of list 'counties' (row 4)" \
  "$T/choice_filter_test.err" || fail "choice names twice"
grep -qF "survey!D3: choice_filter: 'yes' is neither a 'quoted value' nor a \${question}" \
  "$T/or_other.err" || fail "choice filter: $(cat "$T/or_other.err")"
echo "ok - refusals say what and why"
check "a refused form is not published" \
  "$(sql "SELECT count(*) FROM forms WHERE id IN ('pull_data', 'or_other', 'loop')")" 0

# ---- problems of a hand-made form, all at once ---------------------------

$MK "$X/specs/problems.json" "$T/problems.xlsx"
rc=0
"$FS_HUB" form publish --db "$DB" "$T/problems.xlsx" 2>"$T/problems.err" || rc=$?
check "problems: refused (exit 2)" "$rc" 2
check "problems: every cell" "$(cells "$T/problems.err")" \
  "survey!L1 survey!F2 survey!B3 survey!H4 survey!H5 survey!D6 survey!G7 survey!A8 survey!J9 survey!K10 survey!G11 survey!G12 survey!B13 survey!A14 survey!G15 survey!H16 survey!A17 survey!A18 survey!I19 choices!B3 settings!B2 settings!C2"
while IFS= read -r want; do
  grep -qF -- "$want" "$T/problems.err" || fail "problems: no '$want' in: $(cat "$T/problems.err")"
done <<'EOF'
survey!L1: 'Klingon' names no language fieldsync knows
survey!F2: required 'maybe' is not supported
survey!B3: name 'Q-2' is not a fieldsync name
survey!H4: constraint: arithmetic (+) is not supported
survey!H5: constraint: . is compared with ${q3}: fieldsync compares a question with a fixed value only
survey!D6: a label in 'fr' but none in the default language 'en'
survey!G7: relevant: ${nothing} names no question
survey!A8: a likert scale has 2 to 11 points; list 'twelve' has 12 choices
survey!J9: choice_filter 'cf = ${q1} and x = 'y'' is not supported
survey!K10: column 'comments' is not an XLSForm column fieldsync reads
survey!G11: relevant: ${q9} alone is not a condition
survey!G12: relevant: selected() tests a select question; ${q9} is not one
survey!B13: 'q1' is also the name of row 2
survey!A14: list 'missing_list' is not in the choices sheet
survey!G15: relevant: ${q14} is asked later
survey!H16: constraint: today() is not supported
survey!A18: this group has no end group
survey!I19: appearance 'search()' is not supported
choices!B3: choice name 'no way' is not a fieldsync code
settings!B2: version 'v2' is not a whole number
settings!C2: setting 'style' is not supported
EOF
echo "ok - problems: each says what and why"
check "problems: nothing published" "$(sql "SELECT count(*) FROM forms WHERE id = 'problems'")" 0

# ---- a form fieldsync carries whole ---------------------------------------

$MK "$X/specs/household.json" "$T/household.xlsx"
"$FS_HUB" form import "$T/household.xlsx" -o "$T/household.json" 2>/dev/null
python3 - "$T/household.json" <<'PY' || fail "household conversion"
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["name"]: x for x in d["fields"]}
assert (d["id"], d["version"], d["title"], d["default_language"]) == (
    "household_visit", 3, "Household visit", "en")
# metadata types: filled by the device, kept on a refused consent
assert [(f[n]["auto"], f[n]["type"], f[n]["metadata"])
        for n in ("started", "ended", "day", "device")] == [
    ("start", "datetime", True), ("end", "datetime", True),
    ("today", "date", True), ("deviceid", "text", True)]
# groups: prefixed names, nested sections with their labels
assert d["sections"] == [
    {"name": "household", "label": {"en": "Household", "fr": "Ménage"}},
    {"name": "household_head", "label": {"en": "Head of household",
                                         "fr": "Chef de ménage"},
     "within": "household"}], d["sections"]
age = f["household_head_age"]
assert age["section"] == "household_head"
# the group's relevant holds for its questions
assert age["relevant"] == {"field": "consent_given", "op": "eq",
                           "value": "yes"}, age
assert age["constraint"] == {"field": "household_head_age", "op": "ge",
                             "value": 16}
size = f["household_size"]
assert size["hint"] == {"en": "Count yourself", "fr": "Comptez-vous"}
assert size["constraint_message"] == {"en": "1 to 30", "fr": "1 à 30"}
assert f["household_code"]["constraint"]["op"] == "matches"
assert f["household_code"]["constraint"]["value"] == "[A-Z]{2}-[0-9]{4}"
# likert appearance: a likert scale with the choices' labels
b = f["belonging"]
assert (b["type"], b["scale"], b["required"]) == ("likert", 5, True)
assert b["scale_labels"][0] == {"en": "Strongly disagree",
                                "fr": "Pas du tout d'accord"}
assert f["services"]["constraint"] == {"field": "services", "op": "le",
                                       "of": "count", "value": 2}
assert f["services_other"]["relevant"] == {"all": [
    {"field": "services", "op": "contains", "value": "other"},
    {"field": "household_code", "op": "gt", "of": "length", "value": 0}]}
# != is not(=): true when unanswered, as in XLSForm
assert f["north_district"]["relevant"] == {"any": [
    {"not": {"field": "household_head_age", "op": "lt", "value": 18}},
    {"not": {"field": "household_head_gender", "op": "eq", "value": "man"}}]}
# cascading choices: a choice filter on the earlier answer
assert f["district"]["choice_filter"] == {"field": "city", "key": "city"}
assert d["choice_lists"]["district"][0]["filter"] == {"city": "lyon"}
# a fixed filter keeps the matching choices only
assert [c["value"] for c in f["north_district"]["choices"]] == ["n01", "n02"]
assert f["household_head_gender"]["x_appearance"] == "minimal"
assert f["visit"]["constraint"]["value"] == "2024-01-01"
assert f["where"]["type"] == "geopoint" and f["thanks"]["type"] == "note"
PY
echo "ok - household: groups, languages, metadata, likert, conditions, filters"

# Published straight from the workbook, recognised by its bytes whatever
# its name.
cp "$T/household.xlsx" "$T/household.upload"
check "publish an .xlsx" "$("$FS_HUB" form publish --db "$DB" "$T/household.upload")" \
  "published form household_visit version 3"
check "publish again: unchanged" "$("$FS_HUB" form publish --db "$DB" "$T/household.xlsx")" \
  "form household_visit version 3 is already published, unchanged"

# The XForm: well-formed, the same bytes every time, and carrying what
# the definition says.
"$FS_HUB" form xform --db "$DB" --form household_visit -o "$T/hh.xml"
"$FS_HUB" form xform --db "$DB" --form household_visit --version 3 >"$T/hh2.xml"
wellformed "$T/hh.xml" || fail "household XForm: not well-formed"
check "XForm: same bytes each time" "$(md5sum <"$T/hh.xml")" "$(md5sum <"$T/hh2.xml")"
python3 - "$T/hh.xml" <<'PY' || fail "household XForm content"
import sys, xml.etree.ElementTree as ET
ns = {"h": "http://www.w3.org/1999/xhtml", "x": "http://www.w3.org/2002/xforms",
      "jr": "http://openrosa.org/javarosa"}
root = ET.parse(sys.argv[1]).getroot()
model = root.find("h:head/x:model", ns)
inst = model.find("x:instance/x:data", ns)
assert inst.get("id") == "household_visit" and inst.get("version") == "3"
assert inst.find("x:meta/x:instanceID", ns) is not None
assert inst.find("x:household/x:household_head/x:household_head_age", ns) is not None
langs = [t.get("lang") for t in model.findall("x:itext/x:translation", ns)]
assert langs == ["English (en)", "French (fr)"], langs
binds = {b.get("nodeset"): b for b in model.findall("x:bind", ns)}
size = binds["/data/household/household_size"]
assert size.get("type") == "int" and size.get("required") == "true()"
assert size.get("constraint") == "((. >= 1) and (. <= 30))"
assert size.get("{http://openrosa.org/javarosa}constraintMsg") == \
    "jr:itext('/data/household/household_size:jr:constraintMsg')"
assert binds["/data/started"].get("{http://openrosa.org/javarosa}preload") == "timestamp"
assert binds["/data/thanks"].get("readonly") == "true()"
assert binds["/data/north_district"].get("relevant") == (
    "(not((/data/household/household_head/household_head_age < 18)) or "
    "not((/data/household/household_head/household_head_gender = 'man')))")
body = root.find("h:body", ns)
group = body.find("x:group[@ref='/data/household']", ns)
assert group is not None and group.find("x:group", ns) is not None
itemset = body.find("x:select1[@ref='/data/district']/x:itemset", ns)
assert itemset.get("nodeset") == "instance('list_district')/root/item[city = /data/city]"
likert = body.find("x:select1[@ref='/data/belonging']", ns)
assert likert.get("appearance") == "likert"
assert [i.find("x:value", ns).text for i in likert.findall("x:item", ns)] == \
    ["1", "2", "3", "4", "5"]
assert body.find("x:input[@ref='/data/started']", ns) is None
PY
echo "ok - household XForm: instance, translations, binds, groups, itemset"

# A real agent fills it: the names the groups gave, the device's own
# fields, and the hub checks the constraint and the choice filter.
start_hub
new_agent tab
cat >"$T/a.json" <<'EOF'
{"started": "2026-03-01T10:00:00Z", "day": "2026-03-01", "device": "tab",
 "consent_given": "yes", "household_size": 4, "household_code": "AB-1234",
 "household_head_age": 40, "household_head_gender": "woman",
 "belonging": 4, "services": ["health", "other"],
 "services_other": "library", "city": "lyon", "district": "s01",
 "visit": "2026-03-01", "where": {"lat": 45.76, "lon": 4.83}}
EOF
id=$(agent tab record household_visit --answers "$T/a.json" --area CITY-N01)
agent tab sync --quiet
check "a submission of the imported form is stored" \
  "$(sql "SELECT json_extract(answers, '\$.household_head_age') FROM submissions WHERE id = '$id'")" 40
sed 's/"household_size": 4/"household_size": 40/; s/"district": "s01"/"district": "n02"/' \
  "$T/a.json" >"$T/bad.json"
rc=0
agent tab record household_visit --answers "$T/bad.json" --area CITY-N01 2>"$T/rec.err" || rc=$?
[ $rc -ne 0 ] || fail "constraint and choice filter: answers accepted"
grep -qF "household_size: 1 to 30" "$T/rec.err" || fail "constraint message: $(cat "$T/rec.err")"
grep -qF "district: 'n02' is not offered given the answer to 'city'" "$T/rec.err" ||
  fail "choice filter: $(cat "$T/rec.err")"
echo "ok - the constraint message and the choice filter hold on the agent"

# A new version: removing a question breaks the version rules; adding one
# is published, and the agent gets it.
python3 - "$X/specs/household.json" "$T/v4-removed.json" "$T/v4.json" <<'PY'
import json, sys
spec = json.load(open(sys.argv[1]))
spec["settings"][1][2] = 4
removed = json.loads(json.dumps(spec))
removed["Survey"] = [r for r in removed["Survey"] if r[1:2] != ["income"]]
json.dump(removed, open(sys.argv[2], "w"))
spec["Survey"].insert(-1, ["text", "remarks", "Remarks", "Remarques"])
json.dump(spec, open(sys.argv[3], "w"))
PY
$MK "$T/v4-removed.json" "$T/v4-removed.xlsx"
$MK "$T/v4.json" "$T/v4.xlsx"
rc=0
"$FS_HUB" form publish --db "$DB" "$T/v4-removed.xlsx" 2>"$T/v4.err" || rc=$?
check "version 4 without a question: refused" "$rc" 1
grep -qF "'income' of version 3 is missing" "$T/v4.err" || fail "$(cat "$T/v4.err")"
check "version 4 with a new question" "$("$FS_HUB" form publish --db "$DB" "$T/v4.xlsx")" \
  "published form household_visit version 4"
agent tab sync --quiet
check "the agent has both versions" \
  "$(agent tab forms --json | grep -c '"household_visit"')" 2

# ---- hostile workbooks -----------------------------------------------------

before=$(hub_fingerprint)
while IFS='|' read -r kind want; do
  [ -n "$kind" ] || continue
  $MK --broken "$kind" "$T/$kind.xlsx"
  rc=0
  "$FS_HUB" form publish --db "$DB" "$T/$kind.xlsx" 2>"$T/$kind.err" || rc=$?
  check "$kind: refused (exit 2)" "$rc" 2
  grep -qF -- "$want" "$T/$kind.err" || fail "$kind: no '$want' in: $(cat "$T/$kind.err")"
done <<'EOF'
not-zip|workbook: not an .xlsx file: Not a zip archive
truncated|workbook: not an .xlsx file: Not a zip archive
no-workbook|workbook: not an .xlsx workbook: it has no xl/workbook.xml
doctype|workbook: xl/sharedStrings.xml: a DOCTYPE is not allowed (it could declare entities)
entities|workbook: xl/sharedStrings.xml: a DOCTYPE is not allowed
shared-index|survey!A3: shared string '99' does not exist (the workbook has 6)
declared-bomb|workbook: xl/worksheets/sheet1.xml declares 3000000000 bytes uncompressed, more than the 33554432 bytes allowed (a zip bomb?)
actual-bomb|workbook: xl/worksheets/sheet1.xml holds more than the 2000 bytes it declares (a zip bomb?)
row-past-limit|survey: row 2000000 is past the last row, 1048576
column-past-limit|survey: column 16385 of row 3 is past the last column, 16384
deep-nesting|survey: XML nested more than 32 deep
many-entries|workbook: the archive has more than 1000 entries
EOF
check "hostile workbooks changed nothing" "$(hub_fingerprint)" "$before"
curl -fsS "$HUB_URL/healthz" >/dev/null || fail "hub not serving"

finish
