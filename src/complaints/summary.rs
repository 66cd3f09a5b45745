//! A tenant's complaint figures as the API shows them (`GET
//! /api/v1/tenants/{tenant}/complaints/summary`): exact counts in the windows the presets use,
//! the count per calendar month (Integra's per-complaint fee), the rates against the profile's
//! bands, and the open cases. Only reads.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cases::{self, Case, OPEN_LOOKBACK};
use super::counts;
use super::rates::{self, RateFigures};
use crate::policy::complaint_rules::ComplaintRules;
use crate::store::{RateStore, StoreError};

/// The windows the summary counts in (seconds): 24 h, 72 h, 7 d, 30 d.
pub const WINDOWS: [u64; 4] = [86_400, 3 * 86_400, 7 * 86_400, 30 * 86_400];
/// Months listed, the current one first.
pub const MONTHS: usize = 12;

/// A tenant's complaint figures at `taken_at` (unix ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ComplaintSummary {
    pub tenant: String,
    pub taken_at: u64,
    /// Complaints in each window of [`WINDOWS`], exact.
    pub windows: Vec<WindowCount>,
    /// Complaints per calendar month (UTC), the current month first.
    pub months: Vec<MonthCount>,
    /// The last 7 days' rates, and the profile's bands (`None` when the profile judges no rates).
    pub rates: Option<RateSummary>,
    /// Cases still open (opened within the last year), oldest first.
    pub open_cases: Vec<Case>,
}

/// Complaints within one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WindowCount {
    pub window_seconds: u64,
    pub complaints: u32,
    /// Of them, those with an identifiable reporter.
    pub signed: u32,
}

/// Complaints in one month.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MonthCount {
    /// `YYYY-MM`.
    pub month: String,
    pub complaints: u64,
}

/// The rates and the bands they are judged against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RateSummary {
    pub figures: RateFigures,
    pub min_recipients: u64,
    pub review_complaint_percent: f64,
    pub suspend_complaint_percent: f64,
    pub review_bounce_percent: f64,
    pub suspend_bounce_percent: f64,
}

/// Reads the summary of `tenant` judged by `rules` at `now`.
pub async fn summarize(
    store: &dyn RateStore,
    tenant: &str,
    rules: &ComplaintRules,
    now: u64,
) -> Result<ComplaintSummary, StoreError> {
    let mut windows = Vec::with_capacity(WINDOWS.len());
    for secs in WINDOWS {
        let window = Duration::from_secs(secs);
        windows.push(WindowCount {
            window_seconds: secs,
            complaints: counts::in_window(store, tenant, false, now, window).await?,
            signed: counts::in_window(store, tenant, true, now, window).await?,
        });
    }
    let mut months = Vec::with_capacity(MONTHS);
    let mut month = Some(counts::month_of(now));
    while let Some(current) = month.filter(|_| months.len() < MONTHS) {
        months.push(MonthCount {
            complaints: counts::in_month(store, tenant, &current, now).await?,
            month: current.clone(),
        });
        month = counts::previous_month(&current);
    }
    let rates = if rules.rates.enabled {
        Some(RateSummary {
            figures: rates::measure(store, tenant, now).await?,
            min_recipients: rules.rates.min_recipients,
            review_complaint_percent: rules.rates.review_complaint_percent,
            suspend_complaint_percent: rules.rates.suspend_complaint_percent,
            review_bounce_percent: rules.rates.review_bounce_percent,
            suspend_bounce_percent: rules.rates.suspend_bounce_percent,
        })
    } else {
        None
    };
    let from = now.saturating_sub(OPEN_LOOKBACK.as_millis() as u64);
    let open_cases = cases::cases(store, tenant, from, now)
        .await?
        .into_iter()
        .filter(Case::is_open)
        .collect();
    Ok(ComplaintSummary {
        tenant: tenant.to_string(),
        taken_at: now,
        windows,
        months,
        rates,
        open_cases,
    })
}
