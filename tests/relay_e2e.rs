//! End to end on loopback: real gateway, real sink. Delivery, byte identity, per-recipient
//! failures, retries, DSNs.

mod support;

use std::time::Duration;

use support::{send_queued, Harness};

#[tokio::test]
async fn relayed_message_is_byte_identical_plus_trace_and_authentication_results() {
    let h = Harness::start().await;
    let wire = b"From: a@acme.example\r\nTo: b@dest.example\r\nSubject: test\r\n\r\nline one\r\n..leading dot\r\n\xc3\xa9 8bit\r\n";
    let queue_id = send_queued(&h, "a@acme.example", "", &["b@dest.example"], wire).await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    let message = &got[0];
    assert_eq!(message.sender, "a@acme.example");
    assert_eq!(message.recipients, vec!["b@dest.example".to_string()]);
    let expected_body: &[u8] = b"From: a@acme.example\r\nTo: b@dest.example\r\nSubject: test\r\n\r\nline one\r\n.leading dot\r\n\xc3\xa9 8bit\r\n";
    // Our Authentication-Results on top (no key for acme.example here: nothing signed), then
    // our Received.
    assert!(message.data.starts_with(b"Authentication-Results: gw.test;"));
    let received = message
        .data
        .windows(10)
        .position(|w| w == b"Received: ")
        .expect("Received");
    let message_data = &message.data[received..];
    assert!(
        message_data.starts_with(b"Received: from client.test ([127.0.0.1])\r\n\tby gw.test (aupgate) with ESMTP id ")
    );
    assert!(String::from_utf8_lossy(&message.data).contains(&queue_id));
    assert!(
        message_data.ends_with(expected_body),
        "body changed: {:?}",
        String::from_utf8_lossy(&message.data)
    );
    let added = String::from_utf8_lossy(&message_data[..message_data.len() - expected_body.len()]).into_owned();
    // Our Received header (3 lines), plus the Date and Message-ID the message lacked.
    assert_eq!(added.matches("\r\n").count(), 5, "{added}");
    assert!(added.contains("\r\nDate: "), "{added}");
    assert!(
        added.contains(&format!("\r\nMessage-ID: <{queue_id}@gw.test>\r\n")),
        "{added}"
    );
}

#[tokio::test]
async fn existing_date_and_message_id_are_kept() {
    let h = Harness::start().await;
    let wire = b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <own@acme.example>\r\nFrom: a@acme.example\r\nSubject: t\r\n\r\nx\r\n";
    send_queued(&h, "a@acme.example", "", &["b@dest.example"], wire).await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    let text = String::from_utf8_lossy(&got[0].data);
    assert_eq!(text.matches("Date: ").count(), 1, "{text}");
    assert_eq!(text.matches("Message-ID: ").count(), 1, "{text}");
    assert!(text.contains("Message-ID: <own@acme.example>"));
}

#[tokio::test]
async fn permanent_failure_bounces_only_the_failed_recipient() {
    let h = Harness::start().await;
    send_queued(
        &h,
        "a@acme.example",
        "",
        &["ok@dest.example", "permfail@dest.example"],
        b"From: a@acme.example\r\nSubject: x\r\n\r\nhi\r\n",
    )
    .await;
    let got = h.sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "one delivery and one DSN expected: {got:?}");
    assert_eq!(got[0].recipients, vec!["ok@dest.example".to_string()]);
    let dsn = &got[1];
    assert_eq!(dsn.sender, "", "a DSN has the null sender");
    assert_eq!(dsn.recipients, vec!["a@acme.example".to_string()]);
    let text = String::from_utf8_lossy(&dsn.data);
    assert!(text.contains("Content-Type: multipart/report; report-type=delivery-status"));
    assert!(text.contains("Final-Recipient: rfc822; permfail@dest.example"));
    assert!(text.contains("Status: 5.1.1"));
    assert!(text.contains("Diagnostic-Code: smtp; 550 5.1.1 no such user"));
    assert!(!text.contains("Final-Recipient: rfc822; ok@dest.example"));
}

#[tokio::test]
async fn null_sender_failure_is_never_bounced() {
    let h = Harness::start().await;
    send_queued(
        &h,
        "",
        "",
        &["permfail@dest.example", "ok@dest.example"],
        b"From: a@acme.example\r\nSubject: bounce\r\n\r\nhi\r\n",
    )
    .await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    // The message leaves the queue only after its bounce decision (a DSN would be queued first).
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert_eq!(h.sink.messages().len(), 1, "no DSN for a null sender");
}

