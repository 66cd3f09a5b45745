//! The checks, one file per rule (the two quota checks and the three block checks each share
//! theirs). A check imports what a check is from `policy::stage` (the trait, the stages, `Env`,
//! the facts the DATA checks share) and never the engine; which checks run, in which order and
//! under which rule id is the profile's table of sections (`profile::sections!`), which only the
//! engine expands.

mod attachments;
mod blocked;
mod bulk;
mod header_integrity;
mod mail_bomb;
mod mail_bomb_domain;
mod quota;
mod sender_domain;
mod sms_gateway;
mod suppressed;
mod tenant_state;

pub use attachments::LetterBomb;
pub use blocked::{BlockedCampaign, BlockedOriginator, BlockedSender};
pub use bulk::Bulk;
pub use header_integrity::HeaderIntegrity;
pub use mail_bomb::MailBomb;
pub use mail_bomb_domain::MailBombDomain;
pub use quota::{Counts, MessageQuota, Quota, RecipientQuota, QUOTAS};

/// The store keys the usage view reads, built by the checks that charge them.
pub mod usage_keys {
    pub use super::bulk::campaign_key;
    pub use super::mail_bomb::recipients_prefix;
    pub use super::mail_bomb_domain::domains_prefix;
}
pub use sender_domain::SenderDomain;
pub use sms_gateway::SmsGateway;
pub use suppressed::{is_bulk_mail, Suppressed};
pub use tenant_state::TenantState;

use super::{CheckError, Verdict};

pub(super) fn ready<'a>(result: Result<Verdict, CheckError>) -> super::stage::CheckFuture<'a> {
    Box::pin(std::future::ready(result))
}

/// `"; try again in 12 min"` or `"; try again in 1 h 5 min"`: the wait, rounded up to the minute
/// (the usage view's `resets_at` is the same moment).
pub(super) fn retry_hint(retry_after_ms: Option<u64>) -> String {
    let Some(ms) = retry_after_ms else {
        return String::new();
    };
    let minutes = ms.div_ceil(60_000).max(1);
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("; try again in {m} min"),
        (h, 0) => format!("; try again in {h} h"),
        (h, m) => format!("; try again in {h} h {m} min"),
    }
}

/// `"24 h"` or `"30 min"`: a window as the refusals name it.
fn window_text(window: std::time::Duration) -> String {
    let secs = window.as_secs();
    if secs.is_multiple_of(3_600) {
        format!("{} h", secs / 3_600)
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

/// A profile limit as a store cap.
fn cap(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod retry_hint_tests {
    use super::retry_hint;

    #[test]
    fn the_wait_is_rounded_up_to_the_minute_not_to_the_hour() {
        assert_eq!(retry_hint(None), "");
        assert_eq!(retry_hint(Some(1)), "; try again in 1 min");
        assert_eq!(retry_hint(Some(59 * 60_000 + 1)), "; try again in 1 h");
        assert_eq!(retry_hint(Some(61 * 60_000)), "; try again in 1 h 1 min");
        assert_eq!(retry_hint(Some(120 * 60_000)), "; try again in 2 h");
        assert_eq!(
            retry_hint(Some(23 * 3_600_000 + 59 * 60_000 + 30_000)),
            "; try again in 24 h"
        );
    }
}
