//! SMTP sessions against the real server on loopback: identification, AUTH, STARTTLS, limits.

mod support;

use std::time::Duration;

use aupgate::config::HumanDuration;
use support::{plain, Client, Harness, PASSWORD};
use tokio::net::TcpStream;

#[tokio::test]
async fn ehlo_advertises_extensions_and_hides_auth_before_tls() {
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    let reply = c.send("EHLO client.test", "250 ").await;
    let text = reply.join("\n");
    for ext in [
        "PIPELINING",
        "SIZE 65536",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "STARTTLS",
    ] {
        assert!(text.contains(ext), "{ext} missing in {text}");
    }
    assert!(!text.contains("AUTH"), "AUTH must not be offered in plaintext: {text}");
    c.send(&format!("AUTH PLAIN {}", plain("acme-user", PASSWORD)), "530 5.7.0")
        .await;
    c.send("VRFY postmaster", "502 5.5.1").await;
    c.send("NOOP", "250 2.0.0").await;
    c.send("QUIT", "221 2.0.0").await;
}

#[tokio::test]
async fn network_tenant_sends_but_not_as_a_foreign_domain() {
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<x@other.example>", "553 5.7.1").await;
    c.send("MAIL FROM:<x@sub.acme.example>", "250 2.1.0").await;
    c.send("RSET", "250 2.0.0").await;
    let size = c.send("MAIL FROM:<x@acme.example> SIZE=1000000", "552 5.3.4").await;
    assert!(size.last().unwrap().ends_with("[rule limits.message_size]"), "{size:?}");
    c.send("MAIL FROM:<x@acme.example> RET=FULL", "555 5.5.4").await;
    c.send("MAIL FROM:<x@acme.example> BODY=8BITMIME SMTPUTF8", "250 2.1.0")
        .await;
    c.send("MAIL FROM:<x@acme.example>", "503 5.5.1").await;
    c.send("RCPT TO:<not an address>", "501 5.1.3").await;
    for i in 0..5 {
        c.send(&format!("RCPT TO:<r{i}@dest.example>"), "250 2.1.5").await;
    }
    let many = c.send("RCPT TO:<r6@dest.example>", "452 4.5.3").await;
    assert!(many.last().unwrap().ends_with("[rule limits.recipients]"), "{many:?}");
}

#[tokio::test]
async fn unidentified_client_can_never_relay() {
    let h = Harness::start_with(|c| {
        c.tenants.retain(|t| t.id != "acme");
    })
    .await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<x@acme.example>", "554 5.7.1 Relay access denied")
        .await;
    c.send("RCPT TO:<y@dest.example>", "503 5.5.1").await;
    c.send("DATA", "503 5.5.1").await;
}

#[tokio::test]
async fn submission_requires_auth_over_tls() {
    let h = Harness::start().await;
    let mut c = h.connect(h.submission_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<x@roaming.example>", "530 5.7.0").await;
    c.send("STARTTLS", "220 2.0.0").await;
    let tls = support::insecure_tls()
        .connect("gw.test".try_into().unwrap(), c.stream)
        .await
        .expect("tls handshake");
    let mut c = Client::new(tls);
    let text = c.send("EHLO client.test", "250 ").await.join("\n");
    assert!(text.contains("AUTH PLAIN LOGIN"));
    assert!(!text.contains("STARTTLS"));
    c.send("MAIL FROM:<x@roaming.example>", "530 5.7.0 Authentication required")
        .await;
    c.send(&format!("AUTH PLAIN {}", plain("roaming-user", "wrong")), "535 5.7.8")
        .await;
    // Acting as another user (an authorization identity) is a login refused, not bad syntax.
    let proxy = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("acme-user\0roaming-user\0{PASSWORD}"))
    };
    c.send(&format!("AUTH PLAIN {proxy}"), "535 5.7.8").await;
    // `=` is an empty initial response (RFC 4954), malformed for PLAIN: no challenge.
    c.send("AUTH PLAIN =", "501 5.5.4").await;
    c.send(&format!("AUTH PLAIN {}", plain("roaming-user", PASSWORD)), "235 2.7.0")
        .await;
    c.send("MAIL FROM:<x@acme.example>", "553 5.7.1").await;
    c.send("MAIL FROM:<x@roaming.example>", "250 2.1.0").await;
    c.send("RCPT TO:<y@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(b"From: x@roaming.example\r\nSubject: hi\r\n\r\nbody\r\n.\r\n")
        .await;
    c.expect("250 2.0.0 OK queued as").await;
    // (The 553 was a violation: the tenant's contact is told of the ladder's warning too.)
    let got = h
        .sink
        .wait_for_recipient("y@dest.example", Duration::from_secs(10))
        .await;
    assert!(String::from_utf8_lossy(&got.data).contains("with ESMTPSA id"));
}

