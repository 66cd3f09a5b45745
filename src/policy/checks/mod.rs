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

/// `"in 12 min"`-style retry hint from milliseconds.
pub(super) fn retry_hint(retry_after_ms: Option<u64>) -> String {
    match retry_after_ms {
        Some(ms) if ms >= 3_600_000 => format!("; try again in {} h", ms.div_ceil(3_600_000)),
        Some(ms) => format!("; try again in {} min", ms.div_ceil(60_000).max(1)),
        None => String::new(),
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
