#!/usr/bin/env bash
# attach_image.sh - photos are stored without their metadata and within
# their field's max_pixels (issue 19; FORMS.md, attachment fields). A JPEG
# with an EXIF GPS segment, an XMP packet, a comment and bytes after its
# end loses them all, with or without scaling; a PNG loses its text and
# EXIF chunks; a JPEG or PNG over max_pixels is scaled down; what is
# stored decodes, is named by its own hash and reaches the hub as it is.
# A damaged photo or one claiming absurd dimensions is refused, nothing
# stored.
source "$(dirname "$0")/../lib.sh"

: "${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}"
MARK=FS-PRIVATE-MARK

start_hub
python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "photo_walk"
f["fields"] += [
    {"name": "photo", "type": "image", "label": {"en": "Photo"},
     "max_bytes": 3000000, "max_pixels": 1000000},
    {"name": "plain", "type": "image", "label": {"en": "Photo, any size"},
     "max_bytes": 3000000},
    {"name": "doc", "type": "file", "label": {"en": "A scan"}},
    {"name": "thumb", "type": "image", "label": {"en": "A thumbnail"},
     "max_pixels": 10000},
]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
python3 - "$T/form.json" "$T/bad.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["version"] = 2
f["fields"][-2]["max_pixels"] = 20000
json.dump(f, open(sys.argv[2], "w"))
PY
if "$FS_HUB" form publish --db "$DB" "$T/bad.json" >"$T/bad.out" 2>&1; then
  fail "max_pixels on a file field was published"
fi
check "max_pixels on a file field refused" \
  "$(grep -c 'max_pixels: applies to image fields only' "$T/bad.out")" 1

new_agent a1
printf '%s' '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' \
  >"$T/ans.json"
sha() { sha256sum "$1" | cut -c1-64; }
ref() { # ID FIELD: the reference's sha256 and size
  sqlite3 "$T/a1/agent.db" "SELECT json_extract(answers, '\$.$2.sha256') || ' ' || json_extract(answers, '\$.$2.size') FROM submissions WHERE id = '$1'"
}
# exif_of FILE: "none" without an EXIF segment; else how many there are,
# the first's orientation and its length (32: nothing but the orientation).
exif_of() {
  python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], "rb").read()
segs = []
i = 2
while i + 4 <= len(b) and b[i] == 0xFF and b[i + 1] != 0xDA:
    n = struct.unpack(">H", b[i + 2:i + 4])[0]
    if b[i + 1] == 0xE1 and b[i + 4:i + 10] == b"Exif\0\0":
        segs.append(b[i + 4:i + 2 + n])
    i += 2 + n
if not segs:
    print("none")
    sys.exit()
x = segs[0][6:]
e = "<" if x[:2] == b"II" else ">"
ifd = struct.unpack(e + "I", x[4:8])[0]
o = 0
for k in range(struct.unpack(e + "H", x[ifd:ifd + 2])[0]):
    tag, typ, cnt = struct.unpack(e + "HHI", x[ifd + 2 + 12 * k:ifd + 10 + 12 * k])
    if tag == 0x0112:
        o = struct.unpack(e + "H", x[ifd + 10 + 12 * k:ifd + 12 + 12 * k])[0]
