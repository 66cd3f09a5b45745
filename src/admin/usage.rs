//! The usage of one tenant: how close it is to each limit of its effective profile, read from
//! the store the checks charge, at one instant (`taken_at`).
//!
//! - each quota of [`QUOTAS`] the profile turns on: `used`, `limit`, `window`, `resets_at` (when
//!   enough of the window slides out for the next message — or recipient — to fit; `taken_at`
//!   when it fits now) and `empties_at` (when the count is back to zero), with the store's own
//!   bucket arithmetic (`RateStore::counter_window`), so the time is the one a refusal names;
//! - the campaigns with the most distinct recipients against the bulk limit;
//! - the recipients (and destination domains) nearest the mail-bomb limits;
//! - the relay's outcomes over 7 days: delivered, hard bounced, expired, deferred, the
//!   hard-bounce rate (keys and window from `complaints::outcomes`).
//!
//! The keys are built by the checks that charge them (`policy::usage_keys`); this module never
//! spells a key. It only reads: it must never charge, release or write anything.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Principal;
use super::{AdminState, ApiResult};
use crate::policy::profile::Profile;
use crate::policy::{usage_keys, Counts, QUOTAS};
use crate::store::key::decode_parts;
use crate::store::{RateStore, StoreError};

/// How many campaigns and recipients the view lists, nearest their limit first.
pub const TOP: usize = 10;

/// A tenant's usage, as `GET /api/v1/tenants/{tenant}/usage` answers it. Times are unix ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Usage {
    pub tenant: String,
    /// The profile the figures are measured against (with the tenant's overrides applied).
    pub profile: String,
    /// When the figures were read (unix ms).
    pub taken_at: u64,
    /// The quotas the profile turns on (a limit of 0 is off and not listed).
    pub quotas: Vec<QuotaUsage>,
    /// The bulk rule, when the profile enables it.
    pub bulk: Option<BulkUsage>,
    /// The mail-bomb rules, when the profile enables them.
    pub mail_bomb: Option<MailBombUsage>,
    /// What became of the tenant's recipients over the last 7 days (bounce rate).
    #[serde(default)]
    pub deliveries: DeliveryUsage,
}

/// The relay's outcomes for the tenant's recipients over `window_seconds`
/// (`complaints::outcomes`; the gateway's own mail is not counted).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeliveryUsage {
    pub window_seconds: u64,
    pub delivered: u64,
    /// Hard bounces: the next hop's permanent refusal of the address (`5.1.x` and the like).
    pub hard_bounced: u64,
    /// Given up after `[queue] max_age` while still deferred.
    pub expired: u64,
    /// Temporary failures, one per recipient and attempt.
    pub deferred: u64,
    /// Other permanent failures: the gateway's own (no next hop for the domain, a next hop that
    /// lacks what the message needs) or a next hop's for another reason than the address (e.g.
    /// `5.7.1` policy). Counted apart: in neither `recipients` nor the bounce rate.
    #[serde(default)]
    pub failed: u64,
    /// Recipients with a final outcome: delivered + hard bounced + expired.
    pub recipients: u64,
    /// `hard_bounced / recipients` in percent (0.01 steps).
    pub hard_bounce_percent: f64,
}

async fn deliveries(store: &dyn RateStore, tenant: &str, now: u64) -> Result<DeliveryUsage, StoreError> {
    use crate::complaints::outcomes::{tenant_figures, OUTCOME_WINDOW};
    let figures = tenant_figures(store, tenant, now).await?;
    Ok(DeliveryUsage {
        window_seconds: OUTCOME_WINDOW.as_secs(),
        delivered: figures.delivered,
        hard_bounced: figures.hard_bounced,
        expired: figures.expired,
        deferred: figures.deferred,
        failed: figures.failed,
        recipients: figures.recipients(),
        hard_bounce_percent: figures.hard_bounce_percent(),
    })
}

