//! RocksDB-only store tests: counts survive `kill -9` of a real process, expired data disappears
//! at compaction.

mod store_support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aupgate::store::rocks::RocksStore;
use aupgate::store::{Charge, Key, RateStore};
use store_support::now_ms;

const DAY: Duration = Duration::from_secs(86_400);
const CHILD_ENV: &str = "AUPGATE_STORE_CRASH_CHILD";
const N: u64 = 5_000;

/// In the child: charge counters, sync, report, then wait to be killed with the store open.
fn crash_child(dir: &str, now: u64) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    rt.block_on(async {
        let s = RocksStore::open(std::path::Path::new(dir), DAY).expect("open");
        let k = Key::new("quota", "t1");
        for i in 0..N {
            s.counter_add(&k, 1, now + i, DAY).await.expect("add");
        }
        let q = Key::new("quota.cac", "t1");
        for _ in 0..30 {
            s.counter_check_and_add(&q, 1, 25, now, DAY).await.expect("cac");
        }
        for i in 0..15u32 {
            s.set_check_and_add(&Key::new("bulk", "t1"), &i.to_be_bytes(), now, DAY, 20)
                .await
                .expect("set");
        }
        // The store writes behind; once `sync` returns every charge is in the WAL. The store
        // stays open while the parent kills this process.
        s.sync().await.expect("sync");
        std::fs::write(format!("{dir}/../ready"), b"1").expect("marker");
        std::thread::sleep(Duration::from_secs(600));
    });
}

#[test]
fn counts_survive_sigkill() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        let now: u64 = std::env::var("AUPGATE_STORE_NOW").expect("now").parse().expect("num");
        crash_child(&dir, now);
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("db");
    let now = now_ms();
    let mut child = Command::new(std::env::current_exe().expect("exe"))
        .args([
            "--exact",
            "counts_survive_sigkill",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, &db)
        .env("AUPGATE_STORE_NOW", now.to_string())
        .spawn()
        .expect("spawn child");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !tmp.path().join("ready").exists() {
        assert!(Instant::now() < deadline, "child never got ready");
        assert!(child.try_wait().expect("wait").is_none(), "child exited early");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("SIGKILL"); // Child::kill is SIGKILL on unix
    let status = child.wait().expect("reap");
    assert!(!status.success());

    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    rt.block_on(async {
        let s = RocksStore::open(&db, DAY).expect("reopen");
        let at = now + N;
        assert_eq!(s.counter_get(&Key::new("quota", "t1"), at, DAY).await.expect("get"), N);
        assert_eq!(
            s.counter_get(&Key::new("quota.cac", "t1"), at, DAY).await.expect("get"),
            25
        );
        assert_eq!(s.set_count(&Key::new("bulk", "t1"), at, DAY).await.expect("count"), 15);
    });
}

#[tokio::test]
async fn expired_data_is_dropped_by_compaction() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = RocksStore::open(tmp.path(), Duration::from_secs(3600)).expect("open");
    let old = now_ms() - 3 * 86_400_000;
    let fresh = now_ms();
    for i in 0..100u64 {
        let k = Key::new("quota", "t").part_u64(i);
        s.counter_add(&k, 1, old, DAY).await.expect("add");
        s.set_check_and_add(&k, b"m", old, DAY, 5).await.expect("set");
        s.events_check_and_add(&k, old, DAY, 5).await.expect("ev");
    }
    s.campaign_lookup_or_insert("t", &[1, 2], "c", old, DAY, &[])
        .await
        .expect("c");
    s.counter_add(&Key::new("quota", "live"), 1, fresh, DAY)
        .await
        .expect("add");
    s.campaign_lookup_or_insert("t", &[3], "c", fresh, DAY, &[])
        .await
        .expect("c");
    let ev = aupgate::store::Event {
        at: old,
        kind: "v".into(),
        rule: None,
        detail: serde_json::Value::Null,
    };
    s.event_append("t", &ev).await.expect("append");
    assert_eq!(s.raw_len("counters").expect("len"), 101);
    s.compact_all().expect("compact");
    // Merge results land as values and are filtered by the next compaction.
    s.compact_all().expect("compact");
    assert_eq!(s.raw_len("counters").expect("len"), 1, "only the live counter is left");
    assert_eq!(s.raw_len("sets").expect("len"), 0);
    assert_eq!(s.raw_len("campaigns").expect("len"), 1);
    assert_eq!(s.raw_len("events").expect("len"), 0, "past the 1h log retention");
    assert_eq!(
        s.counter_get(&Key::new("quota", "live"), fresh, DAY)
            .await
            .expect("get"),
        1
    );
}

#[tokio::test]
async fn unusable_path_is_an_error() {
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    assert!(RocksStore::open(&file, DAY).is_err());
    let cfg = aupgate::store::StoreConfig {
        path: Some(file),
        ..Default::default()
    };
    assert!(aupgate::store::open_store(&cfg, tmp.path()).await.is_err());
    // And the default path works.
    let s: Arc<dyn RateStore> = aupgate::store::open_store(&Default::default(), tmp.path())
        .await
        .expect("open default");
    assert_eq!(
        s.counter_check_and_add(&Key::new("k", "t"), 1, 1, now_ms(), DAY)
            .await
            .expect("cac"),
        Charge::Charged { total: 1 }
    );
    assert!(tmp.path().join("store").join("CURRENT").exists());
}

