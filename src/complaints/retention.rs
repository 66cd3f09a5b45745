//! How long stored complaints are kept: as long as the audit log (`[store] log_retention`, 400
//! days by default). [`run`] sweeps once at start and then once an hour, removing the older
//! ones with their dedup and index entries ([`crate::store::RateStore::complaints_expire`]) a
//! batch at a time, so the complaint store does not grow for ever. Complaint ids sort by time,
//! so "older" is an id range.
//!
//! A complaint about a message older than that is counted again if it is reported again; by
//! then the message's trace key and Message-ID index entry have long expired.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{RateStore, StoreError};

/// How often the sweep runs.
pub const INTERVAL: Duration = Duration::from_secs(3_600);

/// Complaints removed per store call.
const BATCH: usize = 500;

/// Removes every complaint received more than `retention` before `now` (unix ms); returns how
/// many went.
pub async fn sweep(store: &dyn RateStore, retention: Duration, now: u64) -> Result<usize, StoreError> {
    let retention_ms = u64::try_from(retention.as_millis()).unwrap_or(u64::MAX);
    let before = format!("{:013}", now.saturating_sub(retention_ms));
    let mut removed = 0;
    loop {
        let batch = store.complaints_expire(&before, BATCH).await?;
        removed += batch;
        if batch < BATCH {
            return Ok(removed);
        }
    }
}

/// Sweeps at start and every [`INTERVAL`] until `shutdown`. A store failure is logged and the
/// next round tries again.
pub async fn run(store: std::sync::Arc<dyn RateStore>, retention: Duration, mut shutdown: watch::Receiver<bool>) {
    loop {
        match sweep(store.as_ref(), retention, crate::queue::now_ms()).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "complaints past the retention removed"),
            Err(error) => tracing::warn!(%error, "removing complaints past the retention failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ComplaintPut, ComplaintScope, StoredComplaint};

    const DAY: u64 = 86_400_000;

    #[tokio::test]
    async fn complaints_past_the_retention_go_in_batches_and_younger_ones_stay() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::rocks::RocksStore::open(dir.path(), Duration::from_secs(400 * 86_400)).unwrap();
        let now: u64 = 1_800_000_000_000;
        // 1,200 old complaints (more than two batches) and 3 young ones.
        let complaint = |n: u64, at: u64| StoredComplaint {
            id: format!("{at:013}-c{n}"),
            dedup_key: format!("dedup-{n}"),
            tenant: n.is_multiple_of(2).then(|| "acme".to_string()),
            record: b"{}\n".to_vec(),
        };
        for n in 0..1_200 {
            let put = store.complaint_put(&complaint(n, now - 401 * DAY + n)).await.unwrap();
            assert_eq!(put, ComplaintPut::New);
        }
        for n in 1_200..1_203 {
            store.complaint_put(&complaint(n, now - 399 * DAY)).await.unwrap();
        }
        let removed = sweep(&store, Duration::from_secs(400 * 86_400), now).await.unwrap();
        assert_eq!(removed, 1_200);
        let left = store
            .complaints_list(ComplaintScope::All, "", "", 10_000)
            .await
            .unwrap();
        assert_eq!(left.len(), 3, "{left:?}");
        let acme = store
            .complaints_list(ComplaintScope::Tenant("acme"), "", "", 10_000)
            .await
            .unwrap();
        assert!(
            acme.iter().all(|c| c.id.ends_with("c1200") || c.id.ends_with("c1202")),
            "{acme:?}"
        );
        // The dedup entry went with it: the same complaint may be stored again.
        assert_eq!(
            store.complaint_put(&complaint(7, now)).await.unwrap(),
            ComplaintPut::New
        );
        assert_eq!(sweep(&store, Duration::from_secs(400 * 86_400), now).await.unwrap(), 0);
    }
}
