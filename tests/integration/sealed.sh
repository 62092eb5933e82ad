#!/usr/bin/env bash
# Sealed answers (issue 17, SECURITY.md "Sealed answers"): a form's sealed
# fields are sealed on the device at finalize and opened only offline with
# the steward's key.
#  - canary: unique strings in sealed answers, recorded directly and
#    through a draft saved, resumed and finalized, are found nowhere in
#    the agent's directory nor in the hub's database files, a backup and
#    the CLI exports without the key; the same search finds the canaries
#    of a control form without sealing in those same places;
#  - the device shows "sealed", the hub's exports and API too;
#  - replay: the hub stores the device's ciphertext byte for byte, and a
#    resend is "already there";
#  - steward round trip: export --key gives exactly the recorded answers;
#    a wrong passphrase, a wrong key and one flipped byte are refused,
#    named, and nothing is written;
#  - the hub refuses sealed fields in plain text; a sealed dedupe key is
#    refused at publish;
#  - amendment: sealed again, the device asks the sealed fields again;
#  - rotation: a form version sealed to a key the device has not received
#    cannot be finalized (the draft stays) until the key arrives; each
#    version opens with its own key only.
. "$(dirname "$0")/../lib.sh"

pass="correct horse battery staple"
printf '%s\n' "$pass" >"$T/pass"
printf '%s\n' "not the passphrase at all" >"$T/badpass"
mkdir -p "$T/in" "$T/out"
"$FS_HUB" keys generate --out "$T/steward.key" --id steward-2026 \
  --passphrase-fd 3 3<"$T/pass" >/dev/null
"$FS_HUB" keys publish --db "$DB" "$T/steward.key.pub" >/dev/null
check "the key file holds no plain secret" \
  "$(grep -c '"secret"' "$T/steward.key")" 1
check "the public file holds no secret" \
  "$(grep -c secret "$T/steward.key.pub" || true)" 0
check "key listed with its form count" \
  "$("$FS_HUB" keys list --db "$DB" --csv | tail -n 1 | cut -d, -f1,2)" \
  "steward-2026,0"

# Bad input: each refused with what to do, nothing made or changed.
refuse_cli() { # WHAT NEEDLE COMMAND...: exit 2, the message, stderr
  local what=$1 needle=$2 rc=0
  shift 2
  "$@" >/dev/null 2>"$T/cli.err" || rc=$?
  check "$what: refused" "$rc" 2
  grep -qF -- "$needle" "$T/cli.err" || fail "$what: $(cat "$T/cli.err")"
}
refuse_cli "a key file is never overwritten" "never overwritten" \
  "$FS_HUB" keys generate --out "$T/steward.key" --passphrase-fd 3 3<"$T/pass"
printf 'short\n' >"$T/short"
refuse_cli "a short passphrase" "fewer than 12 characters" \
  "$FS_HUB" keys generate --out "$T/short.key" --passphrase-fd 3 3<"$T/short"
check "no key made" "$(ls "$T"/short.key* 2>/dev/null | wc -l)" 0
refuse_cli "no terminal, no descriptor" "--passphrase-fd N" \
  setsid "$FS_HUB" keys generate --out "$T/notty.key"
"$FS_HUB" keys generate --out "$T/same-id.key" --id steward-2026 \
  --passphrase-fd 3 3<"$T/pass" >/dev/null
refuse_cli "another key under a published id" "a published key never changes" \
  "$FS_HUB" keys publish --db "$DB" "$T/same-id.key.pub"
check "the published key is unchanged" \
  "$(sql "SELECT public_key FROM seal_keys WHERE id = 'steward-2026'")" \
  "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["public_key"])' "$T/steward.key.pub")"
refuse_cli "a passphrase as an argument" "unknown option --passphrase" \
  "$FS_HUB" export csv --db "$DB" --form x --key "$T/steward.key" --passphrase "$pass"

form="$FS_SRC/tests/fixtures/forms/sealed_survey.json"
"$FS_HUB" form publish --db "$DB" "$form" >/dev/null
# The control: the same form under another id, with no sealed mark.
python3 - "$form" "$T/in/open_survey.json" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "open_survey"
for k in ("sealed", "seal_key"):
    f.pop(k)
