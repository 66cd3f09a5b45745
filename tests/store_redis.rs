//! Redis-only store tests: two gateway nodes share one limit; an unreachable server is an error,
//! never a zero; windowed keys carry an expiry; a tenant record that was written is always
//! listed, whichever of its two writes fails; stage batches that share a script call keep their
//! own answers.

mod store_support;

use std::sync::Arc;
use std::time::Duration;

use aupgate::store::redis::RedisStore;
use aupgate::store::{Backend, Charge, Key, RateStore, StoreConfig, TenantRecord, TenantState};
use store_support::{now_ms, RedisServer};

const DAY: Duration = Duration::from_secs(86_400);

/// An audit record of a test at `at` about `target`.
fn record(at: u64, target: &str) -> aupgate::store::AuditRecord {
    aupgate::store::AuditRecord {
        at,
        actor: "test".into(),
        action: "note".into(),
        target: target.into(),
        reason: String::new(),
        detail: serde_json::Value::Null,
    }
}

async fn connect(server: &RedisServer) -> Arc<dyn RateStore> {
    connect_url(server.url()).await
}

async fn connect_url(url: String) -> Arc<dyn RateStore> {
    let cfg = StoreConfig {
        backend: Backend::Redis,
        urls: vec![url],
        redis_timeout: aupgate::config::HumanDuration::millis(500),
        ..Default::default()
    };
    aupgate::store::open_store(&cfg, std::path::Path::new("/nonexistent"))
        .await
        .expect("connect")
}

/// A plain connection to `server`, to look at (or break) what the store wrote.
async fn raw_connection(server: &RedisServer) -> redis::aio::MultiplexedConnection {
    let client = redis::Client::open(server.url()).expect("client");
    client.get_multiplexed_async_connection().await.expect("conn")
}

