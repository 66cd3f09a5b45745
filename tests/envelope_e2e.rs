//! MAIL FROM parameters end to end on loopback (real gateway, real next-hop sink): SMTPUTF8 and
//! BODY=8BITMIME are declared again on relay, a hop that lacks one gets nothing it cannot take
//! (a DSN returns it: `5.6.7` / `5.6.3`), `AUTH=` is accepted, and a UTF-8 address without
//! SMTPUTF8 is refused `553 5.6.7`.

mod support;

use std::time::Duration;

use support::sink::{Sink, SinkOptions};
use support::{send_queued, Harness};

#[tokio::test]
async fn smtputf8_and_8bitmime_are_declared_to_a_hop_that_offers_them() {
    let h = Harness::start().await;
    let data = "From: a@acme.example\r\nTo: jörg@bücher.example\r\nSubject: Grüße\r\n\r\nDéjà vu\r\n";
    send_queued(
        &h,
        "a@acme.example",
        " BODY=8BITMIME SMTPUTF8",
        &["jörg@bücher.example"],
        data.as_bytes(),
    )
    .await;
    let got = h
        .sink
        .wait_for_recipient("jörg@bücher.example", Duration::from_secs(10))
        .await;
    let size = format!("SIZE={}", got.data.len());
    assert_eq!(
        got.mail_params,
        vec!["BODY=8BITMIME".to_string(), "SMTPUTF8".into(), size]
    );
    assert!(got.data.ends_with(data.as_bytes()), "the message is relayed unchanged");

    // 8-bit content the client did not declare is declared for it; nothing UTF-8 in the
    // envelope and no SMTPUTF8 on MAIL: none is declared.
    h.sink.clear();
    send_queued(
        &h,
        "a@acme.example",
        "",
        &["b@dest.example"],
        "From: a@acme.example\r\nSubject: x\r\n\r\nd\u{e9}j\u{e0}\r\n".as_bytes(),
    )
    .await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].mail_params[0], "BODY=8BITMIME");
    assert!(
        !got[0].mail_params.iter().any(|p| p == "SMTPUTF8"),
        "{:?}",
        got[0].mail_params
    );
}

#[tokio::test]
async fn a_utf8_recipient_to_a_hop_without_smtputf8_is_returned_with_5_6_7() {
    // A 7-bit hop (neither SMTPUTF8 nor 8BITMIME): the DSN must reach the sender through it too.
    let plain = Sink::start_with(SinkOptions {
        no_smtputf8: true,
        no_8bitmime: true,
        ..Default::default()
    })
    .await;
    let h = Harness::start_relaying_to(&plain, |_| {}).await;
    send_queued(
        &h,
        "a@acme.example",
        " SMTPUTF8",
        &["ok@dest.example", "jörg@bücher.example"],
        b"From: a@acme.example\r\nTo: ok@dest.example\r\nSubject: hello\r\n\r\nhi\r\n",
    )
    .await;
    let got = plain.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2, "one delivery and one DSN: {got:?}");
    assert!(
        got.iter().all(|m| m.recipients.iter().all(|r| r.is_ascii())),
        "nothing UTF-8 reaches a hop without SMTPUTF8: {got:?}"
    );
    let delivered = got.iter().find(|m| m.sender == "a@acme.example").expect("delivery");
    assert_eq!(delivered.recipients, vec!["ok@dest.example".to_string()]);
    assert!(!delivered.mail_params.iter().any(|p| p == "SMTPUTF8"));
    let dsn = got.iter().find(|m| m.sender.is_empty()).expect("DSN");
    assert_eq!(dsn.recipients, vec!["a@acme.example".to_string()]);
    let text = String::from_utf8_lossy(&dsn.data);
    assert!(dsn.data.is_ascii(), "a 7-bit report: {text}");
    assert!(
        text.contains("Final-Recipient: utf-8; j\\x{F6}rg@b\\x{FC}cher.example\r\nAction: failed\r\nStatus: 5.6.7\r\n"),
        "{text}"
    );
    // The gateway refused it itself (no hop said so): its own diagnostic type, no Remote-MTA.
    assert!(text.contains("Diagnostic-Code: X-aupgate; 550 5.6.7 "), "{text}");
    assert!(!text.contains("Remote-MTA"), "{text}");
    assert!(!text.contains("Final-Recipient: rfc822; ok@dest.example"), "{text}");
}

