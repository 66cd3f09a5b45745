//! Delivery outcomes per tenant and campaign: what the relay learnt of each recipient of a
//! tenant's mail, counted in the store's windowed counters over [`OUTCOME_WINDOW`], so a
//! bounce-rate ladder, the usage API and the dashboard read the same figures.
//!
//! - [`Outcome::Delivered`]: the next hop accepted the recipient (`2xx`).
//! - [`Outcome::HardBounce`]: the next hop refused the address permanently (`5xx` with a
//!   bad-address status, `5.1.x` or `5.2.1`: what also suppresses it) — counted once, when the
//!   recipient fails.
//! - [`Outcome::Failed`]: any other permanent failure: the gateway's own (no next hop for the
//!   domain, a next hop that lacks what the message needs) or the next hop's for another reason
//!   (e.g. `5.7.1` policy). Counted apart, in neither the recipients nor the bounce rate: the
//!   gateway's own failures say nothing of the tenant's list.
//! - [`Outcome::Expired`]: the recipient was still deferred when the queue gave up
//!   (`[queue] max_age`): a failure, but not one the receiver declared permanent.
//! - [`Outcome::Deferred`]: a temporary failure (`4xx`, an unreachable next hop), counted once
//!   per attempt: a recipient tried three times before delivery counts three deferrals and one
//!   delivery.
//!
//! Every recipient ends as exactly one of delivered, hard bounce, expired or failed; the first three are the
//! **recipients** of the window, and the hard-bounce rate is `hard_bounced / recipients`.
//!
//! The keys come from [`outcome_key`] and [`campaign_outcome_key`] only: a reader (the rate
//! ladder, the usage view) calls them with [`OUTCOME_WINDOW`] and never spells a key. The
//! counters are the store's bucketed windows: a read over 7 days may include events up to
//! `7 d / 60` (2.8 h) older than the window, never fewer than the window holds
//! (`store::window`).
//!
//! The gateway's own mail (DSNs, notices: `QueueEntry::own`) is never counted. What DSNs go back
//! to the tenant does not depend on this module.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::model::DeliveryWatcher;
use super::TraceKeys;
use crate::store::key::Key;
use crate::store::{RateStore, StoreError};

/// The window every outcome counter is kept and read over: 7 days.
pub const OUTCOME_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// What happened to one recipient of a tenant's message (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    HardBounce,
    Expired,
    Deferred,
    Failed,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Delivered,
        Outcome::HardBounce,
        Outcome::Expired,
        Outcome::Deferred,
        Outcome::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::HardBounce => "hard_bounce",
            Outcome::Expired => "expired",
            Outcome::Deferred => "deferred",
            Outcome::Failed => "failed",
        }
    }
}

/// The store key of a tenant's count of `outcome` (over [`OUTCOME_WINDOW`]).
pub fn outcome_key(tenant: &str, outcome: Outcome) -> Key {
    Key::new("outcome", tenant).part(outcome.as_str())
}

/// The store key of one campaign's count of `outcome` (over [`OUTCOME_WINDOW`]); `-` is the
/// campaign of mail whose campaign is not known.
pub fn campaign_outcome_key(tenant: &str, campaign: &str, outcome: Outcome) -> Key {
    Key::new("outcome.campaign", tenant)
        .part(campaign)
        .part(outcome.as_str())
}

/// A tenant's (or a campaign's) outcomes over [`OUTCOME_WINDOW`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutcomeFigures {
    pub delivered: u64,
    pub hard_bounced: u64,
    pub expired: u64,
    /// Temporary failures, one per recipient and attempt.
    pub deferred: u64,
    /// Permanent failures that are no hard bounce (ours, or the next hop's for another reason
    /// than a bad address): not among the recipients.
    #[serde(default)]
    pub failed: u64,
}

impl OutcomeFigures {
    /// Recipients that reached a final outcome: delivered + hard bounced + expired.
    pub fn recipients(&self) -> u64 {
        self.delivered
            .saturating_add(self.hard_bounced)
            .saturating_add(self.expired)
    }

    /// `hard_bounced / recipients` in percent, rounded to 0.01; 0 without recipients.
    pub fn hard_bounce_percent(&self) -> f64 {
        match self.recipients() {
            0 => 0.0,
            n => (self.hard_bounced as f64 * 10_000.0 / n as f64).round() / 100.0,
        }
    }

