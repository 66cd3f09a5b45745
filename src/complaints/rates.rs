//! Complaint and hard-bounce rates (SocketLabs' "excessive complaints, failures", and the
//! default profile): over the last [`WINDOW`], complaints / recipients and hard bounces /
//! recipients, judged once the tenant relayed `[complaints.rates] min_recipients` in the window.
//!
//! Recipients and hard bounces are the relay's outcome counters (`complaints::outcomes`, over
//! its [`OUTCOME_WINDOW`]): recipients = delivered + hard bounce + expired. The counters are
//! bucketed (a 7-day read may include outcomes up to 2.8 h older, never fewer), so a rate may
//! read a little low, never high. Complaints are the exact count of `counts`.
//!
//! This module only measures and compares ([`measure`], [`crossings`]); acting on a crossing is
//! the ladder's job.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::events::LadderRule;
use super::outcomes::{tenant_figures, OUTCOME_WINDOW};
use crate::policy::complaint_rules::RateRules;
use crate::store::{RateStore, StoreError};

/// The window of the rates: the outcome counters' window.
pub const WINDOW: Duration = OUTCOME_WINDOW;

/// A tenant's figures over [`WINDOW`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RateFigures {
    pub window_seconds: u64,
    /// Recipients whose outcome the relay counted (delivered, hard-bounced or expired).
    pub recipients: u64,
    pub hard_bounces: u64,
    /// Attributed complaints (anonymous ones included).
    pub complaints: u64,
    /// `complaints / recipients` in percent (0 without recipients).
    pub complaint_percent: f64,
    /// `hard_bounces / recipients` in percent (0 without recipients).
    pub bounce_percent: f64,
}

/// Reads a tenant's figures at `now`.
pub async fn measure(store: &dyn RateStore, tenant: &str, now: u64) -> Result<RateFigures, StoreError> {
    let outcomes = tenant_figures(store, tenant, now).await?;
    let complaints = u64::from(super::counts::in_window(store, tenant, false, now, WINDOW).await?);
    let recipients = outcomes.recipients();
    let hard_bounces = outcomes.hard_bounced;
    let percent = |n: u64| {
        if recipients == 0 {
            0.0
        } else {
            n as f64 * 100.0 / recipients as f64
        }
    };
    Ok(RateFigures {
        window_seconds: WINDOW.as_secs(),
        recipients,
        hard_bounces,
        complaints,
        complaint_percent: percent(complaints),
        bounce_percent: percent(hard_bounces),
    })
}

/// Which band of a rate was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Band {
    Review,
    Suspend,
}

impl Band {
    pub fn as_str(self) -> &'static str {
        match self {
            Band::Review => "review",
            Band::Suspend => "suspend",
        }
    }
}

/// A rate at or above one of its bands.
#[derive(Clone, Debug, PartialEq)]
pub struct Crossing {
    /// [`LadderRule::ComplaintRate`] or [`LadderRule::BounceRate`].
    pub rule: LadderRule,
    /// The highest band reached.
    pub band: Band,
    pub percent: f64,
    pub threshold: f64,
}

/// The highest band each rate reached, if the volume is enough to judge.
pub fn crossings(figures: &RateFigures, rules: &RateRules) -> Vec<Crossing> {
    if !rules.enabled || figures.recipients < rules.min_recipients {
        return Vec::new();
    }
    let mut found = Vec::new();
    for (rule, percent, review, suspend) in [
        (
            LadderRule::ComplaintRate,
            figures.complaint_percent,
            rules.review_complaint_percent,
            rules.suspend_complaint_percent,
        ),
        (
            LadderRule::BounceRate,
            figures.bounce_percent,
            rules.review_bounce_percent,
            rules.suspend_bounce_percent,
        ),
    ] {
        let band = if percent >= suspend {
            Some((Band::Suspend, suspend))
        } else if percent >= review {
            Some((Band::Review, review))
        } else {
            None
        };
        if let Some((band, threshold)) = band {
            found.push(Crossing {
                rule,
                band,
                percent,
                threshold,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(recipients: u64, complaints: u64, hard_bounces: u64) -> RateFigures {
        let pct = |n: u64| n as f64 * 100.0 / recipients as f64;
        RateFigures {
            window_seconds: WINDOW.as_secs(),
            recipients,
            hard_bounces,
            complaints,
            complaint_percent: pct(complaints),
            bounce_percent: pct(hard_bounces),
        }
    }

    #[test]
    fn bands_at_their_numbers() {
        let rules = RateRules::default();
        // 1000 recipients: 0.1% = 1 complaint, 0.5% = 5; 5% = 50 bounces, 10% = 100.
        assert!(crossings(&figures(1000, 0, 49), &rules).is_empty());
        let review = crossings(&figures(1000, 1, 0), &rules);
        assert_eq!(review.len(), 1);
        assert_eq!(
            (review[0].rule, review[0].band),
            (LadderRule::ComplaintRate, Band::Review)
        );
        let at_four = crossings(&figures(1000, 4, 0), &rules);
        assert_eq!(at_four[0].band, Band::Review);
        let suspend = crossings(&figures(1000, 5, 100), &rules);
        assert_eq!(suspend.len(), 2);
        assert!(suspend.iter().all(|c| c.band == Band::Suspend));
        let bounce = crossings(&figures(1000, 0, 50), &rules);
        assert_eq!((bounce[0].rule, bounce[0].band), (LadderRule::BounceRate, Band::Review));
    }

    #[test]
    fn below_the_minimum_volume_nothing_is_judged() {
        let rules = RateRules::default();
        assert!(crossings(&figures(499, 499, 499), &rules).is_empty());
        assert_eq!(crossings(&figures(500, 3, 0), &rules)[0].band, Band::Suspend);
        let off = RateRules {
            enabled: false,
            ..RateRules::default()
        };
        assert!(crossings(&figures(10_000, 5_000, 0), &off).is_empty());
    }
}
