//! The policy engine: runs each check at the SMTP stage it needs and turns the results into one
//! verdict. A check returns `Result<Verdict, CheckError>`: the outer error is infrastructure
//! failing, the inner verdict a policy decision. A `CheckError` never lets mail through: it
//! becomes `451 4.3.0`. The engine never talks SMTP itself; the session sends the reply.

mod checks;
mod verdict;

use std::net::IpAddr;
use std::sync::Arc;

pub use verdict::{CheckError, Verdict};

use crate::smtp::command::Path;
use crate::smtp::reply;
use crate::tenant::Tenant;

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
    pub message: &'a [u8],
}

/// A check run at MAIL FROM.
pub trait MailCheck: Send + Sync {
    fn rule(&self) -> &'static str;
    fn check(&self, ctx: &MailContext<'_>) -> Result<Verdict, CheckError>;
}

/// The engine: the ordered checks of each stage (cheap checks first).
pub struct Engine {
    mail_checks: Vec<Arc<dyn MailCheck>>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine {
            mail_checks: vec![
                Arc::new(checks::TenantState),
                Arc::new(checks::SenderDomain),
            ],
        }
    }
}

impl Engine {
    /// Runs the MAIL FROM checks; the first verdict other than `Continue` decides.
    pub fn on_mail(&self, ctx: &MailContext<'_>) -> Verdict {
        for check in &self.mail_checks {
            match decide(check.rule(), ctx.tenant, check.check(ctx)) {
                Verdict::Continue => {}
                other => return other,
            }
        }
        Verdict::Continue
    }

    /// Runs the RCPT TO checks.
    pub fn on_rcpt(&self, _ctx: &RcptContext<'_>) -> Verdict {
        Verdict::Continue
    }

    /// Runs the checks on the received message.
    pub fn on_data(&self, _ctx: &DataContext<'_>) -> Verdict {
        Verdict::Continue
    }
}

/// Logs a check's outcome and maps an infrastructure error to a temporary failure.
fn decide(rule: &'static str, tenant: &Tenant, result: Result<Verdict, CheckError>) -> Verdict {
    let verdict = match result {
        Ok(verdict) => verdict,
        Err(error) => {
            tracing::warn!(rule, tenant = %tenant.id, %error, "check failed; deferring");
            Verdict::Defer(reply::temporary_failure())
        }
    };
    if let Some(reply) = verdict.reply() {
        tracing::info!(rule, tenant = %tenant.id, verdict = verdict.name(), code = %reply.summary(), "policy verdict");
    }
    verdict
}
