//! The online backup end to end: the real gateway takes mail over SMTP on loopback while the
//! real `aupgate admin backup` binary asks it for a backup; the backup is copied into a new data
//! directory (the documented restore) and a second gateway started on it has the same tenants,
//! blocks, counters, queued messages and trace key. Also: the answers to bad requests, and a
//! Redis-backed gateway, whose backup holds the queue only.

mod store_support;
mod support;

use std::time::Duration;

use aupgate::admin::usage::Usage;
use aupgate::config::Config;
use aupgate::server::Gateway;
use serde_json::{json, Value};
use support::{admin_cli, send_message, Harness, Sink};

/// Limits far above what the test sends, so every message is accepted and counted.
const PROFILE: &str = r#"
[profile]
name = "default"
[quotas]
messages_per_hour = 500
messages_per_day = 0
recipients_per_hour = 0
recipients_per_day = 0
[bulk]
enabled = true
max_recipients = 500
window = "1h"
[mail_bomb]
enabled = true
max_messages = 500
window = "1h"
"#;

fn message(n: usize) -> String {
    format!(
        "From: a@acme.example\r\nTo: tempfail@dest.example\r\nSubject: held {n}\r\n\
         Message-ID: <held-{n}@acme.example>\r\n\r\nThe sink defers this one ({n}), so it stays queued.\r\n"
    )
}

/// Sends message `n` to the sink's deferring recipient: it is accepted and stays in the queue.
/// Returns its queue id.
async fn send_held(h: &Harness, n: usize) -> String {
    let reply = send_message(h, "a@acme.example", &["tempfail@dest.example"], &message(n)).await;
    assert!(reply.starts_with("250 2.0.0"), "message {n}: {reply}");
    reply.rsplit(' ').next().expect("a queue id").to_string()
}

