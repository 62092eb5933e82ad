#!/usr/bin/env bash
# attach_limits.sh - the limits of the hub's attachment store (issue 19),
# each a clear 4xx/507 JSON error with nothing stored: a file over its
# field's max_bytes (refused by the agent, and by the hub at push), bytes
# that are not the type declared (415), a hash mismatch (422), a chunk
# past the declared length (413), a device over its quota (413 quota;
# another device unaffected), the disk at its free-space floor (507; the
# file waits and goes once the floor is lowered), and a PATCH cut short
# mid-body, whose received bytes the hub keeps.
source "$(dirname "$0")/../lib.sh"

QUOTA=300000
HUB_ARGS="--attach-quota $QUOTA" start_hub
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
printf '%s' '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' \
  >"$T/ans.json"

mkpng() { # PATH BYTES: a valid PNG of exactly BYTES (mkimage pngsize)
  "${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize "$1" "$2"
}
sha() { sha256sum "$1" | cut -c1-64; }
token() { sqlite3 "$T/$1/agent.db" "SELECT value FROM meta WHERE key='token'"; }
# jfield FILE KEY: a string or whole-number member of a JSON reply (sed:
# python3 takes seconds to start on a loaded test machine).
jfield() {
  sed -n -e "s/.*\"$2\":[[:space:]]*\"\([^\"]*\)\".*/\1/p" \
    -e "s/.*\"$2\":[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$1"
}
status_field() { # AGENT KEY
  agent "$1" status --json >"$T/status.json"
  jfield "$T/status.json" "$2"
}
# blob AGENT METHOD HASH OFFSET FILE: one request as the device; the
# status is printed, the body lands in $T/blob.out.
blob() {
  curl -s -o "$T/blob.out" -w '%{http_code}' -X "$2" \
    -H "Authorization: Bearer $(token "$1")" -H "Upload-Offset: $4" \
    --data-binary "@$5" "$HUB_URL/api/v1/blobs/$3"
}
# stored HASH: what blobs/ holds of a file, "none" when nothing.
stored() {
  if [ -e "$T/blobs/$1" ]; then
    echo "whole $(stat -c %s "$T/blobs/$1")"
  elif [ -e "$T/blobs/.part-$1" ]; then
    echo "part $(stat -c %s "$T/blobs/.part-$1")"
  else
    echo none
  fi
}
record() { # AGENT ARGS...: prints the new submission's id
  local a=$1
  shift
  agent "$a" record photo_walk --answers "$T/ans.json" --area N-01 "$@"
}

# ---- a file over its field's max_bytes ------------------------------
new_agent a1
mkpng "$T/big.png" 200001
rc=0
record a1 --attach photo="$T/big.png" >"$T/rec.out" 2>&1 || rc=$?
check "oversized: the agent refuses to record it (exit 2)" "$rc" 2
check "oversized: it says the limit" \
  "$(grep -c '200001 bytes; this field takes 1 to 200000 bytes' "$T/rec.out")" 1
check "oversized: not copied into the agent's store" \
  "$(ls "$T/a1/blobs" 2>/dev/null | grep -c "$(sha "$T/big.png")" || true)" 0

# A hand-made submission declaring more than max_bytes: the hub refuses
# the change at push, and the file is never taken.
mkpng "$T/small.png" 20000
S=$(sha "$T/small.png")
id=$(record a1 --attach photo="$T/small.png")
sqlite3 "$T/a1/agent.db" \
  "UPDATE submissions SET answers = json_set(answers, '\$.photo.size', 250000) WHERE id = '$id'"
agent a1 sync --quiet >"$T/sync.out" 2>&1 || true
check "declared > max_bytes: not stored at the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE id = '$id'")" 0
check "declared > max_bytes: refused with the reason" \
  "$(sqlite3 "$T/a1/agent.db" "SELECT hub_error || ': ' || hub_message FROM submissions WHERE id = '$id'" | grep -c 'photo: size must be 1 to 200000 bytes')" 1
check "declared > max_bytes: kept aside at the hub for an admin" \
  "$(sql "SELECT count(*) FROM held_changes WHERE outcome = 'refused' AND message LIKE '%size must be 1 to 200000%'")" 1
check "declared > max_bytes: the hub will not take the file (404)" \
  "$(blob a1 PATCH "$S" 0 "$T/small.png")" 404
check "... not_referenced" "$(jfield "$T/blob.out" error)" not_referenced
check "declared > max_bytes: nothing in blobs/" "$(stored "$S")" none

# ---- bytes that are not the type declared ---------------------------
# A PDF labelled image/png for the image field: the agent would never
# label it so (it sniffs), so the reference is written by hand, with the
# file in the agent's store under its true hash.
new_agent a2
{ printf '%%PDF-1.4\n'; head -c 90000 /dev/urandom; } >"$T/fake.png"
P=$(sha "$T/fake.png")
mkdir -p "$T/a2/blobs"
cp "$T/fake.png" "$T/a2/blobs/$P"
printf '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2,"photo":{"sha256":"%s","size":%d,"type":"image/png","name":"fake.png"}}' \
  "$P" "$(stat -c %s "$T/fake.png")" >"$T/fake.json"
