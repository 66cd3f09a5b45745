//! The small set of decisions a check can make (after Postfix's policy protocol and KumoMTA's
//! `Result<Result<T, Reject>, Error>`).

use crate::wire::reply::Reply;

/// A policy decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// No objection; run the next check.
    Continue,
    /// Accept without running further checks.
    Accept,
    /// Temporary refusal (4xx).
    Defer(Reply),
    /// Permanent refusal (5xx).
    Reject(Reply),
    /// Refuse and close the session.
    Disconnect(Reply),
}

impl Verdict {
    pub fn reply(&self) -> Option<&Reply> {
        match self {
            Verdict::Continue | Verdict::Accept => None,
            Verdict::Defer(reply) | Verdict::Reject(reply) | Verdict::Disconnect(reply) => Some(reply),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Continue => "continue",
            Verdict::Accept => "accept",
            Verdict::Defer(_) => "defer",
            Verdict::Reject(_) => "reject",
            Verdict::Disconnect(_) => "disconnect",
        }
    }
}

/// Infrastructure failing inside a check: the rate store, DNS, or DKIM signing. Never a reason to
/// accept. (Without the `server` feature there is no infrastructure, and no variant.)
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[cfg(feature = "server")]
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[cfg(feature = "server")]
    #[error("dns: {0}")]
    Dns(#[from] crate::dns::DnsError),
    #[cfg(feature = "server")]
    #[error("signing: {0}")]
    Signing(#[from] mail_auth::Error),
}
