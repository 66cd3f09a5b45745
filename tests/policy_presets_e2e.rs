//! Every preset in `policies/` end to end: a gateway whose tenant uses the preset, real SMTP, the
//! real store, the sink. For each rule the preset sets, mail at its limit passes and the next is
//! refused with the rule's reply; the escalation ladder moves the tenant step by step to
//! suspension. The numbers come from the preset file itself, so a preset that changes a number is
//! tested at its own number.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use aupgate::policy::profile::Profile;
use aupgate::store::Key;
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
    let file = preset_path(name);
    let name = name.to_string();
    Harness::start_with(move |c| {
        let dir = c.data_dir().join("presets");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(&file, dir.join(format!("{name}.toml"))).unwrap();
        c.policy.directory = dir.display().to_string();
        c.tenants[0].profile = Some(name);
    })
    .await
}

/// One campaign: personalised variants of one newsletter.
fn newsletter(rcpt: &str, n: usize) -> String {
    format!(
        "From: news@acme.example\r\nTo: {rcpt}\r\nSubject: Spring sale for you\r\n\r\nDear customer {n},\r\n\r\n\
         our spring collection has arrived and we picked a few favourites for you: linen shirts,\r\n\
         summer dresses and the sandals everybody asked for last year. Order before Friday and\r\n\
         shipping is free. Your personal discount code is SPRING{n:05}.\r\n\r\n\
         Unsubscribe: https://acme.example/u/{n:08x}\r\n"
    )
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
            &send_message(&h, "news@acme.example", &[&rcpt], &newsletter(&rcpt, i)).await,
            &format!("{name}: bulk recipient {}", i + 1),
        );
    }
    let rcpt = format!("person{limit}@dest.example");
    let reply = send_message(&h, "news@acme.example", &[&rcpt], &newsletter(&rcpt, limit)).await;
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
                &newsletter("victim@dest.example", i),
            )
            .await,
            &format!("{name}: message {} to one recipient", i + 1),
        );
    }
    let reply = send_message(
        &h,
        "news@acme.example",
        &["victim@dest.example"],
        &newsletter("victim@dest.example", limit),
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
            &send_message(&h, "news@acme.example", &[&rcpt], &newsletter(&rcpt, i)).await,
            &format!("{name}: SMS recipient {}", i + 1),
        );
    }
    let rcpt = format!("5550199@{domain}");
    let reply = send_message(&h, "news@acme.example", &[&rcpt], &newsletter(&rcpt, 99)).await;
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
    let reply = send_message(&h, "a@acme.example", &["permfail@dest.example"], &unique(3)).await;
    assert_refused(&reply, "550 5.7.1", "suppression.hard_bounce");
    assert_accepted(
        &send_message(&h, "a@acme.example", &["fine@dest.example"], &unique(4)).await,
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

async fn attachments(name: &str) {
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

async fn quotas(name: &str, p: &Profile) {
    let h = gateway(name).await;
    let store = h.gateway.store.clone();
    let now = aupgate::queue::now_ms();
    // Use up all but one message of the hourly quota (as if sent earlier in the hour).
    let limit = p.quotas.messages_per_hour;
    store
        .counter_add(
            &Key::new("quota.messages.hour", "acme"),
            limit - 1,
            now,
            Duration::from_secs(3_600),
        )
        .await
        .unwrap();
    assert_accepted(
        &send_message(&h, "a@acme.example", &["x@dest.example"], &unique(7)).await,
        &format!("{name}: message {limit} of the hour"),
    );
    // The quota is charged right after the 250 (refused mail never uses it up): wait for it.
    let key = Key::new("quota.messages.hour", "acme");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store
        .counter_get(&key, aupgate::queue::now_ms(), Duration::from_secs(3_600))
        .await
        .unwrap()
        < limit
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name}: the accepted message was never charged"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &unique(8)).await;
    assert_refused(&reply, "451 4.7.1", "quota.messages_per_hour");
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
            newsletter(&sms, 102),
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
    headers(name).await;
    attachments(name).await;
    authentication(name).await;
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
