#!/usr/bin/env bash
# attach_webapp.sh - the form app's file questions (issue 19): the agent's
# local web API describes an image question for <input type=file
# accept="image/*" capture="environment"> and a file question with its
# content types; an upload to drafts/ID/file is stored by the same code as
# `record --attach` (limits with their messages, EXIF stripped, scaled
# down to max_pixels), answers the current question with the reference,
# and the finalized submission carries its files to the hub.
source "$(dirname "$0")/../lib.sh"
rel_trap

: "${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}"
MARK=FS-PRIVATE-MARK

start_hub
cat >"$T/form.json" <<'JSON'
{"id": "photo_walk", "version": 1, "kind": "survey", "area": "required",
 "title": {"en": "Photo walk"},
 "fields": [
  {"name": "photo", "type": "image", "label": {"en": "The centre"},
   "required": true, "max_bytes": 3000000, "max_pixels": 1000000},
  {"name": "consent", "type": "file", "label": {"en": "Consent form"},
   "max_bytes": 100000, "content_types": ["application/pdf"]},
  {"name": "comment", "type": "text", "label": {"en": "Comment"}}
 ]}
JSON
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
new_agent tab

"$FS_AGENT" --dir "$T/tab" serve --listen 127.0.0.1:0 --port-file "$T/app.port" \
  >"$T/serve.out" 2>"$T/serve.log" &
BG_PIDS+=("$!")
for i in $(seq 1 600); do [ -s "$T/app.port" ] && break; sleep 0.05; done
[ -s "$T/app.port" ] || fail "serve did not start"
APP="http://127.0.0.1:$(cat "$T/app.port")"
secret=$(sqlite3 "$T/tab/agent.db" "SELECT value FROM meta WHERE key = 'web_secret'")
# post PATH [curl args]: prints the status, the body into $T/body.
post() {
  local path=$1
  shift
  curl -sS -o "$T/body" -w '%{http_code}' -X POST \
    -H "Cookie: fieldsync_device=$secret" -H 'X-Fieldsync: 1' "$@" "$APP/api$path"
}
js() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/body"; }
blobs() { find "$T/tab/blobs" -type f 2>/dev/null | wc -l; }

check "a draft starts" \
  "$(post /drafts -H 'Content-Type: application/json' --data '{"form":"photo_walk","area":"N-01"}')" 201
id=$(js 'd["id"]')
check "the photo question is for the camera" \
  "$(js 'd["question"]["name"], d["question"]["type"], d["question"]["accept"], d["question"]["capture"], d["question"]["max_pixels"]')" \
  "photo image image/* environment 1000000"

# Refused uploads change nothing.
"$FS_MKIMAGE" jpeg "$T/centre.jpg" 3000 2000 --exif
head -c 30000 "$T/centre.jpg" >"$T/cut.jpg"
check "not the current question: 409" \
  "$(post "/drafts/$id/file?field=consent&name=a.pdf" --data-binary @"$T/centre.jpg")" 409
check "a damaged photo: 422" \
  "$(post "/drafts/$id/file?field=photo&name=cut.jpg" --data-binary @"$T/cut.jpg")" 422
check "it says why" "$(js '"cannot be read as a JPEG" in d["message"] or "damaged JPEG" in d["message"]')" True
check "no file stored, no temporary file" "$(blobs)" 0
check "the draft still asks for the photo" \
  "$(curl -sS -H "Cookie: fieldsync_device=$secret" "$APP/api/drafts/$id" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["question"]["name"])')" photo

# The photo: stripped, scaled down, and the answer.
check "the photo is taken: 200" \
  "$(post "/drafts/$id/file?field=photo&name=DCIM%2FIMG_0042.jpg" --data-binary @"$T/centre.jpg")" 200
check "the next question is the consent form, its types offered" \
  "$(js 'd["question"]["name"], d["question"]["accept"], "capture" in d["question"]')" \
  "consent application/pdf False"
draft_ref() {
  sqlite3 "$T/tab/agent.db" "SELECT json_extract(answers, '\$.$1.$2') FROM drafts WHERE id = '$id'"
}
H=$(draft_ref photo sha256)
check "the reference names the stored file (base name only)" \
  "$(draft_ref photo name) $(sha256sum "$T/tab/blobs/$H" | cut -c1-64)" "IMG_0042.jpg $H"
if grep -q -a -e "$MARK" -e Exif "$T/tab/blobs/$H"; then fail "EXIF left in the upload"; fi
dims=$("$FS_MKIMAGE" info "$T/tab/blobs/$H")
check "scaled down within max_pixels, decodes" "$((${dims% *} * ${dims#* } <= 1000000))" 1

# The consent form: type and size limits, as on the command line.
"$FS_MKIMAGE" pngsize "$T/scan.png" 5000
check "a PNG for a PDF question: 422" \
  "$(post "/drafts/$id/file?field=consent&name=scan.png" --data-binary @"$T/scan.png")" 422
check "it says why" "$(js '"is image/png, which this file field does not take" in d["message"]')" True
{ printf '%%PDF-1.4\n'; head -c 199991 /dev/zero; } >"$T/big.pdf"
check "a PDF over max_bytes: 422" \
  "$(post "/drafts/$id/file?field=consent&name=big.pdf" --data-binary @"$T/big.pdf")" 422
check "it says why" "$(js '"is 200000 bytes; this field takes 1 to 100000 bytes" in d["message"]')" True
check "still one file stored" "$(blobs)" 1
{ printf '%%PDF-1.4\n'; head -c 20000 /dev/urandom; } >"$T/consent.pdf"
check "the consent form: 200" \
  "$(post "/drafts/$id/file?field=consent&name=consent.pdf" --data-binary @"$T/consent.pdf")" 200
check "stored as it is" "$(draft_ref consent sha256)" "$(sha256sum "$T/consent.pdf" | cut -c1-64)"
check "the comment" \
  "$(post "/drafts/$id/answer" -H 'Content-Type: application/json' --data '{"field":"comment","text":"the centre, from the road"}')" 200
check "finalized" "$(post "/drafts/$id/finalize" -H 'Content-Type: application/json' --data '{}')" 200
sid=$(js 'd["id"]')
check "two files wait to be sent" \
  "$(sqlite3 "$T/tab/agent.db" "SELECT count(*) FROM submission_attachments WHERE submission_id = '$sid'") $(agent tab status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachments_waiting"])')" \
  "2 2"

agent tab sync --quiet
for h in "$H" "$(sha256sum "$T/consent.pdf" | cut -c1-64)"; do
  check "at the hub, byte-identical: ${h:0:12}" \
    "$(sha256sum "$T/blobs/$h" | cut -c1-64)" "$h"
done
check "the submission at the hub references the photo" \
  "$(sql "SELECT json_extract(answers, '\$.photo.sha256') FROM submissions WHERE form_id = 'photo_walk'")" "$H"
finish