for fld in f["fields"]:
    fld.pop("sealed", None)
json.dump(f, open(sys.argv[2], "w"))
EOF
"$FS_HUB" form publish --db "$DB" "$T/in/open_survey.json" >/dev/null

# A dedupe key may not be sealed: the hub must see it.
python3 - "$form" "$T/in/bad_dedupe.json" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "bad_dedupe"
f["fields"][0]["sealed"] = True
json.dump(f, open(sys.argv[2], "w"))
EOF
rc=0
"$FS_HUB" form publish --db "$DB" "$T/in/bad_dedupe.json" >/dev/null \
  2>"$T/bad_dedupe.err" || rc=$?
check "a sealed dedupe key is refused" "$rc" 1
grep -q "'household_code' is in the dedupe key and cannot be sealed" \
  "$T/bad_dedupe.err" || fail "no clear message: $(cat "$T/bad_dedupe.err")"
check "not published" "$(sql "SELECT count(*) FROM forms WHERE id = 'bad_dedupe'")" 0

start_hub
new_agent tab
adb() { sqlite3 "$T/tab/agent.db" "$@"; }
check "the device received the key" \
  "$(adb "SELECT id FROM seal_keys")" steward-2026

# Another connection holds the agent's database open all along (as the
# form app's does), so the log is not simply removed when the agent's
# command ends: what clears it is the agent's own checkpoint.
mkfifo "$T/hold"
sqlite3 "$T/tab/agent.db" <"$T/hold" >/dev/null &
holder=$!
exec {hold}>"$T/hold"
echo "SELECT count(*) FROM meta;" >&$hold

# record FORM PREFIX I: answers with canaries PREFIX-I-*.
record() {
  printf '{"household_code":"HC-%04d","age_band":"25-34","tension_seen":"often","experience":"%s-%d-exp","contact_name":"%s-%d-name","comment":"free text %d"}' \
    "$3" "$2" "$3" "$2" "$3" "$3" >"$T/in/$1.$3.json"
  agent tab record "$1" --answers "$T/in/$1.$3.json" --area N-01
}
for i in 1 2 3; do
  record sealed_survey SEALCANARY "$i" >>"$T/sealed.ids"
  record open_survey OPENCANARY "$i" >>"$T/open.ids"
done
# Through a draft: saved (its plaintext in the database and the log),
# resumed, finalized.
fill_draft() { # FORM PREFIX
  printf '%s\n' N-01 HC-0009 2 3 "$2-9-exp" "$2-9-name" 'free text 9' ':save' |
    agent tab fill "$1" >"$T/fill.$1.out"
  local d
  d=$(sed -n 's/^Saved as draft \([0-9a-f-]*\)\..*/\1/p' "$T/fill.$1.out")
  [ -n "$d" ] || fail "no draft: $(tail -3 "$T/fill.$1.out")"
  printf '%s\n' y | agent tab resume "$d" >"$T/resume.$1.out"
  grep -q "^Finalized: $d" "$T/resume.$1.out" ||
    fail "not finalized: $(tail -3 "$T/resume.$1.out")"
  echo "$d"
}
fill_draft sealed_survey SEALCANARY >>"$T/sealed.ids"
grep -q "stay plain on this device until you finalize" "$T/fill.sealed_survey.out" ||
  fail "the fill did not say that drafts are plain: $(head -3 "$T/fill.sealed_survey.out")"
fill_draft open_survey OPENCANARY >>"$T/open.ids"
check "no draft left" "$(adb "SELECT count(*) FROM drafts")" 0

first=$(head -n 1 "$T/sealed.ids")
agent tab show "$first" >"$T/show"
grep -q "^  What happened to you?: sealed$" "$T/show" ||
  fail "show: $(cat "$T/show")"
grep -q "^  Anything else: free text 1$" "$T/show" || fail "show: $(cat "$T/show")"