/// The hash a counter lives in.
fn counter_hash(key: &Key) -> Vec<u8> {
    let mut raw = key.redis_key();
    raw.push(b'c');
    raw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_share_a_limit() {
    let server = RedisServer::start();
    let (a, b) = (connect(&server).await, connect(&server).await);
    let now = now_ms();
    let k = Key::new("bulk.rcpts", "acme").part("campaign");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50u32 {
        let s = if i % 2 == 0 { Arc::clone(&a) } else { Arc::clone(&b) };
        let k = k.clone();
        tasks.spawn(async move { s.set_check_and_add(&k, &i.to_be_bytes(), now, DAY, 20).await });
    }
    let mut admitted = 0;
    while let Some(r) = tasks.join_next().await {
        admitted += u32::from(r.expect("join").expect("store").admitted);
    }
    assert_eq!(admitted, 20);
    assert_eq!(b.set_count(&k, now, DAY).await.expect("count"), 20);
    let q = Key::new("quota", "acme");
    for _ in 0..3 {
        a.counter_add(&q, 2, now, DAY).await.expect("add");
    }
    assert_eq!(b.counter_get(&q, now, DAY).await.expect("get"), 6);
    assert!(matches!(
        b.counter_check_and_add(&q, 1, 6, now, DAY).await.expect("cac"),
        Charge::Refused { total: 6, .. }
    ));
}

#[tokio::test]
async fn unreachable_redis_is_an_error() {
    let mut server = RedisServer::start();
    let s = connect(&server).await;
    let now = now_ms();
    let k = Key::new("quota", "acme");
    s.counter_add(&k, 1, now, DAY).await.expect("add while up");
    server.kill();
    assert!(s.counter_get(&k, now, DAY).await.is_err(), "never a silent zero");
    assert!(s.counter_check_and_add(&k, 1, 10, now, DAY).await.is_err());
    assert!(s.set_check_and_add(&k, b"m", now, DAY, 20).await.is_err());
    assert!(s.events_check_and_add(&k, now, DAY, 10).await.is_err());
    assert!(s.suppression_contains("acme", "x@y").await.is_err());
    assert!(s
        .block_get("acme", aupgate::store::BlockScope::Tenant, "")
        .await
        .is_err());
    // And a store that cannot connect at all does not open.
    let port = store_support::free_port(false);
    let r = RedisStore::connect(&[format!("redis://127.0.0.1:{port}")], Duration::from_millis(300), DAY).await;
    assert!(r.is_err());
}

#[tokio::test]
async fn windowed_keys_expire() {
    let server = RedisServer::start();
    let s = connect(&server).await;
    let now = now_ms();
    let w = Duration::from_millis(200);
    let k = Key::new("quota", "acme");
    s.counter_add(&k, 1, now, w).await.expect("add");
    s.counter_check_and_add(&k, 1, 9, now, w).await.expect("cac");
    s.set_check_and_add(&k, b"m", now, w, 5).await.expect("set");
    s.events_check_and_add(&k, now, w, 5).await.expect("ev");
    s.campaign_lookup_or_insert("acme", &[1, 2], "c", now, w, &[])
        .await
        .expect("c");
    let mut c = raw_connection(&server).await;
    let n: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.expect("dbsize");
    assert_eq!(
        n, 5,
        "counter, set, event log (no sequence key: occurrences carry a nonce), two bands"
    );
    // Redis (a real process, on its own clock) drops the keys once their 200 ms TTL has run and
    // its expiry cycle has found them: ask until it has, for at most 5 s.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let n = loop {
        let n: i64 = redis::cmd("DBSIZE").query_async(&mut c).await.expect("dbsize");
        if n == 0 || tokio::time::Instant::now() >= deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(n, 0, "everything expired by EXPIRE, no scan");
}

/// A store connected as a Redis user that may run every command but `denied`.
async fn connect_denying(server: &RedisServer, user: &str, denied: &str) -> Arc<dyn RateStore> {
    let mut c = raw_connection(server).await;
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg(user)
        .arg("on")
        .arg(">secret")
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .arg(format!("-{denied}"))
        .query_async(&mut c)
        .await
        .expect("acl setuser");
    connect_url(server.url().replace("redis://", &format!("redis://{user}:secret@"))).await
}

#[tokio::test]
async fn a_written_tenant_record_is_always_listed() {
    let server = RedisServer::start();
    let record = |id: &str| TenantRecord::new(id, &format!("Tenant {id}"));
    // The index write fails: the create fails and writes no record either.
    let no_index = connect_denying(&server, "no-sadd", "sadd").await;
    assert!(no_index.tenant_create(&record("acme")).await.is_err());
    assert!(
        no_index.tenant_get("acme").await.expect("get").is_none(),
        "no unlisted record"
    );
    // The record write fails after the index write: the create fails, the list skips the bare id.
    let no_record = connect_denying(&server, "no-script", "@scripting").await;
    assert!(no_record.tenant_create(&record("acme")).await.is_err());
    let store = connect(&server).await;
    assert!(store.tenant_list().await.expect("list").is_empty());
    // The next create completes it.
    assert!(store.tenant_create(&record("acme")).await.expect("create"));
    let listed: Vec<String> = store
        .tenant_list()
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec!["acme".to_string()]);
}