print(len(segs), o, len(segs[0]))
PY
}
record() { agent a1 record photo_walk --answers "$T/ans.json" --area N-01 "$@"; }
# stored ID FIELD: checks the stored copy is named by its hash, of the
# referenced size, without a trace of the metadata; prints its dimensions.
stored() {
  local r h s
  r=$(ref "$1" "$2")
  h=${r% *} s=${r#* }
  [ -f "$T/a1/blobs/$h" ] || fail "$2: $h not in the store"
  [ "$(sha "$T/a1/blobs/$h")" = "$h" ] || fail "$2: the stored copy is not named by its hash"
  [ "$(stat -c %s "$T/a1/blobs/$h")" = "$s" ] || fail "$2: size $s is not the stored size"
  if grep -q -a -e "$MARK" -e "http://ns.adobe.com/xap" "$T/a1/blobs/$h" ||
    [ "$(exif_of "$T/a1/blobs/$h")" != "${3:-none}" ]; then
    fail "$2: metadata left in the stored copy ($(exif_of "$T/a1/blobs/$h"))"
  fi
  "$FS_MKIMAGE" info "$T/a1/blobs/$h" || fail "$2: the stored copy does not decode"
}

# A phone photo, small enough: the same picture, without the metadata.
"$FS_MKIMAGE" jpeg "$T/gps.jpg" 800 600 --exif
check "the test photo carries the marks" \
  "$(grep -c -a -e "$MARK" "$T/gps.jpg" | awk '{print ($1 > 0)}')" 1
id1=$(record --attach plain="$T/gps.jpg")
check "small JPEG: no metadata, same size in pixels, decodes" \
  "$(stored "$id1" plain)" "800 600"
r=$(ref "$id1" plain)
check "small JPEG: the stored bytes are not the camera's" \
  "$([ "${r% *}" != "$(sha "$T/gps.jpg")" ] && echo changed)" changed
check "small JPEG: stripped, not re-encoded (a few hundred bytes less)" \
  "$(($(stat -c %s "$T/gps.jpg") - ${r#* } < 2000))" 1

# EXIF's orientation alone survives (an upright photo stays upright), in
# an EXIF segment of its own.
"$FS_MKIMAGE" jpeg "$T/turned.jpg" 800 600 --exif --orientation 6
check "the turned photo's EXIF says 6" "$(exif_of "$T/turned.jpg" | cut -d' ' -f1,2)" "1 6"
idt=$(record --attach plain="$T/turned.jpg")
check "small turned JPEG: only the orientation kept" \
  "$(stored "$idt" plain "1 6 32")" "800 600"

# The same photo again is stored once; a damaged copy (a bad sector, a
# crash of an older agent) is mended by it.
h1=$(ref "$id1" plain | cut -d' ' -f1)
n_blobs=$(ls -A "$T/a1/blobs" | wc -l)
# Same size, other bytes: a size check alone would keep it.
printf 'rotten' | dd of="$T/a1/blobs/$h1" bs=1 seek=300 conv=notrunc status=none
idm=$(record --attach plain="$T/gps.jpg")
check "the same photo: the same reference" "$(ref "$idm" plain)" "$(ref "$id1" plain)"
check "one copy, mended" "$(ls -A "$T/a1/blobs" | wc -l) $(sha "$T/a1/blobs/$h1")" "$n_blobs $h1"

# Over max_pixels: scaled down (through scale_denom and the box filter).
"$FS_MKIMAGE" jpeg "$T/big.jpg" 3000 2000 --exif
id2=$(record --attach photo="$T/big.jpg")
dims=$(stored "$id2" photo)
check "large JPEG: within max_pixels" "$((${dims% *} * ${dims#* } <= 1000000))" 1
check "large JPEG: the shape kept, not much smaller than asked" \
  "$(python3 -c "w,h=${dims/ /,}; print(abs(w/h-1.5)<0.01 and w*h>900000)")" True
"$FS_MKIMAGE" jpeg "$T/prog.jpg" 2400 1800 --exif --progressive --orientation 8
id3=$(record --attach photo="$T/prog.jpg")
dims=$(stored "$id3" photo "1 8 32")
check "progressive JPEG: within max_pixels" "$((${dims% *} * ${dims#* } <= 1000000))" 1

# PNGs: text and EXIF chunks dropped; scaled down over max_pixels.
"$FS_MKIMAGE" png "$T/text.png" 300 200 --text
id4=$(record --attach plain="$T/text.png")
check "small PNG: no text chunks, same size in pixels" \
  "$(stored "$id4" plain)" "300 200"
"$FS_MKIMAGE" png "$T/big.png" 1600 1200 --text
id5=$(record --attach photo="$T/big.png")
dims=$(stored "$id5" photo)
check "large PNG: within max_pixels" "$((${dims% *} * ${dims#* } <= 1000000))" 1
check "large PNG: the shape kept" \
  "$(python3 -c "w,h=${dims/ /,}; print(abs(w/h-4/3)<0.01)")" True

# A JPEG in a file field is stripped too: privacy does not depend on the
# field's type.
id6=$(record --attach doc="$T/gps.jpg")
stored "$id6" doc >/dev/null
check "JPEG in a file field: stripped" "$(ref "$id6" doc)" "$(ref "$id1" plain)"

# Refused, nothing stored: damaged, absurd.
n_before=$(sqlite3 "$T/a1/agent.db" "SELECT count(*) FROM submissions")
blobs_before=$(ls -A "$T/a1/blobs" | wc -l)
refused() { # NAME PATTERN ARGS...
  local name=$1 pat=$2 rc=0
  shift 2
  record "$@" >"$T/ref.out" 2>&1 || rc=$?
  check "$name: exit 2" "$rc" 2
  check "$name: says why" "$(grep -c -e "$pat" "$T/ref.out")" 1
}
head -c 20000 "$T/big.jpg" >"$T/cut.jpg"
refused "a cut JPEG over max_pixels" "cannot be read as a JPEG\|damaged JPEG" \
  --attach photo="$T/cut.jpg"
refused "a cut JPEG under it" "cannot be read as a JPEG" \
  --attach plain="$T/cut.jpg"
python3 - "$T/gps.jpg" "$T/huge.jpg" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = b.index(b"\xff\xc0")
b[i + 5:i + 9] = (65000).to_bytes(2, "big") + (65000).to_bytes(2, "big")
open(sys.argv[2], "wb").write(b)
PY
refused "a JPEG claiming 65000 x 65000 pixels" "says it is 65000 x 65000 pixels" \
  --attach photo="$T/huge.jpg"
head -c 3000 "$T/big.png" >"$T/cut.png"
{ cat "$T/gps.jpg"; head -c 70000000 /dev/zero; } >"$T/raw.jpg"
refused "a 70 MB photo for a field that scales down" \
  "is [0-9]* bytes; this field scales photos of up to 67108864 bytes down" \
  --attach photo="$T/raw.jpg"
rm -f "$T/raw.jpg"

"$FS_MKIMAGE" pngsize "$T/over.png" 3000001
refused "a photo over max_bytes where nothing scales it" \
  "is 3000001 bytes; this field takes 1 to 3000000 bytes" \
  --attach plain="$T/over.png"
refused "a cut PNG" "cannot be read as a PNG" --attach plain="$T/cut.png"
check "nothing recorded" \
  "$(sqlite3 "$T/a1/agent.db" "SELECT count(*) FROM submissions")" "$n_before"
check "nothing stored, no temporary file left" \
  "$(ls -A "$T/a1/blobs" | wc -l)" "$blobs_before"

# Hostile bytes: photos with bytes flipped (seeded), stripped as bytes or
# decoded and scaled down, are stored or refused with the reason; never a crash (the sanitizer build aborts
# on a bad read), never stored as they came.
"$FS_MKIMAGE" jpeg "$T/small.jpg" 160 120 --exif --orientation 3
"$FS_MKIMAGE" png "$T/small.png" 160 120 --text
crashes=0 stored_n=0 refused_n=0
for i in $(seq 1 24); do
  src=$T/small.jpg
  [ $((i % 2)) = 0 ] && src=$T/small.png
  python3 - "$src" "$T/mut.img" "$i" <<'PY'
import random, sys
b = bytearray(open(sys.argv[1], "rb").read())
r = random.Random(int(sys.argv[3]))
for _ in range(r.randint(1, 12)):
    b[r.randrange(2, len(b))] = r.randrange(256)
open(sys.argv[2], "wb").write(b)
PY
  field=plain # stripped on the bytes; thumb: decoded and scaled down
  [ $((i % 4)) -ge 2 ] && field=thumb
  rc=0
  record --attach "$field=$T/mut.img" >"$T/mut.out" 2>&1 || rc=$?
  case $rc in
    0) stored_n=$((stored_n + 1))
       id=$(cat "$T/mut.out")
       [ "$(ref "$id" "$field" | cut -d' ' -f1)" != "$(sha "$T/mut.img")" ] ||
         cmp -s "$T/mut.img" "$src" || fail "mutation $i stored as it came" ;;
    2) refused_n=$((refused_n + 1))
       grep -q -e "cannot be read as a" -e "damaged" -e "says it is" -e "does not take" "$T/mut.out" ||
         fail "mutation $i refused without a reason: $(cat "$T/mut.out")" ;;
    *) crashes=$((crashes + 1)); echo "mutation $i: exit $rc" >&2; cat "$T/mut.out" >&2 ;;
  esac
done
echo "mutations: $stored_n stored, $refused_n refused"
check "24 mutated photos: none crashed the agent" "$crashes" 0
check "no temporary file left" "$(find "$T/a1/blobs" -name '.tmp-*' | wc -l)" 0

# What the hub gets is what the device stored.
agent a1 sync --quiet
for pair in "$id1 plain" "$id2 photo" "$id5 photo"; do
  h=$(ref $pair)
  h=${h% *}
  check "at the hub as stored: ${pair#* } ${h:0:12}" "$(sha "$T/blobs/$h")" "$h"
done
finish
