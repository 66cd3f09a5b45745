//! Every preset in `policies/` end to end: a gateway whose tenant uses the preset, real SMTP, the
//! real store, the sink. For each rule the preset sets, mail at its limit passes and the next is
//! refused with the rule's reply (all four quotas, bulk and its registered-sender exemption, mail
//! bombs, SMS gateways, suppression, the header settings, attachments and archives, SPF, DKIM,
//! DMARC); the escalation ladder moves the tenant step by step to suspension. The numbers come from the preset file itself, so a preset that changes a number is
//! tested at its own number.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aupgate::policy::profile::Profile;
use aupgate::store::Key;
use support::fixtures::newsletter;
use support::{send_message, Harness};

fn preset_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("policies")
        .join(format!("{name}.toml"))
}

fn preset(name: &str) -> Profile {
    Profile::load(&preset_path(name)).expect("preset loads")
}

/// A fresh gateway whose tenant `acme` uses preset `name`.
async fn gateway(name: &str) -> Harness {
    gateway_edited(name, |text| text).await
}

/// A fresh gateway whose tenant `acme` uses preset `name` as `edit` changes its text.
async fn gateway_edited(name: &str, edit: impl FnOnce(String) -> String) -> Harness {
    let text = edit(std::fs::read_to_string(preset_path(name)).unwrap());
    let name = name.to_string();
    Harness::start_with(move |c| {
        let dir = c.data_dir().join("presets");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
        c.policy.directory = dir.display().to_string();
        c.tenants[0].profile = Some(name);
    })
    .await
}

/// A message unlike any other (its own campaign): words no other `n` produces.
fn unique(n: usize) -> String {
    let word = |i: usize| {
        let mut x = (n as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        let mut w = String::new();
        for _ in 0..7 {
            w.push(char::from(b'a' + (x % 26) as u8));
            x /= 26;
        }
        w
    };
    let text: Vec<String> = (0..40).map(word).collect();
    format!(
        "From: a@acme.example\r\nTo: x@dest.example\r\nSubject: note\r\n\r\n{}\r\n",
        text.join(" ")
    )
}

fn exe_attachment(n: usize) -> String {
    format!(
        "From: a@acme.example\r\nTo: someone@dest.example\r\nSubject: tool {n}\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"=_b\"\r\n\r\n--=_b\r\nContent-Type: text/plain\r\n\r\n{}\r\n\
         --=_b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"setup{n}.exe\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n--=_b--\r\n",
        unique(n).split("\r\n\r\n").nth(1).unwrap_or("").trim()
    )
}

/// A ZIP archive (local file headers only, which is what the inspection reads) holding `names`.
fn zip_of(names: &[&str]) -> Vec<u8> {
    let mut zip = Vec::new();
    for name in names {
        zip.extend_from_slice(b"PK\x03\x04");
        zip.extend_from_slice(&[20, 0, 0, 0, 0, 0]); // version, flags, method (stored)
        zip.extend_from_slice(&[0; 16]); // time, date, CRC, sizes (empty entry)
        zip.extend_from_slice(&(name.len() as u16).to_le_bytes());
        zip.extend_from_slice(&[0, 0]);
        zip.extend_from_slice(name.as_bytes());
    }
    zip
}

fn zip_attachment(n: usize, inner: &str) -> String {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(zip_of(&["readme.txt", inner]));
    exe_attachment(n)
        .replace(&format!("setup{n}.exe"), "files.zip")
        .replace("TVqQAAMAAAAEAAAA", &data)
}

fn assert_refused(reply: &str, code: &str, rule: &str) {
    assert!(
        reply.starts_with(code) && reply.ends_with(&format!("[rule {rule}]")),
        "expected {code} … [rule {rule}], got {reply}"
    );
}

fn assert_accepted(reply: &str, what: &str) {
    assert!(reply.starts_with("250 2.0.0"), "{what}: {reply}");
}

async fn bulk(name: &str, p: &Profile) {
    let h = gateway(name).await;
    let limit = p.bulk.max_recipients as usize;
    for i in 0..limit {
        let rcpt = format!("person{i}@dest.example");
        assert_accepted(
            &send_message(&h, "news@acme.example", &[&rcpt], &newsletter("Customer", &rcpt, i)).await,
            &format!("{name}: bulk recipient {}", i + 1),
        );
    }
    let rcpt = format!("person{limit}@dest.example");
    let reply = send_message(&h, "news@acme.example", &[&rcpt], &newsletter("Customer", &rcpt, limit)).await;
    assert_refused(&reply, "550 5.7.1", "bulk.max_recipients");
    // Unrelated mail still flows.
    assert_accepted(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &unique(1)).await,
        name,
    );
}

