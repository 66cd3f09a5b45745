//! Following a shared store (Redis): keeps this node's tenants in step with what other nodes
//! write — a tenant created, updated or deleted through another node's admin API, a state set by
//! its escalation ladder, a domain verified, a block placed or lifted — within 2 s.
//!
//! Once a [`INTERVAL`] the follower asks the store's change feed
//! ([`crate::store::RateStore::tenant_changes`]) what was written after the generation it last
//! applied, and reads those tenants (their record and their block list) and no other: an idle
//! cluster costs one small read a second per node, however many tenants it serves. When the feed
//! cannot say (the node just started, it fell further behind than the feed reaches, a node of an
//! earlier version wrote), it reads every tenant, as a node did each round before the feed.
//!
//! A store error leaves the tenants as they are (logged) and the same changes are asked for
//! again the next round. Must never: overwrite a state this node set while the record was being
//! read (the next round reads it again).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{TenantDirectory, TenantSpec, TenantState};
use crate::store::RateStore;

/// How often a node looks at the change feed: a change reaches it within this time plus the
/// reads of the changed tenants, well within 2 s.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// Follows the store until `shutdown`, starting from generation `applied` (what the directory
/// was built from; `None`: read everything first).
pub async fn follow(
    store: Arc<dyn RateStore>,
    tenants: Arc<TenantDirectory>,
    mut applied: Option<u64>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
        if let Some(generation) = step(store.as_ref(), &tenants, applied).await {
            applied = Some(generation);
        }
    }
}

/// One round: the generation now applied, or `None` when it must be tried again.
pub async fn step(store: &dyn RateStore, tenants: &Arc<TenantDirectory>, applied: Option<u64>) -> Option<u64> {
    let changes = match store.tenant_changes(applied.unwrap_or(0)).await {
        Ok(changes) => changes,
        Err(error) => {
            tracing::warn!(%error, "reading the tenant change feed failed");
            return None;
        }
    };
    if applied == Some(changes.generation) {
        return applied;
    }
    let done = match (applied, changes.changed) {
        (Some(_), Some(ids)) => reload_some(store, tenants, &ids).await,
        _ => reload_all(store, tenants).await,
    };
    done.then_some(changes.generation)
}

/// Re-reads the tenants `ids` (record and blocks) and applies each; `false` on a store error.
async fn reload_some(store: &dyn RateStore, tenants: &Arc<TenantDirectory>, ids: &[String]) -> bool {
    for id in ids {
        let state_before = tenants.get(id).map(|live| live.state.get());
        let record = match store.tenant_get(id).await {
            Ok(record) => record,
            Err(error) => {
                tracing::warn!(tenant = %id, %error, "reading a changed tenant failed");
                return false;
            }
        };
        let Some(record) = record else {
            if tenants.get(id).is_some() {
                let (directory, id) = (Arc::clone(tenants), id.clone());
                let _ = tokio::task::spawn_blocking(move || directory.remove(&id)).await;
            }
            continue;
        };
        let mut spec = TenantSpec::from_record(&record);
        if let Some(live) = tenants.get(id) {
            keep_local_state(&mut spec, state_before, live.state.get(), record.state);
        }
        // An upsert that changes networks or credentials rebuilds the index: off the runtime.
        let directory = Arc::clone(tenants);
        let Ok(live) = tokio::task::spawn_blocking(move || directory.upsert(spec)).await else {
            return false;
        };
        let generation = live.narrow_blocks.generation();
        match store.blocks_list(id).await {
            Ok(blocks) => live.narrow_blocks.note(&blocks, generation),
            Err(error) => {
                tracing::warn!(tenant = %id, %error, "reading a changed tenant's blocks failed");
                return false;
            }
        }
    }
    true
}

/// The record's state is applied unless this node changed the tenant's state while the record
/// was being read (that change is in the feed: the next round reads the record again).
fn keep_local_state(spec: &mut TenantSpec, before: Option<TenantState>, now: TenantState, stored: TenantState) {
    if before != Some(now) {
        spec.state = None;
    } else if now != stored {
        tracing::info!(tenant = %spec.id, state = ?stored, "tenant state changed on another node");
    }
}

/// Re-reads every tenant record and block list and makes the directory match; `false` when it
/// must be tried again (a store error, or this node changed the directory meanwhile).
async fn reload_all(store: &dyn RateStore, tenants: &Arc<TenantDirectory>) -> bool {
    let version = tenants.version();
    let states: HashMap<String, TenantState> = tenants
        .ids()
        .into_iter()
        .filter_map(|id| tenants.get(&id).map(|t| (id, t.state.get())))
        .collect();
    let records = match store.tenant_list().await {
        Ok(records) => records,
        Err(error) => {
            tracing::warn!(%error, "reading the tenants failed");
            return false;
        }
    };
    let specs: Vec<TenantSpec> = records
        .iter()
        .map(|record| {
            let mut spec = TenantSpec::from_record(record);
            if let Some(live) = tenants.get(&record.id) {
                keep_local_state(
                    &mut spec,
                    states.get(&record.id).copied(),
                    live.state.get(),
                    record.state,
                );
            }
            spec
        })
        .collect();
    // Rebuilding the index costs milliseconds with thousands of tenants: off the runtime.
    let directory = Arc::clone(tenants);
    let replaced = tokio::task::spawn_blocking(move || directory.replace_all_unless_changed(specs, version))
        .await
        .unwrap_or(false);
    if !replaced {
        return false;
    }
    for id in tenants.ids() {
        let Some(live) = tenants.get(&id) else { continue };
        let generation = live.narrow_blocks.generation();
        match store.blocks_list(&id).await {
            Ok(blocks) => live.narrow_blocks.note(&blocks, generation),
            Err(error) => {
                tracing::warn!(tenant = %id, %error, "reading the tenant's blocks failed");
                return false;
            }
        }
    }
    true
}
