#!/usr/bin/env bash
# export_media.sh - `fieldsync-hub export media` (issue 19): the files of
# a form's image, audio and file fields from a real hub's store, as a
# streamed zip: every entry byte-identical to what the device recorded,
# named SUBMISSION/FIELD.EXT; two submissions sharing one file both get
# it; a file still pending (part of it sent, or none) is not in the zip
# and MISSING.txt says why; personal and sensitive fields stay out
# unless --personal (audited), also for a version that did not mark
# them; the CSV's and JSON's file columns name the zip's entries; a
# sealed form's photo leaves without a key; clear refusals; a failed
# export (a full disk, a file size limit) leaves no zip; progress every
# 100 files; a damaged stored file is left out; and the export of a
# 40 MiB file stays under 64 MiB of memory.
source "$(dirname "$0")/../lib.sh"

# No per-device rate limit: the 40 MiB file at the end is 640 chunks,
# which an agent sends faster than the 20 requests a second allowed.
HUB_ARGS="--rate-limit 0" start_hub
python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "field_visit"
f["fields"] += [
    {"name": "photo", "type": "image", "label": {"en": "Photo"},
     "content_types": ["image/png", "image/jpeg"]},
    {"name": "recording", "type": "audio", "label": {"en": "Recording"}},
    {"name": "doc", "type": "file", "label": {"en": "Consent form"}},
    {"name": "face", "type": "image", "label": {"en": "Portrait"},
     "personal": True},
    {"name": "site", "type": "image", "label": {"en": "Site"}},
]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null

# Real files of each kind, made here: a PNG (zlib-compressed random
# pixels, with its CRCs), a baseline JPEG (grey 16x16, with a comment of
# random bytes), a WAV (16-bit PCM noise) and a PDF (one page, its xref
# table at the right offsets).
mkdir "$T/files"
python3 - "$T/files" <<'PY'
import os, struct, sys, wave, zlib
d = sys.argv[1]

def png(path, w, h, seed):
    rnd = os.urandom(w * h * 3)
    raw = b"".join(b"\0" + rnd[y * w * 3:(y + 1) * w * 3] for y in range(h))
    def chunk(t, data):
        return (struct.pack(">I", len(data)) + t + data +
                struct.pack(">I", zlib.crc32(t + data) & 0xffffffff))
    open(path, "wb").write(
        b"\x89PNG\r\n\x1a\n" +
        chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

def jpeg(path, comment_len):
    seg = lambda m, body: b"\xff" + bytes([m]) + struct.pack(">H", len(body) + 2) + body
    dqt = seg(0xDB, b"\x00" + bytes([1] * 64))
    sof = seg(0xC0, b"\x08" + struct.pack(">HH", 16, 16) + b"\x01\x01\x11\x00")
    # One code each: DC difference 0, AC end of block.
    dht = seg(0xC4, b"\x00" + bytes([1] + [0] * 15) + b"\x00" +
              b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = seg(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    com = seg(0xFE, os.urandom(comment_len))
    open(path, "wb").write(b"\xff\xd8" + com + dqt + sof + dht + sos +
                           b"\x00\xff\xd9")

def wav(path, frames):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(os.urandom(frames * 2))

def pdf(path):
    text = "BT /F1 12 Tf 72 720 Td (Consent given %s) Tj ET" % os.urandom(8).hex()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text.encode()),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, o)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offs)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1, xref)
    open(path, "wb").write(out)

png(d + "/pic.png", 120, 90, 1)        # shared by two submissions
jpeg(d + "/shot.jpg", 40000)
wav(d + "/voice.wav", 30000)
pdf(d + "/consent.pdf")
jpeg(d + "/face.jpg", 5000)            # personal
png(d + "/site.png", 40, 30, 2)        # sensitive from version 2 on
png(d + "/late.png", 300, 250, 3)      # pending: part of it sent
wav(d + "/late.wav", 9000)             # pending: none of it sent
PY
sha() { sha256sum "$1" | cut -c1-64; }

new_agent a1
printf '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' >"$T/ans.json"
rec() { # AGENT ARGS... -> the submission id
  local a=$1
  shift
  agent "$a" record field_visit --answers "$T/ans.json" --area N-01 "$@"
}
F=$T/files
s1=$(rec a1 --attach photo="$F/pic.png" --attach recording="$F/voice.wav" \
  --attach doc="$F/consent.pdf" --attach face="$F/face.jpg" \
  --attach site="$F/site.png")
