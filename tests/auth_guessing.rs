//! Password guessing against the real server on loopback (several client addresses of
//! 127.0.0.0/8): failures are counted per address and per user name across sessions, a locked
//! address gets `421 4.7.0` at AUTH and at connect even with the right password until its lockout
//! ends, a guessed user name gets `535 5.7.8` even with the right password until its failures age
//! out, a successful AUTH does not reset the count, and a store that cannot answer defers
//! (`454 4.7.0`), never lets a guess through.

mod store_support;
mod support;

use std::time::Duration;

use aupgate::config::{HumanDuration, Rate};
use support::{plain, Client, Harness, PASSWORD};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The submission listener, trusted so AUTH needs no TLS here; 3 failures per address in a
/// minute lock it for 2 s; 4 failures per user name in 3 s lock the name.
fn limits(c: &mut aupgate::config::Config, delay: Duration) {
    c.listeners[1].trusted = true;
    c.limits.auth_failures = Rate::new(3, Duration::from_secs(60));
    c.limits.auth_lockout = HumanDuration::secs(2);
    c.limits.auth_user_failures = Rate::new(4, Duration::from_secs(3));
    c.limits.auth_failure_delay = HumanDuration(delay);
}

async fn gateway(delay: Duration) -> Harness {
    Harness::start_with(move |c| limits(c, delay)).await
}

/// A new session from `source`, after EHLO.
async fn session(h: &Harness, source: &str) -> Client<TcpStream> {
    let mut c = h.connect_from(h.submission_addr(), source).await;
    c.send("EHLO client.test", "250 ").await;
    c
}

/// One AUTH PLAIN on a new session from `source`; the reply's last line.
async fn auth_once(h: &Harness, source: &str, user: &str, password: &str) -> String {
    let mut c = session(h, source).await;
    let reply = c.send(&format!("AUTH PLAIN {}", plain(user, password)), "").await;
    reply.last().cloned().unwrap_or_default()
}

#[tokio::test]
async fn an_address_that_keeps_failing_is_locked_out_even_with_the_right_password() {
    let h = gateway(Duration::from_millis(300)).await;
    let mut early = session(&h, "127.0.0.1").await;
    let mut early_proxy = session(&h, "127.0.0.1").await;

    // Two failures, a success in between (it does not reset the count), a third failure.
    for password in ["guess-1", "guess-2", PASSWORD, "guess-3"] {
        let started = Instant::now();
        let reply = auth_once(&h, "127.0.0.1", "roaming-user", password).await;
        if password == PASSWORD {
            assert!(reply.starts_with("235 2.7.0"), "{reply}");
        } else {
            assert!(reply.starts_with("535 5.7.8"), "{reply}");
            assert!(
                started.elapsed() >= Duration::from_millis(300),
                "each failure is delayed"
            );
        }
    }

    // A session opened before the lockout: AUTH with the right password is refused and closed.
    let reply = early
        .send(&format!("AUTH PLAIN {}", plain("roaming-user", PASSWORD)), "421 4.7.0")
        .await;
    assert!(
        reply.last().unwrap().ends_with("[rule auth.address_lockout]"),
        "{reply:?}"
    );
    assert!(early.is_closed().await);
    // Acting as another user goes through the same gate.
    let proxy = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("acme-user\0roaming-user\0{PASSWORD}"))
    };
    early_proxy.send(&format!("AUTH PLAIN {proxy}"), "421 4.7.0").await;
    // A new connection is refused before the greeting.
    let mut late = h.open_from(h.submission_addr(), "127.0.0.1").await;
    late.expect("421 4.7.0").await;
    assert!(late.is_closed().await);
    // Another address is not affected.
    assert!(auth_once(&h, "127.0.0.2", "roaming-user", PASSWORD)
        .await
        .starts_with("235 2.7.0"));

    // The lockout has run, but the failures are still in their window: the next attempt, even
    // with the right password, has no password checked and locks the address again at once.
    // A real wait: the lockout runs on the rate store's wall clock (Unix ms), which paused tokio
    // time does not move, and there is no state to wait for but the clock.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let reply = auth_once(&h, "127.0.0.1", "roaming-user", PASSWORD).await;
    assert!(reply.starts_with("421 4.7.0"), "{reply}");
    h.open_from(h.submission_addr(), "127.0.0.1")
        .await
        .expect("421 4.7.0")
        .await;

    // Both lockouts are in the gateway's audit log.
    let audit = h.gateway.store.audit_range("", 0, u64::MAX).await.unwrap();
    let lockouts = audit.iter().filter(|r| r.reason == "auth.address_lockout").count();
    assert_eq!(lockouts, 2, "{audit:?}");
}

