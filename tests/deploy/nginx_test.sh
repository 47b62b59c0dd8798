#!/usr/bin/env bash
# deploy/nginx: the rendered configuration passes `nginx -t` as an unprivileged user, then a real
# nginx started from it (no root, everything under a temporary prefix) behaves as documented:
# redirect to HTTPS, TLS 1.2/1.3 only, security headers, the web UI from disk with revalidation,
# request ids, forwarded headers, retries around a dead server, the upload rate limit, the 25 MiB
# limit and JSON errors. The upstream pool is one dead port and a small node echo server.
set -uo pipefail
source "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/pneumo-nginx-test.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  if ((failures)); then echo "kept $work for inspection"; else rm -rf "$work"; fi
}
trap cleanup EXIT
chmod 755 "$work"
[ "$(id -u)" -ne 0 ] || chown 65534:65534 "$work"

read -r https http status echo_port dead_port <<<"$(free_ports 5)"
state=$work/state
config_env=(env PNEUMO_STACK_DIR="$state" PNEUMO_HTTPS_PORT="$https" PNEUMO_HTTP_PORT="$http"
  PNEUMO_NGINX_STATUS_PORT="$status" PNEUMO_SERVER1_PORT="$dead_port" PNEUMO_SERVER2_PORT="$echo_port"
  PNEUMO_UPLOAD_RATE=5r/s PNEUMO_UPLOAD_BURST=5)

echo "== rendering the stack's configuration as $("${unprivileged[@]}" id -un)"
if ! out=$("${unprivileged[@]}" "${config_env[@]}" "$repo/deploy/local/stack.sh" config 2>&1); then
  echo "$out"
  fail "stack.sh config renders the templates"
  finish
fi
pass "stack.sh config renders the templates"
conf=$state/nginx/conf
refute "no template token is left in the rendered files" grep -rn '@[A-Z][A-Z0-9_]*@' "$conf"
check "the upstream pool lists both servers with passive health checks" \
  grep -q "server 127.0.0.1:$dead_port max_fails=3 fail_timeout=10s;" "$conf/pneumo.conf"

echo "== nginx -t"
out=$("${unprivileged[@]}" nginx -t -p "$state/nginx/" -e logs/error.log -c conf/nginx.conf 2>&1)
rc=$?
echo "$out"
check "nginx -t accepts the configuration (unprivileged, prefix $state/nginx)" test $rc -eq 0
check "nginx -t says the test is successful" grep -q "test is successful" <<<"$out"
refute "nginx -t gives no warnings" grep -q '\[warn\]' <<<"$out"

if [ "$(id -u)" -eq 0 ]; then
  # What stack.sh renders for root ("user root root;") must pass too.
  rootstate=$work/root-state
  "${config_env[@]/#PNEUMO_STACK_DIR=*/PNEUMO_STACK_DIR=$rootstate}" "$repo/deploy/local/stack.sh" config >/dev/null
  out=$(nginx -t -p "$rootstate/nginx/" -e logs/error.log -c conf/nginx.conf 2>&1)
  check "nginx -t accepts the configuration rendered for root" test $? -eq 0
fi

echo "== a real nginx from that configuration"
# The echo upstream answers every request with the headers it got, as JSON.
node -e '
  const http = require("http");
  http.createServer((req, res) => {
    let n = 0;
    req.on("data", (c) => { n += c.length; });
    req.on("end", () => {
      res.writeHead(req.method === "POST" ? 201 : 200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ method: req.method, url: req.url, bytes: n, headers: req.headers }));
    });
  }).listen(Number(process.argv[1]), "127.0.0.1");
' "$echo_port" &
pids+=($!)
"${unprivileged[@]}" nginx -p "$state/nginx/" -e logs/error.log -c conf/nginx.conf -g 'daemon off;' &
pids+=($!)
for _ in $(seq 50); do
  curl -sk -o /dev/null "https://127.0.0.1:$https/static/favicon.svg" && curl -s -o /dev/null "http://127.0.0.1:$echo_port/" && break
  sleep 0.1
done
base=https://127.0.0.1:$https
ca=(--cacert "$state/nginx/tls/cert.pem")

# TLS: the self-signed certificate verifies for 127.0.0.1; only TLS 1.2 and 1.3 are spoken.
check "HTTPS verifies against the stack's certificate" curl -sf "${ca[@]}" -o /dev/null "$base/"
check "TLS 1.3 is accepted" curl -sf "${ca[@]}" --tlsv1.3 -o /dev/null "$base/"
check "TLS 1.2 is accepted" curl -sf "${ca[@]}" --tlsv1.2 --tls-max 1.2 -o /dev/null "$base/"
refute "TLS 1.1 is refused" curl -s "${ca[@]}" --tlsv1 --tls-max 1.1 -o /dev/null "$base/"
refute "a TLS 1.2 client offering only CBC suites is refused" \
  curl -s "${ca[@]}" --tls-max 1.2 --ciphers ECDHE-ECDSA-AES128-SHA -o /dev/null "$base/"

