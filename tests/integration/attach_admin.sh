#!/usr/bin/env bash
# attach_admin.sh - attachment files served to hub admins and reviewers
# (issue 19): GET /api/v1/admin/submissions/ID/files/FIELD gives the file
# byte for byte, within the token's areas only, with headers that keep a
# browser from running it (nosniff, a sandbox CSP, "attachment", a type
# from the file's own bytes); a field marked personal only to an admin
# who asks (audited), also when the mark came in a later version of the
# form; the submissions list says which files are stored
# and which the device has not finished sending, and the download of
# one still on its way is a JSON 404 until its last chunk arrives.
source "$(dirname "$0")/../lib.sh"

cat >"$T/form.json" <<'JSON'
{"id": "site_visit", "version": 1, "title": "Site visit",
 "fields": [{"name": "note", "type": "text"},
            {"name": "photo", "type": "image", "max_bytes": 400000,
             "content_types": ["image/png", "image/jpeg"]},
            {"name": "doc", "type": "file", "max_bytes": 100000},
            {"name": "face", "type": "image", "personal": true}]}
JSON
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
HUB_ARGS="--rate-limit 1000" start_hub

# A valid PNG of W x H random pixels: it does not compress, so a 200 x 150
# one is ~90 KB, more than one 64 KiB chunk each way.
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
mkpng "$T/pic.png" 200 150
mkpng "$T/face.png" 16 16
mkpng "$T/pic2.png" 40 30
{ printf '%%PDF-1.4\n'; head -c 20000 /dev/urandom; } >"$T/consent.pdf"