    fn set(&mut self, outcome: Outcome, n: u64) {
        match outcome {
            Outcome::Delivered => self.delivered = n,
            Outcome::HardBounce => self.hard_bounced = n,
            Outcome::Expired => self.expired = n,
            Outcome::Deferred => self.deferred = n,
            Outcome::Failed => self.failed = n,
        }
    }
}

/// A tenant's outcomes over [`OUTCOME_WINDOW`] at `now`.
pub async fn tenant_figures(store: &dyn RateStore, tenant: &str, now: u64) -> Result<OutcomeFigures, StoreError> {
    let mut figures = OutcomeFigures::default();
    for outcome in Outcome::ALL {
        let n = store
            .counter_get(&outcome_key(tenant, outcome), now, OUTCOME_WINDOW)
            .await?;
        figures.set(outcome, n);
    }
    Ok(figures)
}

/// One campaign's outcomes over [`OUTCOME_WINDOW`] at `now`.
pub async fn campaign_figures(
    store: &dyn RateStore,
    tenant: &str,
    campaign: &str,
    now: u64,
) -> Result<OutcomeFigures, StoreError> {
    let mut figures = OutcomeFigures::default();
    for outcome in Outcome::ALL {
        let key = campaign_outcome_key(tenant, campaign, outcome);
        figures.set(outcome, store.counter_get(&key, now, OUTCOME_WINDOW).await?);
    }
    Ok(figures)
}

/// Counts the relay's outcomes: one attempt's outcomes of one message at a time, then tells the
/// watcher (a rate ladder) once per message.
pub struct OutcomeCounter {
    store: Arc<dyn RateStore>,
    /// To read the campaign from the message's verified trace header.
    keys: TraceKeys,
    watcher: Option<Arc<dyn DeliveryWatcher>>,
}

impl OutcomeCounter {
    pub fn new(store: Arc<dyn RateStore>, keys: TraceKeys) -> OutcomeCounter {
        OutcomeCounter {
            store,
            keys,
            watcher: None,
        }
    }

    /// Told after each message's outcomes are counted.
    pub fn with_watcher(mut self, watcher: Arc<dyn DeliveryWatcher>) -> OutcomeCounter {
        self.watcher = Some(watcher);
        self
    }

    /// The campaign the gateway named in the trace fields it put on the message (`trace`: the
    /// queue entry's prefix, written by the gateway only), or `-`.
    pub fn campaign_of(&self, tenant: &str, trace: &str) -> String {
        super::attribution::trace_values(trace)
            .filter_map(|value| self.keys.verify(value))
            .find(|attribution| attribution.tenant == tenant)
            .map(|attribution| attribution.campaign)
            .unwrap_or_else(|| "-".to_string())
    }