async fn mail_bomb(name: &str, p: &Profile) {
    let h = gateway(name).await;
    let limit = p.mail_bomb.max_messages as usize;
    for i in 0..limit {
        assert_accepted(
            &send_message(
                &h,
                "news@acme.example",
                &["victim@dest.example"],
                &newsletter("Customer", "victim@dest.example", i),
            )
            .await,
            &format!("{name}: message {} to one recipient", i + 1),
        );
    }
    let reply = send_message(
        &h,
        "news@acme.example",
        &["victim@dest.example"],
        &newsletter("Customer", "victim@dest.example", limit),
    )
    .await;
    assert_refused(&reply, "550 5.7.1", "mail_bomb.max_messages");
}

async fn sms_gateways(name: &str, p: &Profile) {
    let h = gateway(name).await;
    let domain = &p.sms_gateways.domains[0];
    let limit = p.sms_gateways.max_recipients as usize;
    for i in 0..limit {
        let rcpt = format!("5550100{i}@{domain}");
        assert_accepted(
            &send_message(&h, "news@acme.example", &[&rcpt], &newsletter("Customer", &rcpt, i)).await,
            &format!("{name}: SMS recipient {}", i + 1),
        );
    }
    let rcpt = format!("5550199@{domain}");
    let reply = send_message(&h, "news@acme.example", &[&rcpt], &newsletter("Customer", &rcpt, 99)).await;
    assert_refused(&reply, "550 5.7.1", "sms_gateway.bulk");
}

async fn suppression(name: &str) {
    let h = gateway(name).await;
    // The sink answers 550 5.1.1 for permfail@: a hard bounce the relay records.
    assert_accepted(
        &send_message(&h, "a@acme.example", &["permfail@dest.example"], &unique(2)).await,
        name,
    );
    let store = h.gateway.store.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !store
        .suppression_contains("acme", "permfail@dest.example")
        .await
        .unwrap()
    {
        assert!(tokio::time::Instant::now() < deadline, "{name}: bounce never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Bulk mail to the address is refused; a receipt (no list markers) is relayed.
    let bulk = unique(3).replacen("\r\n", "\r\nList-Unsubscribe: <https://acme.example/u/3>\r\n", 1);
    let reply = send_message(&h, "a@acme.example", &["permfail@dest.example"], &bulk).await;
    assert_refused(&reply, "550 5.7.1", "suppression.hard_bounce");
    assert_accepted(
        &send_message(&h, "a@acme.example", &["permfail@dest.example"], &unique(4)).await,
        name,
    );
    assert_accepted(
        &send_message(&h, "a@acme.example", &["fine@dest.example"], &bulk).await,
        name,
    );
}

async fn headers(name: &str) {
    let h = gateway(name).await;
    assert_accepted(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &unique(5)).await,
        name,
    );
    let forged = unique(6).replace("From: a@acme.example", "From: ceo@bank.example");
    assert_refused(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &forged).await,
        "550 5.7.1",
        "headers.foreign_originator",
    );
}

/// Sender-domain ownership under the preset: a foreign envelope sender at MAIL FROM, a
/// subdomain of a verified domain as `include_subdomains` says, and a Resent-From at a foreign
/// domain as `check_resent_from` says.
async fn sender_domain(name: &str, p: &Profile) {
    let h = gateway(name).await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    let reply = c.send("MAIL FROM:<x@bank.example>", "553 5.7.1").await;
    assert!(
        reply.last().unwrap().ends_with("[rule sender.domain]"),
        "{name}: {reply:?}"
    );

    let h = gateway(name).await;
    let sub = unique(60).replace("From: a@acme.example", "From: a@news.acme.example");
    let reply = send_message(&h, "a@news.acme.example", &["x@dest.example"], &sub).await;
    if p.sender_domain.include_subdomains {
        assert_accepted(&reply, &format!("{name}: a subdomain of a verified domain"));
    } else {
        assert_refused(&reply, "553 5.7.1", "sender.domain");
    }

    let h = gateway(name).await;
    let resent = unique(61).replace(
        "From: a@acme.example",
        "From: a@acme.example\r\nResent-From: x@bank.example",
    );
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &resent).await;
    if p.headers.check_resent_from {
        assert_refused(&reply, "550 5.7.1", "headers.foreign_originator");
    } else {
        assert_accepted(&reply, &format!("{name}: a foreign Resent-From"));
    }
}

