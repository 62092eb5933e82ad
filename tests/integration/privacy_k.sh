#!/usr/bin/env bash
# Small-cell suppression cannot be switched off by whoever asks: the hub
# has a minimum k (default 5) that only an admin changes, audited, with
# `fieldsync-hub config set min-k N`; indicators, change and the areas
# GeoJSON, over HTTP and on the command line, use the larger of the
# requested k and that minimum. An indicator of a personal or sensitive
# field is computed only for admins, and suppressed like any other.
. "$(dirname "$0")/../lib.sh"

FIX="$FS_SRC/tests/fixtures"
hub() { "$FS_HUB" "$1" --db "$DB" "${@:2}"; }
day() { date -u -d "$1 days" +%F; }

hub form publish "$FIX/privacy/privacy_survey.json" >/dev/null
hub areas import "$FIX/mapping/areas.geojson" >/dev/null
hub wave add baseline --start "$(day -30)" --end "$(day 30)" >/dev/null
hub wave add later --start "$(day 31)" --end "$(day 120)" >/dev/null

start_hub
new_agent e1
rec() {  # rec AREA N JSON
  local i
  echo "$3" >"$T/answers.json"
  for i in $(seq 1 "$2"); do
    agent e1 record privacy_survey --answers "$T/answers.json" --area "$1" >>"$T/ids"
  done
}
# Six women in N01; two men in N02, whose answers a k of 1 or 2 would
# give away.
rec CITY-N01 6 '{"gender":"woman","belonging":4,"threatened":2,"tension":3}'
rec CITY-N02 2 '{"gender":"man","belonging":5,"threatened":5,"tension":5,"phone":"+33 6 00 00 00 02"}'
sync_until_done e1
check "every submission at the hub" "$(sql 'SELECT count(*) FROM submissions')" 8

ADMIN=$(hub token create --role admin --name boss 2>/dev/null)
REV=$(hub token create --role reviewer --name rev 2>/dev/null)
api() {  # api TOKEN PATH -> body to $T/body, status echoed
  curl -sS -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $1" "$HUB_URL$2"
}
cell() {  # cell AREA: "n value status" of the (area, *) cell in $T/body
  python3 - "$T/body" "$1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for c in d['cells']:
    if c['area'] == sys.argv[2] and c['category'] == '*':
        print(c['n'], c['value'], c['status'])
PY
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/body" "$1"; }
IND='/api/v1/admin/indicators?form=privacy_survey&wave=baseline'

# ---- the caller cannot lower k -----------------------------------------
for who in REV ADMIN; do
  check "$who asks k=1" "$(api "${!who}" "$IND&indicator=mean:belonging&k=1")" 200
  check "... N02's two answers stay hidden" "$(cell CITY-N02)" "None None suppressed"
  check "... the k used is the hub's minimum" "$(field k) $(field min_k)" "5 5"
done
check "k=2 on the change" \
  "$(api "$REV" '/api/v1/admin/change?form=privacy_survey&indicator=mean:belonging&from=baseline&to=later&k=2')" 200
check "... N02 hidden" "$(python3 -c '
import json,sys
for c in json.load(open(sys.argv[1]))["changes"]:
    if c["area"] == "CITY-N02" and c["category"] == "*": print(c["from_n"], c["from_value"])' "$T/body") $(field k)" "None None 5"
check "the CLI asks --k 1" \
  "$(hub indicators --form privacy_survey --indicator count --wave baseline --k 1 --csv | tr -d '\r' | grep '^baseline,CITY-N02,\*')" \
  "baseline,CITY-N02,*,,,suppressed,small_cell,false"
areas_n02() {  # the properties n value status of N02 in a GeoJSON file
  python3 - "$1" <<'PY'
import json, sys
for f in json.load(open(sys.argv[1]))['features']:
    p = f['properties']
    if p['code'] == 'CITY-N02':
        print(p.get('n'), p.get('value'), p.get('status'))
PY
}
check "the areas GeoJSON over HTTP with k=1" \
  "$(api "$REV" '/api/v1/admin/export/geojson/areas?form=privacy_survey&indicator=mean:belonging&wave=baseline&k=1')" 200
check "... N02 hidden" "$(areas_n02 "$T/body")" "None None suppressed"
hub export geojson areas --form privacy_survey --indicator mean:belonging --wave baseline --k 1 -o "$T/areas.geojson"
check "the areas GeoJSON from the CLI with --k 1: N02 hidden" "$(areas_n02 "$T/areas.geojson")" "None None suppressed"

# A request may raise k.
check "k=7 raises it" "$(api "$REV" "$IND&indicator=count&k=7")" 200
check "... N01's six hidden too" "$(cell CITY-N01) $(field k)" "None None suppressed 7"

# ---- an admin sets the minimum, audited ---------------------------------
check "config shows the default" "$(hub config show)" "min-k 5"
rc=0; hub config set min-k 1 2>"$T/err" || rc=$?
check "min-k 1 refused" "$rc" 2
grep -q "min-k must be an integer from 2 to 1000, not 1" "$T/err" || fail "no reason: $(cat "$T/err")"
rc=0; hub config set min-k abc 2>/dev/null || rc=$?
check "min-k abc refused" "$rc" 2
rc=0; hub config set max-k 3 2>"$T/err" || rc=$?
check "an unknown setting refused" "$rc" 2
check "nothing was audited for refused settings" \
  "$(sql "SELECT count(*) FROM audit_log WHERE action = 'config.set'")" 0
hub config set min-k 10 >/dev/null
check "the change is audited" \
  "$(sql "SELECT actor || ' ' || json_extract(detail, '$.setting') || ' ' || json_extract(detail, '$.from') || ' ' || json_extract(detail, '$.to') FROM audit_log WHERE action = 'config.set'")" \
  "cli min_k 5 10"
check "config shows it" "$(hub config show --json)" '{"min_k":10}'
check "the running hub uses it at once" "$(api "$ADMIN" "$IND&indicator=count&k=5")" 200
check "... k=5 is raised to 10" "$(cell CITY-N01) $(field k)" "None None suppressed 10"
hub config set min-k 2 >/dev/null
check "with min-k 2 a k=1 request gets 2" "$(api "$REV" "$IND&indicator=count&k=1")" 200
check "... N02's two show" "$(cell CITY-N02) $(field k)" "2 2 ok 2"
hub config set min-k 5 >/dev/null

# ---- the indicator's own field -----------------------------------------
check "a reviewer may not aggregate a sensitive field" \
  "$(api "$REV" "$IND&indicator=mean:threatened")" 403
check "... told why" "$(field message)" \
  "threatened is a personal or sensitive field: only hub admins may aggregate it"
check "... nor put it on the map" \
  "$(api "$REV" '/api/v1/admin/export/geojson/areas?form=privacy_survey&indicator=mean:threatened&wave=baseline')" 403
check "... nor its change" \
  "$(api "$REV" '/api/v1/admin/change?form=privacy_survey&indicator=mean:threatened&from=baseline&to=later')" 403
check "an admin may, with k=1" "$(api "$ADMIN" "$IND&indicator=mean:threatened&k=1")" 200
check "... still suppressed" "$(cell CITY-N02) $(field k)" "None None suppressed 5"
finish
