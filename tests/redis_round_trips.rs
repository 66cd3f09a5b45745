//! The Redis path makes one round trip per SMTP stage: a message accepted under a profile with
//! every counting check on (quotas, bulk, mail bomb, SMS gateways, suppression) costs the store
//! exactly five scripts — MAIL FROM, RCPT TO, DATA, the quota charge once it is queued, the audit
//! record of its acceptance — plus, once relayed, one for its delivery outcome (bounce-rate
//! counting, `complaints::outcomes`), counted by the server itself (`INFO commandstats`).

mod store_support;
mod support;

use std::process::Command;
use std::time::Duration;

use aupgate::store::Backend;
use support::Harness;

const PROFILE: &str = r#"
[profile]
name = "default"

[quotas]
messages_per_hour = 1000
messages_per_day = 1000
recipients_per_hour = 1000
recipients_per_day = 1000

[bulk]
max_recipients = 1000

[mail_bomb]
max_messages = 1000

[spf]
enabled = false

[dkim]
sign = false
verify = false

[dmarc]
enabled = false
"#;

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli on PATH");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Calls of one command since the last reset.
fn calls(port: u16, command: &str) -> u64 {
    redis_cli(port, &["info", "commandstats"])
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn message(n: usize) -> String {
    format!(
        "From: a@acme.example\r\nTo: bob@dest.example\r\nSubject: report {n}\r\nMessage-ID: <{n}@acme.example>\r\n\r\nThe weekly report, number {n}.\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_message_costs_one_store_call_per_stage() {
    let redis = store_support::RedisServer::start();
    let url = redis.url();
    let h = Harness::start_with_profile(Some(PROFILE), move |c| {
        c.store.backend = Backend::Redis;
        c.store.urls = vec![url];
    })
    .await;
    // The first message loads the scripts (NOSCRIPT, SCRIPT LOAD, again).
    support::send_queued(&h, "a@acme.example", "", &["bob@dest.example"], message(0).as_bytes()).await;
    h.wait_queue_empty(Duration::from_secs(10)).await;
    redis_cli(redis.port, &["config", "resetstat"]);
    const MESSAGES: usize = 4;
    for n in 1..=MESSAGES {
        support::send_queued(
            &h,
            "a@acme.example",
            "",
            &[&format!("user{n}@dest.example")],
            message(n).as_bytes(),
        )
        .await;
    }
    h.wait_queue_empty(Duration::from_secs(10)).await;
    // The acceptance is audited after the `250` is flushed: wait until every one is written.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.expect("audit");
        if audit.iter().filter(|r| r.action == "accept").count() > MESSAGES {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "acceptances not audited: {audit:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The delivery outcomes are counted after the entry is settled, in a task of their own:
    // wait for those scripts, then make sure no more come.
    let expected = 6 * MESSAGES as u64;
    while calls(redis.port, "evalsha") < expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let scripts = calls(redis.port, "evalsha");
    assert_eq!(
        scripts,
        6 * MESSAGES as u64,
        "{}",
        redis_cli(redis.port, &["info", "commandstats"])
    );
}