s2=$(rec a1 --attach photo="$F/pic.png")
s3=$(rec a1 --attach photo="$F/shot.jpg")
# The agent stores a JPEG without its comment (FORMS.md, photos are made
# safe): from here on each JPEG is the copy the agent stored.
stored() { # AGENT SUBMISSION FIELD -> the agent's stored copy
  echo "$T/$1/blobs/$(sqlite3 "$T/$1/agent.db" "SELECT json_extract(answers, '\$.$3.sha256') FROM submissions WHERE id = '$2'")"
}
check "the JPEG's comment is not stored" \
  "$(cmp -s "$(stored a1 "$s3" photo)" "$F/shot.jpg" && echo same || echo stripped)" stripped
cp "$(stored a1 "$s3" photo)" "$F/shot.jpg"
cp "$(stored a1 "$s1" face)" "$F/face.jpg"
agent a1 sync --quiet
check "a1's files are all at the hub" \
  "$(agent a1 status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachments_waiting"])')" 0
check "the shared file is stored once" "$(ls "$T/blobs" | grep -c "$(sha "$F/pic.png")")" 1

# Left pending for real: a2's submission reaches the hub, but its files
# are away from a2's store during the sync, so none is sent; then the
# first 64 KiB of the photo arrive through the upload endpoint.
new_agent a2
s4=$(rec a2 --attach photo="$F/late.png" --attach recording="$F/late.wav")
HP=$(sha "$F/late.png")
HW=$(sha "$F/late.wav")
mkdir "$T/away"
mv "$T/a2/blobs/$HP" "$T/a2/blobs/$HW" "$T/away/"
rc=0
agent a2 sync --quiet >"$T/a2sync.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a2's sync without its files succeeded"
check "s4 is at the hub, its files not" \
  "$(sql "SELECT count(*) FROM submissions WHERE id = '$s4'") $(ls "$T/blobs" | grep -c -e "$HP" -e "$HW" || true)" "1 0"
tok=$(sqlite3 "$T/a2/agent.db" "SELECT value FROM meta WHERE key='token'")
head -c 65536 "$F/late.png" >"$T/chunk"
check "part of s4's photo arrives" \
  "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH -H "Authorization: Bearer $tok" \
    -H 'Upload-Offset: 0' --data-binary "@$T/chunk" "$HUB_URL/api/v1/blobs/$HP")" 200
check "the hub holds it partly" "$(stat -c %s "$T/blobs/.part-$HP")" 65536

# Version 2 marks site sensitive: the mark holds for version 1's rows.
python3 - "$T/form.json" "$T/form2.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["version"] = 2
for fld in f["fields"]:
    if fld["name"] == "site":
        fld["sensitive"] = True
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form2.json" >/dev/null

# ---- the export ---------------------------------------------------------
"$FS_HUB" export media --db "$DB" --form field_visit -o "$T/media.zip" \
  2>"$T/export.err" || fail "export media failed: $(cat "$T/export.err")"
check "face is left out and the reason given" \
  "$(grep -c 'left out: face, marked personal or sensitive (--personal includes it' "$T/export.err")" 1
check "site too (marked in version 2 only)" "$(grep -c 'left out: site, marked' "$T/export.err")" 1
check "the summary names the count and the missing" \
  "$(grep -c "exported 5 files (.* MB) of form field_visit to $T/media.zip; 2 not in it, listed in MISSING.txt" "$T/export.err")" 1
check "no part file left" "$(ls "$T" | grep -c 'media.zip.part' || true)" 0
unzip -tq "$T/media.zip" >"$T/unzip.out" 2>&1 || fail "unzip -t: $(cat "$T/unzip.out")"
check "unzip -t finds no error" "$(grep -c 'No errors detected' "$T/unzip.out")" 1