#[tokio::test]
async fn auth_login_over_implicit_tls() {
    let h = Harness::start().await;
    let tcp = TcpStream::connect(h.implicit_tls_addr()).await.unwrap();
    let tls = support::insecure_tls()
        .connect("gw.test".try_into().unwrap(), tcp)
        .await
        .expect("implicit tls");
    let mut c = Client::new(tls);
    c.expect("220 gw.test").await;
    c.send("EHLO client.test", "250 ").await;
    c.send("AUTH LOGIN", "334 VXNlcm5hbWU6").await;
    c.send("cm9hbWluZy11c2Vy", "334 UGFzc3dvcmQ6").await; // roaming-user
    use base64::Engine as _;
    let password = base64::engine::general_purpose::STANDARD.encode(PASSWORD);
    c.send(&password, "235 2.7.0").await;
    c.send(&format!("AUTH PLAIN {}", plain("roaming-user", PASSWORD)), "503 5.5.1")
        .await;
}

#[tokio::test]
async fn authenticated_tenant_outside_its_networks_is_refused() {
    let h = Harness::start().await;
    let mut c = h.connect(h.submission_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("STARTTLS", "220 2.0.0").await;
    let tls = support::insecure_tls()
        .connect("gw.test".try_into().unwrap(), c.stream)
        .await
        .unwrap();
    let mut c = Client::new(tls);
    c.send("EHLO client.test", "250 ").await;
    // "remote" owns 10.9.0.0/16; we connect from 127.0.0.1.
    c.send(&format!("AUTH PLAIN {}", plain("remote-user", PASSWORD)), "554 5.7.1")
        .await;
    c.send("MAIL FROM:<x@remote.example>", "530 5.7.0").await;
}

#[tokio::test]
async fn starttls_discards_pipelined_plaintext() {
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    // A command injected after STARTTLS in the same packet must not be executed after the handshake.
    c.write(b"STARTTLS\r\nMAIL FROM:<x@acme.example>\r\n").await;
    c.expect("220 2.0.0").await;
    let tls = support::insecure_tls()
        .connect("gw.test".try_into().unwrap(), c.stream)
        .await
        .unwrap();
    let mut c = Client::new(tls);
    // State is reset too: MAIL before a new EHLO is a sequence error, and no injected reply is waiting.
    c.send("MAIL FROM:<x@acme.example>", "503 5.5.1").await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<x@acme.example>", "250 2.1.0").await;
    c.send("STARTTLS", "503 5.5.1").await;
}

#[tokio::test]
async fn pipelined_commands_get_replies_in_order() {
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.write(b"MAIL FROM:<a@acme.example>\r\nRCPT TO:<b@dest.example>\r\nRCPT TO:<bad>\r\nDATA\r\n")
        .await;
    c.expect("250 2.1.0").await;
    c.expect("250 2.1.5").await;
    c.expect("501 5.1.3").await;
    c.expect("354").await;
    c.write(b"From: a@acme.example\r\nSubject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
        .await;
    c.expect("250 2.0.0 OK queued as").await;
    c.expect("221 2.0.0").await;
    assert_eq!(h.sink.wait_for(1, Duration::from_secs(10)).await.len(), 1);
}

#[tokio::test]
async fn connection_caps_answer_421_at_once() {
    let h = Harness::start_with(|c| {
        c.limits.max_connections_per_ip = 2;
    })
    .await;
    let _a = h.connect(h.relay_addr()).await;
    let _b = h.connect(h.relay_addr()).await;
    let stream = TcpStream::connect(h.relay_addr()).await.unwrap();
    let mut third = Client::new(stream);
    assert!(third
        .expect("421 4.7.0")
        .await
        .concat()
        .ends_with("[rule limits.connections_per_ip]"));
    assert!(third.is_closed().await);

    let h = Harness::start_with(|c| {
        c.limits.max_connections = 1;
    })
    .await;
    let _a = h.connect(h.relay_addr()).await;
    let mut second = Client::new(TcpStream::connect(h.relay_addr()).await.unwrap());
    assert!(second
        .expect("421 4.3.2")
        .await
        .concat()
        .ends_with("[rule limits.connections]"));
}

#[tokio::test]
async fn idle_client_gets_421_timeout() {
    let h = Harness::start_with(|c| {
        c.limits.command_timeout = HumanDuration::millis(300);
    })
    .await;
    let mut c = h.connect(h.relay_addr()).await;
    assert!(c
        .expect("421 4.4.2")
        .await
        .concat()
        .ends_with("[rule limits.command_timeout]"));
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn session_deadline_gets_421() {
    let h = Harness::start_with(|c| {
        c.limits.session_timeout = HumanDuration::millis(500);
    })
    .await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    // Part of the scenario, not a wait for a result: a client idle 300 ms inside the 500 ms
    // session deadline, measured by the gateway on a real socket.
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.send("NOOP", "250 2.0.0").await;
    let reply = c.expect("421 4.4.2").await.concat();
    assert!(
        reply.ends_with("session time exceeded, closing connection [rule limits.session_timeout]"),
        "{reply}"
    );
}

#[tokio::test]
async fn long_lines_and_too_many_errors() {
    let h = Harness::start_with(|c| {
        c.limits.max_errors = 3;
    })
    .await;
    let mut c = h.connect(h.relay_addr()).await;
    let long = format!("NOOP {}", "x".repeat(5000));
    c.send(&long, "500 5.5.2").await;
    c.send("FOO", "500 5.5.1").await;
    c.write(b"BAR\r\n").await;
    c.expect("500 5.5.1").await;
    assert!(c.expect("421 4.7.0").await.concat().ends_with("[rule limits.errors]"));
    assert!(c.is_closed().await);
}

#[tokio::test]
async fn oversized_message_is_refused_while_streaming() {
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    let line = format!("{}\r\n", "y".repeat(500));
    for _ in 0..200 {
        c.write(line.as_bytes()).await;
    }
    c.write(b".\r\n").await;
    c.expect("552 5.3.4").await;
    let long_line = format!("{}\r\n.\r\n", "z".repeat(2000));
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(long_line.as_bytes()).await;
    c.expect("550 5.5.2").await;
    c.send("NOOP", "250 2.0.0").await;
    // Both refusals are answered; a queued message would be in the queue or at the sink.
    h.wait_queue_empty(Duration::from_secs(10)).await;
    assert!(h.sink.messages().is_empty());
}

#[tokio::test]
async fn shutdown_answers_421_to_idle_and_new_sessions() {
    let h = Harness::start().await;
    let addr = h.relay_addr();
    let mut idle = h.connect(addr).await;
    idle.send("EHLO client.test", "250 ").await;
    let support::Harness {
        gateway,
        sink: _sink,
        dns: _dns,
        dir: _dir,
    } = h;
    let stopping = tokio::spawn(gateway.shutdown());
    idle.expect("421 4.3.0").await;
    let mut late = Client::new(TcpStream::connect(addr).await.unwrap());
    late.expect("421 4.3.0").await;
    stopping.await.unwrap();
}

/// RFC 5321 4.5.3.1.3: paths of 256 octets (`<` and `>` included) are accepted, longer ones are
/// refused `501` ("Path too long", 4.5.3.1.10) unless `[limits] max_path_length` allows more.
#[tokio::test]
async fn paths_longer_than_the_limit_are_refused_with_501() {
    // `<` + 60-octet local part + `@` + labels + `.acme.example>`, `len` octets in all (a local
    // part holds 64 octets at most and a domain 255, so the length is shared between them).
    let sender = |len: usize| {
        let local = "l".repeat(60);
        let fill = len - local.len() - "<@.acme.example>".len();
        let labels: String = (0..fill).map(|i| if i % 10 == 9 { '.' } else { 'd' }).collect();
        let labels = if labels.ends_with('.') {
            format!("{}d", &labels[..labels.len() - 1])
        } else {
            labels
        };
        format!("{local}@{labels}.acme.example")
    };
    assert_eq!(sender(256).len() + 2, 256);
    let h = Harness::start().await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    let long = c.send(&format!("MAIL FROM:<{}>", sender(257)), "501 5.1.7").await;
    assert!(long.last().unwrap().ends_with("[rule limits.path_length]"), "{long:?}");
    c.send(&format!("MAIL FROM:<{}>", sender(256)), "250 2.1.0").await;
    let rcpt = format!("RCPT TO:<{}>", sender(257).replace("acme.example", "dest.example"));
    let long = c.send(&rcpt, "501 5.1.3").await;
    assert!(long.last().unwrap().ends_with("[rule limits.path_length]"), "{long:?}");
    c.send(
        &format!("RCPT TO:<{}>", sender(256).replace("acme.example", "dest.example")),
        "250 2.1.5",
    )
    .await;

    let h = Harness::start_with(|c| c.limits.max_path_length = 300).await;
    let mut c = h.connect(h.relay_addr()).await;
    c.send("EHLO client.test", "250 ").await;
    c.send(&format!("MAIL FROM:<{}>", sender(300)), "250 2.1.0").await;
    c.send(&format!("RCPT TO:<{}>", sender(301)), "501 5.1.3").await;
}
