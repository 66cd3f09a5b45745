//! Notices end to end: a notice sent through the running gateway's own queue reaches the next
//! hop addressed to the tenant's contact, as a MIME message whose copies parse as
//! `message/rfc822` (or `text/rfc822-headers`) parts; it moves none of the tenant's quota or
//! outcome counters; it is audited, and a tenant without a contact has its notice sent to the
//! notice-from address, which the audit says.

mod support;

use std::time::Duration;

use aupgate::admin::usage::Usage;
use aupgate::complaints::{Notice, NoticeKind, NoticeSender};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use support::{send_message, Harness};

const PROFILE: &str = r#"
[profile]
name = "default"
[quotas]
messages_per_hour = 50
messages_per_day = 0
recipients_per_hour = 0
recipients_per_day = 100
"#;

const REPORTED: &str = "From: news@acme.example\r\nTo: reader@dest.example\r\nSubject: Spring sale\r\n\
    Message-ID: <sale-1@acme.example>\r\n\r\nOur spring collection is here.\r\n";

const REPORTED_HEADERS: &str = "From: news@acme.example\r\nTo: other@dest.example\r\nSubject: Summer sale\r\n";

async fn usage(h: &Harness, tenant: &str) -> Usage {
    let response = reqwest::Client::new()
        .get(format!(
            "http://{}/api/v1/tenants/{tenant}/usage",
            h.gateway.admin_address
        ))
        .send()
        .await
        .expect("admin API");
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.expect("a Usage")
}