/// A record of an earlier version (one JSON document with an `extra` bag) is read as it is and
/// rewritten as fields by the seed, keeping the state, ladder restart and verified domains.
#[tokio::test]
async fn a_legacy_tenant_record_loads_and_is_migrated_by_the_seed() {
    let server = RedisServer::start();
    let store = connect(&server).await;
    let legacy = serde_json::json!({
        "id": "old", "name": "Old", "state": "suspended",
        "extra": {"ladder_since": 77, "networks": ["10.0.0.0/8"],
                  "verification": [{"domain": "old.example", "token": "t", "verified": true, "record": "r"}]}
    });
    let mut c = raw_connection(&server).await;
    let _: () = redis::cmd("SET")
        .arg(Key::new("_tenant", "old").redis_key())
        .arg(legacy.to_string())
        .query_async(&mut c)
        .await
        .expect("set");
    let _: () = redis::cmd("SADD")
        .arg("aupgate:tenants")
        .arg("old")
        .query_async(&mut c)
        .await
        .expect("sadd");
    let read = store.tenant_get("old").await.expect("get").expect("legacy record");
    assert_eq!((read.state, read.ladder_since), (TenantState::Suspended, Some(77)));
    assert_eq!(read.verified_domains().collect::<Vec<_>>(), vec!["old.example"]);
    let mut seed = TenantRecord::new("old", "Old");
    seed.profile = "strict".into();
    seed.networks = vec!["10.0.0.0/8".into()];
    assert!(store.tenant_seed(&seed).await.expect("seed"));
    let migrated = store.tenant_get("old").await.expect("get").expect("record");
    assert_eq!(migrated.state, TenantState::Suspended, "the operator's state stays");
    assert_eq!(migrated.profile, "strict", "the rest comes from the seed");
    assert_eq!(migrated.ladder_since, Some(77));
    assert_eq!(migrated.verified_domains().collect::<Vec<_>>(), vec!["old.example"]);
    let legacy_left: bool = redis::cmd("EXISTS")
        .arg(Key::new("_tenant", "old").redis_key())
        .query_async(&mut c)
        .await
        .expect("exists");
    assert!(!legacy_left, "the legacy record is gone");
    assert_eq!(store.tenant_list().await.expect("list"), vec![migrated]);
}

/// The audit log orders one millisecond's records as this node made them, after any a server-side
/// counter of an earlier version numbered, and drops records past the retention as it appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_records_keep_their_order_and_expire_past_the_retention() {
    let server = RedisServer::start();
    let s = connect(&server).await;
    let now = now_ms();
    // A record an earlier version wrote: its server-side sequence was a small number.
    let log = Key::new("_audit", "acme").redis_key();
    let legacy = serde_json::to_vec(&record(now, "legacy")).expect("json");
    let mut member = b"00000000000000000007 ".to_vec();
    member.extend_from_slice(&legacy);
    let mut conn = raw_connection(&server).await;
    let _: i64 = redis::cmd("ZADD")
        .arg(log.as_slice())
        .arg(now)
        .arg(member)
        .query_async(&mut conn)
        .await
        .expect("zadd");
    for target in ["first", "second", "third"] {
        s.audit_append("acme", &record(now, target)).await.expect("append");
    }
    let targets: Vec<String> = s
        .audit_range("acme", now, now)
        .await
        .expect("range")
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(targets, ["legacy", "first", "second", "third"]);
    // Retention: a record older than it is gone once another has been appended.
    let retention = 400 * 86_400_000u64;
    s.audit_append("acme", &record(now - retention - 1_000, "ancient"))
        .await
        .expect("append");
    s.audit_append("acme", &record(now + 1, "new")).await.expect("append");
    let ancient = s.audit_range("acme", 0, now - retention).await.expect("range");
    assert!(ancient.is_empty(), "{ancient:?}");
}

/// A counter keeps its total beside its buckets (`store::redis::scripts`, `scan`): however the
/// charges, releases and the passing of time mix, the totals are the embedded store's, and a
/// counter a check reads from its total alone still drops what left the window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counter_totals_agree_with_the_embedded_store() {
    let server = RedisServer::start();
    let redis = connect(&server).await;
    let dir = tempfile::tempdir().expect("tmp");
    let rocks: Arc<dyn RateStore> =
        Arc::new(aupgate::store::rocks::RocksStore::open(dir.path(), DAY * 400).expect("open"));
    let hour = Duration::from_secs(3_600);
    let key = Key::new("quota.messages.hour", "acme");
    // A small deterministic generator: the test is the same on every run.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let mut now = now_ms();
    let mut charged: Vec<(u64, u64)> = Vec::new();
    for step in 0..400 {
        // Up to four minutes on: buckets start, and over two hours old ones leave the window.
        now += next(240_000);
        let limit = 40 + next(40);
        let n = 1 + next(3);
        let (a, b) = (
            redis
                .counter_check_and_add(&key, n, limit, now, hour)
                .await
                .expect("redis"),
            rocks
                .counter_check_and_add(&key, n, limit, now, hour)
                .await
                .expect("rocks"),
        );
        assert_eq!(a, b, "step {step} at {now}");
        if matches!(a, Charge::Charged { .. }) {
            charged.push((now, n));
        }
        if next(5) == 0 {
            if let Some((at, n)) = charged.pop() {
                redis.counter_release(&key, n, at, hour).await.expect("redis release");
                rocks.counter_release(&key, n, at, hour).await.expect("rocks release");
            }
        }
        let probe = now + next(120_000);
        assert_eq!(
            redis.counter_get(&key, probe, hour).await.expect("redis"),
            rocks.counter_get(&key, probe, hour).await.expect("rocks"),
            "step {step}, probed at {probe}"
        );
    }
}

