#!/usr/bin/env bash
# Enrolment attempts are limited per client address, and a wrong code is
# refused without the global write lock: while another writer holds the
# database, a guess is answered at once (403) instead of queueing behind
# it. Past a burst of guesses one address gets 429 with Retry-After; a
# device enrolling from another address is not held back, and a valid
# code from the first address works once its allowance is back.
. "$(dirname "$0")/../lib.sh"

start_hub

# attempt CODE [SOURCE]: the HTTP status of one enrolment from SOURCE
# (127.0.0.1 by default; the hub listens on 127.0.0.1, which any
# 127.0.0.0/8 source reaches).
attempt() {
  curl -s -o "$T/attempt.out" -D "$T/attempt.hdr" -w '%{http_code}' --max-time 20 \
    --interface "${2:-127.0.0.1}" -H 'Content-Type: application/json' \
    --data "{\"code\":\"$1\"}" "$HUB_URL/api/v1/enroll" || true
}

# Another writer holds SQLite's write lock (as a long merge would).
coproc LOCKER { sqlite3 -batch "$DB"; }
# Read now: bash unsets LOCKER and LOCKER_PID as soon as the coprocess
# exits.
locker=$LOCKER_PID to_locker=${LOCKER[1]} from_locker=${LOCKER[0]}
echo "BEGIN IMMEDIATE; SELECT 'locked';" >&"$to_locker"
read -r -t 30 line <&"$from_locker" || fail "sqlite3 did not take the write lock"
check "another writer holds the database" "$line" locked
check "a wrong code is refused while the database is locked" \
  "$(attempt WRONG-CODE-0000)" 403
printf 'ROLLBACK;\n.quit\n' >&"$to_locker"
exec {to_locker}>&-
wait "$locker" 2>/dev/null || true

# Guesses from one address: the first few are answered, then 429.
statuses=""
for i in $(seq 1 25); do
  statuses="$statuses $(attempt "WRONG-CODE-$i")"
done
last=${statuses##* }
check "guess 25 from one address is rate limited" "$last" 429
grep -qi '^retry-after:' "$T/attempt.hdr" || fail "429 without Retry-After"
grep -q '"error":"rate_limited"' "$T/attempt.out" || fail "no JSON error: $(cat "$T/attempt.out")"
check "the first guess was answered 403" "$(echo "$statuses" | awk '{print $1}')" 403
grep -q "enrolment attempts from 127.0.0.1 limited" "$T/hub.log" || fail "the hub did not log the limit"

# Another address is not held back.
code=$("$FS_HUB" enroll-code --db "$DB" --name other)
check "a valid code from another address enrols" "$(attempt "$code" 127.0.0.2)" 200

# A valid code from the limited address: refused while limited, never
# spent, and enrols once the allowance is back (one attempt per 5 s).
code=$("$FS_HUB" enroll-code --db "$DB" --name first)
for i in $(seq 1 30); do
  s=$(attempt "$code")
  [ "$s" = 429 ] || break
  sleep 1
done
check "the limited address enrols with a valid code once allowed again" "$s" 200
finish
