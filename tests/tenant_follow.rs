//! A node following a shared Redis store reads only what changed: with 300 tenants, a change to
//! one of them (its record and a block) costs the follower one record read and one block-list
//! read, counted by the server itself (`INFO commandstats`); a round with no change reads no
//! tenant; only a node with nothing applied yet reads them all.

mod store_support;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use aupgate::store::redis::RedisStore;
use aupgate::store::{Block, BlockScope, RateStore, TenantChange, TenantField, TenantRecord};
use aupgate::tenant::follow::step;
use aupgate::tenant::TenantDirectory;

const TENANTS: usize = 300;

fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli on PATH");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Calls of each command since the last reset (scripts' own commands included).
fn calls(port: u16, command: &str) -> u64 {
    redis_cli(port, &["info", "commandstats"])
        .lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Record reads (`HGETALL` of a tenant's fields), block-list reads (`HVALS`) and tenant
/// listings (`SMEMBERS`) since the last reset; then resets.
fn reads(port: u16) -> (u64, u64, u64) {
    let counted = (calls(port, "hgetall"), calls(port, "hvals"), calls(port, "smembers"));
    redis_cli(port, &["config", "resetstat"]);
    counted
}

fn id(n: usize) -> String {
    format!("tenant-{n:04}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_one_tenant_among_many_reads_only_that_tenant() {
    let redis = store_support::RedisServer::start();
    let store: Arc<dyn RateStore> = Arc::new(
        RedisStore::connect(&[redis.url()], Duration::from_secs(2), Duration::from_secs(86_400))
            .await
            .expect("connect"),
    );
    for n in 0..TENANTS {
        let mut record = TenantRecord::new(&id(n), "Tenant");
        record.networks = vec![format!("10.{}.{}.0/24", n / 256, n % 256)];
        assert!(store.tenant_create(&record).await.expect("create"));
    }
    // A node that has applied nothing yet reads every tenant.
    redis_cli(redis.port, &["config", "resetstat"]);
    let directory = Arc::new(TenantDirectory::from_specs(Vec::new()));
    let applied = step(store.as_ref(), &directory, None).await.expect("first round");
    assert_eq!(directory.len(), TENANTS);
    assert_eq!(reads(redis.port), (TENANTS as u64, TENANTS as u64, 1));

    // Nothing changed: no tenant is read.
    assert_eq!(step(store.as_ref(), &directory, Some(applied)).await, Some(applied));
    assert_eq!(reads(redis.port), (0, 0, 0));

    // Another node renames one tenant and blocks one of its senders.
    let changed = id(137);
    store
        .tenant_update(&changed, &[TenantChange::Set(TenantField::Name("Renamed".into()))])
        .await
        .expect("update");
    store
        .block_add(&Block {
            tenant: changed.clone(),
            scope: BlockScope::Sender,
            target: "bob@renamed.example".into(),
            by: "ops".into(),
            reason: "phished".into(),
            at: store_support::now_ms(),
            expires_at: None,
        })
        .await
        .expect("block");
    redis_cli(redis.port, &["config", "resetstat"]);
    let next = step(store.as_ref(), &directory, Some(applied)).await.expect("round");
    assert!(next > applied);
    assert_eq!(reads(redis.port), (1, 1, 0), "one record and one block list read");
    let live = directory.get(&changed).expect("still there");
    assert_eq!(live.settings().name, "Renamed");
    assert!(live.narrow_blocks.sender(), "the block holds on this node");
    assert_eq!(directory.get(&id(138)).expect("other").settings().name, "Tenant");

    // A tenant deleted on another node leaves this one after one read.
    assert!(store.tenant_delete(&id(5)).await.expect("delete"));
    redis_cli(redis.port, &["config", "resetstat"]);
    let last = step(store.as_ref(), &directory, Some(next)).await.expect("round");
    assert!(last > next);
    assert!(directory.get(&id(5)).is_none());
    assert_eq!(directory.len(), TENANTS - 1);
    let (records, blocks, lists) = reads(redis.port);
    assert!(records <= 1 && blocks == 0 && lists == 0, "{records} {blocks} {lists}");
}
