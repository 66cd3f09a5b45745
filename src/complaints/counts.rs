//! A tenant's complaint counts: exact sliding windows (the store's event logs keep every
//! timestamp, so "2 in one 24-hour period" or "3 in any 72 hours" is exact), and one count per
//! calendar month (UTC) for a per-complaint fee. The keys are spelled here only.
//!
//! - `complaints` (every attributed complaint) and `complaints.signed` (those with a reporter:
//!   what a profile that ignores anonymous complaints counts), kept [`RETAINED`] and capped at
//!   [`MAX_CAP`](crate::store::MAX_CAP) timestamps: past 10,000 complaints in 90 days the count
//!   stays at 10,000, far above every threshold;
//! - `complaints.month` + `YYYY-MM`: a counter written only within its month and read over
//!   [`MONTHS_KEPT`], so its total is exact for 13 months;
//! - `complaints.seen` + hash of the report's dedup key: the ladders' "effects done" marker
//!   ([`is_done`], [`mark_done`]), written only once every effect of the complaint succeeded;
//! - `complaints.counted` + hash + which count: each count's own marker, written right after
//!   that count, so a complaint retried after a store failure counts once in each. The stores
//!   have no transaction across two keys: when a marker cannot be written after its count, the
//!   count is taken back (`events_release`; the month counter cannot be, it is written last);
//!   only a crash between a count and its marker can count one complaint twice.

use std::time::Duration;

use crate::policy::complaint_rules::RETAINED_DAYS;
use crate::store::{Key, RateStore, StoreError, MAX_CAP};

/// How long complaint timestamps are kept (the longest window a threshold may count).
pub const RETAINED: Duration = Duration::from_secs(RETAINED_DAYS * 86_400);
/// How long a month's count stays readable.
pub const MONTHS_KEPT: Duration = Duration::from_secs(400 * 86_400);

/// The log of every attributed complaint of `tenant`.
pub fn all_key(tenant: &str) -> Key {
    Key::new("complaints", tenant)
}

/// The log of the complaints of `tenant` with an identifiable reporter.
pub fn signed_key(tenant: &str) -> Key {
    Key::new("complaints.signed", tenant)
}

/// The count of `tenant`'s complaints in `month` (`YYYY-MM`).
pub fn month_key(tenant: &str, month: &str) -> Key {
    Key::new("complaints.month", tenant).part(month)
}

fn seen_key(tenant: &str, dedup_key: &str) -> Key {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, dedup_key.as_bytes());
    Key::new("complaints.seen", tenant).part(digest.as_ref())
}

fn counted_key(tenant: &str, dedup_key: &str, which: &str) -> Key {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, dedup_key.as_bytes());
    Key::new("complaints.counted", tenant).part(digest.as_ref()).part(which)
}

/// Whether every effect of this complaint (by its dedup key) was applied, read at `now`.
pub async fn is_done(store: &dyn RateStore, tenant: &str, dedup_key: &str, now: u64) -> Result<bool, StoreError> {
    Ok(store
        .events_count(&seen_key(tenant, dedup_key), now, MONTHS_KEPT)
        .await?
        > 0)
}

/// Records that every effect of this complaint was applied (at `now`).
pub async fn mark_done(store: &dyn RateStore, tenant: &str, dedup_key: &str, now: u64) -> Result<(), StoreError> {
    store
        .events_check_and_add(&seen_key(tenant, dedup_key), now, MONTHS_KEPT, 1)
        .await?;
    Ok(())
}

/// `YYYY-MM` (UTC) of a unix-ms time.
pub fn month_of(at_ms: u64) -> String {
    let day = crate::smtp::trace::yyyymmdd(at_ms / 1000);
    format!("{}-{}", &day[..4], &day[4..6])
}

/// The month before `month` (`YYYY-MM`).
pub fn previous_month(month: &str) -> Option<String> {
    let (year, month) = month.split_once('-')?;
    let (year, month): (u32, u32) = (year.parse().ok()?, month.parse().ok()?);
    Some(match month {
        1 => format!("{:04}-12", year.checked_sub(1)?),
        m => format!("{year:04}-{:02}", m - 1),
    })
}

/// Counts one complaint of `tenant` received at `at`, each count once per complaint (by its
/// dedup key): a retry after a failure counts only what was not counted yet.
pub async fn record(
    store: &dyn RateStore,
    tenant: &str,
    dedup_key: &str,
    signed: bool,
    at: u64,
) -> Result<(), StoreError> {
    let mut logs = vec![("all", all_key(tenant))];
    if signed {
        logs.push(("signed", signed_key(tenant)));
    }
    for (which, log) in logs {
        let marker = counted_key(tenant, dedup_key, which);
        if store.events_count(&marker, at, MONTHS_KEPT).await? > 0 {
            continue;
        }
        store.events_check_and_add(&log, at, RETAINED, MAX_CAP).await?;
        if let Err(error) = store.events_check_and_add(&marker, at, MONTHS_KEPT, 1).await {
            // Take the count back so that the retry counts it once; if that fails too, a
            // retry counts it twice (logged).
            if let Err(undo) = store.events_release(&log, at, RETAINED).await {
                tracing::error!(tenant, %undo, "a complaint count could not be taken back: a retry may count it twice");
            }
            return Err(error);
        }
    }
    let marker = counted_key(tenant, dedup_key, "month");
    if store.events_count(&marker, at, MONTHS_KEPT).await? == 0 {
        store
            .counter_add(&month_key(tenant, &month_of(at)), 1, at, MONTHS_KEPT)
            .await?;
        store.events_check_and_add(&marker, at, MONTHS_KEPT, 1).await?;
    }
    Ok(())
}

/// Complaints of `tenant` received in `(now - window, now]` (only signed ones with
/// `signed_only`); a window longer than [`RETAINED`] counts over [`RETAINED`].
pub async fn in_window(
    store: &dyn RateStore,
    tenant: &str,
    signed_only: bool,
    now: u64,
    window: Duration,
) -> Result<u32, StoreError> {
    let key = if signed_only {
        signed_key(tenant)
    } else {
        all_key(tenant)
    };
    let window = window.min(RETAINED).max(Duration::from_millis(1));
    store.events_count(&key, now, window).await
}

/// Complaints of `tenant` in `month` (`YYYY-MM`), read at `now`.
pub async fn in_month(store: &dyn RateStore, tenant: &str, month: &str, now: u64) -> Result<u64, StoreError> {
    store.counter_get(&month_key(tenant, month), now, MONTHS_KEPT).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_utc_calendar_months() {
        // 2026-12-06T07:40:00Z and the last millisecond of 2026-11.
        assert_eq!(month_of(1_796_542_800_000), "2026-12");
        assert_eq!(month_of(1_796_083_200_000 - 1), "2026-11");
        assert_eq!(month_of(1_796_083_200_000), "2026-12");
        assert_eq!(previous_month("2026-12").as_deref(), Some("2026-11"));
        assert_eq!(previous_month("2027-01").as_deref(), Some("2026-12"));
        assert_eq!(previous_month("junk"), None);
    }
}
