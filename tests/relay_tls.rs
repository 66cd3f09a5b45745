//! Outbound TLS end to end: the real gateway relays to a real sink whose certificate, issued by a
//! test CA, does or does not verify for the host the gateway connects to. `required` verifies,
//! `required_insecure` and `opportunistic` only encrypt, smarthost credentials never travel
//! without TLS, and a recipient domain's MTA-STS policy (served over HTTPS on loopback, found
//! through the loopback DNS server) makes verification mandatory for its MX hosts.

mod support;

use std::time::Duration;

use aupgate::config::{HumanDuration, OutboundTls, RelayMode};
use support::dns::Record;
use support::https::PolicyServer;
use support::sink::{Sink, SinkOptions};
use support::tls_ca::TestCa;
use support::{send_queued, Harness};

/// Queues a short message from a@acme.example to `to`; its queue id.
async fn send(h: &Harness, to: &str, subject: &str) -> String {
    let data = format!("From: a@acme.example\r\nSubject: {subject}\r\n\r\nhi\r\n");
    send_queued(h, "a@acme.example", "", &[to], data.as_bytes()).await
}

async fn tls_sink(acceptor: tokio_rustls::TlsAcceptor) -> Sink {
    Sink::start_with(SinkOptions {
        starttls: true,
        acceptor: Some(acceptor),
        ..Default::default()
    })
    .await
}

/// A gateway relaying to `sink` as its smarthost (at 127.0.0.1), trusting `ca`.
async fn gateway_to(sink: &Sink, ca: &TestCa, mode: OutboundTls) -> Harness {
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(ca_dir.path());
    let h = Harness::start_relaying_to(sink, |c| {
        c.relay.starttls = mode;
        c.relay.ca_file = Some(ca_file.display().to_string());
    })
    .await;
    // The connectors read the CA at start; the file may go.
    drop(ca_dir);
    h
}

#[tokio::test]
async fn required_tls_delivers_when_the_certificate_verifies_for_the_host() {
    let ca = TestCa::new("test CA");
    let sink = tls_sink(ca.acceptor(&["127.0.0.1"])).await;
    let h = gateway_to(&sink, &ca, OutboundTls::Required).await;
    send(&h, "b@dest.example", "verified").await;
    let got = sink.wait_for_recipient("b@dest.example", Duration::from_secs(10)).await;
    assert!(got.tls, "relayed over verified STARTTLS");
}

#[tokio::test]
async fn required_tls_defers_a_certificate_for_another_host() {
    let ca = TestCa::new("test CA");
    let sink = tls_sink(ca.acceptor(&["other.example"])).await;
    let h = gateway_to(&sink, &ca, OutboundTls::Required).await;
    let id = send(&h, "b@dest.example", "wrong name").await;
    let reply = h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 certificate of 127.0.0.1 does not verify"),
        "{reply}"
    );
    assert!(sink.messages().is_empty(), "nothing relayed to an unverified host");
    assert_eq!(
        h.gateway.queue.stored().await.expect("queue"),
        1,
        "the message stays queued"
    );
}

#[tokio::test]
async fn required_tls_defers_a_certificate_from_an_untrusted_ca() {
    let trusted = TestCa::new("trusted CA");
    let other = TestCa::new("someone else's CA");
    let sink = tls_sink(other.acceptor(&["127.0.0.1"])).await;
    let h = gateway_to(&sink, &trusted, OutboundTls::Required).await;
    let id = send(&h, "b@dest.example", "untrusted").await;
    let reply = h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 certificate of 127.0.0.1 does not verify"),
        "{reply}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn required_insecure_and_opportunistic_encrypt_without_verifying() {
    for mode in [OutboundTls::RequiredInsecure, OutboundTls::Opportunistic] {
        let ca = TestCa::new("test CA");
        let sink = tls_sink(ca.acceptor(&["other.example"])).await;
        let h = gateway_to(&sink, &ca, mode).await;
        send(&h, "b@dest.example", "unverified").await;
        let got = sink.wait_for_recipient("b@dest.example", Duration::from_secs(10)).await;
        assert!(got.tls, "{mode:?}: encrypted");
    }
}

