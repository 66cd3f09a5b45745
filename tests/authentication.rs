//! SPF, DKIM and DMARC end to end: the real server, a real DNS server on loopback serving the
//! records, the sink as next hop. What the gateway relays is verified again by `mailauth` (npm),
//! an implementation we did not write, against the same DNS server.

mod support;

use std::path::Path;
use std::time::Duration;

use aupgate::auth::keys::{self, Algorithm};
use aupgate::config::{Config, HumanDuration};
use support::dns::{Fault, Record, Zone};
use support::verifier::verify_independently;
use support::{send_message, Harness, EGRESS_IP};

fn txt(zone: &Zone, name: &str, text: &str) {
    zone.add(name, Record::Txt(text.into()));
}

fn key_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir().join("dkim")
}

/// A key the gateway holds at start: domain, selector, algorithm, and whether its record is
/// published on the test DNS server.
type KeySpec = (&'static str, &'static str, Algorithm, bool);

/// A gateway started with `profile` and `edit`, holding `keys` (generated into its key
/// directory before it starts), with the published ones' records on its DNS server.
async fn gateway_with_keys(profile: Option<&str>, keys: &[KeySpec], edit: impl FnOnce(&mut Config)) -> Harness {
    let mut published = Vec::new();
    let h = Harness::start_with_profile(profile, |c| {
        for &(domain, selector, algorithm, publish) in keys {
            let key = keys::generate(&key_dir(c), domain, selector, algorithm).expect("key");
            if publish {
                published.push((key.record_name(), key.dns_record()));
            }
        }
        edit(c);
    })
    .await;
    for (name, record) in &published {
        txt(&h.dns.zone, name, record);
    }
    h
}

/// The tenant's include, which authorizes the gateway's egress address.
fn publish_gateway_include(zone: &Zone) {
    txt(zone, "_spf.gw.test", &format!("v=spf1 ip4:{EGRESS_IP} -all"));
}

fn plain_message(from: &str, subject: &str) -> String {
    format!(
        "From: {from}\r\nTo: bob@dest.example\r\nSubject: {subject}\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nHello Bob,\r\n\r\nthe minutes of today's meeting are below.\r\n"
    )
}

async fn relayed(h: &Harness, n: usize) -> Vec<support::sink::Received> {
    let got = h.sink.wait_for(n, Duration::from_secs(15)).await;
    assert_eq!(got.len(), n, "{got:?}");
    got
}