/// The header rules whose setting differs between presets: Reply-To at a foreign domain, the
/// Received limit, and a forged Authentication-Results claiming our authserv-id.
async fn header_settings(name: &str, p: &Profile) {
    use aupgate::policy::profile::AuthResultsAction;
    let h = gateway(name).await;
    let reply_to = unique(20).replace(
        "To: x@dest.example",
        "To: x@dest.example\r\nReply-To: help@helpdesk.example",
    );
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &reply_to).await;
    if p.headers.check_reply_to {
        assert_refused(&reply, "550 5.7.1", "headers.foreign_originator");
    } else {
        assert_accepted(&reply, &format!("{name}: a help-desk Reply-To"));
    }

    let hops = |n: u64| -> String {
        let received: String = (0..n)
            .map(|i| {
                format!(
                    "Received: from hop{i}.example by hop{}.example; Mon, 23 Nov 2026 10:00:00 +0000\r\n",
                    i + 1
                )
            })
            .collect();
        format!("{received}{}", unique(21 + n as usize))
    };
    // Each refusal on a fresh gateway (refusals climb the preset's ladder).
    let h = gateway(name).await;
    assert_accepted(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &hops(p.headers.max_received)).await,
        &format!("{name}: {} Received fields", p.headers.max_received),
    );
    assert_refused(
        &send_message(
            &h,
            "a@acme.example",
            &["x@dest.example"],
            &hops(p.headers.max_received + 1),
        )
        .await,
        "554 5.4.0",
        "headers.received_hops",
    );

    let h = gateway(name).await;
    let forged = format!(
        "Authentication-Results: {}; spf=pass smtp.mailfrom=acme.example\r\n{}",
        p.headers.authserv_id.as_deref().unwrap_or("gw.test"), // unset: the harness's hostname
        unique(40)
    );
    let reply = send_message(&h, "a@acme.example", &["forged-ar@dest.example"], &forged).await;
    match p.headers.authentication_results {
        AuthResultsAction::Refuse => assert_refused(&reply, "550 5.7.1", "headers.authentication_results"),
        AuthResultsAction::Remove => {
            assert_accepted(&reply, &format!("{name}: forged Authentication-Results removed"));
            let relayed = h
                .sink
                .wait_for_recipient("forged-ar@dest.example", Duration::from_secs(10))
                .await;
            let text = String::from_utf8_lossy(&relayed.data);
            assert!(
                !text.contains("spf=pass smtp.mailfrom=acme.example"),
                "{name}: forged field relayed:\n{text}"
            );
        }
    }
}

async fn attachments(name: &str, p: &Profile) {
    let h = gateway(name).await;
    let pdf = exe_attachment(2).replace("setup2.exe", "invoice.pdf");
    assert_accepted(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &pdf).await,
        name,
    );
    assert_refused(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &exe_attachment(1)).await,
        "550 5.7.1",
        "attachments.dangerous",
    );
    // A double extension, and an executable inside a ZIP archive. Each refusal on a fresh
    // gateway: refusals are violations, and a few climb the preset's ladder to suspension.
    let h = gateway(name).await;
    let double = exe_attachment(3).replace("setup3.exe", "invoice.pdf.exe");
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &double).await;
    assert_refused(&reply, "550 5.7.1", "attachments.dangerous");
    if p.attachments.block_double_extensions {
        assert!(reply.contains("double extension"), "{name}: {reply}");
    }
    let h = gateway(name).await;
    let zipped = send_message(
        &h,
        "a@acme.example",
        &["x@dest.example"],
        &zip_attachment(4, "setup.exe"),
    )
    .await;
    if p.attachments.inspect_archives {
        assert_refused(&zipped, "550 5.7.1", "attachments.dangerous");
    } else {
        assert_accepted(&zipped, &format!("{name}: archives not inspected"));
    }
    assert_accepted(
        &send_message(
            &h,
            "a@acme.example",
            &["x@dest.example"],
            &zip_attachment(5, "notes.txt"),
        )
        .await,
        &format!("{name}: a harmless archive"),
    );
}