#[tokio::test]
async fn required_tls_verifies_an_implicit_tls_smarthost() {
    let ca = TestCa::new("test CA");
    let good = Sink::start_with(SinkOptions {
        implicit_tls: true,
        acceptor: Some(ca.acceptor(&["127.0.0.1"])),
        ..Default::default()
    })
    .await;
    let ca_dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(ca_dir.path()).display().to_string();
    let h = Harness::start_relaying_to(&good, |c| {
        c.relay.smarthost.implicit_tls = true;
        c.relay.starttls = OutboundTls::Required;
        c.relay.ca_file = Some(ca_file);
    })
    .await;
    send(&h, "b@dest.example", "implicit").await;
    assert!(
        good.wait_for_recipient("b@dest.example", Duration::from_secs(10))
            .await
            .tls
    );

    let bad = Sink::start_with(SinkOptions {
        implicit_tls: true,
        acceptor: Some(ca.acceptor(&["other.example"])),
        ..Default::default()
    })
    .await;
    let ca_file = ca.write_pem(ca_dir.path()).display().to_string();
    let h = Harness::start_relaying_to(&bad, |c| {
        c.relay.smarthost.implicit_tls = true;
        c.relay.starttls = OutboundTls::Required;
        c.relay.ca_file = Some(ca_file);
    })
    .await;
    let id = send(&h, "b@dest.example", "implicit, wrong name").await;
    let reply = h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 certificate of 127.0.0.1 does not verify"),
        "{reply}"
    );
    assert!(bad.messages().is_empty());
}

#[tokio::test]
async fn smarthost_credentials_are_never_sent_without_required_tls() {
    // A smarthost (or a man in the middle) that offers AUTH in plaintext, or answers STARTTLS
    // with a certificate of its own. The config refuses credentials without required TLS; the
    // relay holds the line too (these harness edits bypass the config check).
    let mitm = TestCa::new("man in the middle");
    let cases = [
        (
            None,
            OutboundTls::Opportunistic,
            "451 4.7.5 not sending credentials to 127.0.0.1 without required TLS",
        ),
        (
            Some(mitm.acceptor(&["127.0.0.1"])),
            OutboundTls::Opportunistic,
            "451 4.7.5 not sending credentials to 127.0.0.1 without required TLS",
        ),
        (
            Some(mitm.acceptor(&["127.0.0.1"])),
            OutboundTls::Required,
            "451 4.7.5 certificate of 127.0.0.1 does not verify",
        ),
    ];
    for (acceptor, mode, expected) in cases {
        let sink = Sink::start_with(SinkOptions {
            starttls: acceptor.is_some(),
            acceptor,
            auth: Some(("relay-user".into(), "relay-pass".into())),
            ..Default::default()
        })
        .await;
        let trusted = TestCa::new("trusted");
        let ca_dir = tempfile::tempdir().unwrap();
        let ca_file = trusted.write_pem(ca_dir.path()).display().to_string();
        let h = Harness::start_relaying_to(&sink, |c| {
            c.relay.smarthost.username = Some("relay-user".into());
            c.relay.smarthost.password = Some("relay-pass".into());
            c.relay.starttls = mode;
            c.relay.ca_file = Some(ca_file);
        })
        .await;
        let id = send(&h, "b@dest.example", "credentials").await;
        let reply = h.first_attempt(&id).await;
        assert!(reply.starts_with(expected), "{mode:?}: {reply}");
        let auth_lines: Vec<_> = sink
            .commands()
            .into_iter()
            .filter(|(_, line)| line.to_ascii_uppercase().starts_with("AUTH"))
            .collect();
        assert!(auth_lines.is_empty(), "{mode:?}: credentials sent: {auth_lines:?}");
        assert!(sink.messages().is_empty());
        assert_eq!(h.gateway.queue.stored().await.expect("queue"), 1);
    }
}

#[tokio::test]
async fn insecure_auth_sends_credentials_to_a_loopback_smarthost() {
    let sink = Sink::start_with(SinkOptions {
        auth: Some(("relay-user".into(), "relay-pass".into())),
        ..Default::default()
    })
    .await;
    let h = Harness::start_relaying_to(&sink, |c| {
        c.relay.smarthost.username = Some("relay-user".into());
        c.relay.smarthost.password = Some("relay-pass".into());
        c.relay.smarthost.insecure_auth = true;
    })
    .await;
    send(&h, "b@dest.example", "local filter").await;
    let got = sink.wait_for_recipient("b@dest.example", Duration::from_secs(10)).await;
    assert_eq!(got.auth_user.as_deref(), Some("relay-user"));
    assert!(!got.tls);
}

