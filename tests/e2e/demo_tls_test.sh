#!/usr/bin/env bash
# The hotel demo over mutual TLS, as docs/security.md tells a user to run it: `demo.sh --tls`
# makes a throwaway CA, every service requires client certificates, the gateway calls them with
# its own and serves HTTPS. Checks the booking over HTTPS, the error cases, that every node
# registered secure=true, and that callers without TLS or without a certificate are refused.
# Inside a network namespace (netns-run.sh).
#
#   tests/integration/netns-run.sh bash tests/e2e/demo_tls_test.sh <source dir> <build dir>
source "$(dirname "$0")/demo_common.sh" "$@"
start_demo --tls
pki=$(sed -n 's/^== TLS: a throwaway CA in \([^;]*\);.*/\1/p' "$out")
[[ -f $pki/ca.crt ]] || fail "no CA printed"
body='{"inDate":"2015-04-09","outDate":"2015-04-10"}'
url=https://127.0.0.1:$port/hotel/rates

echo "== the booking over HTTPS, and its error cases"
answer=$(curl -sS --cacert "$pki/ca.crt" -H 'Authorization: Bearer VALID_TOKEN' -d "$body" "$url")
[[ $answer == *'"hotels":'* && $answer == *'"RACK"'* ]] || fail "booking: $answer"
echo "   200 with hotels and the RACK plan"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" -H 'Authorization: Bearer WRONG' -d "$body" "$url")
[[ $code == 401 ]] || fail "a wrong token: $code, not 401"
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$pki/ca.crt" -d "$body" "$url")
[[ $code == 403 ]] || fail "no token: $code, not 403"
echo "   401 for a wrong token, 403 without one"
rc=0
curl -s -o /dev/null -d "$body" "$url" || rc=$?
[[ $rc == 60 ]] || fail "curl without the CA: exit $rc, not 60 (certificate not trusted)"
code=$(curl -s -o /dev/null -w '%{http_code}' -d "$body" "http://127.0.0.1:$port/hotel/rates" || true)
[[ $code != 200 ]] || fail "plain HTTP answered 200 on the HTTPS port"
echo "   curl without the CA refuses the gateway; plain HTTP gets no answer"

echo "== every node registered secure=true"
json=$("$build/tools/micro" --registry mdns://127.0.0.1 service --json go.micro.srv.geo)
[[ $json == *'"secure":"true"'* ]] || fail "go.micro.srv.geo's node metadata: $json"
for s in go.micro.srv.auth go.micro.srv.profile go.micro.srv.rate go.micro.api.hotel; do
  "$build/tools/micro" --registry mdns://127.0.0.1 service --json "$s" | grep -q '"secure":"true"' ||
    fail "$s has a node without secure=true"
done

echo "== callers without TLS, or without a client certificate, are refused"
rc=0
err=$("$build/tools/micro" --registry mdns://127.0.0.1 call go.micro.srv.geo Geo.Nearby \
  '{"lat":37.7867,"lon":-122.4112}' 2>&1) || rc=$?
[[ $rc != 0 && $err == *"requires TLS"* ]] || fail "a plain-text call: exit $rc, $err"
echo "   plain text: $err"
rc=0
err=$("$build/tools/micro" --registry mdns://127.0.0.1 --tls_ca "$pki/ca.crt" call go.micro.srv.geo \
  Geo.Nearby '{"lat":37.7867,"lon":-122.4112}' 2>&1) || rc=$?
[[ $rc != 0 && $err != *'"hotelIds"'* ]] || fail "a call without a client certificate: exit $rc, $err"
echo "   no client certificate: $(echo "$err" | cut -c1-200)"
ok=$("$build/tools/micro" --registry mdns://127.0.0.1 --tls_ca "$pki/ca.crt" --tls_cert "$pki/node.crt" \
  --tls_key "$pki/node.key" call go.micro.srv.geo Geo.Nearby '{"lat":37.7867,"lon":-122.4112}')
[[ $ok == *'"hotelIds"'* ]] || fail "a call with the certificate: $ok"
echo "   with the certificate: $ok"
echo "PASS"
