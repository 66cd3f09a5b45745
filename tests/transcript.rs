//! Transcript tests over an in-memory stream: the session logic without sockets.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use aupgate::config::{Config, TenantConfig};
use aupgate::policy::Engine;
use aupgate::queue::Queue;
use aupgate::smtp::session::Session;
use aupgate::smtp::SmtpContext;
use support::Client;
use tokio::io::DuplexStream;

struct Fixture {
    _dir: tempfile::TempDir,
    queue: Queue,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

async fn engine(dir: &std::path::Path) -> Arc<Engine> {
    let store = aupgate::store::open_store(&Default::default(), dir).await.unwrap();
    let profile = Arc::new(aupgate::policy::profile::Profile::default());
    let profiles = [("default".to_string(), profile.clone())].into_iter().collect();
    Arc::new(Engine::new(store, profiles, profile))
}

async fn session(peer: &str) -> (Client<DuplexStream>, Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::parse(&support::config_text(dir.path(), "127.0.0.1:9".parse().unwrap())).unwrap();
    let queue = Queue::open(&dir.path().join("queue")).unwrap();
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let tenants = Arc::new(TenantConfig::directory(&config.tenants));
    let ctx = Arc::new(SmtpContext::new(
        Arc::new(config.clone()),
        tenants,
        engine(dir.path()).await,
        queue.clone(),
        None,
        shutdown_rx,
    ));
    let (client, server) = tokio::io::duplex(64 * 1024);
    let peer: SocketAddr = peer.parse().unwrap();
    let session = Session::new(
        ctx,
        Arc::new(config.listeners[0].clone()),
        peer,
        Box::new(server),
        false,
    );
    tokio::spawn(session.run());
    (
        Client::new(client),
        Fixture {
            _dir: dir,
            queue,
            _shutdown: shutdown,
        },
    )
}

#[tokio::test]
async fn full_transaction_is_queued_before_250() {
    let (mut c, fixture) = session("127.0.0.1:40000").await;
    c.expect("220 gw.test ESMTP").await;
    c.send("HELO client.test", "250 gw.test").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("RCPT TO:<b@dest.example>", "250 2.1.5").await;
    c.send("DATA", "354").await;
    c.write(b"From: a@acme.example\r\nSubject: t\r\n\r\nbody\r\n.\r\n")
        .await;
    let reply = c.expect("250 2.0.0 OK queued as ").await;
    let id = reply[0].rsplit(' ').next().unwrap().to_string();
    let (entry, body) = fixture.queue.load(&id).await.expect("durably queued");
    assert_eq!(entry.sender, "a@acme.example");
    assert_eq!(entry.recipients[0].address, "b@dest.example");
    assert_eq!(entry.tenant, "acme");
    assert_eq!(body, b"From: a@acme.example\r\nSubject: t\r\n\r\nbody\r\n");
    c.send("QUIT", "221 2.0.0").await;
}

#[tokio::test]
async fn sequence_errors() {
    let (mut c, _f) = session("127.0.0.1:40000").await;
    c.expect("220").await;
    c.send("MAIL FROM:<a@acme.example>", "503 5.5.1").await;
    c.send("EHLO client.test", "250").await;
    c.send("RCPT TO:<b@dest.example>", "503 5.5.1").await;
    c.send("DATA", "503 5.5.1").await;
    c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
    c.send("DATA", "554 5.5.1").await;
    c.send("STARTTLS", "454 4.7.0").await;
    c.send("HELP", "214 2.0.0").await;
    c.send("BDAT 5 LAST", "500 5.5.1").await;
    c.send("MAIL FROM:a@acme.example", "501 5.1.7").await;
}

#[tokio::test]
async fn unknown_network_is_relay_denied() {
    let (mut c, _f) = session("192.0.2.7:40000").await;
    c.expect("220").await;
    c.send("EHLO client.test", "250").await;
    c.send("MAIL FROM:<a@acme.example>", "554 5.7.1").await;
}

#[tokio::test]
async fn suspended_tenant_is_refused_at_mail_from() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::parse(&support::config_text(dir.path(), "127.0.0.1:9".parse().unwrap())).unwrap();
    config.tenants[0].state = aupgate::config::TenantStateConfig::Suspended;
    let queue = Queue::open(&dir.path().join("queue")).unwrap();
    let (_shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    let tenants = Arc::new(TenantConfig::directory(&config.tenants));
    let ctx = Arc::new(SmtpContext::new(
        Arc::new(config.clone()),
        tenants,
        engine(dir.path()).await,
        queue,
        None,
        shutdown_rx,
    ));
    let (client, server) = tokio::io::duplex(4096);
    tokio::spawn(
        Session::new(
            ctx,
            Arc::new(config.listeners[0].clone()),
            "127.0.0.1:1".parse().unwrap(),
            Box::new(server),
            false,
        )
        .run(),
    );
    let mut c = Client::new(client);
    c.expect("220").await;
    c.send("EHLO client.test", "250").await;
    let reply = c.send("MAIL FROM:<a@acme.example>", "554 5.7.1").await;
    assert!(reply[0].contains("abuse@provider.test"), "{reply:?}");
    assert!(reply[0].contains("[rule tenant.suspended]"));
}