async fn authentication(name: &str) {
    let h = gateway(name).await;
    // An SPF record that does not authorize the gateway, and one that does.
    let zone = &h.dns.zone;
    zone.add(
        "_spf.gw.test",
        support::dns::Record::Txt(format!("v=spf1 ip4:{} -all", support::EGRESS_IP)),
    );
    zone.add(
        "acme.example",
        support::dns::Record::Txt("v=spf1 include:_spf.gw.test -all".into()),
    );
    zone.add(
        "spf.acme.example",
        support::dns::Record::Txt("v=spf1 ip4:198.51.100.7 -all".into()),
    );
    assert_accepted(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &unique(6)).await,
        name,
    );
    assert_refused(
        &send_message(&h, "a@spf.acme.example", &["x@dest.example"], &unique(7)).await,
        "550 5.7.1",
        "spf.fail",
    );
}

/// The registered bulk-sender exemption as the preset words it (the preset lists no tenant, so
/// the test registers `acme`): a mailing that meets every condition passes the bulk limit; one
/// that misses a condition the preset requires is counted like any other.
async fn bulk_exemption(name: &str, p: &Profile) {
    let h = gateway_edited(name, |text| {
        text.replace("registered_senders = []", "registered_senders = [\"acme\"]")
    })
    .await;
    let limit = p.bulk.max_recipients as usize;
    let unsubscribe = "List-Unsubscribe: <https://acme.example/u>\r\n";
    let one_click = "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
    // Each topic its own campaign: its own words, personalised per recipient.
    let mailing = |topic: &str, fields: &str, to: &str, n: usize| {
        let seed = 1_000 + topic.bytes().map(usize::from).sum::<usize>();
        let words = unique(seed)
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_string();
        format!(
            "From: news@acme.example\r\nTo: {to}\r\nSubject: {topic}\r\n{fields}\r\nDear reader {n},\r\n{words}\r\n"
        )
    };
    let send_all = |topic: &'static str, fields: String, in_to: bool| {
        let h = &h;
        async move {
            let mut last = String::new();
            for i in 0..=limit {
                let rcpt = format!("{topic}{i}@dest.example");
                let to = if in_to {
                    rcpt.clone()
                } else {
                    "list@acme.example".to_string()
                };
                last = send_message(h, "news@acme.example", &[&rcpt], &mailing(topic, &fields, &to, i)).await;
                if i < limit {
                    assert_accepted(&last, &format!("{name}: {topic} recipient {}", i + 1));
                }
            }
            last
        }
    };
    let compliant = format!("{unsubscribe}{one_click}");
    assert_accepted(
        &send_all("linen", compliant.clone(), true).await,
        &format!("{name}: exempt mailing"),
    );
    let missing_one_click = send_all("cotton", unsubscribe.to_string(), true).await;
    if p.bulk.require_one_click {
        assert_refused(&missing_one_click, "550 5.7.1", "bulk.max_recipients");
    } else {
        assert_accepted(&missing_one_click, &format!("{name}: one-click not required"));
    }
    let not_in_to = send_all("denim", compliant, false).await;
    if p.bulk.require_recipient_in_to {
        assert_refused(&not_in_to, "550 5.7.1", "bulk.max_recipients");
    } else {
        assert_accepted(&not_in_to, &format!("{name}: recipient in To not required"));
    }
    if p.bulk.require_list_unsubscribe {
        let no_unsubscribe = send_all("wool", String::new(), true).await;
        assert_refused(&no_unsubscribe, "550 5.7.1", "bulk.max_recipients");
    }
}

