//! The small set of decisions a check can make (after Postfix's policy protocol and KumoMTA's
//! `Result<Result<T, Reject>, Error>`).

use crate::smtp::reply::Reply;

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

/// Infrastructure failing inside a check (store, DNS, ...). Never a reason to accept.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);
