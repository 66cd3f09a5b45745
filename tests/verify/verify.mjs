// Independent check of what aupgate relays: SPF, DKIM and DMARC evaluated by the `mailauth`
// package (not our code) against the test's DNS server on loopback.
//
// usage: node verify.mjs <message file> <dns ip:port> <client ip> <helo> <envelope sender>
// prints one JSON line: {"spf": ..., "dkim": [{"result", "domain", "selector", "info"}], "dmarc": ...}
import { readFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { authenticate } from 'mailauth';

const [file, server, ip, helo, sender] = process.argv.slice(2);
const dns = new Resolver({ timeout: 2000, tries: 2 });
dns.setServers([server]);
const resolver = (name, rrtype) => dns.resolve(name, rrtype);

const result = await authenticate(readFileSync(file), {
    ip,
    helo,
    sender,
    mta: 'verifier.test',
    resolver,
});
console.log(
    JSON.stringify({
        spf: result.spf?.status?.result ?? null,
        dkim: (result.dkim?.results ?? []).map((r) => ({
            result: r.status?.result,
            domain: r.signingDomain,
            selector: r.selector,
            info: r.info,
        })),
        dmarc: result.dmarc?.status?.result ?? null,
    })
);
