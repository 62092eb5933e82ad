#!/usr/bin/env bash
# The exact bytes of an already-merged push, sent again (as after a lost
# answer), change nothing and get the same answer. Other content under the
# same sequence numbers is refused with the hub's sequence.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent a1
record_n a1 5
mkdir -p "$T/trace"
FIELDSYNC_TRACE_DIR="$T/trace" agent a1 sync --quiet
body="$T/trace/push-1-5.json.gz"
[ -s "$body" ] || fail "agent did not leave the push body in the trace dir"
token=$(sqlite3 "$T/a1/agent.db" "SELECT value FROM meta WHERE key='token'")

check "5 merged" "$(sql 'SELECT count(*) FROM submissions')" 5
# Each stored digest is SHA-256 of the content's fields, one per line,
# answers last: the bytes every hub version has hashed, so that replays
# of records merged by an older hub still compare equal.
while IFS=$'\t' read -r form ver area who hlc created base answers digest; do
  check "digest of the documented bytes" \
    "$(printf '%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s' "$form" "$ver" "$area" "$who" "$hlc" "$created" "$base" "$answers" |
      sha256sum | cut -d' ' -f1)" "$digest"
done < <(sqlite3 -separator $'\t' "$DB" "SELECT form_id, form_version, area, collector, hlc, created_ms, base_rev, answers, digest FROM submissions")
before=$(hub_fingerprint)
stored=$(sql "SELECT reply FROM receipts WHERE first_seq=1 AND last_seq=5")

push() {  # push FILE -> prints status, body in $T/reply
  curl -sS -o "$T/reply" -w '%{http_code}' -X POST "$HUB_URL/api/v1/push" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -H 'Content-Encoding: gzip' --data-binary @"$1"
}

for n in 1 2 3; do
  check "replay $n answers 200" "$(push "$body")" 200
  check "replay $n answer is the stored answer" "$(cat "$T/reply")" "$stored"
done
check "replays changed nothing" "$(hub_fingerprint)" "$before"

# Same sequence numbers, other content: not a replay.
gzip -dc "$body" | sed 's/"comment":"a1 #1"/"comment":"tampered"/' | gzip -c >"$T/other.gz"
check "other content under acked seqs is 409" "$(push "$T/other.gz")" 409
grep -q '"error":"seq_behind"' "$T/reply" || fail "no seq_behind: $(cat "$T/reply")"
grep -q '"hub_seq":5' "$T/reply" || fail "no hub_seq: $(cat "$T/reply")"
check "refused push changed nothing" "$(hub_fingerprint)" "$before"

# A changeset that skips ahead is a gap, refused with the hub's sequence.
gzip -dc "$body" | sed 's/"first_seq":1,"last_seq":5/"first_seq":7,"last_seq":11/; s/"seq":\([1-5]\),/"seq":1\1,/g' >"$T/gap.json"
sed -i 's/"seq":11,/"seq":7,/; s/"seq":12,/"seq":8,/; s/"seq":13,/"seq":9,/; s/"seq":14,/"seq":10,/; s/"seq":15,/"seq":11,/' "$T/gap.json"
gzip -c "$T/gap.json" >"$T/gap.gz"
check "gap is 409" "$(push "$T/gap.gz")" 409
grep -q '"error":"seq_gap"' "$T/reply" || fail "no seq_gap: $(cat "$T/reply")"
check "gap changed nothing" "$(hub_fingerprint)" "$before"

# The agent itself, after all this, has nothing to send and stays aligned.
record_n a1 2
agent a1 sync --quiet
check "7 at the hub after the agent's next sync" "$(sql 'SELECT count(*) FROM submissions')" 7
check "device acked 7" "$(sql 'SELECT acked_seq FROM devices')" 7
finish
