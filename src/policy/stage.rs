//! What a check is: the [`Check`] trait, the SMTP stages checks run at and what each stage lets
//! a check read ([`Stage`]), and what every check may use ([`Env`]). A RCPT check cannot read the
//! body because its stage's context has none. Nothing here runs checks: the engine does.

use std::future::Future;
use std::pin::Pin;

use super::batching::Ops;
use super::checks::DataFacts;
use super::profile::Profile;
use super::{CheckError, DataContext, MailContext, RcptContext, Rule, Verdict};
use crate::store::{Key, RateStore};

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

/// A policy check: a rule id and a verdict, run at one SMTP stage (`S`: [`AtMail`], [`AtRcpt`]
/// or [`AtData`]) on what that stage knows. Errors never let mail through (the engine's
/// `decide`).
pub trait Check<S: Stage>: Send + Sync {
    fn rule(&self) -> Rule;
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a S::Context<'a>) -> CheckFuture<'a>;
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