agent tab sync --quiet
check "all at the hub" "$(sql "SELECT count(*) FROM submissions")" 8
# Replay: the hub holds the device's bytes, and a resend changes nothing.
check "stored as sent, byte for byte" \
  "$(sql "ATTACH '$T/tab/agent.db' AS ag; SELECT count(*) FROM submissions h JOIN ag.submissions a ON a.id = h.id AND a.rev = h.rev WHERE h.form_id = 'sealed_survey' AND a.answers = h.answers AND h.answers LIKE '%\"_sealed\":{%'")" 4
stored() { sql "SELECT id, rev, digest, answers FROM submissions ORDER BY id, rev" | sha256sum; }
before=$(stored)
adb "UPDATE meta SET value = '0' WHERE key = 'acked_seq'"
agent tab sync --quiet
check "a resend (the same ciphertext) changes nothing at the hub" "$(stored)" "$before"
check "and is acknowledged again" "$(adb "SELECT value FROM meta WHERE key = 'acked_seq'")" 8

# What a reader without the key gets.
"$FS_HUB" export csv --db "$DB" --form sealed_survey --personal -o "$T/out/plain.csv"
"$FS_HUB" export json --db "$DB" --form sealed_survey --personal -o "$T/out/plain.json"
"$FS_HUB" export csv --db "$DB" --form open_survey --personal -o "$T/out/open.csv"
check "csv without the key shows sealed" \
  "$(grep HC-0001 "$T/out/plain.csv" | tr -d '\r' | cut -d, -f12-)" \
  "HC-0001,25-34,sealed,sealed,sealed,free text 1"
grep -q '"_sealed":\["tension_seen","experience","contact_name"\]' "$T/out/plain.json" ||
  fail "json: $(head -c 600 "$T/out/plain.json")"
token=$("$FS_HUB" token create --db "$DB" --role admin --name steward-test)
curl -fsS -H "Authorization: Bearer $token" \
  "$HUB_URL/api/v1/admin/export/csv?form=sealed_survey&personal=1" >"$T/out/api.csv"
check "the API export shows sealed" \
  "$(grep -c ',sealed,sealed,sealed,' "$T/out/api.csv")" 4
curl -fsS -H "Authorization: Bearer $token" \
  "$HUB_URL/api/v1/admin/submissions?form=sealed_survey&personal=1" >"$T/out/api.json"
check "the submissions API lists the sealed fields, no envelope" \
  "$(grep -o '"_sealed":\["tension_seen","experience","contact_name"\]' "$T/out/api.json" | wc -l) $(grep -c '"wrap"' "$T/out/api.json" || true)" "4 0"
"$FS_HUB" backup --db "$DB" -o "$T/out/backup.db" >/dev/null

# The canary search: every byte of the agent's directory, the hub's
# database files, a backup and the exports.
places=("$T/tab" "$DB" "$DB-wal" "$DB-shm" "$T/out")
found() { # PREFIX: the files that hold it
  grep -rlaF "$1" "${places[@]}" 2>/dev/null | sort || true
}
check "sealed canaries: found nowhere" "$(found SEALCANARY | wc -l)" 0
open_hits=$(found OPENCANARY)
echo "$open_hits" | grep -q "^$T/tab/" || fail "control: not in the agent's files"
echo "$open_hits" | grep -qE "^$DB(-wal)?$" || fail "control: not in the hub's database: $open_hits"
echo "$open_hits" | grep -q "^$T/out/backup.db$" || fail "control: not in the backup"
echo "$open_hits" | grep -q "^$T/out/open.csv$" || fail "control: not in the export"
echo "ok - control canaries found in the same places ($(echo "$open_hits" | wc -l) files)"
exec {hold}>&-
wait "$holder"

# The steward, offline, with the key: exactly the recorded answers.
"$FS_HUB" export json --db "$DB" --form sealed_survey --personal \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass" -o "$T/steward.json"
check "opened answers are the recorded ones" "$(python3 - "$T/steward.json" "$T/in" <<'EOF'
import json, sys, os
got = {s["answers"]["household_code"]: s["answers"]
       for s in json.load(open(sys.argv[1]))["submissions"]}
want = {}
for i in (1, 2, 3):
    a = json.load(open(os.path.join(sys.argv[2], "sealed_survey.%d.json" % i)))
    want[a["household_code"]] = a