idp=$(agent a2 record photo_walk --answers "$T/fake.json" --area N-01)
rc=0
agent a2 sync >"$T/sync.out" 2>&1 || rc=$?
check "wrong type: the sync fails (refused, exit 4)" "$rc" 4
check "wrong type: the agent says what the hub sniffed" \
  "$(grep -c "the file's bytes are application/pdf, but submission $idp declares image/png for its image field photo.*(wrong_type)" "$T/sync.out")" 1
grep -q "blob ${P:0:12} refused: its bytes are application/pdf" "$T/hub.log" ||
  fail "the hub did not log the wrong type"
check "wrong type: nothing in blobs/" "$(stored "$P")" none
check "wrong type: the agent still holds the file as waiting" \
  "$(status_field a2 attachments_waiting)" 1
# Sent again by hand, in one chunk: 415 as JSON, nothing kept.
check "wrong type by hand: 415" "$(blob a2 PATCH "$P" 0 "$T/fake.png")" 415
check "... wrong_type" "$(jfield "$T/blob.out" error)" wrong_type
check "... nothing in blobs/" "$(stored "$P")" none

# ---- a hash mismatch, a chunk past the declared length ---------------
new_agent a6
{ printf '%%PDF-1.4\n'; head -c 40000 /dev/urandom; } >"$T/consent.pdf" # 40,009 bytes
D=$(sha "$T/consent.pdf")
record a6 --attach doc="$T/consent.pdf" >/dev/null
# The answers reach the hub; the file is moved away for that sync.
mv "$T/a6/blobs/$D" "$T/consent.held"
agent a6 sync --quiet >/dev/null 2>&1 || true
mv "$T/consent.held" "$T/a6/blobs/$D"
check "the submission referencing the PDF is at the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE json_extract(answers, '\$.doc.sha256') = '$D'")" 1
{ printf '%%PDF-1.4\n'; head -c 40000 /dev/urandom; } >"$T/other.pdf"
check "hash mismatch: 422" "$(blob a6 PATCH "$D" 0 "$T/other.pdf")" 422
check "... hash_mismatch" "$(jfield "$T/blob.out" error)" hash_mismatch
check "hash mismatch: nothing in blobs/" "$(stored "$D")" none
head -c 40010 /dev/urandom >"$T/toolong"
check "past the declared length: 413" "$(blob a6 PATCH "$D" 0 "$T/toolong")" 413
check "... past_length" "$(jfield "$T/blob.out" error)" past_length
check "past the declared length: nothing in blobs/" "$(stored "$D")" none
head -c 30000 "$T/consent.pdf" >"$T/c1"
check "a first chunk is taken" "$(blob a6 PATCH "$D" 0 "$T/c1")" 200
tail -c +30001 "$T/consent.pdf" >"$T/c2"
cat "$T/c2" "$T/c2" >"$T/c2x"
check "a later chunk past the length: 413" "$(blob a6 PATCH "$D" 30000 "$T/c2x")" 413
check "... the .part did not grow" "$(stored "$D")" "part 30000"

# ---- a PATCH cut short mid-body --------------------------------------
# A chunk promising the file's last 10,009 bytes of which 6,000 arrive
# before the link drops: the hub keeps exactly those 6,000.
python3 - "$(hub_port)" "$D" "$(token a6)" "$T/consent.pdf" >"$T/cut.out" <<'PY'
import socket, sys
port, h, tok, path = sys.argv[1:5]
data = open(path, "rb").read()
off, cut = 30000, 6000
rest = data[off:]
s = socket.create_connection(("127.0.0.1", int(port)))
s.sendall((f"PATCH /api/v1/blobs/{h} HTTP/1.1\r\nHost: x\r\n"
           f"Authorization: Bearer {tok}\r\nUpload-Offset: {off}\r\n"
           f"Content-Length: {len(rest)}\r\nConnection: close\r\n\r\n").encode()
          + rest[:cut])
s.shutdown(socket.SHUT_WR)  # the link drops: no more bytes come
s.settimeout(30)
reply = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    reply += b
print(reply.split(b"\r\n", 1)[0].decode())
print(reply.split(b"\r\n\r\n", 1)[1].decode())
PY
check "cut short: the reply is 400" "$(head -n 1 "$T/cut.out" | cut -d' ' -f2)" 400
tail -n +2 "$T/cut.out" >"$T/cut.json"
check "... short_chunk" "$(jfield "$T/cut.json" error)" short_chunk
check "... naming the new offset" "$(jfield "$T/cut.json" offset)" 36000
check "cut short: the bytes that arrived were kept" "$(stored "$D")" "part 36000"
check "... and HEAD says so" \
  "$(curl -sI -H "Authorization: Bearer $(token a6)" "$HUB_URL/api/v1/blobs/$D" | tr -d '\r' | sed -n 's/^Upload-Offset: //p')" 36000
