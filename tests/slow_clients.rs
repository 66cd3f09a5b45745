//! Slow clients against the real server on loopback: a command line trickled a byte at a time
//! is cut at the command limit (not the whole-session limit), a DATA body trickled below the
//! minimum rate is cut after its grace period and nothing is relayed, and clients at a normal
//! pace are unaffected.

mod support;

use std::time::Duration;

use aupgate::config::{ByteSize, HumanDuration};
use support::{Client, Harness};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Small limits: 1.5 s per command line, 12 s per session, DATA at least 1,000 bytes/s after 1 s.
async fn gateway() -> Harness {
    Harness::start_with(|c| {
        c.limits.command_timeout = HumanDuration::millis(1_500);
        c.limits.session_timeout = HumanDuration::secs(12);
        c.limits.data_min_rate = ByteSize(1_000);
        c.limits.data_rate_grace = HumanDuration::secs(1);
    })
    .await
}

/// Writes `bytes` one at a time, `every` apart, until the server replies; returns the reply and
/// how long after the first byte it came.
async fn trickle(c: &mut Client<TcpStream>, bytes: &[u8], every: Duration) -> (Vec<String>, Duration) {
    let start = Instant::now();
    for byte in bytes.iter().cycle() {
        // The server may close while we write: that ends the trickle, the reply is buffered.
        if c.stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        if let Ok(reply) = tokio::time::timeout(every, c.read_reply()).await {
            return (reply, start.elapsed());
        }
        assert!(start.elapsed() < Duration::from_secs(20), "no reply to the trickle");
    }
    (c.read_reply().await, start.elapsed())
}

#[tokio::test]
async fn a_command_line_trickled_a_byte_at_a_time_is_cut_at_the_command_limit() {
    let h = gateway().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    // Every byte comes 200 ms after the last, far within the limit; the line never ends.
    let (reply, elapsed) = trickle(
        &mut c,
        b"NOOP xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        Duration::from_millis(200),
    )
    .await;
    let last = reply.last().cloned().unwrap_or_default();
    assert!(last.starts_with("421 4.4.2"), "{reply:?}");
    assert!(
        elapsed >= Duration::from_millis(1_400) && elapsed < Duration::from_millis(3_000),
        "cut after {elapsed:?}: the command limit is 1.5 s, the session's 12 s"
    );
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn a_data_body_trickled_below_the_minimum_rate_is_cut_and_not_relayed() {
    let h = gateway().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    // 10 bytes/s, a read every 100 ms: never a per-read timeout, far below 1,000 bytes/s.
    let body = b"From: a@acme.example\r\nSubject: slow\r\n\r\nbody\r\n.\r\n";
    let (reply, elapsed) = trickle(&mut c, body, Duration::from_millis(100)).await;
    let last = reply.last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("421 4.4.2") && last.ends_with("[rule limits.data_rate]"),
        "{reply:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(2_500),
        "cut after {elapsed:?}: the grace is 1 s, the read limit 1.5 s, the session's 12 s"
    );
    assert!(c.is_closed().await);
    // A message is queued before its `250`, and leaves the queue only once relayed: with the
    // session over and the queue empty, the sink has everything it will ever get.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(h.sink.messages().is_empty(), "a cut message is never relayed");
    assert_eq!(h.gateway.queue.scheduled(), 0, "nor queued");
}

#[tokio::test]
async fn clients_at_a_normal_pace_are_unaffected() {
    let h = gateway().await;
    let mut c = h.connect(h.relay_addr()).await;
    // The session outlives the command limit several times over; each command is within it.
    c.send("EHLO client.test", "250 ").await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        c.send("NOOP", "250 2.0.0").await;
    }
    // A line in pieces, each piece soon after the last: within the limit as a whole.
    c.write(b"MAIL FROM:").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.write(b"<a@acme.example>").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.send("", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    // 2.5 KB/s for 2 s: longer than the grace period, above the minimum rate.
    c.write(b"From: a@acme.example\r\nSubject: steady\r\n\r\n").await;
    let line = format!("{}\r\n", "z".repeat(498));
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        c.write(line.as_bytes()).await;
    }
    c.write(b".\r\n").await;
    c.expect("250 2.0.0 OK queued as").await;
    // And a message sent whole at once.
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<c@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    let body = format!("From: a@acme.example\r\nSubject: fast\r\n\r\n{}.\r\n", line.repeat(100));
    c.write(body.as_bytes()).await;
    c.expect("250 2.0.0 OK queued as").await;
    c.send("QUIT", "221 2.0.0").await;
    assert_eq!(h.sink.wait_for(2, Duration::from_secs(10)).await.len(), 2);
}
