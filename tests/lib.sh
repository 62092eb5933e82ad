# tests/lib.sh - shared helpers for the integration tests.
#
# Every test runs a real fieldsync-hub on 127.0.0.1 with an OS-chosen port
# and a real SQLite file, and real fieldsync-agent processes talking HTTP
# to it. Nothing of ours is replaced by a stand-in.
#
# Inputs (set by ctest): FS_HUB, FS_AGENT (binaries), FS_SRC (source tree).
set -euo pipefail

: "${FS_HUB:?FS_HUB must name the fieldsync-hub binary}"
: "${FS_AGENT:?FS_AGENT must name the fieldsync-agent binary}"
: "${FS_SRC:?FS_SRC must name the source tree}"

T=$(mktemp -d "${TMPDIR:-/tmp}/fieldsync-test.XXXXXX")
DB="$T/hub.db"
HUB_PID=""
HUB_URL=""
CHECKS=0

cleanup() {
  local rc=$?
  if [ -n "$HUB_PID" ] && kill -0 "$HUB_PID" 2>/dev/null; then
    kill -TERM "$HUB_PID" 2>/dev/null || true
    wait "$HUB_PID" 2>/dev/null || true
  fi
  if [ $rc -ne 0 ]; then
    echo "--- hub log (last 40 lines) ---" >&2
    tail -n 40 "$T/hub.log" 2>/dev/null >&2 || true
  fi
  if [ -z "${FS_KEEP:-}" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
  exit $rc
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# check DESCRIPTION ACTUAL EXPECTED
check() {
  CHECKS=$((CHECKS + 1))
  if [ "$2" != "$3" ]; then
    fail "$1: expected '$3', got '$2'"
  fi
  echo "ok - $1"
}

finish() {
  echo "$CHECKS passed, 0 failed"
}

# A reader beside a running hub: it waits for the hub's checkpoints and
# WAL resets (SQLITE_BUSY) instead of failing the test.
sql() {
  sqlite3 -batch -bail -cmd ".timeout 10000" "$DB" "$@"
}

# publish_sample_form: the demo form. With FS_SEALED=1 (the sealed runs
# of the reliability tests) its comment and trust answer are sealed to a
# steward key made here ($T/steward.key, passphrase in $T/steward.pass),
# published first.
publish_sample_form() {
  local form="$FS_SRC/schema/forms/demo_household.json"
  if [ "${FS_SEALED:-}" = 1 ]; then
    printf 'reliability steward passphrase\n' >"$T/steward.pass"
    "$FS_HUB" keys generate --out "$T/steward.key" --id reliability \
      --passphrase-fd 3 3<"$T/steward.pass" >/dev/null
    "$FS_HUB" keys publish --db "$DB" "$T/steward.key.pub" >/dev/null
    python3 - "$form" "$T/demo_sealed.json" <<'EOF'
import json, sys
f = json.load(open(sys.argv[1]))
f["seal_key"] = "reliability"
for fld in f["fields"]:
    if fld["name"] in ("comment", "trust_local_gov"):
        fld["sealed"] = True
json.dump(f, open(sys.argv[2], "w"))
EOF
    form="$T/demo_sealed.json"
  fi
  "$FS_HUB" form publish --db "$DB" "$form" >/dev/null
}

# sealed_all_open: with FS_SEALED=1, every submission at the hub is
# sealed and opens with the steward's key (nothing damaged on the way).
sealed_all_open() {
  [ "${FS_SEALED:-}" = 1 ] || return 0
  check "every submission sealed" \
    "$(sql "SELECT count(*) FROM submissions WHERE json_type(answers, '\$._sealed') IS NOT 'object'")" 0
  "$FS_HUB" export json --db "$DB" --form demo_household --key "$T/steward.key" \
    --passphrase-fd 3 3<"$T/steward.pass" -o "$T/opened.json" ||
    fail "the steward could not open every submission"
  check "every submission opens with the key" \
    "$(grep -o '"comment":' "$T/opened.json" | wc -l)" \
    "$(sql "SELECT count(*) FROM submissions s WHERE rev = (SELECT max(rev) FROM submissions WHERE id = s.id)")"
}

# publish_photo_form MAX_BYTES: the demo form as "photo_walk" with one
# image field "photo" of at most MAX_BYTES, published; answers for it in
# $T/ans.json.
publish_photo_form() {
  python3 - "$FS_SRC/schema/forms/demo_household.json" "$T/photo_walk.json" "$1" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
f["id"] = "photo_walk"
f["fields"] += [{"name": "photo", "type": "image", "label": {"en": "Photo"},
                 "max_bytes": int(sys.argv[3])}]
json.dump(f, open(sys.argv[2], "w"))
PY
  "$FS_HUB" form publish --db "$DB" "$T/photo_walk.json" >/dev/null
  printf '%s' '{"age_band":"25-34","gender":"woman","belonging":3,"trust_local_gov":2}' \
    >"$T/ans.json"
}

# record_photo_held AGENT PNG: AGENT records a photo_walk submission with
# PNG and syncs it with the file held back, so the submission is at the
# hub and the file still waits on the device. Prints the file's hash.
record_photo_held() {
  local h
  h=$(sha256sum "$2" | cut -c1-64)
  agent "$1" record photo_walk --answers "$T/ans.json" --area N-01 \
    --attach photo="$2" >/dev/null
  mv "$T/$1/blobs/$h" "$T/held.bin"
  agent "$1" sync --quiet >/dev/null 2>&1 || true
  mv "$T/held.bin" "$T/$1/blobs/$h"
  echo "$h"
}

# start_hub [PORT]: PORT 0 (default) lets the system choose; a restart
# passes the previous port so agents keep their hub URL. HUB_ARGS adds
# options (e.g. --rate-limit 5).
start_hub() {
  rm -f "$T/port"
  "$FS_HUB" serve --db "$DB" --listen "127.0.0.1:${1:-0}" --port-file "$T/port" \
    --threads "${HUB_THREADS:-16}" ${HUB_ARGS:-} 2>>"$T/hub.log" &
  HUB_PID=$!
  local i
  # Generous: a sanitized build on a loaded 2-core machine starts slowly.
  for i in $(seq 1 600); do
    [ -s "$T/port" ] && break
    kill -0 "$HUB_PID" 2>/dev/null || fail "hub exited at start"
    sleep 0.05
  done
  [ -s "$T/port" ] || fail "hub did not start within 30 s"
  HUB_URL="http://127.0.0.1:$(cat "$T/port")"
  curl -fsS "$HUB_URL/healthz" >/dev/null || fail "hub /healthz not ok"
}

stop_hub() {
  kill -TERM "$HUB_PID"
  wait "$HUB_PID" || fail "hub did not stop cleanly"
  HUB_PID=""
}

kill_hub() {
  kill -KILL "$HUB_PID"
  wait "$HUB_PID" 2>/dev/null || true
  HUB_PID=""
}

hub_port() {
  echo "${HUB_URL##*:}"
}

agent() {
  local name=$1
  shift
  "$FS_AGENT" --dir "$T/$name" "$@"
}

# new_agent NAME: enrol with a fresh code and pull the forms.
new_agent() {
  local code
  code=$("$FS_HUB" enroll-code --db "$DB" --name "$1")
  agent "$1" enroll --hub "$HUB_URL" --code "$code" >/dev/null
  agent "$1" sync --quiet
}

# record_n NAME N [AREA]: N submissions with varied answers.
record_n() {
  local name=$1 n=$2 area=${3:-N-01} i
  local bands=(18-24 25-34 35-49 50-64 65+) genders=(woman man another)
  for i in $(seq 1 "$n"); do
    printf '{"age_band":"%s","gender":"%s","belonging":%d,"trust_local_gov":%d,"comment":"%s #%d"}' \
      "${bands[$((i % 5))]}" "${genders[$((i % 3))]}" $((i % 5 + 1)) \
      $(((i * 7) % 5 + 1)) "$name" "$i" >"$T/$name.answers.json"
    agent "$name" record demo_household --answers "$T/$name.answers.json" \
      --area "$area" >>"$T/$name.ids"
  done
}

pending() {
  agent "$1" status --json | sed -n 's/.*"pending":[[:space:]]*\([0-9]*\).*/\1/p'
}

# A fingerprint of everything the hub stores.
hub_fingerprint() {
  sqlite3 "$DB" .dump | sha256sum | cut -d' ' -f1
}

# ---- helpers for the reliability tests (tests/reliability) ------------

# answers_file PATH I: writes varied answers for submission number I.
answers_file() {
  local bands=(18-24 25-34 35-49 50-64 65+) genders=(woman man another)
  printf '{"age_band":"%s","gender":"%s","belonging":%d,"trust_local_gov":%d,"comment":"r%d"}' \
    "${bands[$(($2 % 5))]}" "${genders[$(($2 % 3))]}" $(($2 % 5 + 1)) \
    $((($2 * 7) % 5 + 1)) "$2" >"$1"
}

# sync_until_done NAME [MAX]: syncs again while the agent exits with a
# code listed in SYNC_AGAIN (default "3": hub unreachable, data kept) or
# something still waits; fails after MAX attempts: an agent left stuck.
sync_until_done() {
  local name=$1 max=${2:-40} i rc
  for i in $(seq 1 "$max"); do
    rc=0
    agent "$name" sync --quiet --retries "${SYNC_RETRIES:-2}" \
      >>"$T/$name.sync.log" 2>&1 || rc=$?
    [ $rc -eq 0 ] && [ "$(pending "$name")" = 0 ] && return 0
    case " 0 ${SYNC_AGAIN:-3} " in
      *" $rc "*) ;;
      *) fail "$name: sync exited $rc: $(tail -n 2 "$T/$name.sync.log")" ;;
    esac
  done
  fail "$name: $(pending "$name") still waiting after $max syncs (stuck)"
}