/// A counter written without the total — by a version before it, or by a node of one during a
/// rolling upgrade — is counted whole: at once when it has no bookkeeping, within a minute when a
/// bucket was added behind the bookkeeping's back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buckets_written_without_the_total_are_counted() {
    let server = RedisServer::start();
    let s = connect(&server).await;
    let hour = Duration::from_secs(3_600);
    let key = Key::new("quota.messages.hour", "acme");
    let raw = counter_hash(&key);
    let mut conn = raw_connection(&server).await;
    let now = now_ms();
    let bucket = now / 60_000;
    // Three buckets as an earlier version left them.
    let _: i64 = redis::cmd("HSET")
        .arg(raw.as_slice())
        .arg(bucket - 2)
        .arg(3)
        .arg(bucket - 1)
        .arg(4)
        .arg(bucket)
        .arg(5)
        .query_async(&mut conn)
        .await
        .expect("hset");
    assert_eq!(s.counter_get(&key, now, hour).await.expect("get"), 12);
    assert!(matches!(
        s.counter_check_and_add(&key, 1, 12, now, hour).await.expect("cac"),
        Charge::Refused { total: 12, .. }
    ));
    // An old node adds to a bucket without the total.
    let _: i64 = redis::cmd("HINCRBY")
        .arg(raw.as_slice())
        .arg(bucket)
        .arg(6)
        .query_async(&mut conn)
        .await
        .expect("hincrby");
    let later = now + 60_001;
    assert_eq!(s.counter_get(&key, later, hour).await.expect("get"), 18);
}

/// Stage batches of one tenant at the same moment share script calls, yet each caller keeps its
/// own answers: a caller whose counter key holds something else gets an error, and the callers
/// around it in the same call are answered and charged as if alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_batch_fails_only_its_own_caller() {
    use aupgate::store::batch::{StageAnswer, StageOp};
    let server = RedisServer::start();
    let s = connect(&server).await;
    let hour = Duration::from_secs(3_600);
    let good = Key::new("quota.messages.hour", "acme").part("good");
    let broken = Key::new("quota.messages.hour", "acme").part("broken");
    let mut conn = raw_connection(&server).await;
    let raw = counter_hash(&broken);
    let _: () = redis::cmd("SET")
        .arg(raw.as_slice())
        .arg("not a counter")
        .query_async(&mut conn)
        .await
        .expect("set");
    let now = now_ms();
    s.counter_add(&good, 1, now, hour).await.expect("first bucket");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await
        .expect("resetstat");
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let s = Arc::clone(&s);
            let key = if i % 5 == 0 { broken.clone() } else { good.clone() };
            tokio::spawn(async move {
                let op = StageOp::CounterCheck {
                    key,
                    n: 1,
                    limit: 1_000,
                    window: hour,
                };
                (i, s.stage_batch("acme", &[op], now + 1).await)
            })
        })
        .collect();
    let mut totals = Vec::new();
    for task in tasks {
        match task.await.expect("task") {
            (i, Err(error)) if i % 5 == 0 => assert!(error.to_string().contains("WRONGTYPE"), "{error}"),
            (i, Ok(answers)) if i % 5 != 0 => match answers.as_slice() {
                [StageAnswer::Counter(Charge::Charged { total })] => totals.push(*total),
                other => panic!("{other:?}"),
            },
            (i, other) => panic!("caller {i}: {other:?}"),
        }
    }
    totals.sort_unstable();
    assert_eq!(totals, (2..=25).collect::<Vec<u64>>());
    assert_eq!(s.counter_get(&good, now + 1, hour).await.expect("get"), 25);
    // The 30 batches took fewer script calls than callers.
    let calls = command_calls(&mut conn, "evalsha").await;
    assert!(calls > 0 && calls < 30, "{calls} script calls for 30 batches");
}

