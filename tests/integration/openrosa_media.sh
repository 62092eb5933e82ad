#!/usr/bin/env bash
# openrosa_media.sh - photos, recordings and documents from ODK Collect
# (issue 19): an XLSForm with image, audio and file questions imports
# (max-pixels and body::accept carried) and its XForm has pyxform's
# upload controls and binary binds; a multipart submission with two media
# parts stores both byte-identical under their SHA-256 and the answers
# reference them, visible to an admin; the same submission again, a
# second submission of the same photo and an edit store nothing twice;
# other bytes under a stored instance are refused with 409, nothing kept;
# a split submission (Collect's *isIncomplete*, central-backend#313) ends
# with every file referenced and is stored once, a hub restart between
# its parts included; a file whose bytes are not a type the field takes
# is refused with 415 and one over max_bytes with 413 (as it arrives when
# the XML came first), nothing of either stored; a last part that leaves
# a file missing is refused with 400 and stores no submission.
. "$(dirname "$0")/../lib.sh"

MK="python3 $FS_SRC/tests/tools/mkxlsx.py"
BLOBS="$T/blobs"

# ---- XLSForm in ---------------------------------------------------------

$MK "$FS_SRC/tests/fixtures/xlsform/specs/media.json" "$T/media.xlsx"
"$FS_HUB" form import "$T/media.xlsx" -o "$T/media.json" 2>"$T/import.err" ||
  fail "media.xlsx not imported: $(cat "$T/import.err")"
python3 - "$T/media.json" <<'PY' || fail "the media questions' conversion"
import json, sys
f = {x["name"]: x for x in json.load(open(sys.argv[1]))["fields"]}
assert f["flipchart"] == {"name": "flipchart", "type": "image",
                          "label": "Photo of the flipchart",
                          "x_max_pixels": 1024}, f["flipchart"]
assert f["recording"]["type"] == "audio", f["recording"]
assert f["consent_scan"]["type"] == "file", f["consent_scan"]
assert f["consent_scan"]["content_types"] == ["application/pdf"], f["consent_scan"]
PY
echo "ok - image, audio and file questions imported; max-pixels and body::accept carried"

# What the importer still refuses, with the row and why.
$MK /dev/stdin "$T/refused.xlsx" <<'EOF'
{"survey": [
  ["type", "name", "label", "parameters", "body::accept"],
  ["video", "clip", "A clip"],
  ["background-audio", "bg", null],
  ["image", "pic", "Pic", "max-pixels=huge"],
  ["audio", "rec", "Rec", "quality=high"],
  ["file", "doc", "Doc", null, ".docx"],
  ["text", "t", "T", null, ".pdf"]
 ]}
EOF
rc=0
"$FS_HUB" form import "$T/refused.xlsx" >/dev/null 2>"$T/refused.err" || rc=$?
check "video, background-audio, bad parameters and accept: refused (exit 2)" "$rc" 2
while IFS= read -r want; do
  grep -qF -- "$want" "$T/refused.err" || fail "no '$want' in: $(cat "$T/refused.err")"
done <<'EOF'
survey!A2: type 'video' is not supported: fieldsync takes image, audio and file attachments
survey!A3: type 'background-audio' is not supported: it records the whole interview
survey!D4: max-pixels 'huge' is not a whole number of pixels
survey!D5: parameter 'quality=high' is not supported: fieldsync reads max-pixels=N of an image question only
survey!E6: accept '.docx' is not supported: the hub decides a file's type from its first bytes
survey!E7: body::accept applies to image, audio and file questions
EOF
echo "ok - each refusal names its cell and says why"

# The pyxform samples' image and audio questions are no longer refused,
# their video question is (the samples stay refused for other reasons).
"$FS_HUB" form import "$FS_SRC/tests/fixtures/xlsform/pyxform/flat_xlsform_test.xlsx" \
  >/dev/null 2>"$T/flat.err" && fail "flat_xlsform_test imported"
check "pyxform sample: image (A36) and audio (A37) taken" \
  "$(grep -c 'survey!A3[67]:' "$T/flat.err")" 0
check "pyxform sample: video (A38) refused" "$(grep -c "survey!A38: type 'video'" "$T/flat.err")" 1

# ---- XForm out ------------------------------------------------------------