#[tokio::test]
async fn counters_stay_exact_when_the_in_memory_mirror_forgets_them() {
    let dir = tempfile::tempdir().unwrap();
    let s = RocksStore::open(dir.path(), DAY).expect("open");
    let now = now_ms();
    let hot = Key::new("quota", "hot");
    for _ in 0..5 {
        s.counter_check_and_add(&hot, 1, 100, now, DAY).await.expect("cac");
    }
    // Blind charges (as on accept) update the mirrored counter too.
    s.counter_add(&hot, 2, now, DAY).await.expect("add");
    s.counter_add_many(&[(hot.clone(), 3, DAY)], now)
        .await
        .expect("add many");
    assert_eq!(s.counter_get(&hot, now, DAY).await.expect("get"), 10);
    // More counters than the mirror holds: the hot one is evicted and read back from RocksDB.
    for i in 0..70_000u32 {
        s.counter_get(&Key::new("quota", "cold").part_u64(u64::from(i)), now, DAY)
            .await
            .expect("get");
    }
    s.counter_add(&hot, 1, now, DAY).await.expect("add");
    assert_eq!(s.counter_get(&hot, now, DAY).await.expect("get"), 11);
    assert!(matches!(
        s.counter_check_and_add(&hot, 90, 100, now, DAY).await.expect("cac"),
        Charge::Refused { total: 11, .. }
    ));
    assert_eq!(
        s.counter_check_and_add(&hot, 89, 100, now, DAY).await.expect("cac"),
        Charge::Charged { total: 100 }
    );
    // A reopened store (empty mirror) reads the same totals.
    drop(s);
    let s = RocksStore::open(dir.path(), DAY).expect("reopen");
    assert_eq!(s.counter_get(&hot, now, DAY).await.expect("get"), 100);
}

const FULL_DISK_ENV: &str = "AUPGATE_STORE_FULL_DISK_CHILD";

/// In the child (run with a file-size limit and SIGXFSZ ignored, so writes past the limit fail
/// with EFBIG as on a full disk): charge until the store reports an error; print what happened.
fn full_disk_child(dir: &str) {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    rt.block_on(async {
        let s = RocksStore::open(std::path::Path::new(dir), DAY).expect("open");
        let k = Key::new("quota", "t1");
        let now = now_ms();
        let mut charged = 0u64;
        for i in 0..1_000_000u64 {
            match s
                // Distinct keys: the store's writer folds repeated charges of one key into one
                // write, so only new keys make the WAL grow to the limit.
                .counter_check_and_add(&k.clone().part_u64(i), 1, u64::MAX, now, DAY)
                .await
            {
                Ok(_) => charged += 1,
                Err(error) => {
                    println!("STORE-ERROR after {charged}: {error}");
                    // Every later write fails too: never a silent success.
                    let again = s.counter_add(&k, 1, now, DAY).await;
                    println!("AGAIN-ERROR {}", again.is_err());
                    return;
                }
            }
        }
        println!("NO-ERROR after {charged}");
    });
}

#[test]
fn a_failing_rocksdb_write_is_an_error() {
    if let Ok(dir) = std::env::var(FULL_DISK_ENV) {
        full_disk_child(&dir);
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let db = tmp.path().join("db");
    // Open once without limits so the database files exist; the child then only appends.
    drop(RocksStore::open(&db, DAY).expect("create"));
    let exe = std::env::current_exe().expect("exe");
    let output = Command::new("bash")
        .arg("-c")
        .arg(r#"trap "" XFSZ; exec prlimit --fsize=262144 "$@""#)
        .arg("bash")
        .arg(&exe)
        .args([
            "--exact",
            "a_failing_rocksdb_write_is_an_error",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(FULL_DISK_ENV, &db)
        .output()
        .expect("run child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("STORE-ERROR after"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("AGAIN-ERROR true"), "{stdout}");
    assert!(output.status.success(), "the child must not crash: {stdout}");
}

/// A tenant record of an earlier version (one JSON value under the bare id in `tenants`) is read
/// as it is and rewritten as fields by the seed, keeping what operators and the ladder changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_tenant_record_loads_and_is_migrated_by_the_seed() {
    use aupgate::store::{TenantRecord, TenantState};
    let dir = tempfile::tempdir().expect("tmp");
    {
        let mut opts = rocksdb::Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let db = rocksdb::DB::open_cf(&opts, dir.path(), ["tenants"]).expect("open raw");
        let legacy = serde_json::json!({
            "id": "old", "name": "Old", "state": "warned",
            "extra": {"ladder_since": 5, "contact": "desk@old.example",
                      "verification": [{"domain": "old.example", "token": "tok", "verified": false, "record": "r"}]}
        });
        let cf = db.cf_handle("tenants").expect("cf");
        db.put_cf(cf, b"old", legacy.to_string()).expect("put");
    }
    let store = RocksStore::open(dir.path(), Duration::from_secs(86_400)).expect("open");
    let read = store.tenant_get("old").await.expect("get").expect("legacy record");
    assert_eq!((read.name.as_str(), read.state), ("Old", TenantState::Warned));
    assert_eq!(read.domains[0].token, "tok");
    assert_eq!(store.tenant_list().await.expect("list"), vec![read.clone()]);
    let mut seed = TenantRecord::new("old", "Old");
    seed.networks = vec!["10.0.0.0/8".into()];
    assert!(store.tenant_seed(&seed).await.expect("seed"));
    let migrated = store.tenant_get("old").await.expect("get").expect("record");
    assert_eq!(migrated.state, TenantState::Warned);
    assert_eq!(migrated.ladder_since, Some(5));
    assert_eq!(migrated.networks, vec!["10.0.0.0/8".to_string()]);
    assert_eq!(migrated.domains.len(), 1, "the pending verification stays");
    assert_eq!(store.tenant_list().await.expect("list"), vec![migrated], "listed once");
    assert!(!store.tenant_seed(&seed).await.expect("seed"), "seeded once");
}