want["HC-0009"] = {"household_code": "HC-0009", "age_band": "25-34",
                   "tension_seen": "often", "experience": "SEALCANARY-9-exp",
                   "contact_name": "SEALCANARY-9-name", "comment": "free text 9"}
print("same" if got == want else "differ: %r" % got)
EOF
)" same
check "each decryption audited" \
  "$(sql "SELECT json_extract(detail, '$.key') || ' ' || json_extract(detail, '$.sealed_opened') FROM audit_log WHERE action = 'export.unseal'")" \
  "steward-2026 4"

# refused WHAT ARGS...: exit 2, a message, and no file written.
refused() {
  local what=$1 rc=0
  shift
  rm -f "$T/steward.csv"
  "$FS_HUB" export csv --db "$DB" --form sealed_survey --personal \
    -o "$T/steward.csv" "$@" 2>"$T/refused.err" || rc=$?
  check "$what: refused" "$rc" 2
  check "$what: nothing written" "$(ls "$T"/steward.csv* 2>/dev/null | wc -l)" 0
}
refused "wrong passphrase" --key "$T/steward.key" --passphrase-fd 3 3<"$T/badpass"
grep -q "wrong passphrase for $T/steward.key" "$T/refused.err" ||
  fail "$(cat "$T/refused.err")"
"$FS_HUB" keys generate --out "$T/other.key" --id other --passphrase-fd 3 \
  3<"$T/pass" >/dev/null
refused "wrong key" --key "$T/other.key" --passphrase-fd 3 3<"$T/pass"
grep -q "sealed to key 'steward-2026', not to 'other'" "$T/refused.err" ||
  fail "$(cat "$T/refused.err")"
refused "only a public key" --key "$T/steward.key.pub" --passphrase-fd 3 3<"$T/pass"
grep -q "holds only a public key" "$T/refused.err" || fail "$(cat "$T/refused.err")"

