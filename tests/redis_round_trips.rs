//! The Redis path makes at most one round trip per SMTP stage and none per recipient: a message
//! accepted under a profile with every counting check on (quotas, bulk, mail bomb, SMS gateways,
//! suppression), sent alone, costs the store at most one script at MAIL FROM (none when the
//! node read the quota counters less than `policy::recent::MAX_AGE_MS` before; a read also
//! reads the recipient quotas RCPT TO checks, `policy::prefetch`), one at DATA (which also
//! charges the quotas), and its writes after the checks — the audit record as the `250` goes out (with the
//! Message-ID index entry, inside the tenant's script on a standalone server), the delivery
//! outcome once relayed — each exactly once, in at most two more calls, fewer when they share a
//! group commit (`store::redis::group`), as the server itself saw them (`MONITOR`).

mod store_support;
mod support;

use std::process::Command;
use std::sync::Arc;
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

/// Watches every command the server runs (`MONITOR`) until dropped.
struct Monitor {
    child: std::process::Child,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Monitor {
    fn start(port: u16) -> Monitor {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("monitor.log");
        let out = std::fs::File::create(&log).expect("monitor log");
        let child = Command::new("redis-cli")
            .arg("-p")
            .arg(port.to_string())
            .arg("monitor")
            .stdout(out)
            .spawn()
            .expect("redis-cli on PATH");
        // MONITOR answers OK once it watches.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::fs::read_to_string(&log).unwrap_or_default().is_empty() {
            assert!(std::time::Instant::now() < deadline, "MONITOR did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        Monitor { child, log, _dir: dir }
    }

    /// Script calls by clients (not the commands scripts run) other than the change feed's
    /// once-a-second read, which runs whatever the mail does.
    fn mail_scripts(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("\"EVALSHA\"") && !line.contains("[0 lua]"))
            .filter(|line| !line.contains("tenants:generation"))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn message(n: usize) -> String {
    format!(
        "From: a@acme.example\r\nTo: bob@dest.example\r\nSubject: report {n}\r\nMessage-ID: <{n}@acme.example>\r\n\r\nThe weekly report, number {n}.\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_message_costs_one_store_call_per_stage_and_none_per_recipient() {
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
    let monitor = Monitor::start(redis.port);
    // Past the age a read may answer MAIL FROM at: the first message below reads again.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
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
    // Each acceptance was recorded by the time the session said goodbye (`QUIT` waits for it).
    let audit = h.gateway.store.audit_range("acme", 0, u64::MAX).await.expect("audit");
    assert_eq!(
        audit.iter().filter(|r| r.action == "accept").count(),
        MESSAGES + 1,
        "{audit:?}"
    );
    h.wait_queue_empty(Duration::from_secs(10)).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    // The delivery outcomes are counted after the entry is settled, in a task of their own:
    // wait until every message's outcome was written, then make sure nothing more comes.
    let written = |scripts: &[String], what: &str| scripts.iter().map(|l| l.matches(what).count()).sum::<usize>();
    let outcome = "outcome\\x00\\x00\\x00\\x04acme\\x00\\x00\\x00\\tdeliveredc";
    while written(&monitor.mail_scripts(), outcome) < MESSAGES && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let scripts = monitor.mail_scripts();
    // Each message's writes after its checks, each exactly once: the audit record, the outcome
    // count (group-committed: one message's may share a call with the previous one's, so they
    // take at most two calls a message). No quota is added after the checks.
    assert_eq!(
        written(&scripts, "\"a\" \"{t61636d65}\\x00\\x00\\x00\\x13quota.messages.hour"),
        0,
        "{scripts:#?}"
    );
    assert_eq!(
        written(&scripts, "\"l\" \"{t61636d65}\\x00\\x00\\x00\\x06_audit"),
        MESSAGES,
        "{scripts:#?}"
    );
    assert_eq!(written(&scripts, outcome), MESSAGES, "{scripts:#?}");
    assert!(scripts.len() <= 4 * MESSAGES, "{} calls: {scripts:#?}", scripts.len());
    // DATA: one script a message, which also charges the four quotas exactly (check-and-charge
    // of one message and one recipient).
    // (The campaign lookup, `m` and its key count, is the DATA stage's alone.)
    let data_stage: Vec<&String> = scripts.iter().filter(|l| l.contains("\"m\" \"")).collect();
    assert_eq!(data_stage.len(), MESSAGES, "{scripts:#?}");
    for kind in [
        "\\x13quota.messages.hour",
        "\\x12quota.messages.day",
        "\\x15quota.recipients.hour",
        "\\x14quota.recipients.day",
    ] {
        let charge = format!("\"c\" \"k\" \"{{t61636d65}}\\x00\\x00\\x00{kind}\\x00\\x00\\x00\\x04acmec\" \"1\"");
        assert!(
            data_stage.iter().all(|l| l.contains(&charge)),
            "{charge} {data_stage:#?}"
        );
    }
    // MAIL FROM: a script checked the message quota (`c`) and read the windows of the message
    // and recipient quotas (`w`: `policy::recent`, `policy::prefetch`) for the first message,
    // and then only once the read was older than a second (each script's first argument is the
    // gateway's time); the messages in between cost no call before DATA.
    let checks = |line: &&String| line.contains("\"c\" \"k\"") && !line.contains("\"m\" \"");
    let mail_stage: Vec<&String> = scripts
        .iter()
        .filter(|l| checks(l) && l.contains("quota.messages.hour"))
        .collect();
    assert!(!mail_stage.is_empty() && mail_stage.len() <= MESSAGES, "{scripts:#?}");
    assert!(
        mail_stage
            .iter()
            .all(|line| ["quota.recipients.hour", "quota.messages.day"]
                .iter()
                .all(|kind| line.contains(&format!(
                    "\"w\" \"k\" \"{{t61636d65}}\\x00\\x00\\x00\\x{:02x}{kind}",
                    kind.len()
                )))),
        "{mail_stage:#?}"
    );
    let times: Vec<u64> = mail_stage
        .iter()
        .map(|line| {
            // After the routing key: the first caller's argument count, then its time.
            let after_key = line.split("_batch").nth(1).expect("the batch key");
            let mut quoted = after_key.split('"').skip(2).step_by(2);
            let count: usize = quoted.next().and_then(|c| c.parse().ok()).expect("the caller's count");
            assert!(count > 1, "{line}");
            quoted.next().and_then(|t| t.parse().ok()).expect("the batch's time")
        })
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[1].saturating_sub(pair[0]) > 1_000),
        "MAIL FROM read again within a second: {times:?}"
    );
    let rcpt_stage = scripts
        .iter()
        .filter(|l| checks(l) && l.contains("quota.recipients.hour") && !l.contains("quota.messages.hour"))
        .count();
    assert_eq!(rcpt_stage, 0, "{scripts:#?}");
}

/// Concurrent writers share a flush: twenty charges and twenty audit records made at once cost
/// a few script calls, not forty, and every one of them is applied before its caller returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_a_round_trip_and_each_is_applied_when_it_returns() {
    use aupgate::store::{AuditRecord, Key, RateStore};
    let redis = store_support::RedisServer::start();
    let store: Arc<dyn RateStore> = Arc::new(
        aupgate::store::redis::RedisStore::connect(&[redis.url()], Duration::from_secs(2), Duration::from_secs(86_400))
            .await
            .expect("connect"),
    );
    let url = redis.url();
    let url = &url;
    let key = Key::new("quota.messages.hour", "acme");
    let hour = Duration::from_secs(3_600);
    let now = store_support::now_ms();
    // Loads the scripts first (NOSCRIPT, SCRIPT LOAD, again).
    store.counter_add(&key, 1, now, hour).await.expect("charge");
    let monitor = Monitor::start(redis.port);
    let writes = (0..20).map(|i| {
        let store = store.clone();
        let key = key.clone();
        async move {
            store.counter_add_many(&[(key, 1, hour)], now).await.expect("charge");
            let record = AuditRecord {
                at: now,
                actor: "policy".into(),
                action: "accept".into(),
                target: format!("Q{i}"),
                reason: String::new(),
                detail: serde_json::Value::Null,
            };
            store.audit_append("acme", &record).await.expect("audit");
            // Applied when the call returned: read back over a connection of its own (not the
            // store's, whose requests are answered in order anyway).
            let client = redis::Client::open(url.as_str()).expect("client");
            let mut own = client.get_multiplexed_async_connection().await.expect("connection");
            let members: Vec<Vec<u8>> = redis::cmd("ZRANGE")
                .arg(Key::new("_audit", "acme").redis_key())
                .arg(0)
                .arg(-1)
                .query_async(&mut own)
                .await
                .expect("zrange");
            let needle = format!("\"target\":\"Q{i}\"");
            assert!(
                members.iter().any(|m| String::from_utf8_lossy(m).contains(&needle)),
                "Q{i} not applied when its call returned"
            );
        }
    });
    futures_util::future::join_all(writes).await;
    assert_eq!(store.counter_get(&key, now, hour).await.expect("read"), 21);
    assert_eq!(store.audit_range("acme", now, now).await.expect("audit").len(), 20);
    let scripts = monitor.mail_scripts();
    // Alone on the machine this takes 2 to 6 calls; a busy machine schedules the callers apart
    // and it takes more (9 seen), but never one call a write.
    assert!(
        scripts.len() <= 20,
        "40 writes of 20 callers took {} script calls: {scripts:#?}",
        scripts.len()
    );
}

/// One caller's failing write is its own error: the callers sharing its flush are applied and
/// told so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_fails_only_its_own_caller() {
    use aupgate::store::{AuditRecord, Key, RateStore};
    let redis = store_support::RedisServer::start();
    let store: Arc<dyn RateStore> = Arc::new(
        aupgate::store::redis::RedisStore::connect(&[redis.url()], Duration::from_secs(2), Duration::from_secs(86_400))
            .await
            .expect("connect"),
    );
    // The audit log's key holds a string: appending to it fails (WRONGTYPE).
    let client = redis::Client::open(redis.url()).expect("client");
    let mut own = client.get_multiplexed_async_connection().await.expect("connection");
    let _: () = redis::cmd("SET")
        .arg(Key::new("_audit", "acme").redis_key())
        .arg("not a log")
        .query_async(&mut own)
        .await
        .expect("set");
    let key = Key::new("quota.messages.hour", "acme");
    let hour = Duration::from_secs(3_600);
    let now = store_support::now_ms();
    let record = AuditRecord {
        at: now,
        actor: "policy".into(),
        action: "accept".into(),
        target: "Q".into(),
        reason: String::new(),
        detail: serde_json::Value::Null,
    };
    let charges = || {
        (0..5).map(|_| {
            let store = store.clone();
            let key = key.clone();
            async move { store.counter_add_many(&[(key, 1, hour)], now).await }
        })
    };
    // The failing caller in the middle of the callers sharing its flush.
    let (before, audited, after) = tokio::join!(
        futures_util::future::join_all(charges()),
        store.audit_append("acme", &record),
        futures_util::future::join_all(charges())
    );
    let error = audited.expect_err("appending to a string must fail").to_string();
    assert!(error.contains("WRONGTYPE"), "{error}");
    assert!(before.iter().chain(&after).all(Result::is_ok), "{before:?} {after:?}");
    assert_eq!(store.counter_get(&key, now, hour).await.expect("read"), 10);
}