/// Mail bombing of one system (`mail_bomb.max_messages_per_domain`), where the preset counts it:
/// copies of one campaign to different addresses of one destination domain. The preset's number
/// (100 in 24 h for Pageant) is lowered to 3 in the test's copy of the preset, so the 3rd copy to
/// the domain is accepted and relayed, the 4th refused and never relayed, and another domain is
/// still served.
async fn mail_bomb_per_domain(name: &str, p: &Profile) {
    let preset_limit = p.mail_bomb.max_messages_per_domain;
    if preset_limit == 0 {
        return;
    }
    const LIMIT: usize = 3;
    let h = gateway_edited(name, |text| {
        let line = format!("max_messages_per_domain = {preset_limit}");
        assert!(text.contains(&line), "{name}: the preset spells `{line}`");
        text.replace(&line, &format!("max_messages_per_domain = {LIMIT}"))
    })
    .await;
    let copy = |rcpt: &str, n: usize| newsletter("Customer", rcpt, n);
    for i in 0..LIMIT {
        let rcpt = format!("user{i}@system.example");
        assert_accepted(
            &send_message(&h, "news@acme.example", &[&rcpt], &copy(&rcpt, i)).await,
            &format!("{name}: copy {} to system.example", i + 1),
        );
    }
    let refused = format!("user{LIMIT}@system.example");
    let reply = send_message(&h, "news@acme.example", &[&refused], &copy(&refused, LIMIT)).await;
    assert_refused(&reply, "550 5.7.1", "mail_bomb.max_messages_per_domain");
    assert!(
        reply.contains("addresses at system.example"),
        "{name}: the refusal names the domain: {reply}"
    );
    assert_accepted(
        &send_message(
            &h,
            "news@acme.example",
            &["user@other.example"],
            &copy("user@other.example", 99),
        )
        .await,
        &format!("{name}: the campaign's first copy to another system"),
    );
    // What was accepted is relayed; the refused copy is not. (The ladder's warning to the
    // tenant's contact, which the refusal may have started, is the gateway's own mail.)
    h.wait_queue_empty(Duration::from_secs(30)).await;
    let mut relayed: Vec<String> = h
        .sink
        .messages()
        .into_iter()
        .filter(|m| m.sender != "postmaster@gw.test")
        .flat_map(|m| m.recipients)
        .collect();
    relayed.sort();
    assert_eq!(
        relayed,
        [
            "user0@system.example",
            "user1@system.example",
            "user2@system.example",
            "user@other.example"
        ],
        "{name}"
    );
}

/// The bulk exemption with the recipient named in the body (`bulk.recipient_in_body`, SocketLabs:
/// "the recipient's e-mail address in the body of the message or in the TO line"): a registered
/// sender's compliant mailing addressed `To: list@…` that names each recipient in its body is not
/// counted as bulk past the limit; the same mailing without the address in the body is refused
/// at the limit's next recipient.
async fn recipient_in_body(name: &str, p: &Profile) {
    if !p.bulk.recipient_in_body {
        return;
    }
    let h = gateway_edited(name, |text| {
        text.replace("registered_senders = []", "registered_senders = [\"acme\"]")
    })
    .await;
    let limit = p.bulk.max_recipients as usize;
    let mailing = |rcpt: &str, n: usize, named: bool| {
        let footer = if named {
            format!("You receive this at {rcpt} because you subscribed to our deals.")
        } else {
            "You receive this because you subscribed to our deals.".to_string()
        };
        format!(
            "From: news@acme.example\r\nTo: list@acme.example\r\nSubject: Weekly deals {n}\r\n\
             List-Unsubscribe: <https://acme.example/u>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n\
             This week's deals: garden tools, kitchen knives and the reading lamps everybody loved.\r\n\
             Prices drop on Thursday; order by Sunday for free shipping on every order.\r\n\r\n{footer}\r\n"
        )
    };
    for (named, topic) in [(true, "named"), (false, "unnamed")] {
        for i in 0..=limit {
            let rcpt = format!("{topic}{i}@dest.example");
            let reply = send_message(&h, "news@acme.example", &[&rcpt], &mailing(&rcpt, i, named)).await;
            if named || i < limit {
                assert_accepted(&reply, &format!("{name}: {topic} recipient {}", i + 1));
            } else {
                assert_refused(&reply, "550 5.7.1", "bulk.max_recipients");
            }
        }
    }
}

/// DKIM and DMARC as the preset sets them: a tenant signature that does not verify, and a From
/// domain publishing p=reject that the message would fail.
async fn dkim_and_dmarc(name: &str, p: &Profile) {
    use aupgate::policy::profile::AuthAction;
    let h = gateway(name).await;
    let signed = format!(
        "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.example; s=missing; h=from:to:subject; bh=AAAA; b=AAAA\r\n{}",
        unique(60)
    );
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &signed).await;
    if p.dkim.verify && p.dkim.on_broken == AuthAction::Refuse {
        assert_refused(&reply, "550 5.7.1", "dkim.broken");
    } else {
        assert_accepted(&reply, &format!("{name}: a broken tenant signature is tagged"));
    }
    let h = gateway(name).await;
    let zone = &h.dns.zone;
    zone.add("dm.acme.example", support::dns::Record::Txt("v=spf1 ?all".into()));
    zone.add(
        "_dmarc.dm.acme.example",
        support::dns::Record::Txt("v=DMARC1; p=reject".into()),
    );
    let spoofable = unique(61).replace("From: a@acme.example", "From: a@dm.acme.example");
    let reply = send_message(&h, "a@dm.acme.example", &["x@dest.example"], &spoofable).await;
    if p.dmarc.enabled {
        assert_refused(&reply, "550 5.7.1", "dmarc.policy");
    } else {
        assert_accepted(&reply, &format!("{name}: DMARC not predicted"));
    }
}