# Every entry against the original: names, bytes (SHA-256), STORED, no
# data descriptor, and the archive's exact size from its entries.
cat >"$T/expect.tsv" <<EOF
$s1/photo.png	$F/pic.png
$s1/recording.wav	$F/voice.wav
$s1/doc.pdf	$F/consent.pdf
$s2/photo.png	$F/pic.png
$s3/photo.jpg	$F/shot.jpg
EOF
python3 - "$T/media.zip" "$T/expect.tsv" >"$T/verify.out" <<'PY'
import hashlib, os, struct, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
expect = dict(l.rstrip("\n").split("\t") for l in open(sys.argv[2]))
assert z.testzip() is None, "a CRC does not match"
names = [i.filename for i in z.infolist()]
assert names == list(expect) + ["MISSING.txt"], names
size = 22
for i in z.infolist():
    assert i.compress_type == zipfile.ZIP_STORED, i.filename
    assert not i.flag_bits & 0x8, "data descriptor in " + i.filename
    size += 30 + 46 + 2 * len(i.filename) + i.file_size
    if i.filename == "MISSING.txt":
        continue
    got = hashlib.sha256(z.read(i)).hexdigest()
    want = hashlib.sha256(open(expect[i.filename], "rb").read()).hexdigest()
    assert got == want, i.filename + " differs from the original"
    # the local header says the sizes and CRC itself
    with open(sys.argv[1], "rb") as f:
        f.seek(i.header_offset)
        h = f.read(30)
        crc, cs, us = struct.unpack("<III", h[14:26])
        assert (crc, cs, us) == (i.CRC, i.file_size, i.file_size), i.filename
assert os.path.getsize(sys.argv[1]) == size, (os.path.getsize(sys.argv[1]), size)
print("verified", len(names))
PY
check "every entry byte-identical, named as specified, exact size" \
  "$(cat "$T/verify.out")" "verified 6"
check "both submissions sharing a file have it" \
  "$(unzip -p "$T/media.zip" "$s2/photo.png" | sha256sum | cut -c1-64)" "$(sha "$F/pic.png")"
unzip -p "$T/media.zip" MISSING.txt >"$T/missing.txt"
check "MISSING.txt: the partly sent photo, and how much is there" \
  "$(grep -c "^$s4/photo.png	$s4	photo	pending: the hub holds 65536 of its $(stat -c %s "$F/late.png") bytes" "$T/missing.txt")" 1
check "MISSING.txt: the recording none of which was sent" \
  "$(grep -c "^$s4/recording.wav	$s4	recording	pending: the device has not sent any of its $(stat -c %s "$F/late.wav") bytes" "$T/missing.txt")" 1
check "MISSING.txt lists nothing else" "$(grep -c "	pending\|	damaged\|	the " "$T/missing.txt")" 2
check "no personal or sensitive file in it" \
  "$(unzip -Z1 "$T/media.zip" | grep -c -e /face -e /site || true)" 0
# Version 1 alone, whose definition does not mark site: still left out.
"$FS_HUB" export media --db "$DB" --form field_visit --version 1 \
  -o "$T/v1.zip" 2>"$T/v1.err"
check "version 1 alone: site still left out" \
  "$(grep -c 'left out: site, marked' "$T/v1.err") $(unzip -Z1 "$T/v1.zip" | grep -c /site || true)" "1 0"
check "version 1 alone: the same files" \
  "$(unzip -Z1 "$T/v1.zip" | tr '\n' ' ')" "$(unzip -Z1 "$T/media.zip" | tr '\n' ' ')"

# Written to standard output: the same bytes.
"$FS_HUB" export media --db "$DB" --form field_visit -o - >"$T/stdout.zip" 2>/dev/null
check "-o - writes the same archive" "$(sha "$T/stdout.zip")" "$(sha "$T/media.zip")"

# ---- CSV and JSON name the entries --------------------------------------
"$FS_HUB" export csv --db "$DB" --form field_visit --version 1 -o "$T/v.csv" 2>/dev/null
python3 - "$T/v.csv" "$T/media.zip" "$T/missing.txt" "$s1" "$s2" >"$T/csv.out" <<'PY'
import csv, sys, zipfile
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
names = set(zipfile.ZipFile(sys.argv[2]).namelist())
missing = {l.split("\t")[0] for l in open(sys.argv[3]) if "\t" in l}
cols = [c for c in ("photo", "recording", "doc", "face", "site") if c in rows[0]]
print(" ".join(cols))
cells = [r[c] for r in rows for c in cols if r[c]]
assert all(c in names or c in missing for c in cells), cells
assert len(cells) == len(names) - 1 + len(missing), (cells, names, missing)
by = {r["submission_id"]: r for r in rows}
print(by[sys.argv[4]]["doc"], "|", by[sys.argv[5]]["doc"])
PY
check "the CSV has a column per exported file field, none for face or site" \
  "$(sed -n 1p "$T/csv.out")" "photo recording doc"
check "its cells are the zip's names (empty when not answered)" \
  "$(sed -n 2p "$T/csv.out")" "$s1/doc.pdf | "