/// One windowed quota.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuotaUsage {
    /// The rule a refusal names, e.g. `quota.messages_per_hour`.
    pub rule: String,
    /// `messages` or `recipients`.
    pub counts: String,
    pub used: u64,
    pub limit: u64,
    /// The window in seconds.
    pub window_seconds: u64,
    /// `used / limit` in percent (may exceed 100 when concurrent sessions overshot).
    pub percent: f64,
    /// When one more message (recipient) fits: `taken_at` when it fits now (unix ms).
    pub resets_at: u64,
    /// When everything counted now has left the window: `taken_at` when nothing is counted.
    pub empties_at: u64,
}

/// Campaigns against the bulk limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BulkUsage {
    /// Distinct recipients of one campaign allowed in the window.
    pub limit: u64,
    pub window_seconds: u64,
    /// Whether the tenant is a registered bulk sender (exempt with a working unsubscribe).
    pub registered_sender: bool,
    /// The live campaigns with the most distinct recipients (at most [`TOP`]), most first.
    pub campaigns: Vec<CampaignUsage>,
}

/// One campaign's distinct recipients in the bulk window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CampaignUsage {
    pub campaign: String,
    pub recipients: u64,
    pub percent: f64,
}

/// Recipients and destination domains against the mail-bomb limits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MailBombUsage {
    /// Similar messages to one recipient allowed in the window.
    pub limit: u64,
    pub window_seconds: u64,
    /// The recipients nearest the limit (at most [`TOP`]), nearest first.
    pub recipients: Vec<TargetUsage>,
    /// Copies to one destination domain allowed in the window (0: off).
    pub domain_limit: u64,
    /// The destination domains nearest `domain_limit` (empty when it is off).
    pub domains: Vec<TargetUsage>,
}

/// Copies of one campaign to one recipient (or domain) in the mail-bomb window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TargetUsage {
    pub campaign: String,
    /// The recipient's counting identity, or the domain.
    pub target: String,
    pub messages: u64,
    pub percent: f64,
}

fn percent(used: u64, limit: u64) -> f64 {
    if limit == 0 {
        return 0.0;
    }
    (used as f64 * 1000.0 / limit as f64).round() / 10.0
}

fn ms(window: Duration) -> u64 {
    u64::try_from(window.as_millis()).unwrap_or(u64::MAX)
}

/// Reads the usage of `tenant` under `profile` at `now` (unix ms).
pub async fn read(store: &dyn RateStore, tenant: &str, profile: &Profile, now: u64) -> Result<Usage, StoreError> {
    let mut quotas = Vec::new();
    for quota in &QUOTAS {
        let limit = (quota.limit)(&profile.quotas);
        if limit == 0 {
            continue;
        }
        let key = crate::store::Key::new(quota.kind, tenant);
        let window = store.counter_window(&key, now, quota.window).await?;
        let w = ms(quota.window);
        let used = window.total();
        quotas.push(QuotaUsage {
            rule: quota.rule.as_str().to_owned(),
            counts: match quota.counts {
                Counts::Messages => "messages",
                Counts::Recipients => "recipients",
            }
            .to_owned(),
            used,
            limit,
            window_seconds: quota.window.as_secs(),
            percent: percent(used, limit),
            // One more always fits some time (limit >= 1), so `None` cannot occur; the window's
            // end is the honest bound if it did.
            resets_at: now.saturating_add(window.fits_in(1, limit, now, w).unwrap_or(w)),
            empties_at: now.saturating_add(window.empties_in(now, w)),
        });
    }
    Ok(Usage {
        tenant: tenant.to_owned(),
        profile: profile.profile.name.clone(),
        taken_at: now,
        quotas,
        bulk: bulk(store, tenant, profile, now).await?,
        mail_bomb: mail_bomb(store, tenant, profile, now).await?,
        deliveries: deliveries(store, tenant, now).await?,
    })
}

