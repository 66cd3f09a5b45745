//! The policy checks end to end on the real server and store: bulk, mail bombing (exact, over
//! personalised variants of one campaign), quotas, suppression fed by hard bounces, escalation.

mod support;

use std::time::Duration;

use support::fixtures::newsletter;
use support::{send_message, Harness};

fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis(),
    )
    .expect("ms")
}

const PERMISSIVE: &str = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 0\nmessages_per_day = 0\nrecipients_per_hour = 0\nrecipients_per_day = 0\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_refuses_the_21st_distinct_recipient_of_one_campaign() {
    let h = Harness::start_with_profile(Some(PERMISSIVE), |_| {}).await;
    for i in 0..20 {
        let rcpt = format!("person{i}@dest{}.example", i % 3);
        let reply = send_message(
            &h,
            "news@acme.example",
            &[&rcpt],
            &newsletter(&format!("Name{i}"), &rcpt, i),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "message {i}: {reply}");
    }
    // Same recipient again: not a new distinct recipient.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["Person0+x@DEST0.example"],
        &newsletter("Again", "person0@dest0.example", 99),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let reply = send_message(
        &h,
        "news@acme.example",
        &["person20@dest2.example"],
        &newsletter("Late", "person20@dest2.example", 20),
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 Bulk mail: more than 20 distinct recipients"),
        "{reply}"
    );
    assert!(reply.contains("[rule bulk.max_recipients]"));
    // Unrelated mail from the same tenant still flows.
    let reply = send_message(&h, "a@acme.example", &["person20@dest2.example"], "From: a@acme.example\r\nSubject: lunch\r\n\r\nAre we still on for lunch tomorrow at the usual place near the office?\r\n").await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    assert!(audit
        .iter()
        .any(|a| a.target == "bulk.max_recipients" && a.action == "reject"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_bomb_refuses_the_11th_similar_message_to_one_recipient() {
    let profile = format!("{PERMISSIVE}[bulk]\nenabled = false\n");
    let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
    for i in 0..10 {
        let reply = send_message(
            &h,
            "news@acme.example",
            &["victim@dest.example"],
            &newsletter("Victim", "victim@dest.example", 1000 + i),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "message {i}: {reply}");
    }
    // Spelling the recipient differently does not escape the count.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["\"Victim\"@DEST.example."],
        &newsletter("Victim", "victim@dest.example", 2000),
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 Mail bomb: more than 10 similar messages to victim@dest.example"),
        "{reply}"
    );
    assert!(reply.contains("[rule mail_bomb.max_messages]"));
    // Another recipient is unaffected.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["other@dest.example"],
        &newsletter("Other", "other@dest.example", 3000),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_bomb_counts_every_copy_that_reaches_one_mailbox() {
    let profile = format!("{PERMISSIVE}[bulk]\nenabled = false\n");
    let h = Harness::start_with_profile(Some(&profile), |c| c.limits.max_recipients = 20).await;
    // One message to eleven subaddresses of one mailbox is eleven messages to it.
    let eleven: Vec<String> = (0..11).map(|k| format!("victim+{k}@dest.example")).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let reply = send_message(
        &h,
        "news@acme.example",
        &eleven,
        &newsletter("Victim", "victim@dest.example", 1),
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 Mail bomb: more than 10 similar messages to victim@dest.example"),
        "{reply}"
    );
    assert!(reply.contains("[rule mail_bomb.max_messages]"), "{reply}");
    // Refused whole, and nothing charged: ten copies still fit, then the mailbox is full.
    let ten = &eleven[..10];
    let reply = send_message(
        &h,
        "news@acme.example",
        ten,
        &newsletter("Victim", "victim@dest.example", 2),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    let got = h.sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].recipients.len(), 10, "{:?}", got[0].recipients);
    let reply = send_message(
        &h,
        "news@acme.example",
        &["victim@dest.example"],
        &newsletter("Victim", "victim@dest.example", 3),
    )
    .await;
    assert!(reply.starts_with("550 5.7.1 Mail bomb"), "{reply}");
    // The same address named twice is two copies as well.
    let reply = send_message(
        &h,
        "news@acme.example",
        &["other@dest.example"; 11],
        &newsletter("Other", "other@dest.example", 4),
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 Mail bomb: more than 10 similar messages to other@dest.example"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_defer_with_the_rule_and_charge_only_accepted_mail() {
    let profile = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 0\nmessages_per_day = 0\nrecipients_per_hour = 4\nrecipients_per_day = 0\n[bulk]\nenabled = false\n[mail_bomb]\nenabled = false\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    let body = |i: usize| {
        format!(
            "From: a@acme.example\r\nSubject: note {i}\r\n\r\nnote number {i} about topic {}\r\n",
            ["alpha", "bravo", "charlie", "delta"][i % 4]
        )
    };
    // A refused message (bad data) does not use the quota.
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<x@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(b"bare\nlf\r\n.\r\n").await;
    c.expect("550 5.5.2").await;
    // Recipients: 3 in one message, then a 2nd message may add only one more.
    assert!(send_message(
        &h,
        "a@acme.example",
        &["r1@d.example", "r2@d.example", "r3@d.example"],
        &body(1)
    )
    .await
    .starts_with("250 2.0.0"));
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<r4@d.example>", "250 2.1.5").await;
    let reply = c.send("RCPT TO:<r5@d.example>", "452 4.5.3").await;
    assert!(reply[0].contains("[rule quota.recipients_per_hour]"), "{reply:?}");
    c.send("DATA", "354").await;
    c.write(body(2).as_bytes()).await;
    c.write(b".\r\n").await;
    c.expect("250 2.0.0").await;
    assert!(send_message(&h, "a@acme.example", &["r1@d.example"], &body(3))
        .await
        .starts_with("452 4.5.3"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_quota_defers_at_mail_from() {
    let profile = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 2\nmessages_per_day = 0\nrecipients_per_hour = 0\nrecipients_per_day = 0\n[bulk]\nenabled = false\n[mail_bomb]\nenabled = false\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    for i in 0..2 {
        let reply = send_message(
            &h,
            "a@acme.example",
            &[&format!("r{i}@d.example")],
            "From: a@acme.example\r\nSubject: x\r\n\r\nhello there\r\n",
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "{reply}");
    }
    // Refused at MAIL FROM itself: the node's recent read of the counters holds the two
    // charges it made after it (`policy::recent`), so the early check sees the quota used up.
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    let reply = c.send("MAIL FROM:<a@acme.example>", "451 4.7.1").await.join("\n");
    assert!(
        reply.starts_with("451 4.7.1 Your hourly quota of 2 messages is used up; try again in"),
        "{reply}"
    );
    assert!(reply.contains("[rule quota.messages_per_hour]"));
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
    let deferral = audit
        .iter()
        .find(|a| a.action == "defer")
        .expect("the deferral is audited");
    assert_eq!(deferral.target, "quota.messages_per_hour");
}

/// Sessions whose MAIL FROM and RCPT TO all passed while nothing was charged yet: the charge
/// after DATA is exact, so exactly the quota's worth is accepted (before, every message in flight
/// got through).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_in_flight_cannot_overshoot_a_quota() {
    let profile = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 2\nmessages_per_day = 0\nrecipients_per_hour = 0\nrecipients_per_day = 0\n[bulk]\nenabled = false\n[mail_bomb]\nenabled = false\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    let mut sessions = Vec::new();
    for i in 0..4 {
        let mut c = h.connect(h.relay_addr()).await;
        c.send("EHLO client.test", "250 ").await;
        c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
        c.send(&format!("RCPT TO:<r{i}@d.example>"), "250 2.1.5").await;
        sessions.push(c);
    }
    let mut replies = Vec::new();
    for (i, c) in sessions.iter_mut().enumerate() {
        c.send("DATA", "354").await;
        c.write(format!("From: a@acme.example\r\nSubject: {i}\r\n\r\nmessage {i}\r\n.\r\n").as_bytes())
            .await;
        replies.push(c.expect("").await.join("\n"));
    }
    assert!(
        replies[0].starts_with("250 2.0.0") && replies[1].starts_with("250 2.0.0"),
        "{replies:#?}"
    );
    for reply in &replies[2..] {
        assert!(
            reply.starts_with("451 4.7.1 Your hourly quota of 2 messages is used up; try again in"),
            "{replies:#?}"
        );
        assert!(reply.contains("[rule quota.messages_per_hour]"), "{reply}");
    }
    let key = aupgate::store::Key::new("quota.messages.hour", "acme");
    let counted = h
        .gateway
        .store
        .counter_get(&key, now_ms(), Duration::from_secs(3_600))
        .await
        .expect("read");
    assert_eq!(counted, 2);
}

/// A message deferred after its message quota was charged (its recipients tipped the recipient
/// quota over) gives the message charge back: it uses up no quota.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_deferred_after_data_uses_up_no_quota() {
    let profile = "[profile]\nname = \"default\"\n[quotas]\nmessages_per_hour = 10\nmessages_per_day = 0\nrecipients_per_hour = 3\nrecipients_per_day = 0\n[bulk]\nenabled = false\n[mail_bomb]\nenabled = false\n";
    let h = Harness::start_with_profile(Some(profile), |_| {}).await;
    let mut a = h.connect(h.relay_addr()).await;
    let mut b = h.connect(h.relay_addr()).await;
    for (c, first) in [(&mut a, 1), (&mut b, 3)] {
        c.send("EHLO client.test", "250 ").await;
        c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
        c.send(&format!("RCPT TO:<r{first}@d.example>"), "250 2.1.5").await;
        c.send(&format!("RCPT TO:<r{}@d.example>", first + 1), "250 2.1.5")
            .await;
    }
    // A's message is decided before B's is sent: B's recipients then tip the quota over.
    let mut replies = Vec::new();
    for c in [&mut a, &mut b] {
        c.send("DATA", "354").await;
        c.write(b"From: a@acme.example\r\nSubject: x\r\n\r\nhello\r\n.\r\n")
            .await;
        replies.push(c.expect("").await.join("\n"));
    }
    assert!(replies[0].starts_with("250 2.0.0"), "{replies:?}");
    let reply = replies[1].clone();
    assert!(reply.starts_with("451 4.7.1"), "{reply}");
    assert!(
        reply.contains("Your hourly quota of 3 recipients is used up")
            && reply.contains("[rule quota.recipients_per_hour]"),
        "{reply}"
    );
    let count = |kind: &'static str| {
        let store = h.gateway.store.clone();
        async move {
            store
                .counter_get(
                    &aupgate::store::Key::new(kind, "acme"),
                    now_ms(),
                    Duration::from_secs(3_600),
                )
                .await
                .expect("read")
        }
    };
    assert_eq!(
        count("quota.messages.hour").await,
        1,
        "the deferred message's charge is given back"
    );
    assert_eq!(count("quota.recipients.hour").await, 2);
}

/// The campaign id a refusal names (`... (campaign 0123456789abcdef) ...`).
fn reply_campaign(reply: &str) -> String {
    let start = reply.find("(campaign ").expect("a campaign in the reply") + "(campaign ".len();
    reply[start..start + 16].to_string()
}

/// A message refused at a later recipient does not count: the charges of the recipients before
/// it are taken back, for bulk and for mail bombs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_message_takes_back_what_it_charged() {
    let profile = format!("{PERMISSIVE}[bulk]\nmax_recipients = 2\n[mail_bomb]\nmax_messages = 1\n");
    let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
    let mail = |n: usize| newsletter("Reader", "r@dest.example", n);
    let refused = send_message(
        &h,
        "news@acme.example",
        &["r1@dest.example", "r2@dest.example", "r3@dest.example"],
        &mail(1),
    )
    .await;
    assert!(
        refused.starts_with("550 5.7.1 Bulk mail: more than 2 distinct recipients")
            && refused.ends_with("[rule bulk.max_recipients]"),
        "{refused}"
    );
    // r1 and r2 were charged (bulk and mail bomb) before r3 tripped the limit, and given back:
    // the campaign still has both slots, and each of them can still get its one message.
    for rcpt in ["r1@dest.example", "r2@dest.example"] {
        let reply = send_message(&h, "news@acme.example", &[rcpt], &mail(2)).await;
        assert!(reply.starts_with("250 2.0.0"), "{rcpt}: {reply}");
    }
    // The acceptance is audited with its queue id, Message-ID (added by the gateway here) and
    // the campaign the refusal named.
    let campaign = reply_campaign(&refused);
    // The session audits an acceptance after its `250`: wait for the second one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let audit = loop {
        let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.unwrap();
        let accepts = audit.iter().filter(|a| a.action == "accept").count();
        if accepts >= 2 || tokio::time::Instant::now() > deadline {
            break audit;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let accepted: Vec<_> = audit.iter().filter(|a| a.action == "accept").collect();
    assert_eq!(accepted.len(), 2, "{audit:?}");
    for record in accepted {
        assert_eq!(record.detail["campaign"], campaign.as_str(), "{record:?}");
        let message_id = record.detail["message_id"].as_str().expect("a Message-ID");
        assert!(message_id.starts_with(&format!("<{}@", record.target)), "{record:?}");
    }
    // Now they are charged for real.
    let reply = send_message(&h, "news@acme.example", &["r1@dest.example"], &mail(3)).await;
    assert!(reply.starts_with("550 5.7.1 Mail bomb"), "{reply}");
    let reply = send_message(&h, "news@acme.example", &["r4@dest.example"], &mail(4)).await;
    assert!(reply.starts_with("550 5.7.1 Bulk mail"), "{reply}");
}

/// The profile states the similarity threshold: two messages sharing ~80% of their text are one
/// campaign at `similarity = 0.5` and two at `0.95`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_states_how_similar_one_campaign_is() {
    let word = |i: u64| {
        let mut x = (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (0..7)
            .map(|_| {
                let c = char::from(b'a' + (x % 26) as u8);
                x /= 26;
                c
            })
            .collect::<String>()
    };
    let text = |words: &mut dyn Iterator<Item = u64>| words.map(word).collect::<Vec<_>>().join(" ");
    let first = text(&mut (0..100));
    // The last eight words replaced: about 80% of the four-word shingles are shared.
    let second = text(&mut (0..92).chain(1_000..1_008));
    let mail = |body: &str| format!("From: a@acme.example\r\nSubject: note\r\n\r\n{body}\r\n");
    for (similarity, expected) in [("0.5", "550 5.7.1 Mail bomb"), ("0.95", "250 2.0.0")] {
        let profile = format!("{PERMISSIVE}[mail_bomb]\nmax_messages = 1\n[fingerprint]\nsimilarity = {similarity}\n");
        let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
        let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &mail(&first)).await;
        assert!(reply.starts_with("250 2.0.0"), "{similarity}: {reply}");
        let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &mail(&second)).await;
        assert!(reply.starts_with(expected), "{similarity}: {reply}");
    }
}

/// With `+tag` addresses counted apart, the suppression list still matches the mailbox a bounce
/// named: `bob+news@x` is `bob@x` there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suppression_matches_the_mailbox_whatever_the_counting_identity() {
    let profile = format!("{PERMISSIVE}[recipients]\nstrip_subaddress = false\n");
    let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
    let entry = aupgate::store::Suppression {
        address: "gone@dest.example".into(),
        at: 0,
        reason: "550 5.1.1 no such user".into(),
    };
    h.gateway.store.suppression_add("acme", &entry).await.unwrap();
    let list_mail = "From: a@acme.example\r\nList-Id: News <news.acme.example>\r\nSubject: news\r\n\r\nour news\r\n";
    let reply = send_message(&h, "a@acme.example", &["Gone+news@dest.example"], list_mail).await;
    assert!(
        reply.starts_with("550 5.7.1 Recipient gone@dest.example is suppressed for your bulk mail")
            && reply.ends_with("[rule suppression.hard_bounce]"),
        "{reply}"
    );
}

