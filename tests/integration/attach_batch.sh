#!/usr/bin/env bash
# attach_batch.sh - small files in batches (issue 19, "10,000 tiny
# files"; PROTOCOL.md 4.7): a real hub and agent, ATTACH_BATCH_N tiny
# files each answering a submission's file field; every
# one ends at the hub byte-identical exactly once, in a few requests.
# Then crafted batches: a file whose bytes do not match its hash among
# good ones, an unreferenced hash, malformed bodies (400, nothing stored),
# over-limit bodies (413); and a store copy that no longer matches its
# name is left out of the batches by the agent.
source "$(dirname "$0")/../lib.sh"

# 2,000 by default: 10,000 took about four minutes on a busy 2-core
# machine under the sanitizers (ATTACH_BATCH_N=10000 runs them;
# bench/attach_batch.sh times 10,000 with and without batches).
N=${ATTACH_BATCH_N:-2000}
start_hub
python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/form.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "notes_walk"
f["fields"] += [{"name": "doc", "type": "file", "label": {"en": "Note"},
                 "max_bytes": 100000}]
json.dump(f, open(sys.argv[2], "w"))
PY
"$FS_HUB" form publish --db "$DB" "$T/form.json" >/dev/null
new_agent a1
printf '%s' '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' \
  >"$T/ans.json"
sha() { sha256sum "$1" | cut -c1-64; }
printf 'first note\n' >"$T/first.txt"
agent a1 record notes_walk --answers "$T/ans.json" --area N-01 \
  --attach doc="$T/first.txt" >/dev/null

# N more submissions, each with its own tiny file (lib.sh).
tiny_files a1 "$N" doc 19
check "$((N + 1)) files wait at the agent" \
  "$(agent a1 status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachments_waiting"])')" \
  $((N + 1))

# One sync sends them all, traced: a line per file request.
mkdir "$T/trace"
t0=$(ms_now)
FIELDSYNC_TRACE_DIR="$T/trace" agent a1 sync --quiet
t1=$(ms_now)
batches=$(grep -c '^blobs batch' "$T/trace/pushes.log" || true)
single=$(grep -c '^blob \(GET\|PATCH\)' "$T/trace/pushes.log" || true)
echo "figures: files=$((N + 1)) batches=$batches per_file_requests=$single sync_ms=$((t1 - t0))"
check "no file went one at a time" "$single" 0
# About 190 bytes a file with its header entry, 256 KiB a batch.
[ "$batches" -ge 1 ] && [ "$batches" -le $(((N + 1) / 500 + 2)) ] ||
  fail "$batches batches for $((N + 1)) files"
check "every batch answered 200" \
  "$(grep '^blobs batch' "$T/trace/pushes.log" | grep -vc ': 200$' || true)" 0
check "nothing waits at the agent" \
  "$(agent a1 status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["attachments_waiting"], d["attachment_bytes_left"])')" \
  "0 0"
# Exactly once, byte-identical: the hub's blobs/ holds one file per hash
# the agent holds, each hashing to its name, and nothing else.
(cd "$T/blobs" && ls -A) | sort >"$T/hub.names"
sqlite3 "$T/a1/agent.db" "SELECT sha256 FROM attachments" | sort >"$T/agent.names"
check "the hub holds exactly the agent's files" \
  "$(comm -3 "$T/hub.names" "$T/agent.names" | wc -l)" 0
check "one file each" "$(wc -l <"$T/hub.names")" $((N + 1))
(cd "$T/blobs" && find . -maxdepth 1 -type f -printf '%f\n' | sort |
  xargs sha256sum | awk '$1 != substr($2, 1, 64) { bad++ } END { print bad + 0 }') \
  >"$T/bad.count"
check "every file at the hub hashes to its name" "$(cat "$T/bad.count")" 0
check "the bytes sent are counted" \
  "$(agent a1 status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachment_bytes_sent"])')" \
  "$(sqlite3 "$T/a1/agent.db" "SELECT sum(size) FROM attachments")"
check "the hub logged the batches" \
  "$(grep -c 'blob batch from a1' "$T/hub.log")" "$batches"

# ---- crafted batches ----------------------------------------------------
# Three more submissions whose files the hub has not: their store copies
# are away during the sync, so the answers arrive and the files wait.
for i in 1 2 3; do
  printf 'crafted note %d %s\n' "$i" "$(head -c 30 /dev/urandom | base64)" >"$T/c$i.txt"
  agent a1 record notes_walk --answers "$T/ans.json" --area N-01 \
    --attach doc="$T/c$i.txt" >/dev/null
  mv "$T/a1/blobs/$(sha "$T/c$i.txt")" "$T/c$i.away"
done
# A fourth whose reference (edited before it is pushed, as a device that
# lies would send it) declares a PDF for bytes that are plain text.
printf 'crafted note 4, not a PDF\n' >"$T/c4.txt"
id4=$(agent a1 record notes_walk --answers "$T/ans.json" --area N-01 \
  --attach doc="$T/c4.txt")