"$FS_HUB" export json --db "$DB" --form field_visit -o "$T/v.json" 2>/dev/null
check "the JSON keeps the reference and adds the name" \
  "$(python3 -c 'import json,sys; a=[s for s in json.load(open(sys.argv[1]))["submissions"] if s["id"]==sys.argv[2]][0]["answers"]["photo"]; print(a["sha256"], a["file"])' "$T/v.json" "$s3")" \
  "$(sha "$F/shot.jpg") $s3/photo.jpg"

# ---- personal files on request, audited ---------------------------------
audits() { sql "SELECT count(*) FROM audit_log WHERE action = 'export.personal' AND json_extract(detail, '\$.export') = 'media'"; }
check "no audit of a media export so far" "$(audits)" 0
"$FS_HUB" export media --db "$DB" --form field_visit --personal \
  -o "$T/all.zip" 2>"$T/all.err"
check "--personal includes face and site" \
  "$(unzip -Z1 "$T/all.zip" | grep -c -e "^$s1/face.jpg\$" -e "^$s1/site.png\$")" 2
check "... byte-identical" \
  "$(unzip -p "$T/all.zip" "$s1/face.jpg" | sha256sum | cut -c1-64)" "$(sha "$F/face.jpg")"
check "... and audited" "$(audits)" 1

# ---- a form with sealed answers -----------------------------------------
# Its comment is sealed to a steward's key, its photo is not (a file
# field cannot be sealed): the photo leaves without the key, the comment
# stays "sealed" in the CSV beside the photo's name.
printf 'steward passphrase\n' >"$T/steward.pass"
"$FS_HUB" keys generate --out "$T/steward.key" --id steward-1 \
  --passphrase-fd 3 3<"$T/steward.pass" >/dev/null
"$FS_HUB" keys publish --db "$DB" "$T/steward.key.pub" >/dev/null
python3 - "$T/form.json" "$T/sealed.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "sealed_visit"
f["seal_key"] = "steward-1"
f["fields"] = [x for x in f["fields"] if x["name"] in
               ("age_band", "gender", "belonging", "trust_local_gov",
                "comment", "photo")]
for x in f["fields"]:
    if x["name"] == "comment":
        x["sealed"] = True
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/sealed.json" >/dev/null
agent a1 sync --quiet
printf '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2,"comment":"met at the centre"}' >"$T/sans.json"
s6=$(agent a1 record sealed_visit --answers "$T/sans.json" --area N-01 --attach photo="$F/shot.jpg")
agent a1 sync --quiet
check "the comment is sealed at the hub" \
  "$(sql "SELECT json_type(answers, '\$._sealed') || ' ' || coalesce(json_extract(answers, '\$.comment'), 'none') FROM submissions WHERE id = '$s6'")" "object none"
"$FS_HUB" export media --db "$DB" --form sealed_visit -o "$T/sealed.zip" 2>/dev/null
check "the photo of a sealed form leaves without a key" \
  "$(unzip -p "$T/sealed.zip" "$s6/photo.jpg" | sha256sum | cut -c1-64)" "$(sha "$F/shot.jpg")"
"$FS_HUB" export csv --db "$DB" --form sealed_visit --raw-cells -o "$T/sealed.csv" 2>/dev/null
check "the CSV: the comment sealed, the photo named" \
  "$(python3 -c 'import csv,sys; r=list(csv.DictReader(open(sys.argv[1])))[0]; print(r["comment"], r["photo"])' "$T/sealed.csv")" \
  "sealed $s6/photo.jpg"

# ---- refusals, nothing written ------------------------------------------
refused() { # NAME STATUS PATTERN ARGS...
  local name=$1 want=$2 pat=$3 rc=0
  shift 3
  "$FS_HUB" export media --db "$DB" "$@" -o "$T/no.zip" >"$T/ref.out" 2>&1 || rc=$?
  check "$name: exit $want" "$rc" "$want"
  check "$name: says why" "$(grep -c -- "$pat" "$T/ref.out")" 1
  check "$name: no zip" "$(ls "$T" | grep -c '^no\.zip' || true)" 0
}
refused "an unknown form" 2 "no published form nope; nothing was exported" --form nope
refused "an unknown version" 2 "form field_visit has no published version 7" \
  --form field_visit --version 7
"$FS_HUB" form publish --db "$DB" "$FS_SRC/schema/forms/demo_household.json" >/dev/null
refused "a form without file fields" 2 \
  "form demo_household has no image, audio or file field: it has no files to export" \
  --form demo_household