#[tokio::test]
async fn a_user_name_guessed_from_many_addresses_fails_even_with_the_right_password() {
    let h = gateway(Duration::from_millis(10)).await;
    // Two guesses each from two addresses: under the per-address limit, at the per-name one.
    for source in ["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3"] {
        assert!(auth_once(&h, source, "roaming-user", "guess")
            .await
            .starts_with("535 5.7.8"));
    }
    let locked_at = Instant::now();
    // The right password from a fresh address: the same 535 as any failure.
    let reply = auth_once(&h, "127.0.0.4", "roaming-user", PASSWORD).await;
    assert_eq!(reply, "535 5.7.8 Authentication credentials invalid");
    // A name that does not exist, guessed as often, answers exactly the same.
    for source in ["127.0.0.5", "127.0.0.5", "127.0.0.6", "127.0.0.6", "127.0.0.7"] {
        let reply = auth_once(&h, source, "ghost-user", "guess").await;
        assert_eq!(reply, "535 5.7.8 Authentication credentials invalid");
    }
    // Other names are not affected.
    assert!(auth_once(&h, "127.0.0.4", "acme-user", PASSWORD)
        .await
        .starts_with("235 2.7.0"));
    // The tenant owning the name finds it in its audit log.
    let audit = h.gateway.store.audit_range("roaming", 0, u64::MAX).await.unwrap();
    assert!(
        audit
            .iter()
            .any(|r| r.reason == "auth.user_lockout" && r.target == "roaming-user"),
        "{audit:?}"
    );

    // Once the failures have aged out of the 3 s window, the right password works again.
    // A real wait, as above: the window is on the rate store's wall clock.
    let wait = Duration::from_millis(3_300).saturating_sub(locked_at.elapsed());
    tokio::time::sleep(wait).await;
    assert!(auth_once(&h, "127.0.0.4", "roaming-user", PASSWORD)
        .await
        .starts_with("235 2.7.0"));
}

/// A store that stops answering never lets a guess through: AUTH gets `454 4.7.0` (RFC 4954's
/// temporary authentication failure), on a session that was open and on a new one (a new
/// connection is greeted: the outage is not turned into refusing every client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_defers_auth() {
    let mut redis = store_support::RedisServer::start();
    let url = redis.url();
    let h = Harness::start_with(move |c| {
        limits(c, Duration::from_millis(10));
        c.store.backend = aupgate::store::Backend::Redis;
        c.store.urls = vec![url];
        c.store.redis_timeout = HumanDuration::millis(300);
    })
    .await;
    let mut c = session(&h, "127.0.0.1").await;
    redis.kill();
    let reply = c
        .send(&format!("AUTH PLAIN {}", plain("roaming-user", PASSWORD)), "454 4.7.0")
        .await;
    assert!(reply.last().unwrap().ends_with("[rule auth.failures]"), "{reply:?}");
    c.send(&format!("AUTH PLAIN {}", plain("roaming-user", "guess")), "454 4.7.0")
        .await;
    let mut late = session(&h, "127.0.0.1").await;
    late.send(&format!("AUTH PLAIN {}", plain("roaming-user", PASSWORD)), "454 4.7.0")
        .await;
}

/// Nodes sharing a Redis store share the counts: failures on one lock the address on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lockout_holds_on_every_node_sharing_the_store() {
    let redis = store_support::RedisServer::start();
    let node = || {
        let url = redis.url();
        Harness::start_with(move |c| {
            limits(c, Duration::from_millis(10));
            c.store.backend = aupgate::store::Backend::Redis;
            c.store.urls = vec![url];
        })
    };
    let (a, b) = (node().await, node().await);
    for _ in 0..3 {
        assert!(auth_once(&a, "127.0.0.9", "roaming-user", "guess")
            .await
            .starts_with("535 5.7.8"));
    }
    b.open_from(b.submission_addr(), "127.0.0.9")
        .await
        .expect("421 4.7.0")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_from_one_address_get_no_more_checks_than_the_limit() {
    // Each attempt takes its failure slot before its password is checked, so 12 sessions
    // guessing at once get at most `auth_failures` (3) checked passwords; the rest are refused.
    let h = std::sync::Arc::new(gateway(Duration::from_millis(10)).await);
    let mut sessions = Vec::new();
    for _ in 0..12 {
        sessions.push(session(&h, "127.0.0.8").await);
    }
    let mut tasks = Vec::new();
    for (i, mut c) in sessions.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let reply = c
                .send(&format!("AUTH PLAIN {}", plain(&format!("user-{i}"), "guess")), "")
                .await;
            reply.last().cloned().unwrap_or_default()
        }));
    }
    let mut checked = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.starts_with("535 5.7.8") {
            checked += 1;
        } else {
            assert!(reply.starts_with("421 4.7.0"), "{reply}");
        }
    }
    assert!(checked <= 3, "{checked} passwords checked against a limit of 3");
    assert!(checked >= 1);
}