mv "$T/a1/blobs/$(sha "$T/c4.txt")" "$T/c4.away"
sqlite3 "$T/a1/agent.db" "UPDATE submissions SET answers = json_set(answers, '\$.doc.type', 'application/pdf') WHERE id = '$id4'"
rc=0
agent a1 sync --quiet >"$T/sync.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a sync without the store copies succeeded"
grep -q 'missing from this device' "$T/sync.out" ||
  fail "the agent did not say the files are missing: $(cat "$T/sync.out")"
tok=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")
# post_batch SPEC: builds a body from SPEC (python: a list of (hash,
# size, bytes), or raw bytes), posts it; status in $code, reply in
# $T/batch.out.
post_batch() {
  python3 - "$T/batch.body" "$1" <<'PY'
import hashlib, json, sys
def f(p): return open(p, "rb").read()
def h(b): return hashlib.sha256(b).hexdigest()
def entry(b, name=None, size=None):
    return (name or h(b), len(b) if size is None else size, b)
def batch(*files):
    head = json.dumps({"files": [{"sha256": n, "size": s} for n, s, _ in files]})
    return head.encode() + b"\n" + b"".join(b for _, _, b in files)
body = eval(sys.argv[2])
open(sys.argv[1], "wb").write(body)
PY
  code=$(curl -s -o "$T/batch.out" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer $tok" --data-binary "@$T/batch.body" \
    "$HUB_URL/api/v1/blobs")
}
statuses() {
  python3 -c 'import json,sys; print(" ".join(f["status"] for f in json.load(open(sys.argv[1]))["files"]))' "$T/batch.out"
}
err() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"])' "$T/batch.out"
}
blobs_state() { ls -A "$T/blobs" | sha256sum; }
C1=$(sha "$T/c1.txt") C2=$(sha "$T/c2.txt") C3=$(sha "$T/c3.txt")
before=$(blobs_state)

# Malformed bodies: 400, nothing stored (each would store c1 if taken).
malformed() { # NAME SPEC
  post_batch "$2"
  check "$1: 400" "$code" 400
  check "$1: malformed" "$(err)" malformed
  check "$1: nothing stored" "$(blobs_state)" "$before"
}
malformed "no header line" 'f("'"$T"'/c1.away")'
malformed "the body shorter than the header says" \
  'batch(entry(f("'"$T"'/c1.away")), entry(f("'"$T"'/c2.away")))[:-3]'
malformed "bytes after the last file" \
  'batch(entry(f("'"$T"'/c1.away"))) + b"x"'
malformed "a name that is not a hash" \
  'batch(entry(f("'"$T"'/c1.away")), entry(b"x", "ABC"))'
malformed "a file listed twice" \
  'batch(entry(f("'"$T"'/c1.away")), entry(f("'"$T"'/c1.away")))'
malformed "a size of 0" \
  'batch(entry(f("'"$T"'/c1.away")), entry(b"", "'"$C2"'"))'
malformed "a file over 64 KiB" \
  'batch(entry(f("'"$T"'/c1.away")), entry(b"y" * 65537, "'"$C2"'"))'
malformed "a header that is not JSON" \
  'b"{\"files\": [\n" + f("'"$T"'/c1.away")'
malformed "no files" 'b"{\"files\": []}\n"'

# Over the limits: 413, nothing stored.
post_batch 'batch(entry(f("'"$T"'/c1.away")), *[entry(b"z%d" % i) for i in range(1001)])'
check "1,001 files in a batch: 413" "$code" 413
check "... nothing stored" "$(blobs_state)" "$before"
head -c $((1024 * 1024 + 1)) /dev/zero >"$T/big.body"
code=$(curl -s -o "$T/batch.out" -w '%{http_code}' -X POST \
  -H "Authorization: Bearer $tok" --data-binary "@$T/big.body" \
  "$HUB_URL/api/v1/blobs")
check "a body over 1 MiB: 413" "$code" 413
check "... too_big" "$(err)" too_big
check "... nothing stored" "$(blobs_state)" "$before"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \
  --data-binary "@$T/c1.away" "$HUB_URL/api/v1/blobs")
check "no token, no batch" "$code" 401
code=$(curl -s -o /dev/null -w '%{http_code}' \
  -H "Authorization: Bearer $tok" "$HUB_URL/api/v1/blobs")
check "GET of the batch endpoint: 405" "$code" 405

# A file whose bytes do not match its hash among good ones, an
# unreferenced file, a referenced hash with another size, and a file the
# hub holds already: each answered on its own, the good ones stored.
# c1 is half way through a chunked upload: the batch completes it under
# the same lock, and the partial file goes.
head -c 10 "$T/c1.away" >"$T/c1.head"
check "a first chunk of c1" "$(curl -s -o /dev/null -w '%{http_code}' -X PATCH \
  -H "Authorization: Bearer $tok" -H "Upload-Offset: 0" \
  --data-binary "@$T/c1.head" "$HUB_URL/api/v1/blobs/$C1")" 200