# Plain HTTP redirects; a POST keeps its method (308).
headers=$(curl -s -D - -o /dev/null "http://127.0.0.1:$http/api/v1/predictions?page=2")
check "HTTP GET gets 301 to the same URL over HTTPS" \
  grep -qi "^location: https://127.0.0.1:$https/api/v1/predictions?page=2" <<<"$headers"
check "HTTP GET's redirect is a 301" grep -q "^HTTP/1.1 301" <<<"$headers"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary x "http://127.0.0.1:$http/predict")
check "HTTP POST gets 308 (method kept)" test "$code" = 308
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$https/")
check "plain HTTP to the TLS port is redirected (got $code)" test "$code" = 301

# The web UI comes from web/ on disk, with security headers and revalidation.
headers=$(curl -s "${ca[@]}" -D - -o "$work/index.html" "$base/")
check "/ is web/index.html" cmp -s "$work/index.html" "$repo/web/index.html"
for h in "strict-transport-security: max-age=31536000; includeSubDomains" "x-content-type-options: nosniff" \
  "x-frame-options: DENY" "referrer-policy: no-referrer" "content-security-policy: default-src 'self'" \
  "cache-control: no-cache" "content-type: text/html"; do
  check "/ has $h" grep -qiF "$h" <<<"$headers"
