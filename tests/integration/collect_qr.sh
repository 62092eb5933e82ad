#!/usr/bin/env bash
# enroll-code --collect draws the ODK Collect settings QR code of the new
# device: a PNG (--qr) and the terminal drawing (--qr-text). A decoder
# nobody here wrote (zbarimg, ZBar) reads both; what they carry is
# base64(zlib(JSON)) as Collect reads it, with the server URL the command
# printed, and that URL serves the device's form list. The PNG holds the
# token, so it is mode 0600. Asking for a QR code without --collect, or
# one that cannot be written, is refused before anything is enrolled.
. "$(dirname "$0")/../lib.sh"

command -v zbarimg >/dev/null || fail "zbarimg is not installed (scripts/bootstrap)"

# decode_payload FILE: the JSON inside a code's payload (one line).
decode_payload() {
  python3 -c '
import base64, json, sys, zlib
raw = open(sys.argv[1]).read().strip()
print(json.dumps(json.loads(zlib.decompress(base64.b64decode(raw, validate=True))), sort_keys=True))
' "$1"
}

publish_sample_form
start_hub
devices() { sql 'SELECT count(*) FROM devices'; }

umask 022
"$FS_HUB" enroll-code --db "$DB" --name tab-1 --areas CITY-N01 \
  --forms demo_household --collect "$HUB_URL/" --qr "$T/tab.png" --qr-text \
  >"$T/out.txt"
url=$(head -n 1 "$T/out.txt")
case $url in
  "$HUB_URL/openrosa/key/"*) ;;
  *) fail "first line is not the device's server URL: $url" ;;
esac
check "one device enrolled" "$(devices)" 1
check "the PNG is mode 0600 (it holds the token)" "$(stat -c %a "$T/tab.png")" 600

zbarimg --raw -q "$T/tab.png" >"$T/png.payload" 2>"$T/zbar.err" ||
  fail "zbarimg finds no QR code in the PNG"
check "the PNG carries Collect's settings with the printed URL" \
  "$(decode_payload "$T/png.payload")" \
  "{\"admin\": {}, \"general\": {\"autosend\": \"wifi_and_cellular\", \"form_update_mode\": \"match_exactly\", \"server_url\": \"$url\"}, \"project\": {\"name\": \"fieldsync: tab-1\"}}"

# The terminal drawing, turned back into a bitmap (a half block is two
# modules, one above the other) and read by the same decoder.
tail -n +2 "$T/out.txt" >"$T/qr.txt"
python3 - "$T/qr.txt" "$T/qr.pbm" <<'EOF'
import re, sys
rows = []
for line in open(sys.argv[1], encoding="utf-8"):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line.rstrip("\n"))
    top = [c in "\u2588\u2580" for c in line]
    bottom = [c in "\u2588\u2584" for c in line]
    if any(ch not in " \u2588\u2580\u2584" for ch in line):
        sys.exit("unexpected character in the drawing: %r" % line)
    rows += [top, bottom]
width = len(rows[0])
if any(len(r) != width for r in rows):
    sys.exit("ragged drawing")
scale = 6
with open(sys.argv[2], "w") as f:
    f.write("P1\n%d %d\n" % (width * scale, len(rows) * scale))
    for r in rows:
        line = " ".join("1" if d else "0" for d in r for _ in range(scale))
        for _ in range(scale):
            f.write(line + "\n")
EOF
zbarimg --raw -q "$T/qr.pbm" >"$T/text.payload" 2>>"$T/zbar.err" ||
  fail "zbarimg finds no QR code in the terminal drawing"
check "the terminal drawing carries the same payload" \
  "$(cat "$T/text.payload")" "$(cat "$T/png.payload")"

# What the code points Collect at works: the device's form list.
check "the URL in the code serves the device's form list" \
  "$(curl -sS -o /dev/null -w '%{http_code}' -H 'X-OpenRosa-Version: 1.0' "$url/formList")" 200

# Without a terminal and without --qr-text, scripts get the URL alone.
"$FS_HUB" enroll-code --db "$DB" --name tab-2 --collect "$HUB_URL" \
  >"$T/plain.txt" 2>/dev/null
check "without a terminal only the URL is printed" "$(wc -l <"$T/plain.txt")" 1
check "two devices enrolled" "$(devices)" 2

# Refused before anything is enrolled.
rc=0
"$FS_HUB" enroll-code --db "$DB" --name tab-3 --qr "$T/no.png" \
  >/dev/null 2>"$T/err1" || rc=$?
check "--qr without --collect: exit 2" "$rc" 2
grep -q -- '--collect' "$T/err1" || fail "the message does not name --collect: $(cat "$T/err1")"
check "no PNG written" "$([ -e "$T/no.png" ] && echo yes || echo no)" no
rc=0
"$FS_HUB" enroll-code --db "$DB" --name tab-4 --collect "$HUB_URL" \
  --qr "$T/missing-dir/tab.png" >/dev/null 2>"$T/err2" || rc=$?
check "--qr into a missing directory: exit 2" "$rc" 2
grep -q 'cannot write' "$T/err2" || fail "the message does not say what failed: $(cat "$T/err2")"
check "still two devices (nothing enrolled)" "$(devices)" 2
check "no code stored either" "$(sql 'SELECT count(*) FROM enrol_codes')" 2

finish