async fn redis_store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&[server.url()], Duration::from_secs(2), DAY)
        .await
        .expect("connect")
}

/// A store on `server` and an hourly quota counter already charged once now (its bookkeeping
/// written, so later checks of this bucket may go through a call's mirror).
async fn counter_with_a_bucket(server: &RedisServer) -> (RedisStore, Key, u64) {
    let s = redis_store(server).await;
    let key = Key::new("quota.messages.hour", "acme");
    let now = now_ms();
    s.counter_add(&key, 1, now, Duration::from_secs(3_600))
        .await
        .expect("first bucket");
    (s, key, now)
}

fn check(key: &Key, n: u64, limit: u64) -> aupgate::store::batch::StageOp {
    aupgate::store::batch::StageOp::CounterCheck {
        key: key.clone(),
        n,
        limit,
        window: Duration::from_secs(3_600),
    }
}

fn charged(answers: &Result<Vec<aupgate::store::batch::StageAnswer>, aupgate::store::StoreError>) -> u64 {
    use aupgate::store::batch::StageAnswer;
    match answers.as_ref().expect("answered").as_slice() {
        [StageAnswer::Counter(Charge::Charged { total })] => *total,
        other => panic!("{other:?}"),
    }
}

/// Callers that share one call answer as if one after another, also when a later caller reads
/// or adds to a counter earlier callers charged in the same call (their charges, held until the
/// end of the call, are written first).
#[tokio::test]
async fn callers_sharing_a_call_answer_as_one_after_another() {
    use aupgate::store::batch::{StageAnswer, StageOp};
    let server = RedisServer::start();
    let (s, key, now) = counter_with_a_bucket(&server).await;
    let hour = Duration::from_secs(3_600);
    let read = [StageOp::CounterWindow {
        key: key.clone(),
        window: hour,
    }];
    let add = [StageOp::CounterAdd {
        key: key.clone(),
        n: 2,
        window: hour,
    }];
    let one = [check(&key, 1, 100)];
    let look = [check(&key, 0, 100)];
    let answers = s
        .stage_batches_in_one_call(
            "acme",
            &[(&one, now), (&one, now), (&read, now), (&add, now), (&look, now)],
        )
        .await
        .expect("one call");
    assert_eq!(charged(&answers[0]), 2);
    assert_eq!(charged(&answers[1]), 3);
    match answers[2].as_ref().expect("read").as_slice() {
        [StageAnswer::Window(window)] => {
            assert_eq!(window.buckets.iter().map(|(_, c)| c).sum::<u64>(), 3, "{window:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(charged(&answers[4]), 5, "the add made by the caller before counts");
    assert_eq!(s.counter_get(&key, now, hour).await.expect("get"), 5);
}

/// Callers of one call on both sides of a bucket boundary: each bucket holds its own charges, and
/// the charge that starts a bucket gives the key the expiry that bucket needs.
#[tokio::test]
async fn a_call_across_a_bucket_boundary_counts_both_buckets_and_sets_the_expiry() {
    let server = RedisServer::start();
    let s = redis_store(&server).await;
    let key = Key::new("quota.messages.hour", "acme");
    let bucket = now_ms() / 60_000;
    let (before, after) = (bucket * 60_000 + 59_999, (bucket + 1) * 60_000);
    let one = [check(&key, 1, 100)];
    let answers = s
        .stage_batches_in_one_call("acme", &[(&one, before), (&one, before), (&one, after), (&one, after)])
        .await
        .expect("one call");
    let totals: Vec<u64> = answers.iter().map(charged).collect();
    assert_eq!(totals, [1, 2, 3, 4]);
    let mut conn = raw_connection(&server).await;
    let raw = counter_hash(&key);
    let counts: Vec<Option<u64>> = redis::cmd("HMGET")
        .arg(raw.as_slice())
        .arg(bucket)
        .arg(bucket + 1)
        .query_async(&mut conn)
        .await
        .expect("hmget");
    assert_eq!(counts, [Some(2), Some(2)]);
    // The key lives until the newest bucket leaves the window: an hour and a minute from the
    // boundary (the first bucket alone asked an hour and a millisecond).
    let ttl: i64 = redis::cmd("PTTL")
        .arg(raw.as_slice())
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!(ttl > 3_640_000, "expiry {ttl} ms");
}

/// A charge whose write at the end of the call fails (the bucket holds something else) is an
/// error for the caller that charged, never a success; a pure check in the same call answers.
#[tokio::test]
async fn a_failed_write_back_fails_the_callers_that_charged() {
    let server = RedisServer::start();
    let (s, key, now) = counter_with_a_bucket(&server).await;
    let mut conn = raw_connection(&server).await;
    let raw = counter_hash(&key);
    let _: () = redis::cmd("HSET")
        .arg(raw.as_slice())
        .arg(now / 60_000)
        .arg("1.5")
        .query_async(&mut conn)
        .await
        .expect("hset");
    let one = [check(&key, 1, 100)];
    let look = [check(&key, 0, 100)];
    let answers = s
        .stage_batches_in_one_call("acme", &[(&one, now), (&look, now)])
        .await
        .expect("one call");
    let error = answers[0].as_ref().expect_err("the charge was not written");
    assert!(error.to_string().contains("not an integer"), "{error}");
    assert!(answers[1].is_ok(), "{:?}", answers[1]);
}

/// How many times redis-server ran `command` since its statistics were last reset.
async fn command_calls(conn: &mut redis::aio::MultiplexedConnection, command: &str) -> u64 {
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .expect("info");
    let prefix = format!("cmdstat_{command}:calls=");
    stats
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Several records of one log in one group-commit call are all kept in their order; the log is
/// trimmed past the retention and given its expiry once a call, not once a record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_records_sharing_a_call_are_all_kept_and_the_log_trimmed_once() {
    let server = RedisServer::start();
    let s = redis_store(&server).await;
    let now = now_ms();
    // A record two days old (the store keeps a day), written without an expiry.
    let log = Key::new("_audit", "acme").redis_key();
    let mut ancient = b"00000000000000000001 ".to_vec();
    ancient.extend_from_slice(&serde_json::to_vec(&record(now - 2 * 86_400_000, "ancient")).expect("json"));
    let mut conn = raw_connection(&server).await;
    let _: i64 = redis::cmd("ZADD")
        .arg(log.as_slice())
        .arg(now - 2 * 86_400_000)
        .arg(ancient)
        .query_async(&mut conn)
        .await
        .expect("zadd");
    // The script is loaded on its first call: that one goes first, for another tenant.
    s.audit_appends_in_one_call("other", &[record(now, "warm")])
        .await
        .expect("warm");
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut conn)
        .await
        .expect("resetstat");
    let records = [record(now, "first"), record(now, "second"), record(now + 1, "third")];
    let results = s.audit_appends_in_one_call("acme", &records).await.expect("call");
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(command_calls(&mut conn, "evalsha").await, 1);
    assert_eq!(command_calls(&mut conn, "zadd").await, 3);
    assert_eq!(command_calls(&mut conn, "zremrangebyscore").await, 1);
    assert_eq!(command_calls(&mut conn, "pexpire").await, 1);
    let targets: Vec<String> = s
        .audit_range("acme", 0, now + 1)
        .await
        .expect("range")
        .into_iter()
        .map(|r| r.target)
        .collect();
    assert_eq!(targets, ["first", "second", "third"]);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(log.as_slice())
        .query_async(&mut conn)
        .await
        .expect("pttl");
    assert!(ttl > 86_000_000 && ttl <= 86_400_000, "{ttl}");
}