# clone_records NAME N FROM: N more queued submissions made from the
# agent's first one (ids and comments FROM+1..FROM+N), each with its
# outbox row, in one transaction. `record` costs a process and an fsync a
# record; thousands that way would take minutes.
clone_records() {
  sqlite3 -bail "$T/$1/agent.db" <<EOF
BEGIN;
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < $2)
INSERT INTO submissions (id, rev, base_rev, form_id, form_version, area,
                         collector, hlc, created_ms, answers)
SELECT substr(s.id, 1, 24) || printf('%012x', $3 + k.i), 1, 0, s.form_id,
       s.form_version, s.area, s.collector, s.hlc, s.created_ms + k.i,
       json_set(s.answers, '\$.comment', 'copy ' || ($3 + k.i))
FROM k, (SELECT * FROM submissions ORDER BY rowid LIMIT 1) AS s;
INSERT INTO outbox (seq, kind, ref_id, ref_rev, created_ms)
SELECT (SELECT max(seq) FROM outbox) + row_number() OVER (ORDER BY s.id),
       'submission', s.id, s.rev, s.created_ms
FROM submissions s WHERE NOT EXISTS
  (SELECT 1 FROM outbox o WHERE o.ref_id = s.id AND o.ref_rev = s.rev);
COMMIT;
EOF
}

