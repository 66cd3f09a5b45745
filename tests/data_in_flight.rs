//! `[limits] max_data_in_flight` on loopback against the real server: the message data all
//! sessions hold together is bounded; past the bound a DATA gets `452 4.3.1`, before `354` or
//! after the message's end (the session stays in sync), nothing is queued for a refused message,
//! every `250` is delivered, and the budget is free again once messages are queued or refused.

mod support;

use std::time::Duration;

use aupgate::config::ByteSize;
use support::{Client, Harness};
use tokio::net::TcpStream;

/// 1 MiB of budget: a message is charged three times its buffer (see `smtp::budget`), so about
/// 340 KiB of messages fit at once; messages themselves may be up to 4 MiB.
async fn harness() -> Harness {
    Harness::start_with(|c| {
        c.limits.max_data_in_flight = ByteSize(1 << 20);
        c.limits.max_message_size = ByteSize(4 << 20);
    })
    .await
}

/// `lines` lines of 100 bytes (CRLF included), none starting with a dot.
fn filler(lines: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(lines * 100);
    for i in 0..lines {
        data.extend_from_slice(format!("{i:08} {}\r\n", "x".repeat(89)).as_bytes());
    }
    data
}

/// A session with its envelope given: EHLO, MAIL FROM (with `mail_params`), one RCPT.
async fn transaction(h: &Harness, mail_params: &str, recipient: &str) -> Client<TcpStream> {
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send(&format!("MAIL FROM:<x@acme.example>{mail_params}"), "250 2.1.0")
        .await;
    c.send(&format!("RCPT TO:<{recipient}>"), "250 2.1.5").await;
    c
}

fn header(subject: &str) -> Vec<u8> {
    format!("From: x@acme.example\r\nSubject: {subject}\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn a_data_in_progress_holds_the_budget_and_a_second_data_gets_452() {
    let h = harness().await;
    // A declares 340,000 bytes: 1,020,000 of the 1,048,576 are reserved at DATA.
    let mut message = header("large");
    message.extend_from_slice(&filler(3_390));
    assert!(message.len() <= 340_000);
    let mut a = transaction(&h, " SIZE=340000", "a@dest.example").await;
    a.send("DATA", "354").await;
    a.write(&message[..200_000]).await;

    // B, without SIZE, needs its first 16 KiB three times over: there is no room.
    let mut b = transaction(&h, "", "b@dest.example").await;
    let refused = b.send("DATA", "452 4.3.1").await;
    assert!(
        refused.last().unwrap().ends_with("[rule limits.data_in_flight]"),
        "{refused:?}"
    );
    assert!(h.gateway.data_in_flight() > 1_000_000);

    // A finishes: queued, and the budget is free again.
    a.write(&message[200_000..]).await;
    a.write(b".\r\n").await;
    a.expect("250 2.0.0 OK queued as").await;
    assert_eq!(h.gateway.data_in_flight(), 0);

    // B's transaction is still there: its DATA is now accepted.
    b.send("DATA", "354").await;
    b.write(&header("small")).await;
    b.write(b"small body\r\n.\r\n").await;
    b.expect("250 2.0.0 OK queued as").await;
    assert_eq!(h.gateway.data_in_flight(), 0);

    // Every 250 is delivered, whole.
    let got = h.sink.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 2);
    let large = got
        .iter()
        .find(|m| m.recipients == ["a@dest.example"])
        .expect("A relayed");
    assert!(large.data.ends_with(&message), "A's message relayed whole");
    assert!(got.iter().any(|m| m.recipients == ["b@dest.example"]), "B relayed");
}

#[tokio::test]
async fn a_declared_size_the_budget_cannot_hold_gets_452_at_data() {
    let h = harness().await;
    // 400,000 bytes three times over is more than 1 MiB: refused before any data is sent.
    let mut c = transaction(&h, " SIZE=400000", "a@dest.example").await;
    c.send("DATA", "452 4.3.1").await;
    assert_eq!(h.gateway.data_in_flight(), 0);
    c.send("RSET", "250 2.0.0").await;
    c.send("MAIL FROM:<x@acme.example> SIZE=1000", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(&header("fits")).await;
    c.write(b"body\r\n.\r\n").await;
    c.expect("250 2.0.0 OK queued as").await;
    assert_eq!(h.sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}

#[tokio::test]
async fn a_message_outgrowing_the_budget_is_refused_after_its_end_and_the_session_stays_in_sync() {
    let h = harness().await;
    // 2 MB without SIZE: it grows past what 1 MiB of budget can pay for in mid-stream.
    let mut c = transaction(&h, "", "big@dest.example").await;
    c.send("DATA", "354").await;
    c.write(&header("too large for the budget")).await;
    let chunk = filler(1_000);
    for _ in 0..20 {
        c.write(&chunk).await;
    }
    // A line that looks like a command inside the data must stay data.
    c.write(b"QUIT\r\n.\r\n").await;
    let refused = c.expect("452 4.3.1").await;
    assert!(
        refused.last().unwrap().ends_with("[rule limits.data_in_flight]"),
        "{refused:?}"
    );
    assert_eq!(
        h.gateway.data_in_flight(),
        0,
        "the refused message gave its budget back"
    );

    // In sync: the next commands are read as commands, and a message that fits is accepted.
    c.send("NOOP", "250 2.0.0").await;
    c.send("MAIL FROM:<x@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<small@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(&header("fits")).await;
    c.write(&filler(100)).await;
    c.write(b".\r\n").await;
    c.expect("250 2.0.0 OK queued as").await;
    c.send("QUIT", "221 2.0.0").await;

    // Only the accepted message is relayed.
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    // Everything queued has been settled: the sink has all it will get.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    let got_after = h.sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got_after.len(), 1, "nothing else relayed");
    assert_eq!(got_after[0].recipients, ["small@dest.example"]);
}

#[tokio::test]
async fn a_disconnect_in_mid_data_gives_the_budget_back() {
    let h = harness().await;
    let mut c = transaction(&h, " SIZE=300000", "a@dest.example").await;
    c.send("DATA", "354").await;
    c.write(&header("abandoned")).await;
    c.write(&filler(1_000)).await;
    assert!(h.gateway.data_in_flight() >= 900_000);
    drop(c);
    let mut waited = Duration::ZERO;
    while h.gateway.data_in_flight() != 0 {
        assert!(
            waited < Duration::from_secs(10),
            "budget still held after the disconnect"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += Duration::from_millis(20);
    }
    assert!(h.sink.messages().is_empty());
}