async fn bulk(
    store: &dyn RateStore,
    tenant: &str,
    profile: &Profile,
    now: u64,
) -> Result<Option<BulkUsage>, StoreError> {
    let rule = &profile.bulk;
    if !rule.enabled {
        return Ok(None);
    }
    let window = rule.window.get();
    let mut campaigns = Vec::new();
    for campaign in store.campaigns_live(tenant, now).await? {
        let recipients = u64::from(
            store
                .set_count(&usage_keys::campaign_key(tenant, &campaign), now, window)
                .await?,
        );
        if recipients > 0 {
            campaigns.push(CampaignUsage {
                campaign,
                recipients,
                percent: percent(recipients, rule.max_recipients),
            });
        }
    }
    campaigns.sort_by(|a, b| {
        b.recipients
            .cmp(&a.recipients)
            .then_with(|| a.campaign.cmp(&b.campaign))
    });
    campaigns.truncate(TOP);
    Ok(Some(BulkUsage {
        limit: rule.max_recipients,
        window_seconds: window.as_secs(),
        registered_sender: rule.registered_senders.iter().any(|t| t == tenant),
        campaigns,
    }))
}

async fn mail_bomb(
    store: &dyn RateStore,
    tenant: &str,
    profile: &Profile,
    now: u64,
) -> Result<Option<MailBombUsage>, StoreError> {
    let rule = &profile.mail_bomb;
    if !rule.enabled {
        return Ok(None);
    }
    let window = rule.window.get();
    let recipients = nearest(
        store,
        &usage_keys::recipients_prefix(tenant),
        now,
        window,
        rule.max_messages,
    )
    .await?;
    let domains = if rule.max_messages_per_domain > 0 {
        nearest(
            store,
            &usage_keys::domains_prefix(tenant),
            now,
            window,
            rule.max_messages_per_domain,
        )
        .await?
    } else {
        Vec::new()
    };
    Ok(Some(MailBombUsage {
        limit: rule.max_messages,
        window_seconds: window.as_secs(),
        recipients,
        domain_limit: rule.max_messages_per_domain,
        domains,
    }))
}

/// The (campaign, target) logs under `prefix` with the most occurrences, at most [`TOP`].
async fn nearest(
    store: &dyn RateStore,
    prefix: &crate::store::Key,
    now: u64,
    window: Duration,
    limit: u64,
) -> Result<Vec<TargetUsage>, StoreError> {
    let mut found = Vec::new();
    for (rest, count) in store.events_counts_under(prefix, now, window).await? {
        let Some([campaign, target]) = decode_parts(&rest).and_then(|parts| <[Vec<u8>; 2]>::try_from(parts).ok())
        else {
            return Err(StoreError::corrupt("mail-bomb log", "key is not (campaign, target)"));
        };
        found.push(TargetUsage {
            campaign: String::from_utf8_lossy(&campaign).into_owned(),
            target: String::from_utf8_lossy(&target).into_owned(),
            messages: u64::from(count),
            percent: percent(u64::from(count), limit),
        });
    }
    found.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| (&a.target, &a.campaign).cmp(&(&b.target, &b.campaign)))
    });
    found.truncate(TOP);
    Ok(found)
}

/// `GET /api/v1/tenants/{tenant}/usage`: the tenant's usage now.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/usage",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Usage of each limit", body = Usage),
        (status = 404, description = "No such tenant (or not yours)", body = super::api::ApiError),
        (status = 503, description = "Store unavailable", body = super::api::ApiError),
    ),
    tag = "usage"
)]
pub async fn get(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
) -> ApiResult<Usage> {
    principal.tenant(&tenant)?;
    let Some(found) = state.tenants.get(&tenant) else {
        return Err(super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`")));
    };
    let profile = state.engine.profile_for(&found);
    let now = crate::queue::now_ms();
    read(state.store.as_ref(), &tenant, &profile, now)
        .await
        .map(Json)
        .map_err(super::internal)
}