# tiny_files NAME N FIELD [SEED [FROM]]: N more queued submissions of
# agent NAME (numbered FROM+1..FROM+N), made from its first one, each
# answering FIELD (a file field) with its own file of 20 to 300 bytes
# written to the agent's store, with the agent's attachment rows, in one
# transaction. `record` costs a process
# and an fsync a record (see clone_records).
tiny_files() {
  python3 - "$T/$1/blobs" "$T/$1.tiny.csv" "$2" "${4:-19}" "${5:-0}" <<'EOF'
import hashlib, os, random, sys
d, out, n, first = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[5])
rnd = random.Random(int(sys.argv[4]))
with open(out, "w") as f:
    for i in range(first + 1, first + n + 1):
        b = ("note %d " % i).encode() + rnd.randbytes(rnd.randint(12, 290))
        h = hashlib.sha256(b).hexdigest()
        with open(os.path.join(d, h), "wb") as g:
            g.write(b)
        f.write("%d,%s,%d\n" % (i, h, len(b)))
EOF
  sqlite3 -bail "$T/$1/agent.db" <<EOF
CREATE TEMP TABLE f (i INTEGER PRIMARY KEY, h TEXT, sz INTEGER);
.import --csv $T/$1.tiny.csv f
BEGIN;
CREATE TEMP TABLE s0 AS SELECT * FROM submissions ORDER BY rowid LIMIT 1;
INSERT INTO submissions (id, rev, base_rev, form_id, form_version, area,
                         collector, hlc, created_ms, answers)
