//! The checks, one file per rule (the two quota checks and the three block checks each share
//! theirs), and the facts the DATA checks share (`facts`, computed once per message).

mod attachments;
mod blocked;
mod bulk;
mod facts;
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
pub use facts::{Charges, DataFacts};
pub use header_integrity::HeaderIntegrity;
pub use mail_bomb::MailBomb;
pub use mail_bomb_domain::MailBombDomain;
pub use quota::{quota_keys, Counts, MessageQuota, Quota, RecipientQuota, QUOTAS};

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

pub(super) fn ready<'a>(result: Result<Verdict, CheckError>) -> super::engine::CheckFuture<'a> {
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
