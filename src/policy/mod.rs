//! The policy engine: runs each check at the SMTP stage it needs (MAIL, RCPT, DATA; cheap checks
//! first) and turns the results into one verdict. A check returns `Result<Verdict, CheckError>`:
//! the outer error is infrastructure failing, the inner verdict a policy decision. A `CheckError`
//! never lets mail through: it becomes `451 4.3.0`. Every refusal names a stable rule id. The
//! engine never talks SMTP itself; the session sends the reply.
//!
//! Parts: `profile` (the policy files), `recipient` (counting identity), `inspect` (what the
//! DATA checks read in a message, pure; the message itself is parsed once by `crate::message`),
//! `verdict`, and with the `server` feature the `engine` (the runner), `stage` (what a check is
//! and what each SMTP stage lets it read), `profiles` (the profile set and tenant overrides),
//! `acceptance` (an accepted message's bookkeeping until it is queued), `prefetch` (RCPT TO's
//! counters read at MAIL FROM), the `checks` (one per file), `authentication` (SPF/DKIM/DMARC:
//! what receivers will say, and the key that signs) and `escalation`. `cleanup` writes what the
//! engine decided an accepted message gets (trace fields, attribution, List-Unsubscribe,
//! signature; forged fields removed), in one order.

pub mod cleanup;
pub mod complaint_rules;
pub mod inspect;
pub mod profile;
pub mod recipient;
pub mod unsubscribe;
pub use crate::wire::rule;
mod verdict;

#[cfg(feature = "server")]
mod acceptance;
#[cfg(feature = "server")]
mod authentication;
#[cfg(feature = "server")]
mod batching;
#[cfg(feature = "server")]
mod checks;
#[cfg(feature = "server")]
mod engine;
#[cfg(feature = "server")]
pub(crate) mod escalation;
#[cfg(feature = "server")]
pub mod prefetch;
#[cfg(feature = "server")]
mod profiles;
#[cfg(feature = "server")]
mod recent;
#[cfg(feature = "server")]
mod stage;

use std::net::IpAddr;

pub use crate::wire::Rule;
#[cfg(feature = "server")]
pub use acceptance::{PendingAcceptance, Recording};
#[cfg(feature = "server")]
pub use checks::{usage_keys, Counts, Quota, QUOTAS};
#[cfg(feature = "server")]
pub use engine::{DataDecision, Engine, Env};
pub use verdict::{CheckError, Verdict};

use crate::tenant::Tenant;
use crate::wire::Path;

/// What the checks at MAIL FROM see.
pub struct MailContext<'a> {
    pub tenant: &'a Tenant,
    pub peer: IpAddr,
    pub sender: &'a Path,
    pub authenticated: bool,
}

/// What the checks at RCPT TO see.
pub struct RcptContext<'a> {
    pub tenant: &'a Tenant,
    pub sender: &'a Path,
    pub recipient: &'a Path,
    pub accepted_so_far: usize,
}

/// What the checks after DATA see.
pub struct DataContext<'a> {
    pub tenant: &'a Tenant,
    pub sender: &'a Path,
    pub recipients: &'a [Path],
    /// The message, parsed once by the session (`crate::message::parse`): the checks, the
    /// fingerprint, the signer and the trace fields all read this one parse (its raw bytes are
    /// `message.raw()`, its top-level header fields `message.headers()`).
    pub message: &'a crate::message::Message<'a>,
    /// How the message came in, for the trace fields `cleanup` puts on an accepted message
    /// (Received, and a missing Date or Message-ID); `None` in offline dry runs.
    pub arrival: Option<&'a cleanup::Arrival<'a>>,
    /// The queue id the message will have if accepted (named by its trace fields).
    pub queue_id: &'a str,
}