SELECT substr(s.id, 1, 24) || printf('%012x', f.i), 1, 0, s.form_id,
       s.form_version, s.area, s.collector, s.hlc, s.created_ms + f.i,
       json_set(s.answers, '\$.$3', json_object('sha256', f.h, 'size', f.sz,
                'type', 'application/octet-stream', 'name', 'n' || f.i || '.txt'))
FROM f, s0 AS s;
INSERT OR IGNORE INTO attachments (sha256, size, type)
SELECT h, sz, 'application/octet-stream' FROM f;
INSERT INTO submission_attachments (submission_id, field, sha256)
SELECT substr(s.id, 1, 24) || printf('%012x', f.i), '$3', f.h FROM f, s0 AS s;
INSERT INTO outbox (seq, kind, ref_id, ref_rev, created_ms)
SELECT (SELECT max(seq) FROM outbox) + row_number() OVER (ORDER BY s.id),
       'submission', s.id, s.rev, s.created_ms
FROM submissions s WHERE NOT EXISTS
  (SELECT 1 FROM outbox o WHERE o.ref_id = s.id AND o.ref_rev = s.rev);
COMMIT;
EOF
}

# acked_stored A: after a crash of the hub, before it restarts: every
# submission agent A holds as acknowledged is at the hub, and the hub's
# sequence for A is not behind A's (no answer came before a durable
# commit).
acked_stored() {
  local a=$1 out
  out=$(sqlite3 -bail "$DB" "ATTACH '$T/$a/agent.db' AS ag;
    CREATE TEMP VIEW dev AS SELECT value AS id FROM ag.meta WHERE key = 'device_id';
    SELECT coalesce((SELECT value FROM ag.meta WHERE key = 'acked_seq'), 0),
      (SELECT acked_seq FROM main.devices WHERE id = (SELECT id FROM dev)),
      (SELECT count(*) FROM ag.submissions s WHERE s.state <> 'queued' AND
        NOT EXISTS (SELECT 1 FROM main.submissions h WHERE h.id = s.id AND
          h.rev = s.rev AND h.device_id = (SELECT id FROM dev))),
      (SELECT count(*) FROM ag.entity_changes c WHERE c.state <> 'queued' AND
        c.fields <> '{}' AND NOT EXISTS (SELECT 1 FROM main.entity_versions v
          WHERE v.entity_id = c.entity_id AND v.hlc = c.hlc AND
          v.device_id = (SELECT id FROM dev)));") ||
    fail "$a: cannot compare the agent with the hub"
  local acked hub_acked subs edits
  IFS='|' read -r acked hub_acked subs edits <<<"$out"
  [ "${hub_acked:-0}" -ge "$acked" ] ||
    fail "$a: acknowledged up to $acked but the hub stored only ${hub_acked:-0}"
  [ "$subs" -eq 0 ] ||
    fail "$a: $subs acknowledged submission(s) not stored after the kill"
  [ "$edits" -eq 0 ] ||
    fail "$a: $edits acknowledged registry edit(s) not stored after the kill"
}

# audit_exactly_once NAME...: the invariant of the reliability tests, after
# a final sync of every named agent. Checks both databases' integrity, that
# every submission the agents hold (and every id they printed, in
# $T/NAME.ids) is at the hub exactly once with the same content, that the
# hub holds nothing else and kept nothing aside, that each device's
# receipts tile 1..acked_seq and say "applied" once per stored
# submission. Prints a "figures:" line with lost and duplicated counts.
audit_exactly_once() {
  local a
  : >"$T/audit-agent"
  : >"$T/audit-printed"
  local q="SELECT id||' '||rev||' '||form_id||' '||form_version||' '||area||' '||hlc||' '||created_ms||' '||answers FROM submissions"
  for a in "$@"; do
    [ "$(sqlite3 "$T/$a/agent.db" 'PRAGMA integrity_check')" = ok ] ||
      fail "$a: agent database integrity check failed"
    sqlite3 "$T/$a/agent.db" "$q" >>"$T/audit-agent"
    [ -f "$T/$a.ids" ] && cat "$T/$a.ids" >>"$T/audit-printed"
    [ "$(pending "$a")" = 0 ] || fail "$a: $(pending "$a") still waiting"
    local dev acked
    dev=$(sqlite3 "$T/$a/agent.db" "SELECT value FROM meta WHERE key='device_id'")
    acked=$(sqlite3 "$T/$a/agent.db" "SELECT value FROM meta WHERE key='acked_seq'")
    [ "$(sql "SELECT acked_seq FROM devices WHERE id='$dev'")" = "${acked:-0}" ] ||
      fail "$a: hub and agent disagree on the acknowledged sequence"
    [ "$(sql "SELECT coalesce(sum(last_seq - first_seq + 1), 0) FROM receipts WHERE device_id='$dev'")" = "${acked:-0}" ] ||
      fail "$a: the hub's receipts do not cover 1..$acked exactly"
  done
  check "hub integrity_check" "$(sql 'PRAGMA integrity_check')" ok
  sort -o "$T/audit-agent" "$T/audit-agent"
  sql "$q" | sort >"$T/audit-hub"
  local held agents hub lost dup extra printed plost applied edits
  agents=$(wc -l <"$T/audit-agent")
  hub=$(sql 'SELECT count(*) FROM submissions')
  lost=$(comm -23 "$T/audit-agent" "$T/audit-hub" | wc -l)
  extra=$(comm -13 "$T/audit-agent" "$T/audit-hub" | sort -u | wc -l)
  dup=$((hub - $(sql 'SELECT count(DISTINCT id) FROM submissions')))
  sort -u "$T/audit-printed" >"$T/audit-printed.s"
  cut -d' ' -f1 "$T/audit-hub" | sort -u >"$T/audit-hub-ids"
  printed=$(wc -l <"$T/audit-printed.s")
  plost=$(comm -23 "$T/audit-printed.s" "$T/audit-hub-ids" | wc -l)
  held=$(sql 'SELECT count(*) FROM held_changes')
  applied=$(sql "SELECT count(*) FROM receipts, json_each(receipts.reply, '\$.results') WHERE json_extract(value, '\$.status') = 'applied'")
  echo "figures: agents=$# records=$agents printed=$printed hub=$hub lost=$((lost + plost)) duplicated=$dup foreign=$extra held=$held"
  check "every recorded submission is at the hub (lost)" "$lost" 0
  check "every id an agent printed is at the hub" "$plost" 0
  check "no submission stored twice (duplicated)" "$dup" 0
  check "the hub holds nothing the agents did not record" "$extra" 0
  check "the hub holds exactly what the agents hold" "$hub" "$agents"
  check "nothing kept aside as refused or divergent" "$held" 0
  # A registry edit is applied too: one per edit (entity and stamp).
  edits=$(sql "SELECT count(DISTINCT entity_id || ' ' || hlc || ' ' || device_id) FROM entity_versions WHERE origin = 'device'")
  check "receipts say applied once per stored submission or edit" "$applied" $((hub + edits))
  local overlap
  overlap=$(sql 'SELECT count(*) FROM receipts a JOIN receipts b ON a.device_id = b.device_id AND a.rowid < b.rowid AND a.first_seq <= b.last_seq AND b.first_seq <= a.last_seq')
  check "no two receipts cover the same sequence" "$overlap" 0
  sealed_all_open
}

# start_proxy ARGS...: a faultproxy (FS_PROXY) in front of the hub; sets
# PROXY_PID and PROXY_URL. Its counts land in $T/proxy.stats.
PROXY_PID=""
start_proxy() {
  : "${FS_PROXY:?FS_PROXY must name the faultproxy binary}"
  rm -f "$T/proxy.port"
  "$FS_PROXY" --target "127.0.0.1:$(hub_port)" --port-file "$T/proxy.port" \
    --stats-file "$T/proxy.stats" "$@" 2>>"$T/proxy.log" &
  PROXY_PID=$!
  local i
  for i in $(seq 1 100); do
    [ -s "$T/proxy.port" ] && break
    sleep 0.05
  done
  [ -s "$T/proxy.port" ] || fail "faultproxy did not start"
  PROXY_URL="http://127.0.0.1:$(cat "$T/proxy.port")"
}

stop_proxy() {
  kill -TERM "$PROXY_PID"
  wait "$PROXY_PID" || fail "faultproxy did not stop cleanly"
  PROXY_PID=""
}

# proxy_stat NAME: one count from the proxy's stats file.
proxy_stat() {
  sed -n "s/^$1 //p" "$T/proxy.stats"
}

# rel_trap: like the standard exit trap, but first ends the proxy and the
# background processes listed in BG_PIDS and unmounts what MOUNTS lists.
BG_PIDS=()
MOUNTS=()
rel_cleanup() {
  local rc=$? p m
  set +e
  if [ -n "$PROXY_PID" ]; then kill -TERM "$PROXY_PID" 2>/dev/null; fi
  for p in "${BG_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${BG_PIDS[@]}" $PROXY_PID; do wait "$p" 2>/dev/null; done
  # The hub first: a file system it holds open cannot be unmounted.
  if [ ${#MOUNTS[@]} -gt 0 ] && [ -n "$HUB_PID" ]; then
    kill -TERM "$HUB_PID" 2>/dev/null
    wait "$HUB_PID" 2>/dev/null
    HUB_PID=""
  fi
  for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
  (exit $rc)
  cleanup
}
rel_trap() {
  trap rel_cleanup EXIT
}

# ms_now: milliseconds since the epoch.
ms_now() {
  echo $(($(date +%s%N) / 1000000))
}

# sleep_ms MS
sleep_ms() {
  sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# make_ca NAME: a throwaway CA (openssl), $T/NAME.pem and $T/NAME.key.
make_ca() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/$1.key" -out "$T/$1.pem" -days 2 \
    -subj "/CN=fieldsync test $1" 2>>"$T/openssl.log" ||
    fail "openssl: cannot make CA $1"
}

# make_cert NAME CA: a server certificate for 127.0.0.1 and localhost
# signed by CA, $T/NAME.crt and $T/NAME.key.
make_cert() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$T/$1.key" -out "$T/$1.csr" -subj "/CN=localhost" \
    2>>"$T/openssl.log" || fail "openssl: cannot make key $1"
  printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' \
    'basicConstraints=critical,CA:FALSE' \
    'keyUsage=critical,digitalSignature' \
    'extendedKeyUsage=serverAuth' >"$T/$1.ext"
  openssl x509 -req -in "$T/$1.csr" -CA "$T/$2.pem" -CAkey "$T/$2.key" \
    -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$T/$1.ext" \
    -out "$T/$1.crt" 2>>"$T/openssl.log" || fail "openssl: cannot sign $1"
}

# The mapping dataset's aggregates (schema/hub-10.sql) agree with a count
# from scratch after whatever the test did to the hub's data.
aggregates_exact() {
  "$FS_HUB" aggregates verify --db "$DB" >"$T/aggverify" 2>&1 ||
    fail "aggregates verify: $(head -n 5 "$T/aggverify")"
  check "the aggregates agree with a count from scratch" "$(tail -n 1 "$T/aggverify")" \
    "aggregates exact: every cell and submission agrees with a count from scratch"
}