async fn quotas(name: &str, p: &Profile) {
    const HOUR: Duration = Duration::from_secs(3_600);
    const DAY: Duration = Duration::from_secs(86_400);
    let q = &p.quotas;
    for (key, rule, limit, window, code) in [
        (
            "quota.messages.hour",
            "quota.messages_per_hour",
            q.messages_per_hour,
            HOUR,
            "451 4.7.1",
        ),
        (
            "quota.messages.day",
            "quota.messages_per_day",
            q.messages_per_day,
            DAY,
            "451 4.7.1",
        ),
        (
            "quota.recipients.hour",
            "quota.recipients_per_hour",
            q.recipients_per_hour,
            HOUR,
            "452 4.5.3",
        ),
        (
            "quota.recipients.day",
            "quota.recipients_per_day",
            q.recipients_per_day,
            DAY,
            "452 4.5.3",
        ),
    ] {
        if limit > 0 {
            quota(name, Key::new(key, "acme"), rule, limit, window, code).await;
        }
    }
}

/// One quota at its limit: the counter is filled to one below (as if sent earlier in the
/// window), the next message (one recipient) passes, the one after is refused.
async fn quota(name: &str, key: Key, rule: &str, limit: u64, window: Duration, code: &str) {
    let h = gateway(name).await;
    let store = h.gateway.store.clone();
    store
        .counter_add(&key, limit - 1, aupgate::queue::now_ms(), window)
        .await
        .unwrap();
    assert_accepted(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &unique(7)).await,
        &format!("{name}: the last of {rule}"),
    );
    // The quota was charged after DATA, before the 250.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.counter_get(&key, aupgate::queue::now_ms(), window).await.unwrap() < limit {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: the accepted message was never charged to {rule}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &unique(8)).await;
    assert_refused(&reply, code, rule);
}

async fn escalation(name: &str, p: &Profile) {
    let h = gateway(name).await;
    let store = h.gateway.store.clone();
    // One event per rule (and campaign) and window: each violation here breaks another rule.
    let sms = format!("5550100@{}", p.sms_gateways.domains[0]);
    let violations: Vec<(String, Vec<String>, &str)> = vec![
        (
            exe_attachment(100),
            vec!["x@dest.example".into()],
            "attachments.dangerous",
        ),
        (
            unique(101).replace("From: a@acme.example", "From: ceo@bank.example"),
            vec!["x@dest.example".into()],
            "headers.foreign_originator",
        ),
        (
            newsletter("Customer", &sms, 102),
            (0..=p.sms_gateways.max_recipients)
                .map(|i| format!("555010{i}@{}", p.sms_gateways.domains[0]))
                .collect(),
            "sms_gateway.bulk",
        ),
    ];
    let mut events = 0u64;
    for step in &p.escalation.steps {
        while events < step.events {
            let (message, recipients, rule) = &violations[events as usize];
            let mut reply = String::new();
            for rcpt in recipients {
                reply = send_message(&h, "a@acme.example", &[rcpt], message).await;
            }
            assert_refused(&reply, "550 5.7.1", rule);
            events += 1;
        }
        let record = store.tenant_get("acme").await.unwrap().expect("tenant record");
        assert_eq!(record.state, step.state, "{name}: after {events} events");
    }
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &unique(9)).await;
    assert_refused(&reply, "554 5.7.1", "tenant.suspended");
}

async fn every_rule_of(name: &str) {
    let p = preset(name);
    bulk(name, &p).await;
    mail_bomb(name, &p).await;
    sms_gateways(name, &p).await;
    suppression(name).await;
    bulk_exemption(name, &p).await;
    mail_bomb_per_domain(name, &p).await;
    recipient_in_body(name, &p).await;
    headers(name).await;
    sender_domain(name, &p).await;
    header_settings(name, &p).await;
    attachments(name, &p).await;
    authentication(name).await;
    dkim_and_dmarc(name, &p).await;
    quotas(name, &p).await;
    escalation(name, &p).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_preset() {
    every_rule_of("default").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spcm_preset() {
    every_rule_of("spcm").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pageant_server_preset() {
    every_rule_of("pageant-server").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socketlabs_preset() {
    every_rule_of("socketlabs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ims_network_preset() {
    every_rule_of("ims-network").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn integra_preset() {
    every_rule_of("integra").await;
}
