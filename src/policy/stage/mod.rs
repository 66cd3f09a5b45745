//! What a check is: the [`Check`] trait, the SMTP stages checks run at and what each stage lets
//! a check read ([`Stage`]), what every check may use ([`Env`]) and what the DATA checks share
//! about one message ([`DataFacts`], in `facts`). A RCPT check cannot read the body because its
//! stage's context has none. Nothing here runs checks: the engine does.
//!
//! Which way the dependencies point: `stage` knows nothing of the concrete checks nor of the
//! engine; `checks` import `stage` (and leaf modules: `profile`, `inspect`, `store`, `wire`);
//! the engine imports `stage` and builds its check list from the profile's table of sections
//! (`profile::sections!`), the one place that names the concrete checks and the rule id each
//! answers for.

mod facts;

use std::future::Future;
use std::pin::Pin;

use super::batching::Ops;
use super::profile::Profile;
use super::{CheckError, DataContext, MailContext, RcptContext, Rule, Verdict};
use crate::store::{Key, RateStore};

pub(crate) use facts::Charge;
pub use facts::{Charges, DataFacts};

/// A boxed check future.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = Result<Verdict, CheckError>> + Send + 'a>>;

/// What every check may use: the store, the tenant's profile, the time of the decision, and
/// where the stage's batched operations go (`ops`: quotas, blocks, the campaign lookup, set and
/// event charges, suppression — ask those there, never of `store`, so the stage's store work is
/// one round trip; see `policy::batching`).
pub struct Env<'a> {
    pub store: &'a dyn RateStore,
    pub ops: Ops<'a>,
    pub profile: &'a Profile,
    pub now: u64,
}

impl<'a> Env<'a> {
    /// An environment outside an SMTP stage (a complaint ladder, the replay tool): every store
    /// operation goes straight to the store.
    pub fn direct(store: &'a dyn RateStore, profile: &'a Profile, now: u64) -> Env<'a> {
        Env {
            store,
            ops: Ops::Direct(store),
            profile,
            now,
        }
    }
}

/// A policy check: a verdict, run at one SMTP stage (`S`: [`AtMail`], [`AtRcpt`] or [`AtData`])
/// on what that stage knows. Errors never let mail through (the engine's `decide`). The rule id
/// a check answers for (what `[on_error] disconnect` names, what its errors are logged under) is
/// not the check's to say: the profile's table of sections gives it ([`Listed`]).
pub trait Check<S: Stage>: Send + Sync {
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a S::Context<'a>) -> CheckFuture<'a>;
}

/// A check as the engine runs it: the check, and the rule id the table of sections gives it.
pub struct Listed<S: Stage> {
    rule: Rule,
    check: Box<dyn Check<S>>,
}

impl<S: Stage> Listed<S> {
    pub fn new(rule: Rule, check: impl Check<S> + 'static) -> Listed<S> {
        Listed {
            rule,
            check: Box::new(check),
        }
    }

    /// The rule id the check answers for (its refusals may name a finer one:
    /// `quota.messages_per_hour` for `quota.messages`).
    pub fn rule(&self) -> Rule {
        self.rule
    }

    pub fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a S::Context<'a>) -> CheckFuture<'a> {
        self.check.check(env, ctx)
    }
}

/// An SMTP stage checks run at, and what a check reads there.
pub trait Stage {
    type Context<'a>;
}

/// MAIL FROM: the tenant and the envelope sender.
pub enum AtMail {}
/// RCPT TO: one more recipient.
pub enum AtRcpt {}
/// After DATA: the whole message, and the facts the DATA checks share.
pub enum AtData {}

impl Stage for AtMail {
    type Context<'a> = MailContext<'a>;
}

impl Stage for AtRcpt {
    type Context<'a> = RcptContext<'a>;
}

impl Stage for AtData {
    type Context<'a> = DataStage<'a>;
}

/// What a check after DATA reads: the message, and the facts computed once for all checks.
pub struct DataStage<'a> {
    pub message: &'a DataContext<'a>,
    pub facts: &'a DataFacts,
}

/// A store key for a tenant-scoped counter.
pub(crate) fn key(kind: &str, tenant: &str) -> Key {
    Key::new(kind, tenant)
}
