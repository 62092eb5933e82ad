#!/usr/bin/env bash
# attachments.sh - files that answer image and file fields (issue 19):
# the form limits, `record --attach` into the agent's store, the answers
# first and the file after them in chunks, resumed from the hub's durable
# offset; a chunk at a wrong offset, a chunk past the length, a file whose
# bytes do not match its hash, and identical files stored once.
source "$(dirname "$0")/../lib.sh"

start_hub
python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "photo_walk"
f["fields"] += [
    {"name": "photo", "type": "image", "label": {"en": "Photo"},
     "max_bytes": 200000, "content_types": ["image/png", "image/jpeg"]},
    {"name": "doc", "type": "file", "label": {"en": "Consent form"},
     "max_bytes": 100000},
]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null

# Limits that do not fit their type are refused at publish time.
bad_form() { # NAME JQ-LIKE-PYTHON
  python3 - "$T/form.json" "$T/bad.json" "$2" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["version"] = 2
exec(sys.argv[3])
json.dump(f, open(sys.argv[2], "w"))
PY
  if "$FS_HUB" form publish --db "$DB" "$T/bad.json" >"$T/bad.out" 2>&1; then
    fail "$1 was published"
  fi
  check "$1 refused" "$(grep -c "$3" "$T/bad.out")" 1
}
bad_form "max_bytes on a text field" 'f["fields"][5]["max_bytes"] = 10' \
  'max_bytes: applies to image, audio and file fields only'
bad_form "an audio type for an image field" \
  'f["fields"][6]["content_types"] = ["audio/ogg"]' 'image fields take image/\* types only'
bad_form "max_bytes of 0" 'f["fields"][6]["max_bytes"] = 0' \
  'max_bytes: must be a whole number from 1'

new_agent a1
answers='{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}'
printf '%s' "$answers" >"$T/ans.json"
# A PNG of exactly N bytes of random pixels (mkimage pngsize): it decodes,
# and holds no metadata, so the agent stores it byte for byte.
mkpng() {
  "${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$1" "$2"
}
mkpng "$T/pic.png" 150000
sha() { sha256sum "$1" | cut -c1-64; }
H=$(sha "$T/pic.png")

id1=$(agent a1 record photo_walk --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/pic.png")
check "the file is in the agent's store under its hash" \
  "$(sha "$T/a1/blobs/$H")" "$H"
check "the answer references it" \
  "$(sqlite3 "$T/a1/agent.db" "SELECT json_extract(answers, '\$.photo.sha256') || ' ' || json_extract(answers, '\$.photo.size') || ' ' || json_extract(answers, '\$.photo.type') || ' ' || json_extract(answers, '\$.photo.name') FROM submissions WHERE id = '$id1'")" \
  "$H 150000 image/png pic.png"
agent a1 status --json >"$T/st.json"
check "status: one file waiting" \
  "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["attachments_waiting"], d["attachment_bytes_left"])' "$T/st.json")" \
  "1 150000"
check "status text says so" \
  "$(agent a1 status | grep -c '1 waiting to be sent, 150000 bytes left')" 1

# Refused at the device, nothing recorded: too large, wrong type, not an
# attachment field.
n_before=$(sqlite3 "$T/a1/agent.db" "SELECT count(*) FROM submissions")
mkpng "$T/big.png" 200001
head -c 5000 /dev/urandom >"$T/noise.bin"
refused() { # NAME PATTERN ARGS...
  local name=$1 pat=$2 rc=0
  shift 2
  agent a1 record photo_walk --answers "$T/ans.json" --area N-01 "$@" \
    >"$T/ref.out" 2>&1 || rc=$?
  check "$name: exit 2" "$rc" 2
  check "$name: says why" "$(grep -c -- "$pat" "$T/ref.out")" 1
}
refused "an oversized file" "200001 bytes; this field takes 1 to 200000 bytes" \
  --attach photo="$T/big.png"
refused "a file that is not an image" "which this image field does not take" \
  --attach photo="$T/noise.bin"
refused "a field that takes no file" "age_band: not an image, audio or file field" \
  --attach age_band="$T/pic.png"
printf '{"photo":{"sha256":"%s","size":5,"type":"image/png","name":"x.png"}}' \
  "$(printf '%064d' 0 | tr 0 a)" >"$T/ghost.json"
rc=0
agent a1 record photo_walk --answers "$T/ghost.json" --area N-01 >"$T/ref.out" 2>&1 || rc=$?
check "a reference to a file the device lacks: exit 2" "$rc" 2
check "... and says so" "$(grep -c "the file is not in this device's store" "$T/ref.out")" 1
check "nothing recorded by the refusals" \
  "$(sqlite3 "$T/a1/agent.db" "SELECT count(*) FROM submissions")" "$n_before"
check "the refused files were not copied" \
  "$(ls "$T/a1/blobs" | grep -c -e "$(sha "$T/big.png")" -e "$(sha "$T/noise.bin")" || true)" 0

# A dropped upload: the answers reach the hub, the file does not (it is
# away from the store for this sync), then part of it arrives.
mv "$T/a1/blobs/$H" "$T/held.png"
rc=0
agent a1 sync --quiet >"$T/sync1.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "sync without the file succeeded"
check "the submission is at the hub at once" \
  "$(sql "SELECT json_extract(answers, '\$.photo.sha256') FROM submissions WHERE id = '$id1'")" "$H"
mv "$T/held.png" "$T/a1/blobs/$H"
tok=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")
blob() { # METHOD OFFSET FILE -> status and body in $T/blob.out
  curl -s -o "$T/blob.out" -w '%{http_code}' -X "$1" \
    -H "Authorization: Bearer $tok" -H "Upload-Offset: $2" \
    --data-binary "@$3" "$HUB_URL/api/v1/blobs/$H"
}
head -c 70000 "$T/pic.png" >"$T/part1"
check "a first chunk is taken" "$(blob PATCH 0 "$T/part1")" 200
check "the hub says its offset" \
  "$(curl -s -H "Authorization: Bearer $tok" "$HUB_URL/api/v1/blobs/$H")" \
  '{"offset":70000,"size":150000,"complete":false}'
check "HEAD gives it in Upload-Offset" \
  "$(curl -sI -H "Authorization: Bearer $tok" "$HUB_URL/api/v1/blobs/$H" | tr -d '\r' | sed -n 's/^Upload-Offset: //p')" 70000
check "a chunk at a wrong offset: 409" "$(blob PATCH 0 "$T/part1")" 409
check "... with the hub's offset" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$T/blob.out")" \
  offset_mismatch
grep -q 'holds 70000 of 150000 bytes' "$T/blob.out" || fail "409 without the offset: $(cat "$T/blob.out")"
check "nothing appended by it" "$(stat -c %s "$T/blobs/.part-$H")" 70000
head -c 90000 /dev/urandom >"$T/toolong"
check "a chunk past the declared length: 413" "$(blob PATCH 70000 "$T/toolong")" 413
check "nothing appended by it either" "$(stat -c %s "$T/blobs/.part-$H")" 70000
check "not visible under its hash while partial" \
  "$(ls "$T/blobs" | grep -c "^$H\$" || true)" 0
check "another device's file cannot be uploaded: 404" \
  "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" \
    "$HUB_URL/api/v1/blobs/$(printf '%064d' 7)")" 404