#[test]
fn insecure_auth_is_refused_for_a_smarthost_off_loopback() {
    let text = "[relay]\nmode = \"smarthost\"\n[relay.smarthost]\nhost = \"smtp.provider.example\"\nusername = \"u\"\npassword = \"p\"\ninsecure_auth = true\n";
    let error = aupgate::config::Config::parse(text)
        .expect_err("must be refused")
        .to_string();
    assert!(error.contains("relay.smarthost.insecure_auth"), "{error}");
    for mode in ["disabled", "opportunistic"] {
        let text = format!("[relay]\nmode = \"smarthost\"\nstarttls = \"{mode}\"\n[relay.smarthost]\nhost = \"smtp.provider.example\"\nusername = \"u\"\npassword = \"p\"\n");
        let error = aupgate::config::Config::parse(&text)
            .expect_err("must be refused")
            .to_string();
        assert!(error.contains("relay.smarthost.username"), "{mode}: {error}");
    }
    for mode in ["required", "required_insecure"] {
        let text = format!("[relay]\nmode = \"smarthost\"\nstarttls = \"{mode}\"\n[relay.smarthost]\nhost = \"smtp.provider.example\"\nusername = \"u\"\npassword = \"p\"\n");
        assert!(aupgate::config::Config::parse(&text).is_ok(), "{mode}");
    }
}

/// MX mode, every MX host at `sink_port`; retries a minute away, so a deferred message stays
/// as its first attempt left it while the test looks.
fn mx_mode(c: &mut aupgate::config::Config, sink_port: u16) {
    c.relay.mode = RelayMode::Mx;
    c.relay.mx_port = sink_port;
    c.queue.retry_initial = HumanDuration::secs(60);
    c.queue.retry_max = HumanDuration::secs(60);
}

/// MX mode for `dest.example` (MX `mx1.dest.example`), with an MTA-STS policy server.
struct MtaStsSetup {
    h: Harness,
    sink: Sink,
    policy: PolicyServer,
}

async fn mta_sts_setup(policy_body: Option<&str>, mx_names: &[&str], starttls: bool) -> MtaStsSetup {
    let ca = TestCa::new("web PKI stand-in");
    let sink = Sink::start_with(SinkOptions {
        starttls,
        acceptor: Some(ca.acceptor(mx_names)),
        ..Default::default()
    })
    .await;
    let policy = PolicyServer::start(ca.acceptor(&["mta-sts.dest.example"]), policy_body.unwrap_or("")).await;
    let (sink_port, policy_port) = (sink.address.port(), policy.address.port());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = ca.write_pem(dir.path()).display().to_string();
    let h = Harness::start_with(|c| {
        mx_mode(c, sink_port);
        c.relay.mta_sts_port = policy_port;
        c.relay.ca_file = Some(ca_file);
    })
    .await;
    let zone = &h.dns.zone;
    zone.add("dest.example", Record::Mx(10, "mx1.dest.example".into()));
    zone.add("mx1.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    zone.add("mta-sts.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    if policy_body.is_some() {
        zone.add("_mta-sts.dest.example", Record::Txt("v=STSv1; id=20261205".into()));
    }
    MtaStsSetup { h, sink, policy }
}

const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx1.dest.example\r\nmax_age: 86400\r\n";

#[tokio::test]
async fn mta_sts_enforce_delivers_over_verified_tls_and_caches_the_policy() {
    let s = mta_sts_setup(Some(ENFORCE), &["mx1.dest.example"], true).await;
    send(&s.h, "bob@dest.example", "one").await;
    send(&s.h, "carol@dest.example", "two").await;
    assert!(
        s.sink
            .wait_for_recipient("bob@dest.example", Duration::from_secs(10))
            .await
            .tls
    );
    assert!(
        s.sink
            .wait_for_recipient("carol@dest.example", Duration::from_secs(10))
            .await
            .tls
    );
    assert_eq!(s.policy.requests(), 1, "the policy is fetched once and cached");
}

#[tokio::test]
async fn mta_sts_enforce_defers_a_certificate_that_does_not_verify() {
    // Opportunistic TLS would deliver this (see the test above); the policy forbids it.
    let s = mta_sts_setup(Some(ENFORCE), &["wrong.example"], true).await;
    let id = send(&s.h, "bob@dest.example", "mitm").await;
    let reply = s.h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 certificate of mx1.dest.example does not verify"),
        "{reply}"
    );
    assert!(s.sink.messages().is_empty());
    assert_eq!(s.h.gateway.queue.stored().await.expect("queue"), 1);
}

