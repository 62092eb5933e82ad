#!/usr/bin/env bash
# The admin page's files as served by a real hub, without a browser: each
# with its type, a strict Content-Security-Policy, revalidation by ETag,
# gzip that decodes to the file itself; nothing fetched from elsewhere and
# no inline script; and the API behind the page still refuses callers
# without a token.
. "$(dirname "$0")/../lib.sh"

publish_sample_form
start_hub
new_agent tab
record_n tab 2 N-01
agent tab sync --quiet
WEB="$FS_SRC/sync-server/web"

# js EXPR: evaluates EXPR with d = the JSON read from stdin (node is there
# for the browser tests; no jq needed).
js() {
  node -e 'let t="";process.stdin.on("data",c=>t+=c).on("end",()=>{const d=JSON.parse(t);console.log((0,eval)("(d)=>("+process.argv[1]+")")(d))})' "$1"
}

header() {  # header FILE NAME -> value (CR stripped)
  sed -n "s/^$2: //Ip" "$1" | tr -d '\r' | head -n 1
}

files="/=index.html /ui/app.css=app.css /ui/app.js=app.js /ui/api.js=api.js"
files="$files /ui/review.js=review.js /ui/dataset.js=dataset.js /ui/map.js=map.js"
for pair in $files; do
  path=${pair%%=*} file=${pair#*=}
  curl -sS -D "$T/h" -o "$T/body" "$HUB_URL$path"
  case "$file" in
    *.html) want="text/html; charset=utf-8" ;;
    *.css) want="text/css; charset=utf-8" ;;
    *.js) want="text/javascript; charset=utf-8" ;;
  esac
  check "$path: type" "$(header "$T/h" Content-Type)" "$want"
  check "$path: the bytes of $file" "$(sha256sum <"$T/body")" "$(sha256sum <"$WEB/$file")"
  csp=$(header "$T/h" Content-Security-Policy)
  case "$csp" in
    *"default-src 'none'"*"script-src 'self'"*"style-src 'self'"*"frame-ancestors 'none'"*) ;;
    *) fail "$path: weak or missing CSP: '$csp'" ;;
  esac
  case "$csp" in *unsafe*|*"*"*|*http:*|*https:*) fail "$path: CSP allows too much: $csp" ;; esac
  check "$path: nosniff" "$(header "$T/h" X-Content-Type-Options)" nosniff
  check "$path: revalidated" "$(header "$T/h" Cache-Control)" no-cache
  etag=$(header "$T/h" ETag)
  [ -n "$etag" ] || fail "$path: no ETag"
  check "$path: 304 for its ETag" \
    "$(curl -sS -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$HUB_URL$path")" 304
  check "$path: gzip decodes to the file" \
    "$(curl -sS -H 'Accept-Encoding: gzip' "$HUB_URL$path" | gzip -dc | sha256sum)" "$(sha256sum <"$WEB/$file")"
  # Nothing from elsewhere: no absolute URL outside comments and no
  # script or style written into the page.
  if grep -nE '(src|href)=["'"'"'](https?:)?//|import .* from ["'"'"']https?:|fetch\(["'"'"']https?:' "$WEB/$file"; then
    fail "$file loads something from another site"
  fi
done
for f in "$WEB"/*.js; do
  node --input-type=module --check <"$f" || fail "$(basename "$f"): syntax error"
done
echo "ok - every script parses"
check "HEAD has no body" "$(curl -sS -I "$HUB_URL/" -o /dev/null -w '%{size_download} %{http_code}')" "0 200"
grep -n '<script>' "$WEB/index.html" && fail "index.html has an inline script"
grep -nE ' on[a-z]+=| style=' "$WEB/index.html" && fail "index.html has inline handlers or styles"
grep -n "setAttribute('style'\|innerHTML\|insertAdjacentHTML\|eval(\|new Function" "$WEB"/*.js &&
  fail "a script writes HTML or styles as text, or evaluates code"
echo "ok - no inline script, style or HTML parsing of data"

check "POST / is refused" "$(curl -sS -o /dev/null -w '%{http_code}' -X POST "$HUB_URL/")" 405
curl -sS -o "$T/nf" -w '%{http_code}' "$HUB_URL/ui/other.js" >"$T/code"
check "an unknown file is a JSON 404" "$(cat "$T/code") $(js d.error <"$T/nf")" "404 not_found"

# The API the page calls: no token, a wrong one, a device's.
dev=$(sqlite3 "$T/tab/agent.db" "SELECT value FROM meta WHERE key='token'")
for p in whoami forms devices stats submissions audit conflicts duplicates waves quotas coverage indicators change areas export/csv export/geojson/areas; do
  check "$p without a token" "$(curl -sS -o /dev/null -w '%{http_code}' "$HUB_URL/api/v1/admin/$p")" 401
  check "$p with a wrong token" "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $(printf '%064d' 3)" "$HUB_URL/api/v1/admin/$p")" 401
  check "$p with a device token" "$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $dev" "$HUB_URL/api/v1/admin/$p")" 403
done
check "review without a token" "$(curl -sS -o /dev/null -w '%{http_code}' -X POST --data-binary '{}' "$HUB_URL/api/v1/admin/review")" 401

# whoami and the state filter the page relies on.
rev=$("$FS_HUB" token create --db "$DB" --role reviewer --name rita --areas N-01,N-02 2>/dev/null)
auth=(-H "Authorization: Bearer $rev")
check "whoami" "$(curl -sS "${auth[@]}" "$HUB_URL/api/v1/admin/whoami" | js 'JSON.stringify(d)')" \
  '{"name":"rita","role":"reviewer","areas":["N-01","N-02"]}'
first=$(head -n 1 "$T/tab.ids")
"$FS_HUB" review --db "$DB" "$first" --state approved >/dev/null
check "state=approved lists the approved one" \
  "$(curl -sS "${auth[@]}" "$HUB_URL/api/v1/admin/submissions?state=approved" | js 'd.submissions.map((s) => s.id).join()')" "$first"
check "state=received lists the other" \
  "$(curl -sS "${auth[@]}" "$HUB_URL/api/v1/admin/submissions?state=received" | js d.submissions.length)" 1
curl -sS -o "$T/bad" -w '%{http_code}' "${auth[@]}" "$HUB_URL/api/v1/admin/submissions?state=maybe" >"$T/code"
check "an unknown state is a 400 that says why" "$(cat "$T/code") $(js d.error <"$T/bad")" "400 bad_parameter"
js d.message <"$T/bad" | grep -q "received, has_issues, approved or rejected" || fail "message: $(cat "$T/bad")"
finish
