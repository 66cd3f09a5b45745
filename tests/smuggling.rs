//! SMTP smuggling on the real server: every bare-LF / bare-CR end-of-data variant, in one write and
//! split across writes. One DATA never becomes two messages; the message is refused with 550 5.5.2
//! and nothing reaches the next hop.

mod support;

use std::time::Duration;

use support::Harness;

const VARIANTS: &[&[u8]] = &[
    b"\n.\n",
    b"\n.\r\n",
    b"\r.\r",
    b"\r.\r\n",
    b"\r\n.\n",
    b"\r\n.\r",
    b"\n.\r",
    b"\r.\n",
    b"\r\n\n.\r\n",
];

fn payload(variant: &[u8]) -> Vec<u8> {
    let mut data = b"From: a@acme.example\r\nSubject: outer\r\n\r\nhello".to_vec();
    data.extend_from_slice(variant);
    data.extend_from_slice(b"MAIL FROM:<ceo@acme.example>\r\nRCPT TO:<victim@dest.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n");
    data
}

#[tokio::test]
async fn smuggled_end_of_data_never_splits_a_message() {
    let h = Harness::start().await;
    for (i, variant) in VARIANTS.iter().enumerate() {
        for split in [None, Some(40usize), Some(44), Some(45), Some(46)] {
            let mut c = h.connect(h.relay_addr()).await;
            c.send("EHLO client.test", "250 ").await;
            c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
            c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
            c.send("DATA", "354").await;
            let data = payload(variant);
            match split {
                None => c.write(&data).await,
                Some(at) => {
                    let (a, b) = data.split_at(at.min(data.len()));
                    c.write(a).await;
                    // Two reads on the server's side, not one: the split is the point.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    c.write(b).await;
                }
            }
            // The smuggled "DATA ... CRLF.CRLF" is the only terminator: one reply, a refusal.
            c.expect("550 5.5.2").await;
            c.send("NOOP", "250 2.0.0").await;
            let _ = i;
        }
    }
    // Every DATA is answered; a queued message would be in the queue or at the sink.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(
        h.sink.messages().is_empty(),
        "nothing may be relayed: {:?}",
        h.sink.messages()
    );
}

#[tokio::test]
async fn a_real_second_message_after_a_refused_one_is_fine() {
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(b"bad\nline\r\n.\r\n").await;
    c.expect("550 5.5.2").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(b"From: a@acme.example\r\nSubject: good\r\n\r\nfine\r\n.\r\n")
        .await;
    c.expect("250 2.0.0").await;
    let got = h.sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1);
    assert!(got[0].data.ends_with(b"Subject: good\r\n\r\nfine\r\n"));
}

#[tokio::test]
async fn a_nul_in_the_data_refuses_the_message_and_ends_nothing() {
    let h = Harness::start().await;
    for variant in [&b"\r\n\0.\r\n"[..], b"\r\n.\0\r\n", b"hel\0lo\r\n"] {
        let mut c = h.connect(h.relay_addr()).await;
        c.send("EHLO client.test", "250 ").await;
        c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
        c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
        c.send("DATA", "354").await;
        c.write(&payload(variant)).await;
        let reply = c.expect("550 5.6.0").await;
        assert!(reply.concat().contains("[rule data.nul]"), "{reply:?}");
        c.send("NOOP", "250 2.0.0").await;
    }
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(h.sink.messages().is_empty(), "{:?}", h.sink.messages());
}