x=$(printf 'no submission names me' | sha256sum | cut -c1-64)
post_batch 'batch(entry(f("'"$T"'/c1.away")), entry(b"crafted note 3 " + f("'"$T"'/c3.away")[15:][::-1], "'"$C3"'"), entry(b"no submission names me"), entry(f("'"$T"'/c2.away")[:-1], "'"$C2"'"), entry(f("'"$T"'/first.txt")))'
check "a mixed batch: 200" "$code" 200
check "each file answered on its own" "$(statuses)" \
  "stored hash_mismatch not_referenced not_referenced had"
check "the good file is at the hub, byte-identical" "$(sha "$T/blobs/$C1")" "$C1"
check "the mismatched file is not" "$(ls -A "$T/blobs" | grep -c "$C3" || true)" 0
check "the unreferenced file is not" "$(ls -A "$T/blobs" | grep -c "$x" || true)" 0
check "the short copy is not" "$(ls -A "$T/blobs" | grep -c "$C2" || true)" 0
check "no temporary file left" "$(ls -A "$T/blobs" | grep -c '^\.' || true)" 0
check "the chunked path sees c1 complete" \
  "$(curl -s -H "Authorization: Bearer $tok" "$HUB_URL/api/v1/blobs/$C1" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["offset"] == d["size"], d["complete"])')" \
  "True True"
grep -q "blob ${C3:0:12} refused in a batch" "$T/hub.log" ||
  fail "the hub did not log the mismatch"

# The bytes of a file in a batch are sniffed as a chunked file's are: c4
# is answered wrong_type and not kept (the others of the batch are).
C4=$(sha "$T/c4.txt")
post_batch 'batch(entry(f("'"$T"'/c4.away")), entry(f("'"$T"'/first.txt")))'
check "a file not of its declared type: 200" "$code" 200
check "... answered wrong_type, beside the others" "$(statuses)" "wrong_type had"
check "... and not kept" "$(ls -A "$T/blobs" | grep -c "$C4" || true)" 0
# c4 stays out of the rest: the device is told it is done with it.
sqlite3 "$T/a1/agent.db" "UPDATE attachments SET sent = size WHERE sha256 = '$C4'"

# The agent finishes: c2 and c3 go in a batch, c1 is had.
for i in 1 2 3; do mv "$T/c$i.away" "$T/a1/blobs/$(sha "$T/c$i.txt")"; done
# On a terminal the progress counts the files sent.
script -qec "'$FS_AGENT' --dir '$T/a1' sync" /dev/null >"$T/progress.out" ||
  fail "sync failed: $(cat "$T/progress.out")"
check "the progress counts the files sent" \
  "$(tr '\r' '\n' <"$T/progress.out" | grep -c '^files: 3/3 sent')" 1
for c in "$C1" "$C2" "$C3"; do
  check "${c:0:8} at the hub, byte-identical" "$(sha "$T/blobs/$c")" "$c"
done
check "nothing waits" \
  "$(agent a1 status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["attachments_waiting"])')" 0

# A store copy that no longer hashes to its name (same size, other
# bytes) is left out of the batches: the per-file path sends it, the hub
# refuses it once with a message, and it stays waiting at the agent.
printf 'a note that will rot\n' >"$T/rot.txt"
R=$(sha "$T/rot.txt")
agent a1 record notes_walk --answers "$T/ans.json" --area N-01 \
  --attach doc="$T/rot.txt" >/dev/null
printf 'a note that did rot!\n' >"$T/a1/blobs/$R"
# And a file in the store that no submission references (as if its
# record had been lost): the hub answers not_referenced, and the agent
# must not take that for sent.
printf 'an orphan note\n' >"$T/orphan.txt"
O=$(sha "$T/orphan.txt")
cp "$T/orphan.txt" "$T/a1/blobs/$O"
sqlite3 "$T/a1/agent.db" "INSERT INTO attachments (sha256, size, type) VALUES ('$O', $(stat -c %s "$T/orphan.txt"), 'application/octet-stream')"
rm -rf "$T/trace" && mkdir "$T/trace"
rc=0
FIELDSYNC_TRACE_DIR="$T/trace" agent a1 sync >"$T/sync.out" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "a rotten file was accepted"
check "the rotten file is not sent in a batch, the orphan is" \
  "$(grep '^blobs batch' "$T/trace/pushes.log" | sed 's/ [0-9]* bytes//')" "blobs batch 1 files: 200"
grep -q "blob ${R:0:12} refused: its bytes hash" "$T/hub.log" ||
  fail "the per-file path did not bring the refusal"
check "the agent says the hash did not match" "$(grep -c 'hash to' "$T/sync.out")" 1
check "nothing kept at the hub for it" "$(ls -A "$T/blobs" | grep -c "$R" || true)" 0
check "the orphan still waits, the rotten file is marked damaged" \
  "$(agent a1 status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["attachments_waiting"], d["attachments_damaged"])')" "1 1"
check "the orphan is not at the hub" "$(ls -A "$T/blobs" | grep -c "$O" || true)" 0
check "the hub holds one file per good hash" "$(ls -A "$T/blobs" | wc -l)" $((N + 4))

finish