new_agent north
new_agent south
echo '{"note": "gate"}' >"$T/ans.json"
id1=$(agent north record site_visit --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/pic.png" --attach doc="$T/consent.pdf" \
  --attach face="$T/face.png")
id2=$(agent south record site_visit --answers "$T/ans.json" --area N-02 \
  --attach photo="$T/pic2.png")
agent north sync --quiet
agent south sync --quiet
check "the files are at the hub" "$(ls "$T/blobs" | sort | tr '\n' ' ')" \
  "$(printf '%s\n' "$(sha "$T/pic.png")" "$(sha "$T/face.png")" "$(sha "$T/pic2.png")" "$(sha "$T/consent.pdf")" | sort | tr '\n' ' ')"

tok() { "$FS_HUB" token create --db "$DB" "$@" 2>/dev/null; }
ADMIN=$(tok --role admin --name ada)
ADMIN_N2=$(tok --role admin --name ada_n2 --areas N-02)
REV_N1=$(tok --role reviewer --name rita --areas N-01)
REV_N2=$(tok --role reviewer --name remy --areas N-02)
DEVTOK=$(sqlite3 "$T/north/agent.db" "SELECT value FROM meta WHERE key='token'")

# get TOKEN PATH: the status; headers in $T/h (no CRs), body in $T/b.
get() {
  local auth=()
  [ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
  curl -sS -D "$T/h.raw" -o "$T/b" -w '%{http_code}' "${auth[@]}" "$HUB_URL$2"
  tr -d '\r' <"$T/h.raw" >"$T/h"
}
header() { sed -n "s/^$1: //Ip" "$T/h"; }
jerr() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["error"], "|", d["message"])' "$T/b"; }
file() { echo "/api/v1/admin/submissions/$1/files/$2${3:+?$3}"; }

# --- the admin downloads: byte-identical, with the protective headers ---
check "admin downloads the photo" "$(get "$ADMIN" "$(file "$id1" photo)")" 200
check "... byte-identical" "$(sha "$T/b")" "$(sha "$T/pic.png")"
check "Content-Type from the file's bytes" "$(header Content-Type)" image/png
check "Content-Length" "$(header Content-Length)" "$(stat -c %s "$T/pic.png")"
check "a download, not a page" "$(header Content-Disposition)" \
  "attachment; filename=\"$id1-photo.png\""
check "nosniff" "$(header X-Content-Type-Options)" nosniff
check "sandboxed if opened" "$(header Content-Security-Policy)" \
  "default-src 'none'; sandbox"
check "kept by no cache" "$(header Cache-Control)" "private, no-store"
check "an image asked inline" "$(get "$ADMIN" "$(file "$id1" photo inline=1)")" 200
check "... is inline" "$(header Content-Disposition)" "inline; filename=\"$id1-photo.png\""
check "... the same bytes" "$(sha "$T/b")" "$(sha "$T/pic.png")"
check "a PDF asked inline" "$(get "$ADMIN" "$(file "$id1" doc inline=1)")" 200
check "... is still a download" "$(header Content-Disposition)" \
  "attachment; filename=\"$id1-doc.pdf\""
check "... of no type a browser renders" "$(header Content-Type)" application/octet-stream
check "... byte-identical" "$(sha "$T/b")" "$(sha "$T/consent.pdf")"
check "inline=2 is a bad parameter" "$(get "$ADMIN" "$(file "$id1" photo inline=2)")" 400
check "... JSON" "$(jerr | cut -d' ' -f1)" bad_parameter
check "personal=yes too" "$(get "$ADMIN" "$(file "$id1" photo personal=yes)")" 400

# --- scope: a submission outside the token's areas does not exist for it ---
check "the N-01 reviewer downloads the N-01 photo" \
  "$(get "$REV_N1" "$(file "$id1" photo)")" 200
check "... byte-identical" "$(sha "$T/b")" "$(sha "$T/pic.png")"
check "the N-02 reviewer is refused the N-01 photo" \
  "$(get "$REV_N2" "$(file "$id1" photo)")" 404
check "... with a JSON error and no file" "$(jerr)" \
  "not_found | no submission $id1 in this token's areas"
check "an N-02 admin is refused it too" "$(get "$ADMIN_N2" "$(file "$id1" photo)")" 404
check "the N-02 reviewer gets the N-02 photo" "$(get "$REV_N2" "$(file "$id2" photo)")" 200
check "... byte-identical" "$(sha "$T/b")" "$(sha "$T/pic2.png")"
check "the N-01 reviewer is refused the N-02 photo" \
  "$(get "$REV_N1" "$(file "$id2" photo)")" 404
check "a device token is refused" "$(get "$DEVTOK" "$(file "$id1" photo)")" 403
check "no token, no file" "$(get "" "$(file "$id1" photo)")" 401

# --- a field marked personal: admins who ask, audited ---------------------
audits() { sql "SELECT count(*) FROM audit_log WHERE action='attachment.read_personal'"; }
check "a reviewer is refused the personal photo" \
  "$(get "$REV_N1" "$(file "$id1" face)")" 403
check "... saying why" "$(jerr)" \
  "forbidden | field face is marked personal or sensitive: only hub admins may read its file"
check "a reviewer asking personal=1 too" "$(get "$REV_N1" "$(file "$id1" face personal=1)")" 403
check "an admin without personal=1 is refused" "$(get "$ADMIN" "$(file "$id1" face)")" 403
check "nothing audited by the refusals" "$(audits)" 0
check "an admin with personal=1 gets it" "$(get "$ADMIN" "$(file "$id1" face personal=1)")" 200
check "... byte-identical" "$(sha "$T/b")" "$(sha "$T/face.png")"
check "... and the read is audited under the token's name" \
  "$(sql "SELECT actor || '|' || json_extract(detail, '\$.submission') || '|' || json_extract(detail, '\$.field') FROM audit_log WHERE action='attachment.read_personal'")" \
  "token:ada|$id1|face"

# --- bad requests: JSON 404s --------------------------------------------
check "a bad field name" "$(get "$ADMIN" "$(file "$id1" Bad-Name)")" 404
check "... JSON" "$(jerr | cut -d' ' -f1)" not_found
check "a field that is not a file" "$(get "$ADMIN" "$(file "$id1" note)")" 404
check "... says so" "$(jerr)" "not_found | submission $id1 has no file in field note"
check "a field the form lacks" "$(get "$ADMIN" "$(file "$id1" nosuch)")" 404
check "an unknown submission" \
  "$(get "$ADMIN" "$(file 01900000-0000-7000-8000-00000000abcd photo)")" 404
check "not a submission id" "$(get "$ADMIN" "$(file not-an-id photo)")" 404
check "... JSON" "$(jerr | cut -d' ' -f1)" not_found
check "no field" "$(get "$ADMIN" "/api/v1/admin/submissions/$id1/files/")" 404
check "a path past the field" "$(get "$ADMIN" "$(file "$id1" photo)/x")" 404

# --- the list: each file's state ------------------------------------------
subs() { # TOKEN QUERY PYTHON-EXPR-ON-d
  curl -fsS -H "Authorization: Bearer $1" "$HUB_URL/api/v1/admin/submissions?$2" |
    python3 -c "import json,sys; d={s['id']: s for s in json.load(sys.stdin)['submissions']}; print($3)"
}
check "the list shows each visible file, stored" \
  "$(subs "$ADMIN" "" "json.dumps(d['$id1'].get('attachments'), sort_keys=True), d['$id1'].get('attachments_pending')")" \
  "{\"doc\": {\"name\": \"consent.pdf\", \"size\": 20009, \"status\": \"stored\", \"type\": \"application/pdf\"}, \"photo\": {\"name\": \"pic.png\", \"size\": $(stat -c %s "$T/pic.png"), \"status\": \"stored\", \"type\": \"image/png\"}} 0"
check "the personal file only in a personal read" \
  "$(subs "$ADMIN" personal=1 "d['$id1']['attachments']['face']['status']")" stored

# --- a file the device has not finished sending -------------------------
# A device that pushed its submission and then went quiet: a changeset by
# hand with its own token, the file not uploaded.
new_agent east
ETOK=$(sqlite3 "$T/east/agent.db" "SELECT value FROM meta WHERE key='token'")
EDEV=$(sqlite3 "$T/east/agent.db" "SELECT value FROM meta WHERE key='device_id'")
mkpng "$T/late.png" 200 120
{ printf '<html><script>alert(document.cookie)</script>'; head -c 3000 /dev/urandom; } >"$T/page.html"
L=$(sha "$T/late.png") LS=$(stat -c %s "$T/late.png")
P=$(sha "$T/page.html") PS=$(stat -c %s "$T/page.html")
id3=$(cat /proc/sys/kernel/random/uuid)
seq=$(( $(sql "SELECT acked_seq FROM devices WHERE id='$EDEV'") + 1 ))
printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[{"seq":%d,"kind":"submission","id":"%s","form":"site_visit","form_version":1,"area":"N-01","hlc":"0190000000000000","created_ms":1,"answers":{"note":"later","photo":{"sha256":"%s","size":%d,"type":"image/png","name":"late.png"},"doc":{"sha256":"%s","size":%d,"type":"application/octet-stream","name":"notes.html"}}}]}' \
  "$EDEV" "$seq" "$seq" "$seq" "$id3" "$L" "$LS" "$P" "$PS" >"$T/push.json"
