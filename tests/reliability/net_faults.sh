#!/usr/bin/env bash
# Agents sync through faultproxy, which drops connections at random byte
# offsets of requests and answers, truncates them, corrupts a byte and
# stalls them. Syncs are repeated (bounded) until nothing waits. Then every
# submission is at the hub exactly once and with the content the agent
# recorded: a corrupted payload is refused, never merged.
#
# FS_SEED (default 6), FS_FAULTS: faults that must have been injected
# (default 40), FS_AGENTS (default 3).
. "$(dirname "$0")/../lib.sh"
rel_trap

SEED=${FS_SEED:-6}
FAULTS=${FS_FAULTS:-40}
NAGENTS=${FS_AGENTS:-3}
RANDOM=$SEED
echo "seed $SEED, at least $FAULTS faults, $NAGENTS agents"

publish_sample_form
start_hub
AGENTS=()
for i in $(seq 1 "$NAGENTS"); do
  AGENTS+=("a$i")
  new_agent "a$i"          # enrolment and forms go direct to the hub
done
# Faults on about 4 connections in 5. Offsets span a request or answer of
# a few small batches; a stall is shorter than the proxy's idle limit,
# which ends connections a corrupted length left waiting.
start_proxy --seed "$SEED" --drop-request 0.12 --drop-reply 0.12 \
  --truncate 0.15 --corrupt 0.3 --delay 0.1 --delay-ms 300 \
  --max-offset 1500 --idle-ms 1500
for a in "${AGENTS[@]}"; do
  sqlite3 "$T/$a/agent.db" "UPDATE meta SET value='$PROXY_URL' WHERE key='hub_url'"
done

# A corrupted header can make the hub refuse a request (exit 4), and a
# corrupted answer is refused by the agent (exit 4): both keep the data
# and the next sync goes on.
export SYNC_AGAIN="3 4"
export SYNC_RETRIES=1
faults=0
round=0
while [ "$faults" -lt "$FAULTS" ]; do
  round=$((round + 1))
  [ $round -le $((FAULTS * 3 + 100)) ] || fail "only $faults faults after $round rounds"
  pids=()
  for a in "${AGENTS[@]}"; do
    (
      record_n "$a" $((RANDOM % 2 + 1))
      # Small batches: several requests per connection, more places
      # to break.
      agent "$a" sync --quiet --retries 1 --batch $((RANDOM % 5 + 1)) \
        >/dev/null 2>>"$T/$a.sync.log" || true
    ) &
    pids+=($!)
    BG_PIDS+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fail "a round failed"; done
  BG_PIDS=()
  kill -USR1 "$PROXY_PID"
  sleep 0.05
  faults=$(proxy_stat faults)
done
for a in "${AGENTS[@]}"; do sync_until_done "$a" 60; done
stop_proxy
cat "$T/proxy.stats"
faults=$(proxy_stat faults)
echo "$faults faults injected"
check "corruptions among them" "$(($(proxy_stat corrupt_request) > 0 && $(proxy_stat corrupt_reply) > 0))" 1
check "hub still healthy" "$(curl -fsS "$HUB_URL/healthz" | grep -c '"ok"')" 1

audit_exactly_once "${AGENTS[@]}"
echo "figures: faults=$faults connections=$(proxy_stat connections) rounds=$round"
finish
