#!/usr/bin/env bash
# The DNS the load benchmark's full policy resolves against: dnsmasq on 127.0.0.1:5353 (loopback
# only, no upstream) serving tenant.example's SPF (authorizing 127.0.0.1, the bench's egress
# address), DMARC p=reject, and the DKIM key of selector `bench` made by
#   aupgate dkim generate tenant.example --selector bench --config deploy/bench.toml
# so every relayed message takes the whole authentication path: SPF pass, a gateway RSA-2048
# signature, DMARC pass. Answers carry a 300 s TTL, as real zones do, so the gateway's resolver
# caches them. dnsmasq answers a local NXDOMAIN without an SOA, which resolvers do not cache
# (RFC 2308), unlike a real zone's; the DMARC tree walk's public-suffix lookup (_dmarc.example)
# would then reach the server on every message, so that name gets a TXT record that is not a
# DMARC policy (the walk ignores it, as it would ignore NXDOMAIN). Needs `dnsmasq`
# (apt-get install dnsmasq-base). Runs in the foreground.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${AUPGATE:-target/release/aupgate}"
record="$("$bin" dkim list --config deploy/bench.toml | awk -F'\t' '$1 == "tenant.example" && $2 == "bench" { print $4 }')"
if [ -z "$record" ]; then
  echo "no DKIM key: run $bin dkim generate tenant.example --selector bench --config deploy/bench.toml" >&2
  exit 2
fi
# dnsmasq takes each comma-separated text as one character-string (at most 255 bytes).
chunks="$(printf '%s' "$record" | fold -w 255 | paste -sd, -)"
exec dnsmasq --keep-in-foreground --no-resolv --no-hosts --no-poll --bind-interfaces \
  --listen-address=127.0.0.1 --port=5353 --local=/example/ --local-ttl=300 --log-facility=- \
  --txt-record=tenant.example,"v=spf1 ip4:127.0.0.1 -all" \
  --txt-record=_dmarc.tenant.example,"v=DMARC1; p=reject" \
  --txt-record=_dmarc.example,"not a DMARC record" \
  --txt-record=bench._domainkey.tenant.example,"$chunks"