#[tokio::test]
async fn an_8bit_message_to_a_hop_without_8bitmime_is_returned_with_5_6_3() {
    let seven = Sink::start_with(SinkOptions {
        no_8bitmime: true,
        ..Default::default()
    })
    .await;
    let h = Harness::start_relaying_to(&seven, |_| {}).await;
    send_queued(
        &h,
        "a@acme.example",
        " BODY=8BITMIME",
        &["b@dest.example"],
        "From: a@acme.example\r\nSubject: 8bit\r\n\r\nD\u{e9}j\u{e0} vu\r\n".as_bytes(),
    )
    .await;
    let got = seven.wait_for(1, Duration::from_secs(10)).await;
    // The returned message and its DSN have both left the queue: nothing else is coming.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    let got_all = seven.messages();
    assert_eq!(got_all.len(), 1, "only the DSN: {got_all:?}");
    let dsn = &got[0];
    assert_eq!(dsn.sender, "");
    assert_eq!(dsn.recipients, vec!["a@acme.example".to_string()]);
    let text = String::from_utf8_lossy(&dsn.data);
    assert!(
        text.contains("Final-Recipient: rfc822; b@dest.example\r\nAction: failed\r\nStatus: 5.6.3\r\n"),
        "{text}"
    );
    // The same hop still takes 7-bit mail declared 8BITMIME, undeclared.
    seven.clear();
    send_queued(
        &h,
        "a@acme.example",
        " BODY=8BITMIME",
        &["c@dest.example"],
        b"From: a@acme.example\r\nSubject: 7bit\r\n\r\nplain\r\n",
    )
    .await;
    let got = seven
        .wait_for_recipient("c@dest.example", Duration::from_secs(10))
        .await;
    assert!(
        !got.mail_params.iter().any(|p| p.starts_with("BODY=")),
        "{:?}",
        got.mail_params
    );
}

#[tokio::test]
async fn auth_parameter_is_accepted_and_utf8_needs_smtputf8() {
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example> AUTH=<>", "250 2.1.0").await;
    c.send("RSET", "250 2.0.0").await;
    c.send(
        "MAIL FROM:<a@acme.example> AUTH=a+2Bb@acme.example SIZE=100",
        "250 2.1.0",
    )
    .await;
    c.send("RSET", "250 2.0.0").await;
    c.send("MAIL FROM:<a@acme.example> AUTH=a=b", "501 5.5.4").await;
    c.send("MAIL FROM:<jörg@acme.example>", "553 5.6.7").await;
    c.send("MAIL FROM:<a@acme.example> BODY=7BIT BODY=8BITMIME", "501 5.5.4")
        .await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<jörg@bücher.example>", "553 5.6.7").await;
    c.send("RCPT TO:<bob@bücher.example>", "553 5.6.7").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("RSET", "250 2.0.0").await;
    c.send("MAIL FROM:<jörg@acme.example> SMTPUTF8", "250 2.1.0").await;
    c.send("RCPT TO:<jörg@bücher.example>", "250 2.1.5").await;
}

#[tokio::test]
async fn a_backup_mx_without_8bitmime_does_not_bounce_what_another_host_takes() {
    // mx1 (preferred) lacks 8BITMIME; mx2, on another loopback address and the same port, has
    // it. The message goes to mx2; no DSN.
    let seven = Sink::start_with(SinkOptions {
        no_8bitmime: true,
        ..Default::default()
    })
    .await;
    let port = seven.address.port();
    let eight = Sink::start_with(SinkOptions {
        bind: Some(std::net::SocketAddr::from(([127, 0, 0, 2], port))),
        ..Default::default()
    })
    .await;
    let h = Harness::start_with(|c| {
        c.relay.mode = aupgate::config::RelayMode::Mx;
        c.relay.mx_port = port;
    })
    .await;
    let zone = &h.dns.zone;
    zone.add("dest.example", support::dns::Record::Mx(10, "mx1.dest.example".into()));
    zone.add("dest.example", support::dns::Record::Mx(20, "mx2.dest.example".into()));
    zone.add(
        "mx1.dest.example",
        support::dns::Record::A("127.0.0.1".parse().unwrap()),
    );
    zone.add(
        "mx2.dest.example",
        support::dns::Record::A("127.0.0.2".parse().unwrap()),
    );
    send_queued(
        &h,
        "a@acme.example",
        " BODY=8BITMIME",
        &["b@dest.example"],
        "From: a@acme.example\r\nSubject: 8bit\r\n\r\nD\u{e9}j\u{e0} vu\r\n".as_bytes(),
    )
    .await;
    let got = eight
        .wait_for_recipient("b@dest.example", Duration::from_secs(10))
        .await;
    assert!(got.data.ends_with("D\u{e9}j\u{e0} vu\r\n".as_bytes()));
    // Settled: a DSN, had there been one, would have been queued before the message left.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(seven.messages().is_empty(), "no DSN: {:?}", seven.messages());
}