/// Adds of one flush to one bucket are applied as their sum, and a failing one fails exactly the
/// callers that made it: three callers add to a key that holds a string while three others add
/// to a counter, all at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_adds_answer_each_of_their_callers() {
    use aupgate::store::{Key, RateStore};
    let redis = store_support::RedisServer::start();
    let store: Arc<dyn RateStore> = Arc::new(
        aupgate::store::redis::RedisStore::connect(&[redis.url()], Duration::from_secs(2), Duration::from_secs(86_400))
            .await
            .expect("connect"),
    );
    let broken = Key::new("outcome", "acme").part("broken");
    let mut raw = broken.redis_key();
    raw.push(b'c');
    let client = redis::Client::open(redis.url()).expect("client");
    let mut own = client.get_multiplexed_async_connection().await.expect("connection");
    let _: () = redis::cmd("SET")
        .arg(raw.as_slice())
        .arg("not a counter")
        .query_async(&mut own)
        .await
        .expect("set");
    let good = Key::new("outcome", "acme").part("delivered");
    let hour = Duration::from_secs(3_600);
    let now = store_support::now_ms();
    let add = |key: &Key| {
        let store = store.clone();
        let key = key.clone();
        async move { store.counter_add_many(&[(key, 2, hour)], now).await }
    };
    let (bad, fine) = tokio::join!(
        futures_util::future::join_all((0..3).map(|_| add(&broken))),
        futures_util::future::join_all((0..3).map(|_| add(&good)))
    );
    assert!(
        bad.iter()
            .all(|r| r.as_ref().is_err_and(|e| e.to_string().contains("WRONGTYPE"))),
        "{bad:?}"
    );
    assert!(fine.iter().all(Result::is_ok), "{fine:?}");
    assert_eq!(store.counter_get(&good, now, hour).await.expect("read"), 6);
}
