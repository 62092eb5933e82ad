#!/usr/bin/env bash
# cJSON's own parsers write a global error pointer that every thread
# shares, so the hub's workers, the agent's web server and the benches'
# threads parse JSON only through fs_json_parse or fs_json_parse_stored.
# Single-threaded test programs and the reference implementation are
# exempt. A new parse through cJSON directly fails this test.
. "$(dirname "$0")/../lib.sh"

hits=$(cd "$FS_SRC" && grep -rnE 'cJSON_Parse[A-Za-z]*[[:space:]]*\(|cJSON_GetErrorPtr' \
  --include='*.c' --include='*.h' protocol schema field-agent sync-server bench tests/tools |
  grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)' || true)
check "no direct cJSON parse in threaded code" "$hits" ""
finish
