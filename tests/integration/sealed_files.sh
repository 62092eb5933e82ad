#!/usr/bin/env bash
# sealed_files.sh - a sealed image field (issue 19; SECURITY.md "Sealed
# answers", fs_seal.h "sealed files"): the device encrypts the photo as
# it reads it, stores and uploads only the ciphertext, and the steward
# opens it offline with the key.
#  - refused on the device before anything is stored: a file too large,
#    not an image, a plain reference for the sealed field;
#  - canary: a unique string in the photo, and the photo's own SHA-256,
#    are found nowhere in the agent's directory nor in the hub's database,
#    its log and its blobs/; the same search finds the canary in the
#    store of a control agent whose form does not seal the field;
#  - the hub holds the ciphertext under its hash, its reference only the
#    ciphertext's hash and size, "sealed": true;
#  - open-file with the key gives the photo byte for byte, audited; a
#    wrong key, a wrong passphrase and one flipped byte of the ciphertext
#    are refused and named, and nothing is written;
#  - a hand-made plain reference for the sealed field is refused at push
#    and kept as refused; the plain file cannot be uploaded then.
. "$(dirname "$0")/../lib.sh"

pass="correct horse battery staple"
printf '%s\n' "$pass" >"$T/pass"
printf '%s\n' "not the passphrase at all" >"$T/badpass"
"$FS_HUB" keys generate --out "$T/steward.key" --id steward-2026 \
  --passphrase-fd 3 3<"$T/pass" >/dev/null
"$FS_HUB" keys publish --db "$DB" "$T/steward.key.pub" >/dev/null
"$FS_HUB" keys generate --out "$T/other.key" --id other --passphrase-fd 3 \
  3<"$T/pass" >/dev/null

# The sealed form, and its control under another id without the seal.
python3 - "$T/sealed.json" "$T/open.json" <<'PY'
import json, sys
f = {"id": "sealed_walk", "version": 1, "kind": "survey",
     "title": {"en": "Walk (sealed photo)"}, "seal_key": "steward-2026",
     "fields": [
         {"name": "code", "type": "text", "label": "Code"},
         {"name": "photo", "type": "image", "sealed": True,
          "label": "Photo of the consent form", "max_bytes": 300000,
          "content_types": ["image/png", "image/jpeg"]},
         {"name": "comment", "type": "text", "label": "Comment"}]}
json.dump(f, open(sys.argv[1], "w"))
f["id"] = "open_walk"
del f["seal_key"]
del f["fields"][1]["sealed"]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/sealed.json" >/dev/null
"$FS_HUB" form publish --db "$DB" "$T/open.json" >/dev/null

start_hub
new_agent tab
new_agent ctl
adb() { sqlite3 "$T/tab/agent.db" "$@"; }

# A PNG of 200,000 bytes (more than three chunks) with a canary in its
# pixels (stored uncompressed, so the bytes are there as they are).
canary="SEALEDPHOTOCANARY-$$-$RANDOM"
"${FS_MKIMAGE:?FS_MKIMAGE must name the mkimage tool}" pngsize \
  "$T/consent.png" 200000 "$canary"
sha() { sha256sum "$1" | cut -c1-64; }
P=$(sha "$T/consent.png")
printf '{"code":"A-1","comment":"walk one"}' >"$T/ans.json"

# Refused on the device before anything is stored: too large, not an
# image; a sealed field takes no plain reference either.
{ printf '\211PNG\r\n\032\n'; head -c 299993 /dev/urandom; } >"$T/big.png"
head -c 5000 /dev/urandom >"$T/noise.bin"
printf '{"code":"A-0","photo":{"sha256":"%s","size":200000,"type":"image/png","name":"x.png"}}' \
  "$P" >"$T/plainref.json"
refused_rec() { # WHAT NEEDLE ARGS...
  local what=$1 needle=$2 rc=0
  shift 2
  agent tab record sealed_walk --area N-01 "$@" >"$T/rec.out" 2>&1 || rc=$?
  check "$what: exit 2" "$rc" 2
  grep -qF -- "$needle" "$T/rec.out" || fail "$what: $(cat "$T/rec.out")"
}
refused_rec "an oversized file" "300001 bytes; this field takes 1 to 300000" \
  --answers "$T/ans.json" --attach photo="$T/big.png"
refused_rec "not an image" "which this image field does not take" \
  --answers "$T/ans.json" --attach photo="$T/noise.bin"
refused_rec "a plain reference" "a plain file reference is refused" \
  --answers "$T/plainref.json"
check "nothing recorded, nothing stored" \
  "$(adb "SELECT count(*) FROM submissions") $(ls -A "$T/tab/blobs" 2>/dev/null | wc -l)" "0 0"

id=$(agent tab record sealed_walk --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/consent.png")
agent ctl record open_walk --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/consent.png" >/dev/null
C=$(adb "SELECT json_extract(answers, '\$.photo.sha256') FROM submissions WHERE id = '$id'")
check "the reference: the ciphertext's hash, size and type, sealed" \
  "$(adb "SELECT json_extract(answers, '\$.photo.size') || ' ' || json_extract(answers, '\$.photo.type') || ' ' || json_extract(answers, '\$.photo.sealed') || ' ' || (json_extract(answers, '\$.photo.plain') IS NULL) FROM submissions WHERE id = '$id'")" \
  "200100 application/vnd.fieldsync.sealed 1 1"
check "the agent's store holds the ciphertext under its hash" \
  "$(sha "$T/tab/blobs/$C")" "$C"
check "and nothing else: no plain copy, no temporary file" \
  "$(ls -A "$T/tab/blobs")" "$C"
check "status: one file of 200,100 bytes waiting" \
  "$(agent tab status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["attachments_waiting"], d["attachment_bytes_left"])')" \
  "1 200100"

agent tab sync --quiet
check "the submission is at the hub" \
  "$(sql "SELECT json_extract(answers, '\$.photo.sha256') || ' ' || json_extract(answers, '\$.photo.type') FROM submissions WHERE id = '$id'")" \
  "$C application/vnd.fieldsync.sealed"
check "the hub holds the ciphertext, byte-identical" "$(sha "$T/blobs/$C")" "$C"
check "only it" "$(ls -A "$T/blobs")" "$C"
check "nothing left waiting" \
  "$(agent tab status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachments_waiting"])')" 0