#[tokio::test]
async fn mta_sts_enforce_defers_when_starttls_is_stripped() {
    let s = mta_sts_setup(Some(ENFORCE), &["mx1.dest.example"], false).await;
    let id = send(&s.h, "bob@dest.example", "stripped").await;
    let reply = s.h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 next hop mx1.dest.example does not offer STARTTLS"),
        "{reply}"
    );
    assert!(s.sink.messages().is_empty());
}

#[tokio::test]
async fn mta_sts_enforce_defers_an_mx_the_policy_does_not_list() {
    let policy = "version: STSv1\r\nmode: enforce\r\nmx: *.mail.dest.example\r\nmax_age: 86400\r\n";
    let s = mta_sts_setup(Some(policy), &["mx1.dest.example"], true).await;
    let id = send(&s.h, "bob@dest.example", "unlisted").await;
    let reply = s.h.first_attempt(&id).await;
    assert_eq!(
        reply,
        "451 4.7.5 MTA-STS: no MX host of dest.example matches its policy"
    );
    assert!(s.sink.messages().is_empty());
}

#[tokio::test]
async fn mta_sts_testing_mode_and_no_policy_stay_opportunistic() {
    let testing = "version: STSv1\r\nmode: testing\r\nmx: mx1.dest.example\r\nmax_age: 86400\r\n";
    for body in [Some(testing), None] {
        let s = mta_sts_setup(body, &["wrong.example"], true).await;
        send(&s.h, "bob@dest.example", "opportunistic").await;
        let got = s
            .sink
            .wait_for_recipient("bob@dest.example", Duration::from_secs(10))
            .await;
        assert!(got.tls, "{body:?}: still encrypted");
        if body.is_none() {
            assert_eq!(s.policy.requests(), 0, "no TXT record, no fetch");
        }
    }
}

/// MX mode for `dest.example` with `[dns] dnssec` on: the loopback DNS server plays the local
/// validating resolver (AD bit on the names a test marks validated). The sink's certificate
/// names another host and comes from a CA nobody trusts: only DANE can authenticate it.
struct DaneSetup {
    h: Harness,
    sink: Sink,
}

/// The TLSA record published for the MX host.
enum Published {
    /// `3 1 1` with the SHA-256 of the sink's public key.
    MatchingKey,
    /// `3 1 1` with these bytes.
    Other(Vec<u8>),
    /// `2 0 1`: the SHA-256 of the sink's issuing CA, which the sink sends in its chain; its
    /// certificate names the MX host.
    TrustAnchor,
}

async fn dane_setup(tlsa: Published, validated: bool, starttls: bool, policy_body: Option<&str>) -> DaneSetup {
    let ca = TestCa::new("nobody's CA");
    let (acceptor, leaf) = match tlsa {
        Published::TrustAnchor => (ca.acceptor_with_chain(&["mx1.dest.example"]), Vec::new()),
        _ => ca.acceptor_and_leaf(&["not-the-mx.example"]),
    };
    let sink = Sink::start_with(SinkOptions {
        starttls,
        acceptor: Some(acceptor),
        ..Default::default()
    })
    .await;
    let web_ca = TestCa::new("web PKI stand-in");
    let policy = PolicyServer::start(web_ca.acceptor(&["mta-sts.dest.example"]), policy_body.unwrap_or("")).await;
    let (sink_port, policy_port) = (sink.address.port(), policy.address.port());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = web_ca.write_pem(dir.path()).display().to_string();
    let h = Harness::start_with(|c| {
        mx_mode(c, sink_port);
        c.relay.mta_sts_port = policy_port;
        c.relay.ca_file = Some(ca_file);
        c.dns.dnssec = true;
    })
    .await;
    let zone = &h.dns.zone;
    zone.add("dest.example", Record::Mx(10, "mx1.dest.example".into()));
    zone.add("mx1.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    zone.add("mta-sts.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    if policy_body.is_some() {
        zone.add("_mta-sts.dest.example", Record::Txt("v=STSv1; id=1".into()));
    }
    let tlsa_name = format!("_{sink_port}._tcp.mx1.dest.example");
    let record = match tlsa {
        Published::MatchingKey => {
            let spki = aupgate::relay::dane::spki(&leaf).expect("spki");
            Record::Tlsa(
                3,
                1,
                1,
                aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki)
                    .as_ref()
                    .to_vec(),
            )
        }
        Published::Other(bytes) => Record::Tlsa(3, 1, 1, bytes),
        Published::TrustAnchor => Record::Tlsa(
            2,
            0,
            1,
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &ca.der)
                .as_ref()
                .to_vec(),
        ),
    };
    zone.add(&tlsa_name, record);
    if validated {
        for name in ["dest.example", "mx1.dest.example", tlsa_name.as_str()] {
            zone.validated(name);
        }
    }
    DaneSetup { h, sink }
}

