#!/usr/bin/env bash
# Held (refused) changes have a per-device quota in count and bytes and a
# retention: a push that would hold more is refused whole with a clear
# 403 held_quota, nothing of it is stored and nothing the hub accepted
# before is lost; the same changes without the refused ones go through;
# old held changes are dropped at the device's next push; an admin lists
# and clears a device's held changes.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
HUB_ARGS="--held-max 3 --held-max-bytes 5000" start_hub
new_agent a1
new_agent a2
token=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")
dev=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='device_id'")

uuid() { cat /proc/sys/kernel/random/uuid; }
good() { printf '{"seq":%d,"kind":"submission","id":"%s","form":"demo_household","form_version":1,"area":"N-01","hlc":"0190000000000000","created_ms":1,"answers":{"age_band":"18-24"}}' "$1" "$(uuid)"; }
bad() {  # bad SEQ [PAD [CHAR]]: refused (unknown form), PAD CHARs of padding
  printf '{"seq":%d,"kind":"submission","id":"%s","form":"no_such_form","form_version":1,"area":"N-01","hlc":"0190000000000000","created_ms":1,"answers":{"note":"%s"}}' \
    "$1" "$(uuid)" "$(printf "${3:-x}%.0s" $(seq 1 "${2:-10}"))"
}
# push KIND... : one changeset of the next sequence numbers, one change
# per KIND (good, bad or bad:PAD); the status is printed, the reply is in
# $T/reply.
push() {
  local seq first changes="" k
  first=$(($(sql "SELECT acked_seq FROM devices WHERE id='$dev'") + 1))
  seq=$first
  for k in "$@"; do
    [ -n "$changes" ] && changes="$changes,"
    case "$k" in
      good) changes="$changes$(good $seq)" ;;
      bad) changes="$changes$(bad $seq)" ;;
      bad:*) changes="$changes$(bad $seq "${k#bad:}")" ;;
      wide:*) changes="$changes$(bad $seq "${k#wide:}" é)" ;;
    esac
    seq=$((seq + 1))
  done
  printf '{"protocol":1,"schema":1,"device":"%s","first_seq":%d,"last_seq":%d,"changes":[%s]}' \
    "$dev" "$first" $((seq - 1)) "$changes" | gzip -c >"$T/cs.gz"
  curl -sS -o "$T/reply" -w '%{http_code}' -X POST "$HUB_URL/api/v1/push" \
    -H "Authorization: Bearer $token" -H 'Content-Encoding: gzip' --data-binary @"$T/cs.gz"
}
state() { sql "SELECT (SELECT count(*) FROM submissions) || ' ' || (SELECT count(*) FROM held_changes) || ' ' || (SELECT acked_seq FROM devices WHERE id='$dev')"; }

check "two refused changes are held" "$(push good bad bad)" 200
check "one accepted, two held" "$(state)" "1 2 3"
before=$(hub_fingerprint)
check "a push past the count quota is refused" "$(push good bad bad)" 403
grep -q '"error":"held_quota","message":"this push would leave 4 refused changes' "$T/reply" ||
  fail "unclear error: $(cat "$T/reply")"
echo "ok - with a JSON error that says why"
check "nothing of it was stored" "$(hub_fingerprint)" "$before"
grep -q "push 4-6 of a1 ($dev) refused: its held changes would pass their quota" "$T/hub.log" ||
  fail "the hub log does not say so"
echo "ok - the hub log says so"
check "the same sequence without refused changes is taken" "$(push good good good)" 200
check "what was accepted before is all there" "$(state)" "4 2 6"
check "a push that holds nothing new goes through at the quota" "$(push good)" 200

# Bytes: one refused change of 3000 two-byte characters passes 5000
# bytes on its own (not 5000 characters).
check "a push past the byte quota is refused" "$(push good wide:3000)" 403
grep -q '"error":"held_quota"' "$T/reply" || fail "not held_quota: $(cat "$T/reply")"
echo "ok - held_quota"
check "... nothing stored" "$(state)" "5 2 7"

# Another device is not limited by a1's quota, and a real agent syncs.
record_n a2 2
agent a2 sync --quiet
check "another device's records arrive" "$(sql "SELECT count(*) FROM submissions")" 7

# Retention: held changes older than --held-days are dropped at the
# device's next push.
port=$(hub_port)
stop_hub
sql "UPDATE held_changes SET received_ms = received_ms - 3 * 86400000 WHERE device_id='$dev'"
HUB_ARGS="--held-max 3 --held-days 2" start_hub "$port"
check "after the retention, the device's refused changes are held again" "$(push good bad bad bad)" 200
check "the old ones were dropped" "$(sql "SELECT count(*) FROM held_changes WHERE device_id='$dev' AND received_ms > strftime('%s','now') * 1000 - 86400000")" 3
check "... and only they" "$(sql "SELECT count(*) FROM held_changes")" 3

# The admin sees and clears them.
"$FS_HUB" held --db "$DB" | grep -q "^$dev  a1 *3 " || fail "held list: $("$FS_HUB" held --db "$DB")"
echo "ok - held lists the device's held changes"
"$FS_HUB" held --db "$DB" clear "$dev" | grep -q "cleared 3 held changes" || fail "clear did not say so"
check "cleared" "$(sql "SELECT count(*) FROM held_changes")" 0
check "and audited" "$(sql "SELECT count(*) FROM audit_log WHERE action='held.clear'")" 1
check "the device's refused changes are held again" "$(push bad)" 200

# Bad limits: refused at start with a clear message.
rc=0
"$FS_HUB" serve --db "$DB" --held-max 0 2>"$T/err" || rc=$?
check "--held-max 0 is refused" "$rc" 2
grep -q -- "--held-max takes a number of changes" "$T/err" || fail "unclear: $(cat "$T/err")"
echo "ok - and says what it takes"
kill -0 "$HUB_PID" || fail "hub died"
finish