async fn api(address: std::net::SocketAddr, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, format!("http://{address}{path}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("admin API");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn messages_this_hour(address: std::net::SocketAddr) -> u64 {
    let (status, body) = api(address, reqwest::Method::GET, "/api/v1/tenants/acme/usage", None).await;
    assert_eq!(status, 200, "{body}");
    let usage: Usage = serde_json::from_value(body).expect("a Usage");
    usage
        .quotas
        .iter()
        .find(|q| q.rule == "quota.messages_per_hour")
        .expect("the hourly quota")
        .used
}

/// Which of the messages `ids` (message `n` has id `ids[n]`) the gateway's queue holds, checking
/// that each one held is that message.
async fn held(gateway: &Gateway, ids: &[String]) -> Vec<usize> {
    let mut held = Vec::new();
    for (n, id) in ids.iter().enumerate() {
        if let Ok((_, body)) = gateway.queue.load(id).await {
            let text = String::from_utf8_lossy(&body).into_owned();
            assert!(text.contains(&format!("Subject: held {n}\r\n")), "{id}: {text}");
            held.push(n);
        }
    }
    held
}

/// `aupgate admin ARGS` (the real binary) against the harness's gateway, off the runtime's threads
/// (the gateway answering it runs on them).
async fn cli(h: &std::sync::Arc<Harness>, args: &[&str]) -> (Option<i32>, String, String) {
    let h = h.clone();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        admin_cli(&h, &args, None)
    })
    .await
    .expect("cli")
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_mail_flows_restores_into_a_working_gateway() {
    let h = Harness::start_with_profile(Some(PROFILE), |_| {}).await;
    let admin = h.gateway.admin_address;
    // State only the store holds: a tenant made through the API, a block.
    let (status, body) = api(
        admin,
        reqwest::Method::POST,
        "/api/v1/tenants",
        Some(json!({"id": "made-by-api", "name": "Made by the API", "domains": ["made.example"]})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api(
        admin,
        reqwest::Method::POST,
        "/api/v1/tenants/remote/blocks",
        Some(json!({"scope": "sender", "target": "spam@remote.example", "reason": "complaints"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    const BEFORE: usize = 3;
    let mut ids = Vec::new();
    for n in 0..BEFORE {
        ids.push(send_held(&h, n).await);
    }
    assert_eq!(messages_this_hour(admin).await, BEFORE as u64);

    // The backup, while another client keeps sending.
    let h = std::sync::Arc::new(h);
    const DURING: usize = 6;
    let sender = {
        let h = h.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in BEFORE..BEFORE + DURING {
                ids.push(send_held(&h, n).await);
            }
            ids
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (code, stdout, stderr) = cli(&h, &["backup", "nightly/one"]).await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let root = h.dir.path().join("backups");
    let backup = root.join("nightly/one");
    assert!(
        stdout.contains(&format!("backup written to {}", backup.display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("store: {}", backup.join("store").display())),
        "{stdout}"
    );
    assert!(stdout.contains("keys:  trace-keys.toml, tls, admin"), "{stdout}");
    ids.extend(sender.await.expect("sender"));
    let total = BEFORE + DURING;
    assert_eq!(messages_this_hour(admin).await, total as u64);
    let audit = h.gateway.store.audit_range("", 0, u64::MAX).await.expect("audit");
    assert!(
        audit
            .iter()
            .any(|r| r.action == "backup" && r.target == backup.display().to_string()),
        "{audit:?}"
    );

    // Bad requests: the answer says why, and nothing is written.
    let (code, _, stderr) = cli(&h, &["backup", "nightly/one"]).await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("409 Conflict") && stderr.contains("exists"), "{stderr}");
    let (code, _, stderr) = cli(&h, &["backup", "../outside"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("400 Bad Request") && stderr.contains("no `..`"),
        "{stderr}"
    );
    let (code, _, stderr) = cli(&h, &["backup", "/tmp/elsewhere"]).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("must lie under the root"), "{stderr}");
    assert!(!h.dir.path().join("outside").exists());

    // The restore: the backup copied into a fresh data directory, a second gateway on it.
    let restored = tempfile::tempdir().expect("tempdir");
    let data_dir = restored.path().join("data");
    copy_dir(&backup, &data_dir);
    std::fs::create_dir_all(data_dir.join("policies")).unwrap();
    std::fs::write(data_dir.join("policies/default.toml"), PROFILE).unwrap();
    let sink = Sink::start().await;
    let mut config = Config::parse(&support::config_text(&data_dir, sink.address)).expect("config");
    config.dns.nameservers = vec![h.dns.address.to_string()];
    let second = Gateway::start(config).await.expect("a gateway on the restored data");

    let (status, body) = api(
        second.admin_address,
        reqwest::Method::GET,
        "/api/v1/tenants/made-by-api",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Made by the API");
    let (status, body) = api(
        second.admin_address,
        reqwest::Method::GET,
        "/api/v1/tenants/remote/blocks",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["target"], "spam@remote.example", "{body}");
    // Every message the backup's queue holds was counted in the backup's store: the queue was
    // copied first, and a message is charged before it is queued.
    let restored_queue = held(&second, &ids).await;
    let counted = messages_this_hour(second.admin_address).await;
    assert_eq!(restored_queue[..BEFORE], [0, 1, 2], "{restored_queue:?}");
    assert_eq!(second.queue.stored().await.expect("stored"), restored_queue.len());
    assert!(
        restored_queue.len() as u64 <= counted && counted <= total as u64,
        "queued {restored_queue:?}, counted {counted}, sent {total}"
    );
    assert_eq!(
        std::fs::read(data_dir.join("trace-keys.toml")).unwrap(),
        std::fs::read(h.dir.path().join("trace-keys.toml")).unwrap(),
        "the trace key travels with the backup"
    );
    // The restored gateway serves: the queued mail is retried from it, new mail is counted on top.
    let mut attempts = 0;
    for _ in 0..200 {
        attempts = sink
            .commands()
            .iter()
            .filter(|(_, c)| c.starts_with("RCPT TO:<tempfail@"))
            .count();
        if attempts >= restored_queue.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        attempts >= restored_queue.len(),
        "{attempts} delivery attempts from the restored queue"
    );
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_the_backup_holds_the_queue_and_says_the_store_is_redis() {
    let redis = store_support::RedisServer::start();
    let url = redis.url();
    let h = std::sync::Arc::new(
        Harness::start_with_profile(Some(PROFILE), move |c| {
            c.store.backend = aupgate::store::Backend::Redis;
            c.store.urls = vec![url];
        })
        .await,
    );
    let id = send_held(&h, 0).await;
    let (status, body) = api(
        h.gateway.admin_address,
        reqwest::Method::POST,
        "/api/v1/backup",
        Some(json!({"directory": "redis-one"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let backup = h.dir.path().join("backups/redis-one");
    assert_eq!(body["directory"], backup.display().to_string());
    assert_eq!(body["backend"], "redis");
    assert!(body.get("store").is_none(), "{body}");
    assert!(backup.join("queue/CURRENT").exists());
    assert!(!backup.join("store").exists());
    let copy = aupgate::queue::Queue::open(&backup.join("queue")).expect("the queue's checkpoint opens");
    let (_, body) = copy.load(&id).await.expect("the queued message is in it");
    assert!(String::from_utf8_lossy(&body).contains("Subject: held 0\r\n"));
    let (code, stdout, stderr) = cli(&h, &["backup", "redis-two"]).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("store: not included: the redis store keeps its data itself"),
        "{stdout}"
    );
}