curl -fsS -H "Authorization: Bearer $ETOK" -H 'Content-Type: application/json' \
  --data-binary @"$T/push.json" "$HUB_URL/api/v1/push" >"$T/push.out"
grep -q '"status":"applied"' "$T/push.out" || fail "hand-made push not applied: $(cat "$T/push.out")"
check "the list: two files pending" \
  "$(subs "$ADMIN" "" "d['$id3']['attachments']['photo']['status'], d['$id3']['attachments']['doc']['status'], d['$id3']['attachments_pending']")" \
  "pending pending 2"
check "a pending file: 404" "$(get "$ADMIN" "$(file "$id3" photo)")" 404
check "... saying it is on its way" "$(jerr)" \
  "attachment_pending | attachment pending: the device has not finished sending it"
chunk() { # HASH OFFSET FILE
  curl -s -o "$T/chunk.out" -w '%{http_code}' -X PATCH -H "Authorization: Bearer $ETOK" \
    -H "Upload-Offset: $2" --data-binary @"$3" "$HUB_URL/api/v1/blobs/$1"
}
head -c 40000 "$T/late.png" >"$T/late.1"
tail -c +40001 "$T/late.png" >"$T/late.2"
check "the first part arrives" "$(chunk "$L" 0 "$T/late.1")" 200
check "a part is not served" "$(get "$ADMIN" "$(file "$id3" photo)")" 404
check "... still pending" "$(jerr | cut -d' ' -f1)" attachment_pending
check "... in the list too" "$(subs "$ADMIN" "" "d['$id3']['attachments']['photo']['status']")" pending
check "the rest arrives" "$(chunk "$L" 40000 "$T/late.2")" 200
check "now it is served" "$(get "$REV_N1" "$(file "$id3" photo)")" 200
check "... byte-identical" "$(sha "$T/b")" "$L"
check "the list: stored, one left pending" \
  "$(subs "$ADMIN" "" "d['$id3']['attachments']['photo']['status'], d['$id3']['attachments_pending']")" \
  "stored 1"

# A file field's bytes that are a web page: never served as one.
check "the page-like file arrives" "$(chunk "$P" 0 "$T/page.html")" 200
check "it is served inline=1 as" "$(get "$ADMIN" "$(file "$id3" doc inline=1)")" 200
check "... no type a browser renders" "$(header Content-Type)" application/octet-stream
check "... a download" "$(header Content-Disposition)" "attachment; filename=\"$id3-doc.bin\""
check "... nosniff" "$(header X-Content-Type-Options)" nosniff
check "... the same bytes" "$(sha "$T/b")" "$P"

# --- a mark set in a later version holds for every version's rows --------
python3 - "$T/form.json" "$T/form2.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["version"] = 2
for fld in f["fields"]:
    if fld["name"] == "photo":
        fld["sensitive"] = True
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form2.json" >/dev/null
check "a version-1 photo, marked sensitive in version 2: refused to the reviewer" \
  "$(get "$REV_N1" "$(file "$id1" photo)")" 403
check "... and to an admin who does not ask personal=1" "$(get "$ADMIN" "$(file "$id1" photo)")" 403
check "... and gone from the default list" \
  "$(subs "$ADMIN" "" "sorted(d['$id1'].get('attachments', {}))")" "['doc']"

# --- the admin page: images shown from the hub ----------------------------
get "" / >/dev/null
header Content-Security-Policy | grep -q "img-src 'self' data: blob:;" ||
  fail "the page's CSP does not admit the images it fetches: $(header Content-Security-Policy)"
get "" /ui/review.js >/dev/null
grep -q '/files/' "$T/b" || fail "the page does not fetch files"
grep -q 'waiting for the device' "$T/b" || fail "the page does not show pending files"
echo "ok - the admin page fetches files and allows them as images"
finish
