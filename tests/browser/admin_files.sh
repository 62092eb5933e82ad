#!/usr/bin/env bash
# Attachment files on the hub's admin page, in a real browser against a
# real hub: a reviewer opens a submission and sees its photo (fetched
# from the hub with the token and shown within the page's CSP, no
# violation logged), saves its PDF through the page byte for byte, and
# sees "waiting for the device" for a file a device has not sent yet.
. "$(dirname "$0")/../lib.sh"

cat >"$T/form.json" <<'JSON'
{"id": "site_visit", "version": 1, "title": "Site visit",
 "fields": [{"name": "note", "type": "text"},
            {"name": "photo", "type": "image"},
            {"name": "doc", "type": "file"}]}
JSON
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
start_hub

# A valid PNG of W x H pixels, so that the browser must decode it.
mkpng() { # PATH W H
  python3 - "$@" <<'PY'
import os, struct, sys, zlib
path, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
raw = b"".join(b"\0" + os.urandom(w * 3) for _ in range(h))
def chunk(tag, data):
    return (struct.pack(">I", len(data)) + tag + data +
            struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
open(path, "wb").write(b"\x89PNG\r\n\x1a\n" +
    chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
    chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
PY
}
sha() { sha256sum "$1" | cut -c1-64; }
mkpng "$T/pic.png" 64 48
mkpng "$T/late.png" 30 20
{ printf '%%PDF-1.4\n'; head -c 5000 /dev/urandom; } >"$T/consent.pdf"

new_agent north
echo '{"note": "gate"}' >"$T/ans.json"
id1=$(agent north record site_visit --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/pic.png" --attach doc="$T/consent.pdf")
agent north sync --quiet
check "both files at the hub" "$(ls "$T/blobs" | wc -l)" 2

# A device that pushed its submission and has not sent the file.
new_agent east
ETOK=$(sqlite3 "$T/east/agent.db" "SELECT value FROM meta WHERE key='token'")
EDEV=$(sqlite3 "$T/east/agent.db" "SELECT value FROM meta WHERE key='device_id'")
id2=$(cat /proc/sys/kernel/random/uuid)
printf '{"protocol":1,"schema":1,"device":"%s","first_seq":1,"last_seq":1,"changes":[{"seq":1,"kind":"submission","id":"%s","form":"site_visit","form_version":1,"area":"N-01","hlc":"0190000000000000","created_ms":1,"answers":{"note":"later","photo":{"sha256":"%s","size":%d,"type":"image/png","name":"late.png"}}}]}' \
  "$EDEV" "$id2" "$(sha "$T/late.png")" "$(stat -c %s "$T/late.png")" >"$T/push.json"
curl -fsS -H "Authorization: Bearer $ETOK" -H 'Content-Type: application/json' \
  --data-binary @"$T/push.json" "$HUB_URL/api/v1/push" | grep -q '"status":"applied"' ||
  fail "the hand-made push was not applied"

reviewer=$("$FS_HUB" token create --db "$DB" --role reviewer --name rita --areas N-01 2>/dev/null)
FS_URL="$HUB_URL" FS_REVIEWER="$reviewer" FS_WITH="$id1" FS_PENDING="$id2" \
  FS_PDF_SHA="$(sha "$T/consent.pdf")" FS_SHOTS="$T" \
  node "$FS_SRC/tests/browser/admin_files.mjs" || fail "browser checks failed (see above)"
finish