    /// Counts `outcomes` (one per recipient) of a message of `tenant` in `campaign` at `now`,
    /// then tells the watcher. A store failure is logged: the delivery already happened, and
    /// losing a count must never hold up or repeat one.
    pub async fn count(&self, tenant: &str, campaign: &str, outcomes: &[Outcome], now: u64) {
        if outcomes.is_empty() {
            return;
        }
        let mut charges: Vec<(Key, u64, Duration)> = Vec::new();
        for outcome in Outcome::ALL {
            let n = outcomes.iter().filter(|o| **o == outcome).count() as u64;
            if n > 0 {
                charges.push((outcome_key(tenant, outcome), n, OUTCOME_WINDOW));
                charges.push((campaign_outcome_key(tenant, campaign, outcome), n, OUTCOME_WINDOW));
            }
        }
        if let Err(error) = self.store.counter_add_many(&charges, now).await {
            tracing::error!(tenant, %error, "counting delivery outcomes failed");
            return;
        }
        if let Some(watcher) = &self.watcher {
            if let Err(error) = watcher.outcome_counted(tenant).await {
                tracing::error!(tenant, %error, "the delivery watcher failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::complaints::attribution::{Attribution, Attributor};
    use crate::complaints::model::ComplaintFut;
    use crate::config::{FeedbackConfig, TraceKeyConfig};

    /// Records the tenants it was told about.
    #[derive(Default)]
    struct Watcher(std::sync::Mutex<Vec<String>>);

    impl DeliveryWatcher for Watcher {
        fn outcome_counted<'a>(&'a self, tenant: &'a str) -> ComplaintFut<'a, ()> {
            self.0.lock().unwrap().push(tenant.to_string());
            Box::pin(std::future::ready(Ok(())))
        }
    }

    fn keys() -> TraceKeys {
        TraceKeys::from_config(&[TraceKeyConfig {
            id: "k1".into(),
            secret: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [5u8; 32]),
        }])
        .unwrap()
    }

    #[tokio::test]
    async fn counts_are_exact_and_the_watcher_is_told_once_per_message() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn RateStore> = Arc::new(
            crate::store::rocks::RocksStore::open(&dir.path().join("store"), Duration::from_secs(86_400)).unwrap(),
        );
        let watcher = Arc::new(Watcher::default());
        let counter = OutcomeCounter::new(store.clone(), keys()).with_watcher(watcher.clone());
        let now = 1_800_000_000_000;
        use Outcome::*;
        counter
            .count("acme", "c1", &[Delivered, Delivered, HardBounce, Deferred], now)
            .await;
        counter.count("acme", "c2", &[Expired], now + 1000).await;
        counter.count("acme", "c2", &[], now + 2000).await;
        let figures = tenant_figures(store.as_ref(), "acme", now + 3000).await.unwrap();
        assert_eq!(
            figures,
            OutcomeFigures {
                delivered: 2,
                hard_bounced: 1,
                expired: 1,
                deferred: 1,
                failed: 0,
            }
        );
        let c1 = campaign_figures(store.as_ref(), "acme", "c1", now + 3000)
            .await
            .unwrap();
        assert_eq!((c1.delivered, c1.hard_bounced, c1.expired), (2, 1, 0));
        assert_eq!(*watcher.0.lock().unwrap(), ["acme", "acme"]);
        // A week later, nothing is left (the bucket bound: at most 7 d / 60 more).
        let later = now + OUTCOME_WINDOW.as_millis() as u64 + OUTCOME_WINDOW.as_millis() as u64 / 60 + 1;
        assert_eq!(
            tenant_figures(store.as_ref(), "acme", later).await.unwrap(),
            OutcomeFigures::default()
        );
    }

    #[test]
    fn the_campaign_is_read_from_the_gateways_verified_trace_header() {
        let attributor = Attributor::new(FeedbackConfig::default(), keys());
        let attribution = Attribution {
            tenant: "acme".into(),
            campaign: "00ab12cd34ef5678".into(),
            queue_id: "Q1".into(),
        };
        let fields = attributor.fields(&attribution, "default", |_| false);
        let trace = format!("DKIM-Signature: v=1\r\n{fields}Received: from x\r\n");
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn RateStore> = Arc::new(
            crate::store::rocks::RocksStore::open(&dir.path().join("store"), Duration::from_secs(86_400)).unwrap(),
        );
        let counter = OutcomeCounter::new(store, keys());
        assert_eq!(counter.campaign_of("acme", &trace), "00ab12cd34ef5678");
        // Another tenant's header, or none, names no campaign.
        assert_eq!(counter.campaign_of("other", &trace), "-");
        assert_eq!(counter.campaign_of("acme", "Received: from x\r\n"), "-");
    }

    #[test]
    fn keys_are_apart_per_tenant_outcome_and_campaign() {
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for tenant in ["a", "b"] {
            for outcome in Outcome::ALL {
                keys.push(outcome_key(tenant, outcome).as_bytes().to_vec());
                for campaign in ["-", "c1"] {
                    keys.push(campaign_outcome_key(tenant, campaign, outcome).as_bytes().to_vec());
                }
            }
        }
        let count = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }

    #[test]
    fn the_rate_is_over_final_outcomes() {
        let figures = OutcomeFigures {
            delivered: 7,
            hard_bounced: 2,
            expired: 1,
            deferred: 40,
            failed: 3,
        };
        assert_eq!(figures.recipients(), 10);
        assert_eq!(figures.hard_bounce_percent(), 20.0);
        let third = OutcomeFigures {
            delivered: 2,
            hard_bounced: 1,
            ..OutcomeFigures::default()
        };
        assert_eq!(third.hard_bounce_percent(), 33.33);
        assert_eq!(OutcomeFigures::default().hard_bounce_percent(), 0.0);
    }
}