"$FS_HUB" form publish --db "$DB" "$T/media.xlsx" >/dev/null
# Version 2: the same with limits an XLSForm does not write (max_bytes).
python3 - "$T/media.json" "$T/media2.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["version"] = 2
for x in f["fields"]:
    if x["name"] in ("flipchart", "recording"):
        x["max_bytes"] = 100000
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/media2.json" >/dev/null
HUB_ARGS="--rate-limit 1000" start_hub
BASE=$("$FS_HUB" enroll-code --db "$DB" --name collect-media \
  --areas CITY-N01 --forms focus_media --collect "$HUB_URL/")
device=$(sql "SELECT id FROM devices WHERE name = 'collect-media'")
ADMIN=$("$FS_HUB" token create --db "$DB" --role admin --name boss 2>/dev/null)

check "XForm download: 200" "$(curl -sS -o "$T/xform.xml" -w '%{http_code}' \
  -H 'X-OpenRosa-Version: 1.0' "$BASE/forms/focus_media/1.xml")" 200
python3 - "$T/xform.xml" <<'PY' || fail "the XForm's upload controls"
import sys, xml.etree.ElementTree as ET
X = "{http://www.w3.org/2002/xforms}"
ORX = "{http://openrosa.org/xforms}"
root = ET.parse(sys.argv[1]).getroot()
binds = {b.get("nodeset"): b for b in root.iter(X + "bind")}
ups = {u.get("ref"): u for u in root.iter(X + "upload")}
want = {"flipchart": "image/*", "recording": "audio/*",
        "consent_scan": "application/*"}
for name, media in want.items():
    path = "/data/" + name
    assert binds[path].get("type") == "binary", (name, binds[path].attrib)
    assert ups[path].get("mediatype") == media, (name, ups[path].attrib)
assert binds["/data/flipchart"].get(ORX + "max-pixels") == "1024"
assert ups["/data/consent_scan"].get("accept") == "application/pdf"
assert binds["/data/place"].get("type") == "string"
assert not [i for i in root.iter(X + "input") if i.get("ref") in
            ("/data/flipchart", "/data/recording", "/data/consent_scan")]
PY
echo "ok - the XForm has upload controls (image/*, audio/*, application/*) and binary binds, as pyxform writes them"

# ---- media files ------------------------------------------------------------

# mkfile PATH MAGIC-PRINTF SIZE SEED: MAGIC then pseudo-random bytes.
mkfile() {
  python3 - "$1" "$2" "$3" "$4" <<'PY'
import random, sys
magic = sys.argv[2].encode("latin-1").decode("unicode_escape").encode("latin-1")
r = random.Random(int(sys.argv[4]))
n = int(sys.argv[3]) - len(magic)
open(sys.argv[1], "wb").write(magic + bytes(r.getrandbits(8) for _ in range(n)))
PY
}
mkfile "$T/photo.png" '\x89PNG\r\n\x1a\n' 60000 1
mkfile "$T/talk.wav" 'RIFF\x10\x00\x00\x00WAVEfmt ' 40000 2
mkfile "$T/consent.pdf" '%PDF-1.4\n' 20000 3
mkfile "$T/second.png" '\x89PNG\r\n\x1a\n' 30000 4
mkfile "$T/big.png" '\x89PNG\r\n\x1a\n' 150000 5
mkfile "$T/fake.png" '%PDF-1.4\n' 5000 6
mkfile "$T/noise.png" 'NOTAKNOWNKIND' 5000 7