# One byte flipped in the hub's database: named, never exported.
victim=$(sed -n 2p "$T/sealed.ids")
python3 - "$DB" "$victim" <<'EOF'
import base64, json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
(text,) = db.execute("SELECT answers FROM submissions WHERE id = ?", (sys.argv[2],)).fetchone()
a = json.loads(text)
ct = bytearray(base64.b64decode(a["_sealed"]["ct"]))
ct[len(ct) // 2] ^= 0x01
a["_sealed"]["ct"] = base64.b64encode(bytes(ct)).decode()
db.execute("UPDATE submissions SET answers = ? WHERE id = ?",
           (json.dumps(a, separators=(",", ":")), sys.argv[2]))
db.commit()
EOF
refused "a flipped byte" --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass"
grep -q "submission $victim: the sealed answers fail their integrity check" \
  "$T/refused.err" || fail "$(cat "$T/refused.err")"

# ODK Collect cannot seal: no XForm of a sealed form.
rc=0
"$FS_HUB" form xform --db "$DB" --form sealed_survey >/dev/null 2>"$T/xform.err" || rc=$?
check "no XForm of a sealed form" "$rc" 2
grep -q "ODK Collect cannot do" "$T/xform.err" || fail "$(cat "$T/xform.err")"
collect=$("$FS_HUB" enroll-code --db "$DB" --name collect-tab --collect "$HUB_URL/" 2>/dev/null)
curl -fsS "${collect%/}/formList" >"$T/formlist.xml"
check "Collect's form list leaves the sealed form out" \
  "$(grep -o '<formID>[a-z_]*</formID>' "$T/formlist.xml" | tr '\n' ' ')" \
  "<formID>open_survey</formID> "

# The hub refuses sealed fields in plain text (an older agent, a
# correction typed by an admin).
printf '{"household_code":"HC-0001","age_band":"25-34","experience":"typed"}' >"$T/in/plain.json"
rc=0
"$FS_HUB" correct --db "$DB" "$first" --answers "$T/in/plain.json" \
  >/dev/null 2>"$T/plain.err" || rc=$?
check "plain sealed answers refused at the hub" "$rc" 2
grep -q "came in plain text" "$T/plain.err" || fail "$(cat "$T/plain.err")"

# An admin correction keeps the envelope as it is.
third=$(sed -n 3p "$T/sealed.ids")
sql "SELECT json_set(answers, '$.comment', 'corrected by an admin') FROM submissions WHERE id = '$third' ORDER BY rev DESC LIMIT 1" >"$T/in/corrected.json"
"$FS_HUB" correct --db "$DB" "$third" --answers "$T/in/corrected.json" >/dev/null

# An amendment: the device cannot pre-fill sealed answers; it asks them
# again, and the new revision is sealed with a new key.
printf '%s\n' '' '' 1 'AMENDED-exp' 'AMENDED-name' '' y |
  agent tab amend "$first" >"$T/amend.out"
grep -q "are asked again" "$T/amend.out" || fail "amend: $(head -5 "$T/amend.out")"
grep -q "^Finalized: $first" "$T/amend.out" || fail "amend: $(tail -3 "$T/amend.out")"
agent tab sync --quiet
check "revision 2 sealed with its own key" \
  "$(sql "SELECT count(DISTINCT json_extract(answers, '$._sealed.wrap')) FROM submissions WHERE id = '$first'")" 2
# The tampered one aside (its own version of the truth is gone), the
# amendment opens with the key.
sql "DELETE FROM submissions WHERE id = '$victim'"
"$FS_HUB" export csv --db "$DB" --form sealed_survey --personal \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass" -o "$T/steward.csv"
check "the amendment opens" "$(grep HC-0001 "$T/steward.csv" | tr -d '\r' | cut -d, -f2,12-)" \
  "2,HC-0001,25-34,never,AMENDED-exp,AMENDED-name,free text 1"
check "the admin's correction opens" "$(grep HC-0003 "$T/steward.csv" | tr -d '\r' | cut -d, -f2,12-)" \
  "2,HC-0003,25-34,often,SEALCANARY-3-exp,SEALCANARY-3-name,corrected by an admin"

# Indicators: the hub cannot compute one over a sealed field and says
# so; the steward computes it offline with the same engine and k.
"$FS_HUB" wave add w1 --db "$DB" --start "$(date -u -d '-1 day' +%F)" \
  --end "$(date -u -d '+1 day' +%F)" >/dev/null
rc=0
"$FS_HUB" indicators --db "$DB" --form sealed_survey \
  --indicator share:tension_seen=often 2>"$T/ind.err" || rc=$?
check "the hub refuses an indicator over a sealed field" "$rc" 2
grep -q "the field is sealed and the hub cannot see it" "$T/ind.err" ||
  fail "$(cat "$T/ind.err")"
# A quota cannot be narrowed by a sealed answer: nobody can count it.
rc=0
"$FS_HUB" quota set --db "$DB" --area CITY-N01 --wave w1 --form sealed_survey \
  --stratum tension_seen=often --target 5 2>"$T/quota.err" || rc=$?
check "a quota stratum on a sealed field is refused" \
  "$rc:$(grep -c "'tension_seen' is sealed" "$T/quota.err"):$(sql 'SELECT count(*) FROM quotas')" "2:1:0"
steward_ind() {
  "$FS_HUB" indicators --db "$DB" --form sealed_survey \
    --indicator share:tension_seen=often --key "$T/steward.key" \
    --passphrase-fd 3 3<"$T/pass" --csv | tr -d '\r' | grep '^w1,\*,\*,'
}
check "offline, the hub's k still hides a small cell" "$(steward_ind)" \
  "w1,*,*,,,suppressed,small_cell,false"
"$FS_HUB" config set --db "$DB" min-k 2 >/dev/null
# HC-0001 amended to never, HC-0003 and HC-0009 often (HC-0002 gone).
check "offline, the share over the opened answers" "$(steward_ind)" \
  "w1,*,*,3,0.6666666667,ok,,true"
check "audited as a decryption" \
  "$(sql "SELECT json_extract(detail, '$.key') || ' ' || json_extract(detail, '$.sealed_opened') FROM audit_log WHERE action = 'indicators.unseal' ORDER BY id DESC LIMIT 1")" \
  "steward-2026 3"

# Drafts kept in memory only: a form may ask that its drafts never reach
# the device's storage. Mid-interview, the answers given so far are in
# the agent's files for a form with stored drafts (the control), and
# nowhere for a form with drafts in memory.
python3 - "$form" "$T/in/sealed_memory.json" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "sealed_memory"
f["sealed_drafts"] = "memory"
f["dedupe_key"] = ["household_code"]
json.dump(f, open(sys.argv[2], "w"))
EOF
"$FS_HUB" form publish --db "$DB" "$T/in/sealed_memory.json" >/dev/null
agent tab sync --quiet
mid_interview() { # FORM CANARY: files of the agent holding it mid-form
  rm -f "$T/typing"
  mkfifo "$T/typing"
  "$FS_AGENT" --dir "$T/tab" fill "$1" <"$T/typing" >"$T/mid.out" &
  local filler=$! w i
  exec {w}>"$T/typing"
  printf '%s\n' N-01 HC-0042 2 3 "$2" >&$w
  for i in $(seq 1 300); do # the next question asked: the answer is in
    grep -qF '[5/6]' "$T/mid.out" && break
    sleep 0.1
  done
  grep -qF '[5/6]' "$T/mid.out" || fail "the fill did not go on: $(tail -3 "$T/mid.out")"
  grep -rlaF "$2" "$T/tab" | wc -l
  kill -KILL "$filler"
  wait "$filler" 2>/dev/null || true
  exec {w}>&-
}
check "stored drafts (control): the answer is in the agent's files" \
  "$(mid_interview sealed_survey STOREDCANARY-mid)" 1
check "drafts in memory: the answer is in none of them" \
  "$(mid_interview sealed_memory MEMCANARY-mid)" 0
grep -q "kept in memory only, never saved" "$T/mid.out" ||
  fail "the fill did not say so: $(head -3 "$T/mid.out")"
adb "DELETE FROM drafts" # the control's, left by the kill
printf '%s\n' N-01 HC-0043 2 3 'MEMCANARY-exp' 'MEMCANARY-name' x ':save' |
  agent tab fill sealed_memory >"$T/memsave.out"
grep -q "the answers given are not kept" "$T/memsave.out" ||
  fail "save: $(tail -3 "$T/memsave.out")"
check "nothing saved" "$(adb "SELECT count(*) FROM drafts")" 0
printf '%s\n' N-01 HC-0044 2 3 'MEMCANARY-exp' 'MEMCANARY-name' x y |
  agent tab fill sealed_memory >"$T/memfin.out"
grep -q "^Finalized: " "$T/memfin.out" || fail "$(tail -3 "$T/memfin.out")"
agent tab sync --quiet
check "finalized from memory, sealed at the hub" \
  "$(sql "SELECT json_extract(answers, '$._sealed.key') FROM submissions WHERE form_id = 'sealed_memory'")" \
  steward-2026
check "memory canaries: found nowhere" "$(grep -rlaF MEMCANARY "$T/tab" "$DB" "$DB-wal" | wc -l)" 0

# The form app keeps a memory draft across requests, says so, and
# finalizes it sealed; the draft never reaches the agent's files.
"$FS_AGENT" --dir "$T/tab" serve --listen 127.0.0.1:0 --port-file "$T/app.port" \
  >"$T/serve.out" 2>"$T/serve.log" &
serve=$!
for i in $(seq 1 600); do [ -s "$T/app.port" ] && break; sleep 0.05; done
[ -s "$T/app.port" ] || fail "serve did not start"
APP="http://127.0.0.1:$(cat "$T/app.port")"
secret=$(adb "SELECT value FROM meta WHERE key = 'web_secret'")
app() { # METHOD PATH [JSON]
  curl -sS -X "$1" -H "Cookie: fieldsync_device=$secret" -H 'X-Fieldsync: 1' \
    -H 'Content-Type: application/json' ${3:+--data "$3"} "$APP/api$2"
}
web=$(app POST /drafts '{"form":"sealed_memory","area":"N-01"}' |
  sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p' | head -n 1)
[ -n "$web" ] || fail "no draft from the form app"
for a in '"household_code","text":"HC-0050"' '"age_band","value":"35-49"' \
  '"tension_seen","value":"sometimes"' '"experience","text":"WEBCANARY-exp"'; do
  app POST "/drafts/$web/answer" "{\"field\":$a}" >"$T/web.answer"
done
grep -q '"sealed":"memory"' "$T/web.answer" || fail "view: $(cat "$T/web.answer")"
check "the form app's memory draft is in none of the agent's files" \
  "$(grep -rlaF WEBCANARY "$T/tab" | wc -l)" 0
for a in '"contact_name"' '"comment"'; do
  app POST "/drafts/$web/answer" "{\"field\":$a}" >/dev/null
done
check "finalized from the form app" \
  "$(app POST "/drafts/$web/finalize" '{}' | grep -o '"message":"finalized[^"]*"' | head -c 20)" \
  '"message":"finalized'
kill -TERM "$serve"
wait "$serve" || fail "serve did not stop cleanly"
check "stored sealed" \
  "$(adb "SELECT json_type(answers, '$._sealed') || ' ' || coalesce(json_extract(answers, '$.experience'), 'none') FROM submissions WHERE id = '$web'")" \
  "object none"

# Rotation: version 2 sealed to a key published after it.
python3 - "$form" "$T/in/sealed_v2.json" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))
f["version"] = 2
f["seal_key"] = "steward-2027"
json.dump(f, open(sys.argv[2], "w"))
EOF
"$FS_HUB" keys generate --out "$T/steward2.key" --id steward-2027 \
  --passphrase-fd 3 3<"$T/pass" >/dev/null
"$FS_HUB" form publish --db "$DB" "$T/in/sealed_v2.json" >/dev/null 2>"$T/v2.err"
grep -q "key steward-2027, which is not published yet" "$T/v2.err" ||
  fail "no warning: $(cat "$T/v2.err")"
agent tab sync --quiet
printf '%s\n' N-01 HC-0020 3 1 'SEALCANARY-20-exp' 'SEALCANARY-20-name' 'v2' y |
  agent tab fill sealed_survey >"$T/v2.out" 2>&1 || true
grep -q "seals answers to key steward-2027, which this device has not received yet" "$T/v2.out" ||
  fail "no clear refusal: $(tail -5 "$T/v2.out")"
check "nothing finalized" "$(adb "SELECT count(*) FROM submissions WHERE form_version = 2")" 0
draft=$(adb "SELECT id FROM drafts WHERE form_version = 2")
[ -n "$draft" ] || fail "the draft was not kept"
"$FS_HUB" keys publish --db "$DB" "$T/steward2.key.pub" >/dev/null
agent tab sync --quiet
printf '%s\n' y | agent tab resume "$draft" >"$T/v2b.out"
grep -q "^Finalized: $draft" "$T/v2b.out" || fail "v2: $(tail -3 "$T/v2b.out")"
agent tab sync --quiet
check "v2 sealed to key 2" \
  "$(sql "SELECT json_extract(answers, '$._sealed.key') FROM submissions WHERE id = '$draft'")" \
  steward-2027
"$FS_HUB" export csv --db "$DB" --form sealed_survey --version 2 --personal \
  --key "$T/steward2.key" --passphrase-fd 3 3<"$T/pass" -o "$T/v2.csv"
check "version 2 opens with key 2" "$(tail -n 1 "$T/v2.csv" | tr -d '\r' | cut -d, -f12-)" \
  "HC-0020,35-49,never,SEALCANARY-20-exp,SEALCANARY-20-name,v2"
rc=0
"$FS_HUB" export csv --db "$DB" --form sealed_survey --version 2 --personal \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass" -o "$T/v2x.csv" \
  2>"$T/v2x.err" || rc=$?
check "version 2 does not open with key 1" "$rc" 2
grep -q "sealed to key 'steward-2027', not to 'steward-2026'" "$T/v2x.err" ||
  fail "$(cat "$T/v2x.err")"
"$FS_HUB" export csv --db "$DB" --form sealed_survey --version 1 --personal \
  --key "$T/steward.key" --passphrase-fd 3 3<"$T/pass" -o "$T/v1.csv"
check "version 1 still opens with key 1" "$(($(wc -l <"$T/v1.csv") - 1))" 3
aggregates_exact
finish