fn used(usage: &Usage) -> Vec<(String, u64)> {
    usage.quotas.iter().map(|q| (q.rule.clone(), q.used)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_reaches_the_contact_with_its_copies_and_charges_the_tenant_nothing() {
    let h = Harness::start_with_profile(Some(PROFILE), |_| {}).await;
    let reply = send_message(
        &h,
        "a@acme.example",
        &["ann@dest.example"],
        "From: a@acme.example\r\nTo: ann@dest.example\r\nSubject: Minutes\r\n\r\nThe minutes of today.\r\n",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    h.wait_queue_empty(Duration::from_secs(10)).await;
    // The outcome is counted after delivery settled, in a task of its own.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut before = usage(&h, "acme").await;
    while before.deliveries.delivered == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        before = usage(&h, "acme").await;
    }
    assert_eq!(before.deliveries.delivered, 1, "{before:?}");
    assert!(used(&before).iter().any(|(_, n)| *n > 0), "{before:?}");

    let notice = Notice {
        tenant: "acme".into(),
        kind: NoticeKind::Warning,
        reason: "2 complaints in one 24-hour period (SPCM: 2 or more complaints in one 24-hour period).".into(),
        copies: vec![REPORTED.as_bytes().to_vec(), REPORTED_HEADERS.as_bytes().to_vec()],
    };
    let queue_id = h.gateway.notices.send(&notice).await.expect("queued");
    let got = h
        .sink
        .wait_for_recipient("abuse@provider.test", Duration::from_secs(10))
        .await;
    assert_eq!(got.sender, "postmaster@gw.test");
    assert_eq!(got.recipients, ["abuse@provider.test"]);

    let message = MessageParser::default().parse(&got.data).expect("a MIME message");
    assert_eq!(
        message.subject(),
        Some("Warning: your mail breaks the acceptable use policy")
    );
    assert_eq!(
        message.message_id(),
        Some(format!("{queue_id}.notice@gw.test").as_str())
    );
    assert!(message.date().is_some());
    assert_eq!(
        message.header("Auto-Submitted").and_then(|v| v.as_text()),
        Some("auto-generated")
    );
    let text = message.body_text(0).expect("a text part");
    assert!(text.contains("2 complaints in one 24-hour period"), "{text}");
    let attachments: Vec<_> = message.attachments().collect();
    assert_eq!(attachments.len(), 2);
    let PartType::Message(copy) = &attachments[0].body else {
        panic!("a message/rfc822 part: {:?}", attachments[0].body);
    };
    assert_eq!(copy.subject(), Some("Spring sale"));
    assert_eq!(copy.message_id(), Some("sale-1@acme.example"));
    assert_eq!(
        copy.body_text(0).as_deref().map(str::trim),
        Some("Our spring collection is here.")
    );
    let headers_only = attachments[1].content_type().expect("content type");
    assert_eq!(
        (headers_only.ctype(), headers_only.subtype()),
        ("text", Some("rfc822-headers"))
    );

    // Nothing of the tenant's moved: quotas, and outcomes (the notice is the gateway's mail).
    h.wait_queue_empty(Duration::from_secs(10)).await;
    let after = usage(&h, "acme").await;
    assert_eq!(used(&after), used(&before));
    assert_eq!(after.deliveries, before.deliveries);

    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    let record = audit
        .iter()
        .find(|r| r.action == "notice")
        .expect("the notice is audited");
    assert_eq!(record.target, queue_id);
    assert_eq!(record.reason, "warning notice sent to abuse@provider.test");
    assert_eq!(record.detail["kind"], "warning");
    assert_eq!(record.detail["copies"], 2);
    assert_eq!(record.detail["no_contact"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_contact_has_its_notice_sent_to_the_notice_address() {
    let h = Harness::start_with(|c| c.feedback.notice_from = Some("abuse-desk@provider.test".into())).await;
    let notice = Notice {
        tenant: "remote".into(),
        kind: NoticeKind::Suspension,
        reason: "Suspended: 3 warnings.".into(),
        copies: Vec::new(),
    };
    let queue_id = h.gateway.notices.send(&notice).await.expect("queued");
    let got = h
        .sink
        .wait_for_recipient("abuse-desk@provider.test", Duration::from_secs(10))
        .await;
    assert_eq!(got.sender, "abuse-desk@provider.test");
    let message = MessageParser::default().parse(&got.data).expect("a MIME message");
    assert_eq!(message.subject(), Some("Your outbound mail has been suspended"));
    assert_eq!(message.attachments().count(), 0);

    let audit = h.gateway.store.audit_range("remote", 0, u64::MAX).await.unwrap();
    let record = audit.iter().find(|r| r.action == "notice").expect("audited");
    assert_eq!(record.target, queue_id);
    assert_eq!(
        record.reason,
        "suspension notice sent to abuse-desk@provider.test: the tenant has no contact mail address"
    );
    assert_eq!(record.detail["no_contact"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_is_signed_when_the_gateway_holds_a_key_for_its_domain() {
    use aupgate::auth::keys::{self, Algorithm};
    let mut record = None;
    let h = Harness::start_with(|c| {
        let key = keys::generate(&c.data_dir().join("dkim"), "gw.test", "n1", Algorithm::Ed25519).expect("key");
        record = Some((key.record_name(), key.dns_record()));
    })
    .await;
    let (name, value) = record.unwrap();
    h.dns.zone.add(&name, support::dns::Record::Txt(value));
    let notice = Notice {
        tenant: "acme".into(),
        kind: NoticeKind::CaseOpened,
        reason: "A complaint case was opened; resolve it within 5 business days.".into(),
        copies: vec![REPORTED.as_bytes().to_vec()],
    };
    h.gateway.notices.send(&notice).await.expect("queued");
    let got = h
        .sink
        .wait_for_recipient("abuse@provider.test", Duration::from_secs(10))
        .await;
    let text = String::from_utf8_lossy(&got.data);
    assert!(text.starts_with("DKIM-Signature: "), "{text}");
    let verdict = support::verifier::verify_independently(&h, &got.data, "postmaster@gw.test");
    assert_eq!(verdict["dkim"][0]["result"], "pass", "{verdict}");
    assert_eq!(verdict["dkim"][0]["domain"], "gw.test", "{verdict}");
    assert_eq!(verdict["dkim"][0]["selector"], "n1", "{verdict}");
    let message = MessageParser::default().parse(&got.data).expect("parses");
    assert_eq!(message.subject(), Some("A complaint about your mail needs your action"));
    assert_eq!(message.attachments().count(), 1);
}
