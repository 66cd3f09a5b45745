//! Sender-domain verification end to end: the admin adds a domain (token issued), the tenant
//! publishes the TXT record on a real DNS server, `verify` looks it up with the gateway's resolver,
//! and from then on the tenant may send as that domain. Everything through the real CLI.

mod support;

use support::dns::{DnsServer, Record, Zone};
use support::Harness;

fn admin(h: &Harness, args: &[&str]) -> (bool, String, String) {
    let (code, stdout, stderr) = support::admin_cli(h, args, None);
    (code == Some(0), stdout, stderr)
}

async fn mail_from(h: &Harness, sender: &str, expected: &str) {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send(&format!("MAIL FROM:<{sender}>"), expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_token_verifies_a_domain() {
    let zone = Zone::default();
    zone.add("unrelated.example", Record::A("192.0.2.1".parse().unwrap()));
    let dns = DnsServer::start(zone.clone()).await;
    let address = dns.address.to_string();
    let h = Harness::start_with(|c| c.dns.nameservers = vec![address]).await;

    mail_from(&h, "x@new.example", "553 5.7.1").await;
    let (ok, out, err) = admin(
        &h,
        &[
            "domains",
            "add",
            "--tenant",
            "acme",
            "--domain",
            "New.Example.",
            "--by",
            "alice",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("new.example pending  publish: _aupgate.new.example TXT \"aupgate-verify="),
        "{out}"
    );
    let token = out
        .split("aupgate-verify=")
        .nth(1)
        .unwrap()
        .trim()
        .trim_end_matches('"')
        .to_string();

    // The list: the new domain with its record; the configuration's own (vouched for) with
    // nothing to publish, never an empty token.
    let (ok, out, err) = admin(&h, &["domains", "list", "--tenant", "acme"]);
    assert!(ok, "{err}");
    let vouched = out
        .lines()
        .find(|l| l.contains(" acme.example "))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(vouched.contains("vouched for: nothing to publish"), "{out}");
    assert!(!out.contains("aupgate-verify=\""), "{out}");

    // Not published yet: refused clearly, still not verified.
    let (ok, _, err) = admin(
        &h,
        &["domains", "verify", "--tenant", "acme", "--domain", "new.example"],
    );
    assert!(!ok);
    assert!(
        err.contains("409") && err.contains("does not carry the expected TXT record"),
        "{err}"
    );
    mail_from(&h, "x@new.example", "553 5.7.1").await;

    // A wrong token does not verify either.
    zone.add(
        "_aupgate.new.example",
        Record::Txt("aupgate-verify=not-the-token".into()),
    );
    let (ok, _, _) = admin(
        &h,
        &["domains", "verify", "--tenant", "acme", "--domain", "new.example"],
    );
    assert!(!ok);

    zone.add("_aupgate.new.example", Record::Txt(format!("aupgate-verify={token}")));
    let (ok, out, err) = admin(
        &h,
        &["domains", "verify", "--tenant", "acme", "--domain", "new.example"],
    );
    assert!(ok, "{err}");
    assert!(out.starts_with("new.example verified"), "{out}");
    mail_from(&h, "x@new.example", "250 2.1.0").await;
    mail_from(&h, "x@mail.new.example", "250 2.1.0").await;

    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "domain.add" && a.actor == "alice"));
    assert!(audit
        .iter()
        .any(|a| a.action == "domain.verify" && a.target == "new.example"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dns_trouble_is_temporary_and_mark_verified_is_audited() {
    // A nameserver that never answers: verification must say "try again", not "no".
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let address = silent.local_addr().unwrap().to_string();
    let h = Harness::start_with(|c| {
        c.dns.nameservers = vec![address];
        c.dns.timeout = aupgate::config::HumanDuration::millis(200);
        c.dns.attempts = 1;
    })
    .await;
    let (ok, _, err) = admin(&h, &["domains", "add", "--tenant", "acme", "--domain", "slow.example"]);
    assert!(ok, "{err}");
    // Temporary: `451 4.4.3` in the answer, never a permanent code, and the CLI exits with
    // EX_TEMPFAIL (75) so scripts retry.
    let (code, _, err) = support::admin_cli(
        &h,
        &["domains", "verify", "--tenant", "acme", "--domain", "slow.example"],
        None,
    );
    assert_eq!(code, Some(75), "{err}");
    assert!(err.contains("451 4.4.3 temporary DNS failure"), "{err}");
    mail_from(&h, "x@slow.example", "553 5.7.1").await;

    let (ok, _, err) = admin(
        &h,
        &[
            "domains",
            "mark-verified",
            "--tenant",
            "acme",
            "--domain",
            "slow.example",
            "--reason",
            "checked by phone",
            "--by",
            "carol",
        ],
    );
    assert!(ok, "{err}");
    mail_from(&h, "x@slow.example", "250 2.1.0").await;
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.action == "domain.mark_verified" && a.actor == "carol" && a.reason == "checked by phone"));
    drop(silent);
}