/// `+tag` subaddresses are one recipient by default; `[recipients] strip_subaddress = false`
/// counts them apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subaddresses_count_as_one_recipient_unless_the_profile_says_otherwise() {
    for (strip, second) in [("true", "550 5.7.1 Mail bomb"), ("false", "250 2.0.0")] {
        let profile = format!("{PERMISSIVE}[mail_bomb]\nmax_messages = 1\n[recipients]\nstrip_subaddress = {strip}\n");
        let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
        let first = send_message(
            &h,
            "news@acme.example",
            &["bob+1@dest.example"],
            &newsletter("Bob", "bob@dest.example", 1),
        )
        .await;
        assert!(first.starts_with("250 2.0.0"), "strip {strip}: {first}");
        let reply = send_message(
            &h,
            "news@acme.example",
            &["Bob+2@dest.example"],
            &newsletter("Bob", "bob@dest.example", 2),
        )
        .await;
        assert!(reply.starts_with(second), "strip {strip}: {reply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hard_bounces_are_suppressed_for_the_tenants_bulk_mail() {
    let h = Harness::start_with_profile(Some(PERMISSIVE), |_| {}).await;
    let reply = send_message(
        &h,
        "a@acme.example",
        &["permfail@dest.example"],
        "From: a@acme.example\r\nSubject: x\r\n\r\nfirst try\r\n",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // The relay gets 550 5.1.1 and records the suppression (and bounces a DSN).
    h.sink.wait_for(1, Duration::from_secs(10)).await;
    let mut suppressed = false;
    for _ in 0..50 {
        if h.gateway
            .store
            .suppression_contains("acme", "permfail@dest.example")
            .await
            .unwrap()
        {
            suppressed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(suppressed);
    // Bulk mail (list markers) to the address, however it is spelt, is refused.
    let list_mail = "From: a@acme.example\r\nList-Unsubscribe: <https://acme.example/u/1>\r\n\
                     Subject: news\r\n\r\nour news\r\n";
    let reply = send_message(&h, "a@acme.example", &["PermFail+2@dest.example"], list_mail).await;
    assert!(
        reply.starts_with(
            "550 5.7.1 Recipient permfail@dest.example is suppressed for your bulk mail (it hard-bounced, complained or unsubscribed earlier)"
        ) && reply.ends_with("[rule suppression.hard_bounce]"),
        "{reply}"
    );
    let precedence = "From: a@acme.example\r\nPrecedence: bulk\r\nSubject: news\r\n\r\nmore news\r\n";
    let reply = send_message(&h, "a@acme.example", &["permfail@dest.example"], precedence).await;
    assert!(
        reply.starts_with("550 5.7.1 Recipient permfail@dest.example"),
        "{reply}"
    );
    // One suppressed recipient refuses the whole message: SMTP has one reply to DATA.
    let reply = send_message(
        &h,
        "a@acme.example",
        &["fine@dest.example", "permfail@dest.example"],
        list_mail,
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1 Recipient permfail@dest.example"),
        "{reply}"
    );
    // Transactional mail (no list markers) still reaches the address.
    let reply = send_message(
        &h,
        "a@acme.example",
        &["permfail@dest.example"],
        "From: a@acme.example\r\nSubject: your receipt\r\n\r\nreceipt 1234\r\n",
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // List mail to everybody else is relayed.
    let reply = send_message(&h, "a@acme.example", &["fine@dest.example"], list_mail).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
    // A stale address on a list is routine: no violation event, the tenant stays in good standing.
    let events = h.gateway.store.events_range("acme", 0, u64::MAX).await.unwrap();
    assert!(events.is_empty(), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_violations_climb_the_ladder_to_suspension() {
    let profile = format!(
        "{PERMISSIVE}[bulk]\nenabled = false\n[mail_bomb]\nmax_messages = 1\n\
         [[escalation.steps]]\nevents = 1\nwindow = \"30d\"\nstate = \"warned\"\n\
         [[escalation.steps]]\nevents = 2\nwindow = \"30d\"\nstate = \"suspended\"\n"
    );
    let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
    let campaign_a = |n: usize| newsletter("Victim", "victim@dest.example", n);
    let campaign_b = |n: usize| {
        format!("From: a@acme.example\r\nSubject: invoice\r\n\r\nPlease find attached invoice {n} for the consulting services rendered in March. Payment is due within thirty days of receipt, by bank transfer to the account shown below.\r\n")
    };
    assert!(
        send_message(&h, "n@acme.example", &["victim@dest.example"], &campaign_a(1))
            .await
            .starts_with("250")
    );
    // Refusals of one campaign count as one incident, however many there are.
    for n in 2..5 {
        assert!(
            send_message(&h, "n@acme.example", &["victim@dest.example"], &campaign_a(n))
                .await
                .starts_with("550 5.7.1 Mail bomb")
        );
    }
    let record = h.gateway.store.tenant_get("acme").await.unwrap().unwrap();
    assert_eq!(record.state, aupgate::store::TenantState::Warned);
    assert!(
        send_message(&h, "n@acme.example", &["victim@dest.example"], &campaign_b(1))
            .await
            .starts_with("250")
    );
    assert!(
        send_message(&h, "n@acme.example", &["victim@dest.example"], &campaign_b(2))
            .await
            .starts_with("550 5.7.1 Mail bomb")
    );
    // Second incident: suspended, with a block only an operator lifts.
    let reply = send_message(
        &h,
        "n@acme.example",
        &["someone@dest.example"],
        "From: a@acme.example\r\nSubject: hi\r\n\r\nhello\r\n",
    )
    .await;
    assert!(reply.starts_with("554 5.7.1 Sending is suspended"), "{reply}");
    let blocks = h.gateway.store.blocks_list("acme").await.unwrap();
    assert_eq!(blocks.len(), 1);
    assert_eq!(blocks[0].by, "policy:mail_bomb.max_messages");
    // Each step was told to the tenant's contact: the warning, then the suspension.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let notices = loop {
        let to_contact: Vec<_> = h
            .sink
            .messages()
            .into_iter()
            .filter(|m| m.recipients == ["abuse@provider.test"])
            .collect();
        if to_contact.len() >= 2 || std::time::Instant::now() > deadline {
            break to_contact;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let texts: Vec<String> = notices
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data).into_owned())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Subject: Warning: your mail breaks the acceptable use policy")),
        "{texts:#?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.contains("Subject: Your outbound mail has been suspended")),
        "{texts:#?}"
    );
    assert!(texts.iter().all(|t| t.contains("mail_bomb.max_messages")), "{texts:#?}");

    // An operator's lift is a fresh start: the next incident is a warning, not a suspension.
    let (ok, err) = support::lift_tenant_block(&h, "acme", "cleaned up");
    assert!(ok, "{err}");
    let campaign_c = |n: usize| {
        format!("From: a@acme.example\r\nSubject: minutes\r\n\r\nThe minutes of meeting {n} of the garden committee are below; the hedge will be trimmed on Saturday and volunteers bring their own shears.\r\n")
    };
    for n in 1..=2 {
        send_message(&h, "n@acme.example", &["victim@dest.example"], &campaign_c(n)).await;
    }
    let record = h.gateway.store.tenant_get("acme").await.unwrap().unwrap();
    assert_eq!(record.state, aupgate::store::TenantState::Warned);
    let reply = send_message(&h, "n@acme.example", &["someone@dest.example"], &campaign_c(9)).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn letter_bombs_count_one_incident_per_mailing() {
    // Refused before any campaign lookup, a letter bomb is still attributed to its campaign:
    // one mailing resent is one incident, a different mailing is another.
    let profile = format!(
        "{PERMISSIVE}[[escalation.steps]]\nevents = 1\nwindow = \"30d\"\nstate = \"warned\"\n\
         [[escalation.steps]]\nevents = 2\nwindow = \"30d\"\nstate = \"final_warning\"\n"
    );
    let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
    let bomb = |text: &str| {
        format!(
            "From: a@acme.example\r\nSubject: tools\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\n{text}\r\n--b\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"setup.exe\"\r\n\r\nMZ\r\n--b--\r\n"
        )
    };
    let first =
        bomb("Here is the installer for the new accounting software, as discussed on the phone yesterday afternoon.");
    let second =
        bomb("Quarterly figures attached: revenue grew in every region, costs fell, and the board meets on Tuesday.");
    let state = |h: &Harness| {
        let store = h.gateway.store.clone();
        async move { store.tenant_get("acme").await.unwrap().map(|r| r.state) }
    };
    for _ in 0..3 {
        let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &first).await;
        assert!(reply.ends_with("[rule attachments.dangerous]"), "{reply}");
    }
    assert_eq!(state(&h).await, Some(aupgate::store::TenantState::Warned));
    let reply = send_message(&h, "a@acme.example", &["x@dest.example"], &second).await;
    assert!(reply.ends_with("[rule attachments.dangerous]"), "{reply}");
    assert_eq!(state(&h).await, Some(aupgate::store::TenantState::FinalWarning));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_override_replaces_one_profile_limit() {
    let h = Harness::start_with_profile(Some(PERMISSIVE), |c| {
        let acme = c.tenants.iter_mut().find(|t| t.id == "acme").unwrap();
        acme.limits.messages_per_hour = Some(1);
        acme.limits.mail_bomb_max_messages = Some(2);
    })
    .await;
    let body = "From: a@acme.example\r\nSubject: x\r\n\r\nhello there\r\n";
    assert!(send_message(&h, "a@acme.example", &["r1@d.example"], body)
        .await
        .starts_with("250 2.0.0"));
    let reply = send_message(&h, "a@acme.example", &["r2@d.example"], body).await;
    assert!(
        reply.starts_with("451 4.7.1 Your hourly quota of 1 messages is used up"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subdomains_are_covered_unless_the_profile_says_otherwise() {
    let message = |from: &str| format!("From: {from}\r\nTo: bob@dest.example\r\nSubject: hi\r\n\r\nhello\r\n");
    let h = Harness::start_with_profile(Some(PERMISSIVE), |_| {}).await;
    let reply = send_message(
        &h,
        "a@mail.acme.example",
        &["bob@dest.example"],
        &message("a@mail.acme.example"),
    )
    .await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");

    let strict = format!("{PERMISSIVE}\n[sender_domain]\ninclude_subdomains = false\n");
    let h = Harness::start_with_profile(Some(&strict), |_| {}).await;
    let reply = send_message(
        &h,
        "a@mail.acme.example",
        &["bob@dest.example"],
        &message("a@acme.example"),
    )
    .await;
    assert!(
        reply.starts_with("553 5.7.1") && reply.contains("[rule sender.domain]"),
        "{reply}"
    );
    // The header From is held to the same rule.
    let reply = send_message(
        &h,
        "a@acme.example",
        &["bob@dest.example"],
        &message("a@mail.acme.example"),
    )
    .await;
    assert!(
        reply.starts_with("550 5.7.1") && reply.contains("[rule headers."),
        "{reply}"
    );
    let reply = send_message(&h, "a@acme.example", &["bob@dest.example"], &message("a@acme.example")).await;
    assert!(reply.starts_with("250 2.0.0"), "{reply}");
}

/// A mailing of the registered bulk sender `acme`: `headers` are its list fields, `to` its To.
fn list_mail(topic: &str, headers: &str, to: &str, n: usize) -> String {
    format!(
        "From: news@acme.example\r\nTo: {to}\r\nSubject: {topic} {n}\r\n{headers}\r\n\
         Our {topic} letter this month: new arrivals in the shop, a workshop on Saturday, and the\r\n\
         answers to the questions readers sent us about {topic} care and storage. Reader {n}.\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_bulk_senders_are_exempt_only_with_unsubscribe_and_the_recipient_in_to() {
    let profile = format!(
        "{PERMISSIVE}[bulk]\nmax_recipients = 3\nregistered_senders = [\"acme\"]\nrequire_list_unsubscribe = true\n\
         require_one_click = true\nrequire_recipient_in_to = true\n"
    );
    let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
    let one_click =
        "List-Unsubscribe: <https://acme.example/u/1>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
    let no_post = "List-Unsubscribe: <https://acme.example/u/1>\r\n";
    // RFC 8058 needs an HTTPS URI to post to: mailto alone is not one-click.
    let mailto_only =
        "List-Unsubscribe: <mailto:unsub@acme.example>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n";
    // One-click unsubscribe and each recipient in To: exempt, however many recipients.
    for n in 0..6 {
        let rcpt = format!("reader{n}@dest.example");
        let reply = send_message(
            &h,
            "news@acme.example",
            &[&rcpt],
            &list_mail("garden", one_click, &rcpt, n),
        )
        .await;
        assert!(reply.starts_with("250 2.0.0"), "reader {n}: {reply}");
    }
    // List-Unsubscribe without one-click: counted, the 4th distinct recipient refused.
    // One-click, but the recipient is not in To (a Bcc list): counted too. So is a one-click
    // POST field whose List-Unsubscribe has no https URI.
    for (topic, headers, to_self) in [
        ("coffee", no_post, true),
        ("bicycle", one_click, false),
        ("lantern", mailto_only, true),
    ] {
        for n in 0..4 {
            let rcpt = format!("reader{n}@dest.example");
            let to = if to_self {
                rcpt.clone()
            } else {
                "list@acme.example".to_string()
            };
            let reply = send_message(&h, "news@acme.example", &[&rcpt], &list_mail(topic, headers, &to, n)).await;
            if n < 3 {
                assert!(reply.starts_with("250 2.0.0"), "{topic} reader {n}: {reply}");
            } else {
                assert!(
                    reply.starts_with("550 5.7.1") && reply.contains("[rule bulk.max_recipients]"),
                    "{topic}: {reply}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_at_mail_from_are_violations_once_per_window() {
    let profile = format!(
        "{PERMISSIVE}[[escalation.steps]]\nevents = 1\nwindow = \"30d\"\nstate = \"warned\"\n\
         [[escalation.steps]]\nevents = 2\nwindow = \"30d\"\nstate = \"final_warning\"\n"
    );
    let h = Harness::start_with_profile(Some(&profile), |_| {}).await;
    let message = "From: a@acme.example\r\nSubject: hi\r\n\r\nhello\r\n";
    let state = || async { h.gateway.store.tenant_get("acme").await.unwrap().map(|r| r.state) };
    assert_eq!(state().await, Some(aupgate::store::TenantState::Active));
    // A sender domain the tenant does not own: refused, and one violation however often it
    // is tried within the window.
    for _ in 0..3 {
        let reply = send_message(&h, "ceo@bank.example", &["bob@dest.example"], message).await;
        assert!(
            reply.starts_with("553 5.7.1") && reply.contains("[rule sender.domain]"),
            "{reply}"
        );
    }
    assert_eq!(state().await, Some(aupgate::store::TenantState::Warned));
    let events = h.gateway.store.events_range("acme", 0, u64::MAX).await.unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].rule.as_deref(), Some("sender.domain"));
}
