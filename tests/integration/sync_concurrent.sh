#!/usr/bin/env bash
# Three agents record 200 submissions each offline, then sync at the same
# time: the hub holds exactly 600, each once, and a second sync sends
# nothing.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
for a in a1 a2 a3; do new_agent "$a"; done

# Offline: the hub is stopped while the agents record.
port=$(hub_port)
stop_hub
pids=()
for a in a1 a2 a3; do record_n "$a" 200 "N-0${a#a}" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "recording failed"; done
for a in a1 a2 a3; do check "$a queued 200 while offline" "$(pending $a)" 200; done

# A sync while the hub is down keeps everything and says so (exit 3).
rc=0
agent a1 sync --retries 0 2>"$T/err" || rc=$?
check "sync with hub down exits 3" "$rc" 3
grep -q "hub unreachable" "$T/err" || fail "no 'hub unreachable' message"
grep -q "200 record(s) kept on this device" "$T/err" || fail "no kept count: $(cat "$T/err")"
check "nothing lost while the hub was down" "$(pending a1)" 200

start_hub "$port"
pids=()
for a in a1 a2 a3; do agent "$a" sync --quiet & pids+=($!); done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent sync failed"; done

check "hub holds exactly 600" "$(sql 'SELECT count(*) FROM submissions')" 600
check "600 distinct ids" "$(sql 'SELECT count(DISTINCT id) FROM submissions')" 600
for a in a1 a2 a3; do
  check "$a: 200 at the hub" \
    "$(sql "SELECT count(*) FROM submissions s JOIN devices d ON d.id = s.device_id WHERE d.name = '$a'")" 200
  check "$a: nothing pending" "$(pending $a)" 0
done
# Every id the agents printed is at the hub.
cat "$T"/a?.ids | sort >"$T/agent-ids"
sql 'SELECT id FROM submissions' | sort >"$T/hub-ids"
cmp -s "$T/agent-ids" "$T/hub-ids" || fail "agent ids and hub ids differ"
check "per-area counts" "$(sql "SELECT group_concat(area || '=' || n) FROM (SELECT area, count(*) n FROM submissions GROUP BY area ORDER BY area)")" \
  "N-01=200,N-02=200,N-03=200"

receipts=$(sql 'SELECT count(*) FROM receipts')
for a in a1 a2 a3; do
  out=$(agent "$a" sync)
  case "$out" in
    "sync done: sent 0 change(s), received 0; 0 waiting") ;;
    *) fail "second sync of $a was not empty: $out" ;;
  esac
done
check "second sync stored no receipt" "$(sql 'SELECT count(*) FROM receipts')" "$receipts"
check "still exactly 600" "$(sql 'SELECT count(*) FROM submissions')" 600
finish