done
etag=$(grep -i '^etag:' <<<"$headers" | cut -d' ' -f2 | tr -d '\r')
code=$(curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$base/")
check "a cached copy revalidates: 304 for the same ETag" test "$code" = 304
headers=$(curl -s "${ca[@]}" -D - -H 'Accept-Encoding: gzip' -o "$work/style.css.gz" "$base/static/style.css")
check "/static/style.css is sent gzipped" grep -qi '^content-encoding: gzip' <<<"$headers"
check "/static/style.css is web/style.css" bash -c "gunzip -c '$work/style.css.gz' | cmp -s - '$repo/web/style.css'"
check "/static/js/api.js is served as JavaScript" \
  bash -c "curl -s --cacert '$state/nginx/tls/cert.pem' -D - -o /dev/null '$base/static/js/api.js' | grep -qi '^content-type: text/javascript'"
headers=$(curl -s "${ca[@]}" -D - -o /dev/null "$base/static/favicon.svg")
check "the favicon may be kept for a day" grep -qi '^cache-control: max-age=86400' <<<"$headers"
body=$(curl -s "${ca[@]}" "$base/static/nope.js")
check "a missing static file is a JSON 404" grep -q '"code":"not_found"' <<<"$body"
code=$(curl -s "${ca[@]}" --path-as-is -o "$work/body" -w '%{http_code}' "$base/static/../../../etc/passwd")
check "no way out of web/: a URI above the root is a 400 (got $code)" test "$code" = 400
check "that 400 is JSON bad_request" grep -q '"code":"bad_request"' "$work/body"
code=$(curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' "$base/_pneumo/errors/400")
check "the 400 error page is internal (got $code)" test "$code" = 404

# Proxying: request ids and forwarded headers reach the server; a dead server is skipped.
body=$(curl -s "${ca[@]}" -D "$work/h" -H 'X-Request-Id: client-id.42' "$base/api/v1/model")
check "a client's X-Request-Id reaches the server" grep -q '"x-request-id":"client-id.42"' <<<"$body"
check "and comes back in the answer" grep -qi '^x-request-id: client-id.42' "$work/h"
body=$(curl -s "${ca[@]}" -D "$work/h" "$base/api/v1/model")
id=$(grep -i '^x-request-id:' "$work/h" | cut -d' ' -f2 | tr -d '\r')
check "without one, nginx makes one (got '$id')" grep -Eq '^[0-9a-f]{32}$' <<<"$id"
check "the made id reaches the server" grep -q "\"x-request-id\":\"$id\"" <<<"$body"
body=$(curl -s "${ca[@]}" -D "$work/h" -H 'X-Request-Id: two words"' "$base/api/v1/model")
id=$(grep -i '^x-request-id:' "$work/h" | cut -d' ' -f2 | tr -d '\r')
check "an id with spaces or quotes is replaced (got '$id')" grep -Eq '^[0-9a-f]{32}$' <<<"$id"
body=$(curl -s "${ca[@]}" -H 'X-Forwarded-For: 203.0.113.7' "$base/api/v1/model")
check "X-Real-IP is the client's address" grep -q '"x-real-ip":"127.0.0.1"' <<<"$body"
check "X-Forwarded-For carries the chain" grep -q '"x-forwarded-for":"203.0.113.7, 127.0.0.1"' <<<"$body"
check "X-Forwarded-Proto is https" grep -q '"x-forwarded-proto":"https"' <<<"$body"
refute "the upstream connection is kept alive (HTTP/1.1, no Connection: close)" \
  grep -q '"connection":"close"' <<<"$body"
ok=0
for _ in $(seq 10); do
  code=$(curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' "$base/api/v1/predictions?page=1")
  [ "$code" = 200 ] && ok=$((ok + 1))
done
check "GETs go around the dead server: $ok of 10 answered" test $ok -eq 10
sleep 1.2 # a fresh upload budget
ok=0
for _ in $(seq 4); do
  code=$(curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' -F "file=@$repo/web/favicon.svg" "$base/api/v1/predictions")
  [ "$code" = 201 ] && ok=$((ok + 1))
  sleep 0.25
done
check "uploads are re-sent when the first server refuses the connection: $ok of 4 answered" test $ok -eq 4
code=$(curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' "$base/metrics")
check "/metrics is not served through the proxy (got $code)" test "$code" = 404

# Limits: uploads per client address (5/s, burst 5 here), and 25 MiB of body.
sleep 1.2
codes=$(for _ in $(seq 20); do
  curl -s "${ca[@]}" -o /dev/null -w '%{http_code}\n' -X POST -H 'Content-Type: image/png' --data-binary x "$base/api/v1/predictions" &
done; wait)
n429=$(grep -c '^429$' <<<"$codes")
n201=$(grep -c '^201$' <<<"$codes")
if ((n201 >= 5 && n201 <= 8 && n429 >= 12)); then
  pass "a burst of 20 uploads: $n201 pass (5/s, burst 5), $n429 get 429"
else
  fail "a burst of 20 uploads: $n201 pass, $n429 get 429; codes: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
fi
body=$(curl -s "${ca[@]}" -D "$work/h" -X POST --data-binary x -H 'Content-Type: image/png' "$base/predict")
for _ in 1 2 3 4 5 6 7 8 9 10; do
  grep -q '^HTTP/2 429' "$work/h" && break
  body=$(curl -s "${ca[@]}" -D "$work/h" -X POST --data-binary x -H 'Content-Type: image/png' "$base/predict")
done
check "429 comes as JSON rate_limited" grep -q '{"error":{"code":"rate_limited","message":' <<<"$body"
check "429 has Retry-After" grep -qi '^retry-after: 1' "$work/h"
check "429 keeps the security headers" grep -qi '^strict-transport-security:' "$work/h"
codes=$(for _ in $(seq 20); do curl -s "${ca[@]}" -o /dev/null -w '%{http_code}\n' "$base/api/v1/predictions" & done; wait)
refute "reads of the same route are not rate limited" grep -q 429 <<<"$codes"
sleep 1.2
head -c $((25 * 1024 * 1024)) /dev/zero >"$work/limit.bin"
code=$(curl -s "${ca[@]}" -o "$work/body" -w '%{http_code}' -H 'Content-Type: image/png' --data-binary "@$work/limit.bin" "$base/api/v1/predictions")
check "an upload of exactly 25 MiB is passed on (got $code)" test "$code" = 201
check "the server got all 26214400 bytes" grep -q '"bytes":26214400' "$work/body"
sleep 1.2
head -c $((25 * 1024 * 1024 + 1)) /dev/zero >"$work/over.bin"
code=$(curl -s "${ca[@]}" -o "$work/body" -w '%{http_code}' -H 'Content-Type: image/png' --data-binary "@$work/over.bin" "$base/api/v1/predictions")
check "one byte more gets 413 from nginx (got $code)" test "$code" = 413
check "413 is JSON payload_too_large" grep -q '"code":"payload_too_large"' "$work/body"

# With no server left, nginx answers in pneumo's error shape.
kill "${pids[0]}"
wait "${pids[0]}" 2>/dev/null
sleep 1.2
code=$(curl -s "${ca[@]}" -D "$work/h" -o "$work/body" -w '%{http_code}' -F "file=@$repo/web/favicon.svg" "$base/api/v1/predictions")
check "no server up: 502 (got $code)" test "$code" = 502
check "502 is JSON upstream_unavailable" grep -q '"code":"upstream_unavailable"' "$work/body"
check "502 has Retry-After" grep -qi '^retry-after: 5' "$work/h"

# stub_status for the exporter, on its own loopback port.
check "stub_status answers on 127.0.0.1:$status" \
  bash -c "curl -sf 'http://127.0.0.1:$status/stub_status' | grep -q 'Active connections'"
code=$(curl -s "${ca[@]}" -o /dev/null -w '%{http_code}' "$base/stub_status")
check "stub_status is not on the public server (got $code)" test "$code" != 200
check "the access log is JSON with request ids" \
  bash -c "tail -1 '$state/nginx/logs/access.log' | node -e 'const l=JSON.parse(require(\"fs\").readFileSync(0,\"utf8\")); process.exit(/^[0-9a-f]{32}\$/.test(l.request_id)?0:1)'"
refute "nginx logged nothing worse than an error" grep -E '\[(emerg|alert|crit)\]' "$state/nginx/logs/error.log"

finish