#[tokio::test]
async fn dane_authenticates_a_certificate_no_ca_vouches_for_and_takes_precedence_over_mta_sts() {
    // An MTA-STS policy in enforce mode would refuse this certificate (wrong name, unknown CA);
    // the validated TLSA record authenticates it, and DANE decides (RFC 8461 §2).
    let s = dane_setup(Published::MatchingKey, true, true, Some(ENFORCE)).await;
    send(&s.h, "bob@dest.example", "dane").await;
    let got = s
        .sink
        .wait_for_recipient("bob@dest.example", Duration::from_secs(10))
        .await;
    assert!(got.tls);
}

#[tokio::test]
async fn dane_ta_authenticates_a_chain_to_the_published_trust_anchor() {
    let s = dane_setup(Published::TrustAnchor, true, true, None).await;
    send(&s.h, "bob@dest.example", "dane-ta").await;
    assert!(
        s.sink
            .wait_for_recipient("bob@dest.example", Duration::from_secs(10))
            .await
            .tls
    );
}

#[tokio::test]
async fn dane_defers_a_certificate_its_tlsa_records_do_not_match() {
    let s = dane_setup(Published::Other(vec![0xab; 32]), true, true, None).await;
    let id = send(&s.h, "bob@dest.example", "dane mismatch").await;
    let reply = s.h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 certificate of mx1.dest.example does not verify"),
        "{reply}"
    );
    assert!(reply.contains("TLSA"), "{reply}");
    assert!(s.sink.messages().is_empty());
    assert_eq!(s.h.gateway.queue.stored().await.expect("queue"), 1);
}

#[tokio::test]
async fn dane_defers_when_starttls_is_stripped() {
    let s = dane_setup(Published::MatchingKey, true, false, None).await;
    let id = send(&s.h, "bob@dest.example", "stripped").await;
    let reply = s.h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 next hop mx1.dest.example does not offer STARTTLS"),
        "{reply}"
    );
    assert!(s.sink.messages().is_empty());
}

#[tokio::test]
async fn unvalidated_tlsa_records_are_ignored() {
    // The same mismatching record without the AD bit: anyone could have forged it, so it
    // neither authenticates nor blocks; delivery stays opportunistic.
    let s = dane_setup(Published::Other(vec![0xab; 32]), false, true, None).await;
    send(&s.h, "bob@dest.example", "insecure").await;
    assert!(
        s.sink
            .wait_for_recipient("bob@dest.example", Duration::from_secs(10))
            .await
            .tls
    );
}

#[tokio::test]
async fn a_failed_tlsa_lookup_defers_rather_than_downgrades() {
    let s = dane_setup(Published::MatchingKey, true, true, None).await;
    let port = s.sink.address.port();
    s.h.dns
        .zone
        .fault(&format!("_{port}._tcp.mx1.dest.example"), support::dns::Fault::ServFail);
    let id = send(&s.h, "bob@dest.example", "servfail").await;
    let reply = s.h.first_attempt(&id).await;
    assert!(reply.starts_with("451 4.7.5 DANE: TLSA lookup of"), "{reply}");
    assert!(s.sink.messages().is_empty());
}