# The canary search: every byte of the agent's directory and of the
# hub's database files and file store, for the canary and for the
# photo's own hash (which would say what the photo is).
sql "PRAGMA wal_checkpoint(PASSIVE)" >/dev/null
places=("$T/tab" "$DB" "$DB-wal" "$T/blobs" "$T/hub.log")
check "the canary: found nowhere" \
  "$(grep -rlaF "$canary" "${places[@]}" 2>/dev/null | wc -l)" 0
check "the photo's hash: found nowhere" \
  "$(grep -rlaF "$P" "${places[@]}" 2>/dev/null | wc -l)" 0
check "control: the same search finds the canary in the open form's store" \
  "$(grep -rlaF "$canary" "$T/ctl" | sed "s|^$T/||")" "ctl/blobs/$P"

# The steward opens it offline, on a copy of the hub's directory.
mkdir -p "$T/copy" "$T/out"
"$FS_HUB" backup --db "$DB" -o "$T/copy/hub.db" >/dev/null
cp -r "$T/blobs" "$T/copy/blobs"
"$FS_HUB" open-file "$id" photo --db "$T/copy/hub.db" --key "$T/steward.key" \
  --passphrase-fd 3 3<"$T/pass" -o "$T/out/photo.png" >"$T/open.out"
check "opened byte for byte" "$(sha "$T/out/photo.png")" "$P"
grep -q "opened photo of submission $id" "$T/open.out" || fail "$(cat "$T/open.out")"
check "the decryption is audited" \
  "$(sqlite3 "$T/copy/hub.db" "SELECT json_extract(detail, '\$.submission') || ' ' || json_extract(detail, '\$.field') || ' ' || json_extract(detail, '\$.key') FROM audit_log WHERE action = 'file.unseal'")" \
  "$id photo steward-2026"
"$FS_HUB" export json --db "$T/copy/hub.db" --form sealed_walk --personal \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass" -o "$T/out/steward.json"
check "export --key shows the plain reference, not the file's key" \
  "$(python3 -c 'import json,sys; a=json.load(open(sys.argv[1]))["submissions"][0]["answers"]["photo"]; print(a["sha256"], a["size"], a["type"], a["name"], "key" in a)' "$T/out/steward.json")" \
  "$P 200000 image/png consent.png False"

# refused WHAT NEEDLE ARGS...: exit 2, the message, nothing written.
refused() {
  local what=$1 needle=$2 rc=0
  shift 2
  "$FS_HUB" open-file "$id" photo --db "$T/copy/hub.db" -o "$T/out/bad.png" \
    "$@" 2>"$T/refused.err" >/dev/null || rc=$?
  check "$what: refused" "$rc" 2
  grep -qF -- "$needle" "$T/refused.err" || fail "$what: $(cat "$T/refused.err")"
  check "$what: nothing written" "$(ls -A "$T/out" | grep -c bad || true)" 0
}
refused "a wrong key" "sealed to key 'steward-2026', not to 'other'" \
  --key "$T/other.key" --passphrase-fd 3 3<"$T/pass"
refused "a wrong passphrase" "wrong passphrase" \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/badpass"
# One bit flipped in the middle of the ciphertext (its second chunk).
python3 - "$T/copy/blobs/$C" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0x01
open(p, "wb").write(bytes(b))
PY
refused "a flipped byte" \
  "submission $id, photo: the sealed file fails its integrity check" \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass"
rm "$T/copy/blobs/$C"
refused "a file that has not arrived" "is not at the hub" \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass"
check "the refusals were audited only when the envelope opened" \
  "$(sqlite3 "$T/copy/hub.db" "SELECT count(*) FROM audit_log WHERE action = 'file.unseal'")" 3

# A hand-made plain reference for the sealed field (an older or altered
# agent): refused at push, fail closed, and its file cannot be uploaded.
id2=$(agent tab record sealed_walk --answers "$T/ans.json" --area N-01 \
  --attach photo="$T/consent.png")
adb "UPDATE submissions SET answers = json_set(answers, '\$.photo', json('{\"sha256\":\"$P\",\"size\":200000,\"type\":\"image/png\",\"name\":\"consent.png\"}')) WHERE id = '$id2'"
cp "$T/consent.png" "$T/tab/blobs/$P"
adb "INSERT INTO attachments(sha256, size, type) VALUES ('$P', 200000, 'image/png')"
rc=0
agent tab sync >"$T/sync2.out" 2>&1 || rc=$?
check "refused at the hub: not stored" \
  "$(sql "SELECT count(*) FROM submissions WHERE id = '$id2'")" 0
check "kept as refused, with the reason" \
  "$(sql "SELECT outcome FROM held_changes WHERE change LIKE '%$id2%' AND message LIKE '%a plain file reference is refused%'")" \
  refused
check "the plain file was not taken" "$(ls -A "$T/blobs" | grep -c "$P" || true)" 0
check "nor is the plain hash in the hub's submissions" \
  "$(sql "SELECT count(*) FROM submissions WHERE answers LIKE '%$P%'")" 0

finish
