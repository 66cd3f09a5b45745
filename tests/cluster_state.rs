//! Two gateway nodes sharing one Redis store: a block placed through one node's admin API
//! refuses the tenant on the other node too (within the follow interval, 2 s), and lifting it
//! there restores sending everywhere; a store that stops answering defers or disconnects, never
//! passes.

mod store_support;
mod support;

use std::time::Duration;

use aupgate::store::Backend;
use support::Harness;

async fn node(redis_url: &str) -> Harness {
    let url = redis_url.to_string();
    Harness::start_with(move |c| {
        c.store.backend = Backend::Redis;
        c.store.urls = vec![url];
    })
    .await
}

fn admin(h: &Harness, args: &[&str]) {
    let (code, _, stderr) = support::admin_cli(h, args, None);
    assert_eq!(code, Some(0), "{stderr}");
}

/// The reply to MAIL FROM on `h`, retried until it starts with `expected` or 10 s pass.
async fn mail_from_becomes(h: &Harness, expected: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut c = h.connect(h.relay_addr()).await;
        c.send("EHLO client.test", "250 ").await;
        let reply = c.send("MAIL FROM:<a@acme.example>", "").await.last().unwrap().clone();
        if reply.starts_with(expected) || tokio::time::Instant::now() >= deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_on_one_node_refuses_on_every_node() {
    let redis = store_support::RedisServer::start();
    let (a, b) = (node(&redis.url()).await, node(&redis.url()).await);
    assert!(mail_from_becomes(&b, "250").await.starts_with("250 2.1.0"));

    admin(
        &a,
        &[
            "blocks", "add", "--tenant", "acme", "--reason", "spam run", "--by", "alice",
        ],
    );
    let reply = mail_from_becomes(&b, "554").await;
    assert!(
        reply.starts_with("554 5.7.1") && reply.contains("[rule tenant.suspended]"),
        "{reply}"
    );

    admin(
        &b,
        &[
            "blocks",
            "lift",
            "--tenant",
            "acme",
            "--reason",
            "cleaned up",
            "--by",
            "bob",
        ],
    );
    let reply = mail_from_becomes(&a, "250").await;
    assert!(reply.starts_with("250 2.1.0"), "{reply}");

    // A sender block placed on one node holds on the other.
    admin(
        &a,
        &[
            "blocks",
            "add",
            "--tenant",
            "acme",
            "--scope",
            "sender",
            "--target",
            "a@acme.example",
            "--reason",
            "phished account",
            "--by",
            "alice",
        ],
    );
    let reply = mail_from_becomes(&b, "554").await;
    assert!(
        reply.starts_with("554 5.7.1") && reply.contains("[rule block.sender]"),
        "{reply}"
    );
}

/// A store that stops answering never lets mail through: the transaction is deferred with
/// `451 4.3.0`, or, for a check the profile's `[on_error] disconnect` names, the session is
/// closed with `421 4.3.0`; a MAIL FROM answered from a recent read is deferred after DATA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_defers_or_disconnects_as_the_profile_says() {
    let profile = |disconnect: &str| {
        format!("[profile]\nname = \"default\"\n[on_error]\ndefer = true\ndisconnect = [{disconnect}]\n")
    };
    for (disconnect, expected) in [("", "451 4.3.0"), ("\"quota.messages\"", "421 4.3.0")] {
        let mut redis = store_support::RedisServer::start();
        let url = redis.url();
        let h = Harness::start_with_profile(Some(&profile(disconnect)), move |c| {
            c.store.backend = Backend::Redis;
            c.store.urls = vec![url];
            c.store.redis_timeout = aupgate::config::HumanDuration::millis(300);
        })
        .await;
        assert!(mail_from_becomes(&h, "250").await.starts_with("250 2.1.0"));
        redis.kill();
        if disconnect.is_empty() {
            // Within a second of the last read, MAIL FROM's quota check answers from it
            // (`policy::recent`) and RCPT TO's from what MAIL FROM read: the message is deferred
            // after DATA, whose checks ask the store, and nothing is queued.
            let mut c = h.connect(h.relay_addr()).await;
            c.send("EHLO client.test", "250 ").await;
            c.send("MAIL FROM:<a@acme.example>", "250 2.1.0").await;
            c.send("RCPT TO:<bob@dest.example>", "250 2.1.5").await;
            c.send("DATA", "354").await;
            c.write(b"From: a@acme.example\r\nSubject: x\r\n\r\nhello\r\n.\r\n")
                .await;
            c.expect("451 4.3.0").await;
            assert_eq!(h.gateway.queue.stored().await.expect("stored"), 0, "nothing is queued");
        }
        // Past that second MAIL FROM asks the store itself.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let mut c = h.connect(h.relay_addr()).await;
        c.send("EHLO client.test", "250 ").await;
        let reply = c.send("MAIL FROM:<a@acme.example>", "").await.last().unwrap().clone();
        assert!(reply.starts_with(expected), "{expected}: {reply}");
        // The deferral names the check that could not decide.
        assert!(reply.ends_with("[rule quota.messages]"), "{reply}");
        if expected.starts_with("421") {
            assert!(c.is_closed().await, "the session is closed after 421");
        } else {
            c.send("NOOP", "250").await;
        }
    }
}