#[test]
fn dnssec_needs_a_resolver_on_loopback() {
    let text = "[dns]\ndnssec = true\nnameservers = [\"192.0.2.53:53\"]\n";
    let error = aupgate::config::Config::parse(text)
        .expect_err("must be refused")
        .to_string();
    assert!(error.contains("dns.dnssec"), "{error}");
    let text = "[dns]\ndnssec = true\n";
    assert!(aupgate::config::Config::parse(text).is_err());
    let text = "[dns]\ndnssec = true\nnameservers = [\"127.0.0.1:53\"]\n";
    assert!(
        aupgate::config::Config::parse(text).is_ok(),
        "{:?}",
        aupgate::config::Config::parse(text).err()
    );
}

#[tokio::test]
async fn an_mx_host_without_tlsa_records_still_follows_the_domains_mta_sts_policy() {
    // mx1 has validated TLSA records but is down; mx2 has none. DANE decides only for mx1: mx2
    // must still meet the MTA-STS policy (verified TLS), so its untrusted certificate defers the
    // message instead of receiving it opportunistically.
    let ca = TestCa::new("nobody's CA");
    let sink = tls_sink(ca.acceptor(&["not-the-mx.example"])).await;
    let web_ca = TestCa::new("web PKI stand-in");
    let policy_body =
        "version: STSv1\r\nmode: enforce\r\nmx: mx1.dest.example\r\nmx: mx2.dest.example\r\nmax_age: 86400\r\n";
    let policy = PolicyServer::start(web_ca.acceptor(&["mta-sts.dest.example"]), policy_body).await;
    let (sink_port, policy_port) = (sink.address.port(), policy.address.port());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = web_ca.write_pem(dir.path()).display().to_string();
    let h = Harness::start_with(|c| {
        mx_mode(c, sink_port);
        c.relay.mta_sts_port = policy_port;
        c.relay.ca_file = Some(ca_file);
        c.dns.dnssec = true;
    })
    .await;
    let zone = &h.dns.zone;
    zone.add("dest.example", Record::Mx(10, "mx1.dest.example".into()));
    zone.add("dest.example", Record::Mx(20, "mx2.dest.example".into()));
    // Nothing listens on 127.0.0.2: mx1 refuses the connection.
    zone.add("mx1.dest.example", Record::A("127.0.0.2".parse().unwrap()));
    zone.add("mx2.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    zone.add("mta-sts.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    zone.add("_mta-sts.dest.example", Record::Txt("v=STSv1; id=2".into()));
    let mx1_tlsa = format!("_{sink_port}._tcp.mx1.dest.example");
    zone.add(&mx1_tlsa, Record::Tlsa(3, 1, 1, vec![0xab; 32]));
    let mx2_tlsa = format!("_{sink_port}._tcp.mx2.dest.example");
    for name in [
        "dest.example",
        "mx1.dest.example",
        "mx2.dest.example",
        &mx1_tlsa,
        &mx2_tlsa,
    ] {
        zone.validated(name);
    }
    let id = send(&h, "bob@dest.example", "two hosts").await;
    let reply = h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 certificate of mx2.dest.example does not verify"),
        "{reply}"
    );
    assert!(sink.messages().is_empty());
}

#[tokio::test]
async fn unusable_tlsa_records_never_lower_required_tls() {
    // Only a PKIX-usage TLSA record (unusable for SMTP): DANE makes TLS mandatory but cannot
    // authenticate; the configured `required` still verifies, so the untrusted certificate
    // defers the message.
    let ca = TestCa::new("nobody's CA");
    let sink = tls_sink(ca.acceptor(&["mx1.dest.example"])).await;
    let sink_port = sink.address.port();
    let h = Harness::start_with(|c| {
        mx_mode(c, sink_port);
        c.relay.starttls = OutboundTls::Required;
        c.dns.dnssec = true;
    })
    .await;
    let zone = &h.dns.zone;
    zone.add("dest.example", Record::Mx(10, "mx1.dest.example".into()));
    zone.add("mx1.dest.example", Record::A("127.0.0.1".parse().unwrap()));
    let tlsa = format!("_{sink_port}._tcp.mx1.dest.example");
    zone.add(&tlsa, Record::Tlsa(1, 1, 1, vec![0xab; 32]));
    for name in ["dest.example", "mx1.dest.example", &tlsa] {
        zone.validated(name);
    }
    let id = send(&h, "bob@dest.example", "pkix only").await;
    let reply = h.first_attempt(&id).await;
    assert!(
        reply.starts_with("451 4.7.5 certificate of mx1.dest.example does not verify"),
        "{reply}"
    );
    assert!(sink.messages().is_empty());
}