check "... they are the file's bytes" \
  "$(cmp -n 36000 "$T/blobs/.part-$D" "$T/consent.pdf" && echo same)" same
# The agent resumes from there and sends only the rest. (A file of at
# most 64 KiB would go whole in a batch, PROTOCOL.md 4.7; this checks the
# chunked path's resume, so batches are off for this sync.)
sent0=$(status_field a6 attachment_bytes_sent)
FIELDSYNC_FILE_BATCH=0 agent a6 sync --quiet
check "resumed: the PDF is whole and byte-identical" "$(sha "$T/blobs/$D")" "$D"
check "resumed: only the 4,009 bytes the hub lacked were sent" \
  $(($(status_field a6 attachment_bytes_sent) - sent0)) 4009

# ---- a device over its quota ------------------------------------------
new_agent a3
mkpng "$T/q1.png" 190000
mkpng "$T/q2.png" 190000
Q1=$(sha "$T/q1.png") Q2=$(sha "$T/q2.png")
record a3 --attach photo="$T/q1.png" >/dev/null
record a3 --attach photo="$T/q2.png" >/dev/null
rc=0
FIELDSYNC_ATTACH_CHUNK=65536 agent a3 sync >"$T/sync.out" 2>&1 || rc=$?
check "quota: the sync is refused (exit 4)" "$rc" 4
# The first file and one 64 KiB chunk of the second fit in 300,000
# bytes; the next chunk would not. (The chunk is fixed for this: the
# agent sizes its chunks to the link, attach_chunk_size.sh.)
# Files go in the order of their hashes.
if [[ "$Q1" < "$Q2" ]]; then
  first=$Q1 second=$Q2 sfile=$T/q2.png
else
  first=$Q2 second=$Q1 sfile=$T/q1.png
fi
check "quota: the first file is stored" "$(stored "$first")" "whole 190000"
check "quota: the refused chunk was not kept" "$(stored "$second")" "part 65536"
check "quota: the agent says how many bytes and whom to ask" \
  "$(grep -c "this device has 255536 bytes (0.2 MiB) of files at the hub and may have 300000 (0.3 MiB).*hub's admin.*(quota); the file waits on this device" "$T/sync.out")" 1
dd if="$sfile" of="$T/q2c" bs=65536 skip=1 count=1 status=none
check "quota: the hub answers 413 quota as JSON" \
  "$(blob a3 PATCH "$second" 65536 "$T/q2c")" 413
check "... quota" "$(jfield "$T/blob.out" error)" quota
check "quota: still nothing more kept" "$(stored "$second")" "part 65536"
check "quota: the file waits on the device" "$(status_field a3 attachments_waiting)" 1
# Another device is not affected.
new_agent a4
mkpng "$T/r1.png" 190000
record a4 --attach photo="$T/r1.png" >/dev/null
agent a4 sync --quiet
check "quota: another device's file is stored" "$(stored "$(sha "$T/r1.png")")" "whole 190000"

# ---- the disk at its free-space floor ------------------------------------
# A floor far above any real disk's free space: statvfs of blobs/ says
# there is less, so every chunk is refused.
stop_hub
HUB_ARGS="--attach-quota $QUOTA --attach-floor 1000000000000000" start_hub "$(hub_port)"
new_agent a5
mkpng "$T/f1.png" 150000
F=$(sha "$T/f1.png")
idf=$(record a5 --attach photo="$T/f1.png")
rc=0
agent a5 sync >"$T/sync.out" 2>&1 || rc=$?
check "floor: the sync ends early, try later (exit 3)" "$rc" 3
check "floor: the submission is at the hub" \
  "$(sql "SELECT count(*) FROM submissions WHERE id = '$idf'")" 1
check "floor: the agent says why and that nothing is lost" \
  "$(grep -c "keeps at least 953674316.4 MiB free.*(insufficient_storage); the file waits on this device (0 of 150000 bytes at the hub) and is sent on a later sync, nothing is lost" "$T/sync.out")" 1
check "floor: nothing in blobs/" "$(stored "$F")" none
check "floor: status shows the file waiting, all of it" \
  "$(status_field a5 attachments_waiting) $(status_field a5 attachment_bytes_left)" "1 150000"
head -c 1000 "$T/f1.png" >"$T/f1c"
check "floor: the hub answers 507 as JSON" "$(blob a5 PATCH "$F" 0 "$T/f1c")" 507
check "... insufficient_storage" "$(jfield "$T/blob.out" error)" insufficient_storage
check "... nothing kept" "$(stored "$F")" none
grep -q "attachment chunk refused: .* bytes free, the floor is 1000000000000000" "$T/hub.log" ||
  fail "the hub did not log the floor"

# The admin lowers the floor: the next sync sends the file, nothing lost.
stop_hub
HUB_ARGS="--attach-quota $QUOTA" start_hub "$(hub_port)"
agent a5 sync --quiet
check "floor lowered: the file is whole at the hub" "$(sha "$T/blobs/$F")" "$F"
check "floor lowered: nothing waits" "$(status_field a5 attachments_waiting)" 0

finish