#[tokio::test]
async fn temporary_failures_are_retried_then_expire_into_a_dsn() {
    let h = Harness::start_with(|c| {
        c.queue.max_age = aupgate::config::HumanDuration::secs(2);
    })
    .await;
    send_queued(
        &h,
        "a@acme.example",
        "",
        &["tempfail@dest.example"],
        b"From: a@acme.example\r\nSubject: x\r\n\r\nhi\r\n",
    )
    .await;
    let got = h.sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "expected the expiry DSN");
    let text = String::from_utf8_lossy(&got[0].data);
    assert!(text.contains("Final-Recipient: rfc822; tempfail@dest.example"));
    // Fields longer than 78 octets are folded (RFC 5322 §2.2.3): unfold before reading one.
    let unfolded = text.replace("\r\n    ", " ").replace("\r\n ", " ");
    // The status says the time ran out; the diagnostic is the last reply the next hop gave, and
    // the next hop is named (RFC 3464 §2.3.5, §2.3.6).
    assert!(
        unfolded.contains(
            "Final-Recipient: rfc822; tempfail@dest.example\r\nAction: failed\r\nStatus: 5.4.7\r\nRemote-MTA: dns; "
        ),
        "{text}"
    );
    assert!(
        unfolded.contains("Diagnostic-Code: smtp; 451 4.3.0 try later\r\n"),
        "{text}"
    );
    // The readable part says both.
    assert!(
        unfolded.contains("<tempfail@dest.example>: Delivery time expired; last error: 451 4.3.0 try later"),
        "{text}"
    );
}

#[tokio::test]
async fn disconnecting_next_hop_is_a_temporary_failure_for_the_transaction() {
    let h = Harness::start_with(|c| {
        c.queue.max_age = aupgate::config::HumanDuration::secs(2);
    })
    .await;
    send_queued(
        &h,
        "a@acme.example",
        "",
        &["disconnect@dest.example"],
        b"From: a@acme.example\r\nSubject: x\r\n\r\nhi\r\n",
    )
    .await;
    let got = h.sink.wait_for(1, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 1, "expected the expiry DSN after retries");
    assert_eq!(got[0].recipients, vec!["a@acme.example".to_string()]);
    assert!(String::from_utf8_lossy(&got[0].data).contains("Final-Recipient: rfc822; disconnect@dest.example"));
}

#[tokio::test]
async fn queue_is_empty_after_delivery() {
    let h = Harness::start().await;
    for i in 0..5 {
        send_queued(
            &h,
            "a@acme.example",
            "",
            &[&format!("r{i}@dest.example")],
            b"From: a@acme.example\r\nSubject: x\r\n\r\nhi\r\n",
        )
        .await;
    }
    assert_eq!(h.sink.wait_for(5, Duration::from_secs(10)).await.len(), 5);
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert_eq!(h.gateway.queue.scheduled(), 0);
}

#[tokio::test]
async fn required_insecure_starttls_and_smarthost_auth() {
    let secure = support::sink::Sink::start_with(support::sink::SinkOptions {
        starttls: true,
        auth: Some(("relay-user".into(), "relay-pass".into())),
        ..Default::default()
    })
    .await;
    let h = Harness::start_relaying_to(&secure, |c| {
        c.relay.smarthost.username = Some("relay-user".into());
        c.relay.smarthost.password = Some("relay-pass".into());
        // The sink's certificate is self-signed: encryption without verification, chosen.
        c.relay.starttls = aupgate::config::OutboundTls::RequiredInsecure;
    })
    .await;
    send_queued(
        &h,
        "a@acme.example",
        "",
        &["b@dest.example", "c@dest.example"],
        b"From: a@acme.example\r\nSubject: tls\r\n\r\nhi\r\n",
    )
    .await;
    send_queued(
        &h,
        "a@acme.example",
        "",
        &["d@dest.example"],
        b"From: a@acme.example\r\nSubject: tls 2\r\n\r\nhi\r\n",
    )
    .await;
    let got = secure.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2);
    for message in &got {
        assert!(message.tls, "relayed over STARTTLS");
        assert_eq!(message.auth_user.as_deref(), Some("relay-user"));
    }
}

#[tokio::test]
async fn required_starttls_without_offer_is_a_temporary_failure() {
    let h = Harness::start_with(|c| {
        c.relay.starttls = aupgate::config::OutboundTls::Required;
        c.queue.max_age = aupgate::config::HumanDuration::secs(1);
    })
    .await;
    send_queued(
        &h,
        "",
        "",
        &["b@dest.example"],
        b"From: a@acme.example\r\nSubject: x\r\n\r\nhi\r\n",
    )
    .await;
    // Deferred until it expires after 1 s (a null sender: no DSN), then gone from the queue.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(
        h.sink.messages().is_empty(),
        "must not relay in plaintext when TLS is required"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_destination_concurrency_caps_connections_to_the_next_hop() {
    let h = Harness::start_with(|c| {
        c.relay.per_destination_concurrency = 2;
        c.relay.workers = 16;
    })
    .await;
    let h = std::sync::Arc::new(h);
    let mut senders = Vec::new();
    for i in 0..12 {
        let h = h.clone();
        senders.push(tokio::spawn(async move {
            let body = format!("From: a@acme.example\r\nSubject: n{i}\r\n\r\nnote {i}\r\n");
            send_queued(
                &h,
                "a@acme.example",
                "",
                &[&format!("r{i}@dest.example")],
                body.as_bytes(),
            )
            .await;
        }));
    }
    for sender in senders {
        sender.await.unwrap();
    }
    assert_eq!(h.sink.wait_for(12, Duration::from_secs(15)).await.len(), 12);
    assert!(h.sink.peak_connections() >= 1);
    assert!(
        h.sink.peak_connections() <= 2,
        "at most 2 connections to one destination, saw {}",
        h.sink.peak_connections()
    );
}
