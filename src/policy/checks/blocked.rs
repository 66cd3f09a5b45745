//! `block.sender` and `block.campaign`: the narrower blocks an operator places with
//! `aupgate admin blocks add --scope sender|campaign` (a whole-tenant block is a suspension,
//! `tenant.suspended`). Both hold until an operator lifts them or their `expires_at` passes.
//!
//! - A blocked sender address is refused at MAIL FROM, and after DATA when the header From or
//!   Sender names it (so neither `MAIL FROM:<>` nor another envelope address gets around it).
//!   Addresses are compared as counting identities (case, quotes and `+tag` folded), so a block
//!   on `bob@acme.example` also stops `Bob+2@ACME.example`.
//! - A blocked campaign is refused after DATA: every personalised copy, and a message whose band
//!   keys name it among others. The index never re-points a blocked campaign's keys (they are
//!   `pinned`), so no later copy is carried out of the block.
//!
//! The checks ask the store only when the tenant has blocks of that kind
//! (`Tenant::narrow_blocks`).

use crate::message::{addresses_in_text, parse_mailboxes};
use crate::policy::recipient::identity;
use crate::policy::stage::{AtData, AtMail, Check, CheckFuture, DataStage, Env};
use crate::policy::Rule;
use crate::policy::{CheckError, MailContext, Verdict};
use crate::store::BlockScope;
use crate::tenant::Tenant;
use crate::wire::reply::Reply;
use crate::wire::Path;

fn refusal(what: String, tenant: &Tenant, rule: Rule) -> Verdict {
    let contact = tenant.contact();
    let contact = contact.as_deref().unwrap_or("your provider's abuse desk");
    Verdict::Reject(Reply::refusal(
        554,
        "5.7.1",
        rule,
        format!("{what} is blocked for this account; contact {contact}"),
    ))
}

/// Whether a block on `target` applies now (one with an `expires_at` in the past no longer does).
async fn is_blocked(env: &Env<'_>, tenant: &Tenant, scope: BlockScope, target: &str) -> Result<bool, CheckError> {
    Ok(env
        .ops
        .block_get(&tenant.id, scope, target, env.now)
        .await?
        .is_some_and(|block| block.applies_at(env.now)))
}

pub struct BlockedSender;

impl Check<AtMail> for BlockedSender {
    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a MailContext<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let Path::Mailbox { .. } = ctx.sender else {
                return Ok(Verdict::Continue);
            };
            if !ctx.tenant.narrow_blocks.sender() {
                return Ok(Verdict::Continue);
            }
            let address = identity(&ctx.sender.to_address(), true);
            if is_blocked(env, ctx.tenant, BlockScope::Sender, &address).await? {
                return Ok(refusal(
                    format!("Sender address {address}"),
                    ctx.tenant,
                    Rule::BlockSender,
                ));
            }
            Ok(Verdict::Continue)
        })
    }
}

/// The originator fields of a received message (From, Sender, Resent-From, Resent-Sender)
/// against the sender blocks.
pub struct BlockedOriginator;

impl Check<AtData> for BlockedOriginator {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let ctx = stage.message;
        Box::pin(async move {
            let tenant = ctx.tenant;
            if !tenant.narrow_blocks.sender() {
                return Ok(Verdict::Continue);
            }
            let mut originators: Vec<String> = Vec::new();
            for name in ["from", "sender", "resent-from", "resent-sender"] {
                for value in ctx.message.headers().all(name) {
                    match parse_mailboxes(value, true) {
                        Ok(mailboxes) => originators.extend(
                            mailboxes
                                .iter()
                                .map(|m| identity(&format!("{}@{}", m.local, m.domain), true)),
                        ),
                        // A field the parser refuses (header checks off): every address in it.
                        Err(_) => originators.extend(
                            addresses_in_text(value)
                                .iter()
                                .map(|(local, domain)| identity(&format!("{local}@{domain}"), true)),
                        ),
                    }
                }
            }
            // Each address once, however many fields repeat it (one store lookup each).
            originators.sort();
            originators.dedup();
            for address in originators {
                if is_blocked(env, tenant, BlockScope::Sender, &address).await? {
                    return Ok(refusal(format!("Sender address {address}"), tenant, Rule::BlockSender));
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

/// A received message's campaign against the campaign blocks.
pub struct BlockedCampaign;

impl Check<AtData> for BlockedCampaign {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            let tenant = ctx.tenant;
            // Without campaign blocks there is nothing to look up (and no campaign to compute).
            if !tenant.narrow_blocks.campaign() {
                return Ok(Verdict::Continue);
            }
            let campaign = facts.campaign(env, ctx).await?;
            for id in std::iter::once(campaign).chain(facts.merged_campaigns().iter().map(String::as_str)) {
                if is_blocked(env, tenant, BlockScope::Campaign, id).await? {
                    return Ok(refusal(
                        format!("This mailing (campaign {id})"),
                        tenant,
                        Rule::BlockCampaign,
                    ));
                }
            }
            Ok(Verdict::Continue)
        })
    }
}