fn text(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

/// The header block of a relayed message.
fn header_block(data: &[u8]) -> String {
    let text = text(data);
    text.split("\r\n\r\n").next().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spf_is_predicted_for_the_egress_address() {
    let h = Harness::start().await;
    let zone = &h.dns.zone;
    publish_gateway_include(zone);
    txt(zone, "acme.example", "v=spf1 include:_spf.gw.test -all");
    txt(zone, "hard.acme.example", "v=spf1 ip4:198.51.100.7 -all");
    txt(zone, "soft.acme.example", "v=spf1 ip4:198.51.100.7 ~all");

    let reply = send_message(
        &h,
        "a@acme.example",
        &["bob@dest.example"],
        &plain_message("a@acme.example", "pass"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let got = relayed(&h, 1).await;
    let headers = header_block(&got[0].data);
    assert!(headers.starts_with("Authentication-Results: gw.test;"), "{headers}");
    assert!(headers.contains("spf=pass"), "{headers}");
    assert!(headers.contains("smtp.mailfrom=a@acme.example"), "{headers}");

    let reply = send_message(
        &h,
        "a@hard.acme.example",
        &["bob@dest.example"],
        &plain_message("a@acme.example", "fail"),
    )
    .await;
    assert_eq!(
        reply,
        "550 5.7.1 SPF of hard.acme.example does not authorize this gateway's address 192.0.2.25; \
         publish include:_spf.gw.test in the SPF record of hard.acme.example (SPF fail) [rule spf.fail]"
    );
    let reply = send_message(
        &h,
        "a@soft.acme.example",
        &["bob@dest.example"],
        &plain_message("a@acme.example", "softfail"),
    )
    .await;
    assert!(reply.starts_with("550 5.7.1 SPF of soft.acme.example"), "{reply}");
    assert!(reply.ends_with("(SPF softfail) [rule spf.softfail]"), "{reply}");
    // Refusals are audited with their rule.
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    let record = audit
        .iter()
        .find(|r| r.target == "spf.fail")
        .expect("the refusal is audited");
    assert!(
        record.reason.starts_with("550 5.7.1") && record.action == "reject",
        "{record:?}"
    );
    // With the envelope and the counts, never the body.
    assert_eq!(record.detail["sender"], "a@hard.acme.example", "{record:?}");
    assert_eq!(record.detail["recipients"], 1, "{record:?}");
    assert!(!record.detail.to_string().contains("minutes of today"), "{record:?}");
    assert_eq!(h.sink.messages().len(), 1, "nothing refused was relayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_cached_by_the_one_resolver() {
    let h = gateway_with_keys(None, &[("acme.example", "s1", Algorithm::Ed25519, true)], |_| {}).await;
    let zone = &h.dns.zone;
    publish_gateway_include(zone);
    txt(zone, "acme.example", "v=spf1 include:_spf.gw.test -all");
    txt(zone, "_dmarc.acme.example", "v=DMARC1; p=reject");
    let names = [
        "acme.example",
        "_spf.gw.test",
        "_dmarc.acme.example",
        "s1._domainkey.acme.example",
    ];
    let reply = send_message(
        &h,
        "a@acme.example",
        &["bob@dest.example"],
        &plain_message("a@acme.example", "1"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let first: Vec<usize> = names.iter().map(|n| zone.queries(n)).collect();
    assert!(first.iter().all(|&n| n >= 1), "every record was looked up: {first:?}");
    for i in 2..5 {
        let reply = send_message(
            &h,
            "a@acme.example",
            &["bob@dest.example"],
            &plain_message("a@acme.example", &i.to_string()),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
    }
    // SPF, the DKIM key check, signing, verification and DMARC share one cache (60 s TTL here).
    let later: Vec<usize> = names.iter().map(|n| zone.queries(n)).collect();
    assert_eq!(first, later, "no name was asked again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softfail_can_be_tagged_instead_of_refused() {
    let profile = "[profile]\nname = \"default\"\n[spf]\non_softfail = \"tag\"\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    txt(&h.dns.zone, "soft.acme.example", "v=spf1 ip4:198.51.100.7 ~all");
    let reply = send_message(
        &h,
        "a@soft.acme.example",
        &["bob@dest.example"],
        &plain_message("a@acme.example", "softfail"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(headers.contains("spf=softfail"), "{headers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spf_dns_failures_defer_and_broken_records_are_permanent_errors() {
    let h = Harness::start_with(|c| {
        c.dns.timeout = HumanDuration::millis(400);
        c.dns.attempts = 1;
    })
    .await;
    let zone = &h.dns.zone;
    publish_gateway_include(zone);
    zone.fault("slow.acme.example", Fault::Silent);
    zone.fault("broken.acme.example", Fault::ServFail);
    // Two SPF records (RFC 7208 4.5: permerror).
    txt(zone, "two.acme.example", "v=spf1 -all");
    txt(zone, "two.acme.example", "v=spf1 include:_spf.gw.test -all");
    // An include of itself: a loop, stopped by the lookup limit.
    txt(
        zone,
        "loop.acme.example",
        "v=spf1 include:loop.acme.example include:_spf.gw.test -all",
    );
    // Eleven DNS-querying terms before the match (RFC 7208 4.6.4: permerror at the 11th).
    let mut many = String::from("v=spf1");
    for i in 0..11 {
        let name = format!("n{i}.acme.example");
        txt(zone, &name, "v=spf1 ip4:203.0.113.1 -all");
        many.push_str(&format!(" include:{name}"));
    }
    many.push_str(" include:_spf.gw.test -all");
    txt(zone, "many.acme.example", &many);
    // Ten are allowed.
    let mut ten = String::from("v=spf1");
    for i in 0..9 {
        ten.push_str(&format!(" include:n{i}.acme.example"));
    }
    ten.push_str(" include:_spf.gw.test -all");
    txt(zone, "ten.acme.example", &ten);
    // A syntax error.
    txt(
        zone,
        "syntax.acme.example",
        "v=spf1 ip4:999.1.1.1 include:_spf.gw.test -all",
    );
    // A record far over 512 bytes: the UDP answer is truncated and the resolver retries on TCP.
    let mut huge = String::from("v=spf1");
    for i in 0..60 {
        huge.push_str(&format!(" ip4:198.51.{i}.0/24"));
    }
    huge.push_str(&format!(" ip4:{EGRESS_IP} -all"));
    assert!(huge.len() > 1000);
    txt(zone, "huge.acme.example", &huge);

    let send = |domain: &'static str| {
        let h = &h;
        async move {
            send_message(
                h,
                &format!("a@{domain}"),
                &["bob@dest.example"],
                &plain_message("a@acme.example", domain),
            )
            .await
        }
    };
    for domain in ["slow.acme.example", "broken.acme.example"] {
        let reply = send(domain).await;
        assert_eq!(
            reply,
            format!(
                "451 4.7.24 Temporary DNS failure evaluating SPF of {domain}, please try again later [rule spf.temperror]"
            )
        );
    }
    // A temporary failure is not remembered: once the name answers, the next message passes.
    zone.clear_fault("broken.acme.example");
    txt(zone, "broken.acme.example", "v=spf1 include:_spf.gw.test -all");
    let reply = send("broken.acme.example").await;
    assert!(reply.starts_with("250 2.0.0"), "after the fault: {reply}");
    for domain in [
        "two.acme.example",
        "loop.acme.example",
        "many.acme.example",
        "syntax.acme.example",
    ] {
        let reply = send(domain).await;
        assert!(
            reply.starts_with(&format!("550 5.7.1 The SPF record of {domain} is invalid")),
            "{domain}: {reply}"
        );
        assert!(reply.ends_with("[rule spf.permerror]"), "{reply}");
    }
    for domain in ["ten.acme.example", "huge.acme.example"] {
        let reply = send(domain).await;
        assert!(reply.starts_with("250 2.0.0"), "{domain}: {reply}");
    }
    let got = relayed(&h, 3).await;
    assert!(got.iter().all(|m| header_block(&m.data).contains("spf=pass")));
}

/// Counters are charged only for mail that is accepted: a message deferred by authentication
/// (an SPF DNS failure) and retried does not count its attempts as mail-bomb messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_messages_do_not_count_towards_the_mail_bomb_limit() {
    let profile = "[profile]\nname = \"default\"\n[mail_bomb]\nmax_messages = 2\n";
    let h = Harness::start_with_profile(Some(profile), |c| {
        c.dns.timeout = HumanDuration::millis(400);
        c.dns.attempts = 1;
    })
    .await;
    let zone = &h.dns.zone;
    publish_gateway_include(zone);
    zone.fault("flaky.acme.example", Fault::ServFail);
    let message = plain_message("a@acme.example", "flaky");
    let send = || send_message(&h, "a@flaky.acme.example", &["bob@dest.example"], &message);
    for attempt in 0..3 {
        let reply = send().await;
        assert!(
            reply.starts_with("451 4.7.24 Temporary DNS failure"),
            "attempt {attempt}: {reply}"
        );
    }
    zone.clear_fault("flaky.acme.example");
    txt(zone, "flaky.acme.example", "v=spf1 include:_spf.gw.test -all");
    for n in 1..=2 {
        let reply = send().await;
        assert!(reply.starts_with("250 2.0.0"), "accepted message {n}: {reply}");
    }
    let reply = send().await;
    assert!(
        reply.starts_with("550 5.7.1 Mail bomb: more than 2 similar messages to bob@dest.example")
            && reply.ends_with("[rule mail_bomb.max_messages]"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_mail_verifies_with_an_independent_implementation() {
    let h = gateway_with_keys(
        None,
        &[
            ("acme.example", "r1", Algorithm::Rsa2048, true),
            ("ed.acme.example", "e1", Algorithm::Ed25519, true),
        ],
        |_| {},
    )
    .await;
    let zone = &h.dns.zone;
    // DMARC reject, and no SPF record at all: only the gateway's DKIM signature can pass DMARC.
    txt(zone, "_dmarc.acme.example", "v=DMARC1; p=reject");

    for (from, d, s) in [
        ("news@acme.example", "acme.example", "r1"),
        ("team@ed.acme.example", "ed.acme.example", "e1"),
    ] {
        h.sink.clear();
        // No Date and no Message-ID: the gateway adds them, and signs over them.
        let body = format!(
            "From: {from}\r\nTo: bob@dest.example\r\nSubject: Quarterly report\r\n\r\nHello Bob,\r\n.. a dot-stuffed line\r\n"
        );
        let reply = send_message(&h, from, &["bob@dest.example"], &body).await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
        let got = relayed(&h, 1).await;
        let headers = header_block(&got[0].data);
        assert!(headers.starts_with("DKIM-Signature: "), "{headers}");
        assert!(
            headers.contains(&format!("d={d}")) && headers.contains(&format!("s={s}")),
            "{headers}"
        );
        let signed = headers
            .split("h=")
            .nth(1)
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let signed: Vec<&str> = signed.split(':').map(str::trim).collect();
        assert_eq!(
            signed.iter().filter(|h| **h == "from").count(),
            2,
            "From is oversigned: {headers}"
        );
        assert!(signed.contains(&"date") && signed.contains(&"message-id"), "{headers}");
        // The attribution fields are added before signing and covered by it.
        assert!(
            signed.contains(&"feedback-id") && signed.contains(&"x-aupgate-ref"),
            "{headers}"
        );
        assert!(
            headers.contains("\r\nFeedback-ID: ") && headers.contains("\r\nX-Aupgate-Ref: "),
            "{headers}"
        );
        assert!(headers.contains("dmarc=pass"), "{headers}");

        let verdict = verify_independently(&h, &got[0].data, from);
        assert_eq!(verdict["dkim"][0]["result"], "pass", "{verdict}");
        assert_eq!(verdict["dkim"][0]["domain"], d, "{verdict}");
        assert_eq!(verdict["dmarc"], "pass", "{verdict}");

        // A second From added on the way breaks the signature (oversigning).
        let mut forged = format!("From: ceo@{d}\r\n").into_bytes();
        forged.extend_from_slice(&got[0].data);
        let verdict = verify_independently(&h, &forged, from);
        assert_ne!(verdict["dkim"][0]["result"], "pass", "{verdict}");
        assert_ne!(verdict["dmarc"], "pass", "{verdict}");
        // So does a changed body.
        let tampered = text(&got[0].data).replace("Hello Bob", "Hello Eve");
        let verdict = verify_independently(&h, tampered.as_bytes(), from);
        assert_ne!(verdict["dkim"][0]["result"], "pass", "{verdict}");
        // And so does a Feedback-ID changed on the way (complaints would go to another campaign).
        let altered = text(&got[0].data).replacen("\r\nFeedback-ID: ", "\r\nFeedback-ID: 0", 1);
        let verdict = verify_independently(&h, altered.as_bytes(), from);
        assert_ne!(verdict["dkim"][0]["result"], "pass", "{verdict}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dmarc_failures_are_refused_naming_what_is_missing() {
    let keys = [
        ("unpublished.example", "s1", Algorithm::Ed25519, false),
        ("acme.example", "s1", Algorithm::Ed25519, true),
    ];
    let h = gateway_with_keys(None, &keys, |c| {
        c.tenants[0].domains.extend(
            [
                "nokey.example",
                "unpublished.example",
                "relaxed.example",
                "garbled.example",
            ]
            .map(String::from),
        );
        c.dns.timeout = HumanDuration::millis(500);
        c.dns.attempts = 1;
    })
    .await;
    let zone = &h.dns.zone;
    txt(zone, "_dmarc.nokey.example", "v=DMARC1; p=reject");
    txt(zone, "_dmarc.unpublished.example", "v=DMARC1; p=quarantine");
    txt(zone, "_dmarc.relaxed.example", "v=DMARC1; p=none");
    // Not a DMARC record (RFC 7489 6.6.3: ignored, as if there were none).
    txt(zone, "_dmarc.garbled.example", "v=DMARC9; p=reject");
    txt(zone, "_dmarc.acme.example", "v=DMARC1; p=reject; adkim=s");
    zone.fault("_dmarc.slow.acme.example", Fault::Silent);

    let reply = send_message(
        &h,
        "a@nokey.example",
        &["bob@dest.example"],
        &plain_message("a@nokey.example", "x"),
    )
    .await;
    assert_eq!(
        reply,
        "550 5.7.1 DMARC policy of nokey.example is p=reject and this message would fail it: SPF of \
         nokey.example is none (no SPF record) for 192.0.2.25 (publish include:_spf.gw.test); no DKIM key of \
         the gateway for nokey.example (run `aupgate dkim generate nokey.example` and publish the record) \
         [rule dmarc.policy]"
    );
    let reply = send_message(
        &h,
        "a@unpublished.example",
        &["bob@dest.example"],
        &plain_message("a@unpublished.example", "x"),
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 DMARC policy of unpublished.example is p=quarantine"),
        "{reply}"
    );
    assert!(
        reply.contains("the DKIM key s1._domainkey.unpublished.example is not published in DNS"),
        "{reply}"
    );
    // Strict DKIM alignment: a subdomain's From is not covered by d=acme.example.
    let reply = send_message(
        &h,
        "a@acme.example",
        &["bob@dest.example"],
        &plain_message("a@news.acme.example", "x"),
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 DMARC policy of news.acme.example is p=reject"),
        "{reply}"
    );
    assert!(reply.contains("is not aligned with news.acme.example"), "{reply}");
    // p=none: relayed, with the failure in our Authentication-Results.
    let reply = send_message(
        &h,
        "a@relaxed.example",
        &["bob@dest.example"],
        &plain_message("a@relaxed.example", "x"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(headers.contains("dmarc=fail"), "{headers}");
    h.sink.clear();
    let reply = send_message(
        &h,
        "a@garbled.example",
        &["bob@dest.example"],
        &plain_message("a@garbled.example", "x"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(headers.contains("dmarc=none"), "{headers}");
    // A DMARC lookup that times out defers.
    let reply = send_message(
        &h,
        "a@acme.example",
        &["bob@dest.example"],
        &plain_message("a@slow.acme.example", "x"),
    )
    .await;
    assert_eq!(
        reply,
        "451 4.4.3 Temporary DNS failure evaluating DMARC for slow.acme.example, please try again later [rule dmarc.temperror]"
    );
    // The signed acme.example mail passes.
    let reply = send_message(
        &h,
        "a@acme.example",
        &["bob@dest.example"],
        &plain_message("a@acme.example", "x"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
}

/// A message signed by the tenant itself with its own key, published under `tenant`, over
/// the fields a tenant's signer (OpenDKIM's defaults) covers: not the gateway's trace field.
fn tenant_signed(tenant_keys: &Path, body: &str) -> String {
    use mail_auth::common::crypto::{RsaKey, Sha256};
    use mail_auth::dkim::DkimSigner;
    use rustls_pki_types::pem::PemObject;
    let ring = keys::KeyRing::load(tenant_keys).expect("tenant key");
    let selector = ring.for_domain("acme.example")[0].selector.clone();
    let pem = std::fs::read(tenant_keys.join(format!("acme.example/{selector}.pem"))).expect("tenant key");
    let der = rustls_pki_types::PrivatePkcs8KeyDer::from_pem_slice(&pem).expect("PKCS#8");
    let key = RsaKey::<Sha256>::from_key_der(rustls_pki_types::PrivateKeyDer::Pkcs8(der)).expect("rsa key");
    let tenant_headers = keys::SIGNED_HEADERS.iter().copied().filter(|h| *h != "X-Aupgate-Ref");
    let signer = DkimSigner::from_key(key)
        .domain("acme.example")
        .selector(selector)
        .headers(tenant_headers);
    let signature = signer.sign(body.as_bytes()).expect("sign");
    use mail_auth::common::headers::HeaderWriter;
    format!("{}{body}", signature.to_header())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_signatures_are_verified_and_broken_ones_refused() {
    let tenant_keys = tempfile::tempdir().unwrap();
    let key = keys::generate(tenant_keys.path(), "acme.example", "tenant", Algorithm::Rsa2048).unwrap();
    let h = Harness::start_with(|c| {
        c.dns.timeout = HumanDuration::millis(500);
        c.dns.attempts = 1;
    })
    .await;
    txt(&h.dns.zone, &key.record_name(), &key.dns_record());

    let good = tenant_signed(tenant_keys.path(), &plain_message("a@acme.example", "signed"));
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &good).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(
        headers.contains("dkim=pass") && headers.contains("header.s=tenant"),
        "{headers}"
    );
    // The tenant's signature covers Feedback-ID (by its absence): the gateway leaves it out
    // rather than break the signature; the trace header, which it does not cover, is added.
    assert!(!headers.contains("\nFeedback-ID:"), "{headers}");
    assert!(headers.contains("\r\nX-Aupgate-Ref: 1."), "{headers}");

    let broken = good.replace("minutes of today's", "minutes of yesterday's");
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &broken).await;
    assert!(
        reply.starts_with("550 5.7.1 The message's DKIM signature (d=acme.example s=tenant) does not verify"),
        "{reply}"
    );
    assert!(reply.ends_with("[rule dkim.broken]"), "{reply}");

    // A signature whose key is not in DNS is broken too.
    let other = tempfile::tempdir().unwrap();
    keys::generate(other.path(), "acme.example", "gone", Algorithm::Rsa2048).unwrap();
    let orphan = tenant_signed(other.path(), &plain_message("a@acme.example", "orphan"));
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &orphan).await;
    assert!(
        reply.starts_with("550 5.7.1 The message's DKIM signature (d=acme.example s=gone)"),
        "{reply}"
    );

    // A malformed key record is a permanent failure; a key lookup that times out defers.
    for (selector, fault) in [("garbled", None), ("slow", Some(Fault::Silent))] {
        let dir = tempfile::tempdir().unwrap();
        keys::generate(dir.path(), "acme.example", selector, Algorithm::Rsa2048).unwrap();
        let name = format!("{selector}._domainkey.acme.example");
        match fault {
            Some(fault) => h.dns.zone.fault(&name, fault),
            None => txt(&h.dns.zone, &name, "v=DKIM1; k=rsa; p=%%%not base64"),
        }
        let message = tenant_signed(dir.path(), &plain_message("a@acme.example", selector));
        let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &message).await;
        let expected = match fault {
            Some(_) => {
                format!("451 4.4.3 Temporary DNS failure verifying the DKIM signature (d=acme.example s={selector})")
            }
            None => format!("550 5.7.1 The message's DKIM signature (d=acme.example s={selector}) does not verify"),
        };
        assert!(reply.starts_with(&expected), "{reply}");
    }
    assert_eq!(h.sink.messages().len(), 1, "only the good message was relayed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_tenant_signatures_can_be_tagged() {
    let tenant_keys = tempfile::tempdir().unwrap();
    let key = keys::generate(tenant_keys.path(), "acme.example", "tenant", Algorithm::Rsa2048).unwrap();
    let profile = "[profile]\nname = \"default\"\n[dkim]\non_broken = \"tag\"\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    txt(&h.dns.zone, &key.record_name(), &key.dns_record());
    let good = tenant_signed(tenant_keys.path(), &plain_message("a@acme.example", "signed"));
    let broken = good.replace("minutes of today's", "minutes of yesterday's");
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &broken).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(headers.contains("header.s=tenant"), "{headers}");
    assert!(!headers.contains("dkim=pass"), "{headers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_authentication_results_are_removed_or_refused() {
    let forged = "From: a@acme.example\r\nAuthentication-Results: gw.test;\r\n\tdkim=pass header.d=bank.example\r\n\
                  Authentication-Results: GW.test.; dmarc=pass header.from=bank.example\r\n\
                  Return-Path: <ceo@bank.example>\r\n\
                  Authentication-Results: mx.other.example; spf=pass\r\nSubject: hi\r\n\r\nHello there, see you at noon.\r\n";
    let h = Harness::start().await;
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], forged).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let data = text(&relayed(&h, 1).await[0].data);
    assert_eq!(data.matches("Authentication-Results: gw.test").count(), 1, "{data}");
    assert!(!data.contains("header.d=bank.example"), "{data}");
    assert!(
        !data.contains("header.from=bank.example"),
        "a trailing dot is the same id: {data}"
    );
    assert!(
        !data.contains("Return-Path"),
        "only final delivery writes a Return-Path: {data}"
    );
    assert!(
        data.contains("Authentication-Results: mx.other.example; spf=pass"),
        "{data}"
    );
    assert!(
        data.ends_with("Subject: hi\r\n\r\nHello there, see you at noon.\r\n"),
        "{data}"
    );

    let profile = "[profile]\nname = \"default\"\n[headers]\nauthentication_results = \"refuse\"\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], forged).await;
    assert_eq!(
        reply,
        "550 5.7.1 Header forgery: authentication-results claims this gateway's authserv-id gw.test \
         [rule headers.authentication_results]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_selector_signs_once_its_record_is_published() {
    let h = gateway_with_keys(None, &[("acme.example", "old", Algorithm::Ed25519, true)], |_| {}).await;
    let zone = &h.dns.zone;
    let message = plain_message("a@acme.example", "rotation");
    send_message(&h, "a@acme.example", &["bob@dest.example"], &message).await;
    assert!(header_block(&h.sink.wait_for(1, Duration::from_secs(15)).await[0].data).contains("s=old"));

    // Rotation: a new key, published, then a reload; the new selector takes over.
    let new = keys::generate(&h.dir.path().join("dkim"), "acme.example", "new", Algorithm::Ed25519).unwrap();
    txt(zone, &new.record_name(), &new.dns_record());
    h.gateway.reload_policies().await.expect("reload");
    h.sink.clear();
    send_message(&h, "a@acme.example", &["bob@dest.example"], &message).await;
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(headers.contains("s=new") && headers.contains("dkim=pass"), "{headers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_whose_record_is_not_published_never_signs() {
    // The tenant's domain has a key, generated but not (yet) published: the mail leaves
    // unsigned rather than with a signature every receiver would find broken.
    let keys = [("fresh.example", "s1", Algorithm::Ed25519, false)];
    let h = gateway_with_keys(None, &keys, |c| c.tenants[0].domains.push("fresh.example".into())).await;
    let message = plain_message("a@fresh.example", "before publishing");
    let reply = send_message(&h, "a@fresh.example", &["bob@dest.example"], &message).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(!headers.contains("DKIM-Signature:"), "{headers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_authentication_check_off_nothing_is_added_but_forgeries_still_go() {
    let profile = "[profile]\nname = \"default\"\n[spf]\nenabled = false\n[dkim]\nsign = false\nverify = false\n[dmarc]\nenabled = false\n";
    let h = gateway_with_keys(
        Some(profile),
        &[("acme.example", "s1", Algorithm::Ed25519, true)],
        |_| {},
    )
    .await;
    // SPF would fail, but SPF is off.
    txt(&h.dns.zone, "acme.example", "v=spf1 -all");
    let forged = "From: a@acme.example\r\nAuthentication-Results: gw.test; dkim=pass\r\nSubject: hi\r\n\r\nHello.\r\n";
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], forged).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let headers = header_block(&relayed(&h, 1).await[0].data);
    assert!(!headers.contains("Authentication-Results"), "{headers}");
    assert!(!headers.contains("DKIM-Signature"), "{headers}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_get_a_clear_reply_from_the_authentication_stage() {
    // Headers off, so these reach the authentication stage as they are.
    let profile = "[profile]\nname = \"default\"\n[headers]\nenabled = false\n";
    let h = gateway_with_keys(
        Some(profile),
        &[("acme.example", "s1", Algorithm::Ed25519, true)],
        |_| {},
    )
    .await;
    txt(&h.dns.zone, "_dmarc.acme.example", "v=DMARC1; p=reject");
    let cases: [&[u8]; 7] = [
        b"no header block at all, just text\r\n",
        b"\r\nan empty header block\r\n",
        b"From: a@acme.example\r\nFrom: b@acme.example\r\n\r\ntwo From fields\r\n",
        b"From: <>\r\n\r\nan empty address\r\n",
        b"From: a@acme.example\r\nDKIM-Signature: v=1; a=rsa-sha256; d=acme.example; s=x; h=from; bh=!!; b=??\r\n\r\ngarbage signature\r\n",
        b"From: \xff\xfe@\xc3(\r\nSubject: \x80\x81\r\n\r\n8-bit junk in the header\r\n",
        b"From: a@acme.example\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\tfolded\r\n\r\nbody\r\n",
    ];
    for (i, data) in cases.iter().enumerate() {
        let mut c = h.connect(h.relay_addr()).await;
        c.send("EHLO client.test", "250 ").await;
        c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
        c.send("RCPT TO:<bob@dest.example>", "250 2.1.5").await;
        c.send("DATA", "354").await;
        c.write(data).await;
        c.write(b".\r\n").await;
        let reply = c.read_reply().await.last().unwrap().clone();
        if i == 4 {
            assert_eq!(
                reply,
                "550 5.7.1 The message's DKIM-Signature field cannot be parsed [rule dkim.broken]"
            );
        }
        let clear = reply.starts_with("250 2.0.0") || (reply.starts_with("550 5.") && reply.contains("[rule "));
        assert!(clear, "case {i}: {reply}");
        // The session goes on.
        c.send("NOOP", "250").await;
    }
}

/// Under a profile that signs nothing, the outcome for unsigned mail is reused for a few seconds
/// per sender and From domain; a message carrying a DKIM-Signature never takes it, and a policy
/// reload takes effect with the next message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_outcomes_are_reused_but_never_for_signed_mail_or_across_a_reload() {
    let tenant_keys = tempfile::tempdir().unwrap();
    let key = keys::generate(tenant_keys.path(), "acme.example", "tenant", Algorithm::Rsa2048).unwrap();
    let tagging = "[profile]\nname = \"default\"\n[dkim]\nsign = false\n[spf]\non_softfail = \"tag\"\n";
    let h = Harness::start_with_profile(Some(tagging), |_| {}).await;
    let zone = &h.dns.zone;
    publish_gateway_include(zone);
    txt(zone, "acme.example", "v=spf1 include:_spf.gw.test -all");
    // p=none: DMARC is evaluated and reported, and leaves the softfail below to SPF's rule.
    txt(zone, "_dmarc.acme.example", "v=DMARC1; p=none");
    txt(zone, "soft.acme.example", "v=spf1 ip4:198.51.100.7 ~all");
    txt(zone, &key.record_name(), &key.dns_record());

    // The same sender and From twice: both pass with the same Authentication-Results.
    for subject in ["first", "second"] {
        let reply = send_message(
            &h,
            "a@acme.example",
            &["bob@dest.example"],
            &plain_message("a@acme.example", subject),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
    }
    let got = relayed(&h, 2).await;
    let fields: Vec<String> = got
        .iter()
        .map(|m| {
            header_block(&m.data)
                .split("\r\nFrom:")
                .next()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert!(
        fields[0].contains("spf=pass") && fields[0].contains("dmarc=pass"),
        "{}",
        fields[0]
    );
    assert!(!fields[0].contains("dkim="), "nothing signed: {}", fields[0]);

    // A broken tenant signature from the same sender and From is evaluated, and refused.
    let good = tenant_signed(tenant_keys.path(), &plain_message("a@acme.example", "signed"));
    let broken = good.replace("minutes of today's", "minutes of yesterday's");
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &broken).await;
    assert!(
        reply.starts_with("550 5.7.1 The message's DKIM signature (d=acme.example s=tenant) does not verify"),
        "{reply}"
    );

    // A softfail is tagged under this profile; once the reloaded profile refuses softfails, the
    // very next message is refused, not answered from the outcome kept before.
    let soft_message = plain_message("a@acme.example", "soft");
    let soft = || send_message(&h, "a@soft.acme.example", &["bob@dest.example"], &soft_message);
    let reply = soft().await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    std::fs::write(
        h.dir.path().join("policies/default.toml"),
        "[profile]\nname = \"default\"\n[dkim]\nsign = false\n",
    )
    .unwrap();
    h.gateway.reload_policies().await.expect("reload");
    let reply = soft().await;
    assert!(reply.ends_with("(SPF softfail) [rule spf.softfail]"), "{reply}");
}

/// With header integrity off, a header block longer than the parse limit never passes on a
/// reused outcome: it is refused as unreadable before authentication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_header_block_past_the_parse_limit_never_passes_on_a_reused_outcome() {
    let tenant_keys = tempfile::tempdir().unwrap();
    let key = keys::generate(tenant_keys.path(), "acme.example", "tenant", Algorithm::Rsa2048).unwrap();
    let profile = "[profile]\nname = \"default\"\n[dkim]\nsign = false\n[headers]\nenabled = false\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    let zone = &h.dns.zone;
    publish_gateway_include(zone);
    txt(zone, "acme.example", "v=spf1 include:_spf.gw.test -all");
    txt(zone, "_dmarc.acme.example", "v=DMARC1; p=none");
    txt(zone, &key.record_name(), &key.dns_record());

    // An unsigned message passes, and its outcome is kept for the sender and From.
    let plain = plain_message("a@acme.example", "signed");
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &plain).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");

    // The same From first, then 1,000 other fields, then a broken signature: the gateway's own
    // parse stops before the signature, mail-auth's does not.
    let broken = tenant_signed(tenant_keys.path(), &plain).replace("minutes of today's", "minutes of yesterday's");
    let (signature, rest) = broken.split_at(broken.find("From: a@acme.example\r\n").unwrap());
    let rest = rest.strip_prefix("From: a@acme.example\r\n").unwrap();
    let fillers: String = (0..1_000).map(|i| format!("X-Filler-{i}: x\r\n")).collect();
    let message = format!("From: a@acme.example\r\n{fillers}{signature}{rest}");
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &message).await;
    // Even with the header checks off, a header block the gateway cannot read whole is refused
    // before authentication (sender-domain ownership needs every From): it can neither take the
    // kept outcome nor reach the relay. (The memo also refuses such a block, as a second guard.)
    assert!(
        reply.starts_with("552 5.3.4 Header section too large to check") && reply.ends_with("[rule headers.limits]"),
        "{reply}"
    );
}