check "no token, no upload" \
  "$(curl -s -o /dev/null -w '%{http_code}' "$HUB_URL/api/v1/blobs/$H")" 401

# The agent resumes from the hub's 70,000 bytes.
sent0=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attachment_bytes_sent"])' "$T/st.json")
agent a1 sync --quiet
agent a1 status --json >"$T/st.json"
sent=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["attachment_bytes_sent"] - '"$sent0"', d["attachments_waiting"], d["attachment_bytes_left"])' "$T/st.json")
check "resumed: only the 80,000 bytes the hub lacked were sent" "$sent" "80000 0 0"
check "the file at the hub is byte-identical" "$(sha "$T/blobs/$H")" "$H"
check "no partial file left" "$(ls -A "$T/blobs" | grep -c '^\.part' || true)" 0

# Identical file in a second submission: stored once, not sent again.
id2=$(agent a1 record photo_walk --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/pic.png")
agent a1 sync --quiet
check "the second submission is at the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE id = '$id2'")" 1
check "one file for both" "$(ls "$T/blobs" | wc -l)" 1
agent a1 status --json >"$T/st2.json"
check "nothing sent for the copy" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["attachment_bytes_sent"] - json.load(open(sys.argv[2]))["attachment_bytes_sent"])' "$T/st2.json" "$T/st.json")" 0

# A file whose bytes do not match its hash is refused whole.
{ printf '%%PDF-1.4\n'; head -c 30000 /dev/urandom; } >"$T/consent.pdf"
D=$(sha "$T/consent.pdf")
agent a1 record photo_walk --answers "$T/ans.json" --area N-01 \
  --attach doc="$T/consent.pdf" >/dev/null
check "a file field takes a PDF" \
  "$(sqlite3 "$T/a1/agent.db" "SELECT count(*) FROM attachments WHERE sha256 = '$D' AND type = 'application/pdf'")" 1
# Same size, other bytes: what a corrupted store or a lying client sends.
{ printf '%%PDF-1.4\n'; head -c 30000 /dev/urandom; } >"$T/a1/blobs/$D"
rc=0
agent a1 sync >"$T/sync2.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a file with the wrong bytes was accepted"
check "the agent says the hash did not match" \
  "$(grep -c 'hash to' "$T/sync2.out")" 1
check "nothing kept at the hub for it" \
  "$(ls -A "$T/blobs" | grep -c "$D" || true)" 0
grep -q "blob ${D:0:12} refused" "$T/hub.log" || fail "the hub did not log the refusal"
# Its own copy does not hash to its name either: marked damaged, not
# waiting to be sent again (tests/reliability/attach_crash.sh mends it).
check "the agent marks its copy damaged, not waiting" \
  "$(agent a1 status --json | python3 -c 'import json,sys; d = json.load(sys.stdin); print(d["attachments_waiting"], d["attachments_damaged"])')" "0 1"

finish