refused "a steward key (sealed files are opened with open-file)" 2 "\-\-key is not an option of this command" --form field_visit \
  --key "$T/none.key"
rc=0
"$FS_HUB" export media --db "$DB" --form field_visit >/dev/null 2>&1 </dev/null || rc=$?
check "stdout not a terminal and no -o: the zip goes there" "$rc" 0

# A full disk (the kernel's /dev/full): exit 1, and it says so.
rc=0
"$FS_HUB" export media --db "$DB" --form field_visit -o - >/dev/full 2>"$T/full.err" || rc=$?
check "a full disk: exit 1" "$rc" 1
check "... says so" "$(grep -c 'export failed: writing the archive: No space left on device' "$T/full.err")" 1
# A file size limit the kernel enforces mid-archive: no zip, no part.
rc=0
(
  trap '' XFSZ
  ulimit -f 64
  exec "$FS_HUB" export media --db "$DB" --form field_visit -o "$T/cut.zip"
) 2>"$T/cut.err" || rc=$?
check "cut off mid-archive: exit 1" "$rc" 1
check "... says why" "$(grep -c 'File too large; nothing was exported' "$T/cut.err")" 1
check "... and leaves neither the zip nor its part" "$(ls "$T" | grep -c '^cut\.zip' || true)" 0

# ---- progress ------------------------------------------------------------
# 34 more submissions like s1 (three files each that may leave): a line
# on stderr at the 100th file.
clone_records a1 34 1000
agent a1 sync --quiet
"$FS_HUB" export media --db "$DB" --form field_visit -o "$T/many.zip" 2>"$T/many.err"
check "a progress line at 100 files" \
  "$(grep -c '^fieldsync-hub: exported 100 of 107 files, [0-9.]* MB$' "$T/many.err")" 1
check "all 107 in the zip" "$(unzip -Z1 "$T/many.zip" | grep -vc '^MISSING.txt$')" 107

# ---- a damaged file at the hub ------------------------------------------
HD=$(sha "$F/consent.pdf")
printf 'X' | dd of="$T/blobs/$HD" bs=1 seek=100 conv=notrunc status=none
"$FS_HUB" export media --db "$DB" --form field_visit -o "$T/dmg.zip" 2>"$T/dmg.err"
check "a damaged file is not in the zip" \
  "$(unzip -Z1 "$T/dmg.zip" | grep -c "^$s1/doc.pdf\$" || true)" 0
check "... MISSING.txt says it is damaged" \
  "$(unzip -p "$T/dmg.zip" MISSING.txt | grep -c "^$s1/doc.pdf	$s1	doc	damaged at the hub")" 1
check "... and so for each of the 35 submissions that have it" \
  "$(unzip -p "$T/dmg.zip" MISSING.txt | grep -c "/doc.pdf	.*	doc	damaged at the hub")" 35
check "... with one warning naming it" "$(grep -c "warning: .*$HD is damaged" "$T/dmg.err")" 1

# ---- memory stays flat ---------------------------------------------------
# A 40 MiB file streams through 64 KiB chunks: the export's peak RSS
# (wait4, bench/maxrss.c) stays under a loose 64 MiB, about 31 MiB
# under ASan whatever the file's size (bench/export_media.sh); a copy of
# the file in memory would pass it.
python3 - "$T/form.json" "$T/big.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "big_visit"
f["fields"] = [x for x in f["fields"] if x["name"] != "doc"] + [
    {"name": "doc", "type": "file", "label": {"en": "Scan"},
     "max_bytes": 67108864}]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/big.json" >/dev/null
agent a1 sync --quiet
{ printf '%%PDF-1.4\n'; head -c $((40 * 1048576 - 9)) /dev/urandom; } >"$F/big.pdf"
s5=$(agent a1 record big_visit --answers "$T/ans.json" --area N-01 --attach doc="$F/big.pdf")
agent a1 sync --quiet
kib=$("$FS_BUILD/bench/maxrss" "$FS_HUB" export media --db "$DB" --form big_visit \
  -o "$T/big.zip" 2>"$T/big.err") || fail "export of the big file: $(cat "$T/big.err")"
echo "export media of a 40 MiB file: peak RSS $kib KiB"
[ "$kib" -lt 65536 ] || fail "the export of a 40 MiB file peaked at $kib KiB (> 64 MiB)"
check "the 40 MiB file byte-identical" \
  "$(unzip -p "$T/big.zip" "$s5/doc.pdf" | sha256sum | cut -c1-64)" "$(sha "$F/big.pdf")"

finish