# instance FILE UUID FLIPCHART RECORDING CONSENT: a filled instance of
# version 2, naming its files as Collect does.
instance() {
  cat >"$1" <<XML
<?xml version="1.0" encoding="UTF-8"?>
<data xmlns:jr="http://openrosa.org/javarosa" xmlns:orx="http://openrosa.org/xforms" id="focus_media" version="2">
  <_area>CITY-N01</_area>
  <place>Centre communautaire</place>
  <flipchart>$3</flipchart>
  <recording>$4</recording>
  <consent_scan>$5</consent_scan>
  <meta><instanceID>uuid:$2</instanceID><deprecatedID/></meta>
</data>
XML
}
# post NAME XML [CURL ARGS]: the multipart POST; prints the status.
post() {
  local n=$1 x=$2
  shift 2
  curl -sS -o "$T/$n.body" -w '%{http_code}' -H 'X-OpenRosa-Version: 1.0' \
    -F "xml_submission_file=@$x;type=text/xml" "$@" "$BASE/submission"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
stored() { sql "SELECT count(*) FROM submissions WHERE id = '$1'"; }
blobs() { find "$BLOBS" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l; }
temps() { find "$BLOBS" -maxdepth 1 -name '.or-*' 2>/dev/null | wc -l; }
# ref ID FIELD: the stored reference "sha256|size|type|name".
ref() {
  sql "SELECT json_extract(answers, '\$.$2.sha256') || '|' || json_extract(answers, '\$.$2.size') || '|' || json_extract(answers, '\$.$2.type') || '|' || json_extract(answers, '\$.$2.name') FROM submissions WHERE id = '$1'"
}

# ---- two media parts in one submission --------------------------------------

i1=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e01
instance "$T/i1.xml" "$i1" 1712345678.png 1712345699.wav ""
check "a submission with two media parts: 201" "$(post i1 "$T/i1.xml" \
  -F "1712345678.png=@$T/photo.png;type=image/png;filename=1712345678.png" \
  -F "1712345699.wav=@$T/talk.wav;type=audio/x-wav;filename=1712345699.wav")" 201
check "stored once" "$(stored "$i1")" 1
cmp -s "$T/photo.png" "$BLOBS/$(sha "$T/photo.png")" || fail "the photo is not stored byte-identical under its hash"
cmp -s "$T/talk.wav" "$BLOBS/$(sha "$T/talk.wav")" || fail "the recording is not stored byte-identical under its hash"
echo "ok - both files stored byte-identical under their SHA-256"
check "the photo's answer references it (type sniffed)" "$(ref "$i1" flipchart)" \
  "$(sha "$T/photo.png")|60000|image/png|1712345678.png"
check "the recording's answer references it (audio/wav from its bytes, not the part's audio/x-wav)" \
  "$(ref "$i1" recording)" "$(sha "$T/talk.wav")|40000|audio/wav|1712345699.wav"
check "no temporary file left" "$(temps)" 0
curl -sS -H "Authorization: Bearer $ADMIN" "$HUB_URL/api/v1/admin/submissions?form=focus_media" >"$T/admin.json"
python3 - "$T/admin.json" "$i1" "$(sha "$T/photo.png")" <<'PY' || fail "the admin API: $(cat "$T/admin.json")"
import json, sys
subs = [s for s in json.load(open(sys.argv[1]))["submissions"] if s["id"] == sys.argv[2]]
assert len(subs) == 1, subs
assert subs[0]["answers"]["flipchart"]["sha256"] == sys.argv[3], subs[0]
assert subs[0]["answers"]["recording"]["type"] == "audio/wav", subs[0]
PY
echo "ok - an admin sees the references in the submission"

check "the same submission again: 201" "$(post i1again "$T/i1.xml" \
  -F "1712345678.png=@$T/photo.png;filename=1712345678.png" \
  -F "1712345699.wav=@$T/talk.wav;filename=1712345699.wav")" 201
check "and stored once, the files once" "$(stored "$i1")|$(blobs)" "1|2"
check "other bytes under the same instance and file name: 409" "$(post i1other "$T/i1.xml" \
  -F "1712345678.png=@$T/second.png;filename=1712345678.png" \
  -F "1712345699.wav=@$T/talk.wav;filename=1712345699.wav")" 409
check "nothing of it kept: the answer, the files, the record of them" \
  "$(ref "$i1" flipchart | cut -d'|' -f1)|$(blobs)|$(temps)|$(sql "SELECT sha256 FROM openrosa_files WHERE instance = '$i1' AND name = '1712345678.png'")" \
  "$(sha "$T/photo.png")|2|0|$(sha "$T/photo.png")"

# An edit in Collect (a new instanceID, the old one as deprecatedID)
# sends its files again: the next revision references them, stored once.
e1=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e11
instance "$T/e1.xml" "$e1" 1712345678.png 1712345699.wav ""
sed -i "s|<place>[^<]*</place>|<place>Salle paroissiale</place>|; s|<deprecatedID/>|<deprecatedID>uuid:$i1</deprecatedID>|" "$T/e1.xml"
check "an edit with its files: 201" "$(post e1 "$T/e1.xml" \
  -F "1712345678.png=@$T/photo.png;filename=1712345678.png" \
  -F "1712345699.wav=@$T/talk.wav;filename=1712345699.wav")" 201
check "revision 2 references the same files, stored once" \
  "$(sql "SELECT rev, json_extract(answers, '\$.place'), json_extract(answers, '\$.flipchart.sha256') FROM submissions WHERE id = '$i1' ORDER BY rev DESC LIMIT 1")|$(blobs)" \
  "2|Salle paroissiale|$(sha "$T/photo.png")|2"

# ---- a split submission ----------------------------------------------------------

# Collect sends a large submission in parts: each with the whole XML,
# some of the files, and *isIncomplete*=yes on all but the last.
i2=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e02
instance "$T/i2.xml" "$i2" 1712345678.png "" scan.pdf
check "split, first part (the photo): 201" "$(post sp1 "$T/i2.xml" \
  -F "1712345678.png=@$T/photo.png;filename=1712345678.png" -F '*isIncomplete*=yes')" 201
grep -q "1 to come (scan.pdf)" "$T/sp1.body" || fail "the first part's answer: $(cat "$T/sp1.body")"
echo "ok - the first part's answer says which file is to come"
check "not stored before its last file" "$(stored "$i2")" 0
# A hub restarted between the parts still holds the first part's file.
port=$(cat "$T/port")
stop_hub
HUB_ARGS="--rate-limit 1000" start_hub "$port"
check "split, last part (the document): 201" "$(post sp2 "$T/i2.xml" \
  -F "scan.pdf=@$T/consent.pdf;type=application/pdf;filename=scan.pdf")" 201
check "the split submission is stored once" "$(stored "$i2")" 1
check "with the first part's photo" "$(ref "$i2" flipchart)" \
  "$(sha "$T/photo.png")|60000|image/png|1712345678.png"
check "and the last part's document" "$(ref "$i2" consent_scan)" \
  "$(sha "$T/consent.pdf")|20000|application/pdf|scan.pdf"
cmp -s "$T/consent.pdf" "$BLOBS/$(sha "$T/consent.pdf")" || fail "the document is not stored byte-identical"
check "the same photo in two submissions is one file" "$(blobs)" 3
check "Collect sending every part again: 201" "$(post sp1again "$T/i2.xml" \
  -F "1712345678.png=@$T/photo.png;filename=1712345678.png" -F '*isIncomplete*=yes')" 201
check "still stored once" "$(stored "$i2")|$(blobs)" "1|3"

# A last part (no *isIncomplete*) that leaves a named file missing.
i3=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e03
instance "$T/i3.xml" "$i3" 1712349999.png 1712349998.wav ""
check "a last part with a file missing: 400" "$(post miss "$T/i3.xml" \
  -F "1712349999.png=@$T/second.png;filename=1712349999.png")" 400
grep -q "1712349998.wav" "$T/miss.body" || fail "the refusal does not name the missing file: $(cat "$T/miss.body")"
echo "ok - the refusal names the missing file"
check "no submission stored for it" "$(stored "$i3")" 0
check "its resend with the missing file completes it: 201" "$(post miss2 "$T/i3.xml" \
  -F "1712349998.wav=@$T/talk.wav;filename=1712349998.wav")" 201
check "stored once with both files" "$(stored "$i3")|$(ref "$i3" flipchart | cut -d'|' -f1)" \
  "1|$(sha "$T/second.png")"

# ---- limits: wrong type, too big ------------------------------------------------

before=$(blobs)
i4=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e04
instance "$T/i4.xml" "$i4" fake.png "" ""
check "a PDF sent as a .png for an image question: 415" "$(post fake "$T/i4.xml" \
  -F "fake.png=@$T/fake.png;type=image/png;filename=fake.png")" 415
grep -q "application/pdf by its bytes" "$T/fake.body" || fail "the wrong type's refusal: $(cat "$T/fake.body")"
echo "ok - the refusal says what the bytes are"
instance "$T/i4b.xml" "$i4" noise.png "" ""
check "bytes of no kind the hub knows for an image question: 415" "$(post noise "$T/i4b.xml" \
  -F "noise.png=@$T/noise.png;type=image/png;filename=noise.png")" 415
i5=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e05
instance "$T/i5.xml" "$i5" big.png "" ""
check "a photo over the field's max_bytes: 413" "$(post big "$T/i5.xml" \
  -F "big.png=@$T/big.png;filename=big.png")" 413
grep -q "flipchart: big.png is more than the 100000 bytes this field takes" "$T/big.body" ||
  fail "the oversized refusal: $(cat "$T/big.body")"
echo "ok - refused as it arrived (the XML came first): the refusal names the field and its limit"
# The XML after the file: the file is whole before its question is known,
# and refused then.
check "a photo over max_bytes before the XML: 413" "$(curl -sS -o "$T/big2.body" -w '%{http_code}' \
  -F "big.png=@$T/big.png;filename=big.png" -F "xml_submission_file=@$T/i5.xml;type=text/xml" \
  "$BASE/submission")" 413
grep -q "150000 bytes, more than the 100000" "$T/big2.body" || fail "the oversized refusal: $(cat "$T/big2.body")"
echo "ok - the refusal gives the size and the limit"
check "nothing of them stored: no submission, no file, no temporary file" \
  "$(stored "$i4")$(stored "$i5")|$(blobs)|$(temps)" "00|$before|0"
check "nor recorded for a later part" \
  "$(sql "SELECT count(*) FROM openrosa_files WHERE instance IN ('$i4', '$i5')")" 0
check "every refusal is an OpenRosaResponse" "$(grep -c 'nature="error"' "$T/fake.body" "$T/noise.body" "$T/big.body" | grep -c ':1$')" 3

# A file no question names is not kept; the submission is.
i6=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e06
instance "$T/i6.xml" "$i6" "" "" ""
check "a file part no question names: 201" "$(post extra "$T/i6.xml" \
  -F "stray.png=@$T/big.png;filename=stray.png")" 201
check "the submission stored, the stray file not" "$(stored "$i6")|$(blobs)|$(temps)" "1|$before|0"

# ---- the quota and the floor ------------------------------------------------
# Files from Collect count toward the device's quota and the disk's floor
# as chunks from the agent do: the request is admitted at its first file
# part, and a refusal stores nothing. A submission without files is not
# held back by either.
mkfile "$T/late.png" '\x89PNG\r\n\x1a\n' 30000 8
i7=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e07
instance "$T/i7.xml" "$i7" late.png "" ""
i8=0191f3c4-7a2b-4c1d-9e8f-0a1b2c3d5e08
instance "$T/i8.xml" "$i8" "" "" ""
port=$(hub_port)
stop_hub
HUB_ARGS="--rate-limit 1000 --attach-floor 1000000000000000" start_hub "$port"
check "the disk at its floor: 507" "$(post floor "$T/i7.xml" \
  -F "late.png=@$T/late.png;filename=late.png")" 507
grep -q 'nature="error"' "$T/floor.body" && grep -q "insufficient_storage" "$T/floor.body" ||
  fail "the floor's refusal: $(cat "$T/floor.body")"
echo "ok - an OpenRosaResponse that says why (insufficient_storage)"
stop_hub
HUB_ARGS="--rate-limit 1000 --attach-quota 1" start_hub "$port"
check "the device over its quota: 413" "$(post quota "$T/i7.xml" \
  -F "late.png=@$T/late.png;filename=late.png")" 413
grep -q "may have 1 (0.0 MiB).*(quota)" "$T/quota.body" ||
  fail "the quota's refusal: $(cat "$T/quota.body")"
echo "ok - the refusal gives the device's bytes and its quota"
check "nothing of it stored: no submission, no file, no temporary file" \
  "$(stored "$i7")|$(blobs)|$(temps)" "0|$before|0"
check "a submission without files over the quota: 201" "$(post nofiles "$T/i8.xml")" 201
stop_hub
HUB_ARGS="--rate-limit 1000" start_hub "$port"
check "room again: the same submission is taken, 201" "$(post room "$T/i7.xml" \
  -F "late.png=@$T/late.png;filename=late.png")" 201
cmp -s "$T/late.png" "$BLOBS/$(sha "$T/late.png")" || fail "the photo is not stored byte-identical"
echo "ok - and its photo stored byte-identical"

curl -fsS "$HUB_URL/healthz" >/dev/null || fail "the hub stopped serving"
stop_hub
finish
