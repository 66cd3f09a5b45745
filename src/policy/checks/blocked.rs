//! `block.sender` and `block.campaign`: the narrower blocks an operator places with
//! `aupgate admin blocks add --scope sender|campaign` (a whole-tenant block is a suspension,
//! `tenant.suspended`). A blocked sender address is refused at MAIL FROM, a blocked campaign
//! after DATA once the message's campaign is known; both until an operator lifts the block.
//! Sender addresses are compared as counting identities (case, quotes and `+tag` folded), so a
//! block on `bob@acme.example` also stops `Bob+2@ACME.example`.

use crate::policy::engine::{CheckFuture, DataCheck, Env, MailCheck};
use crate::policy::recipient::identity;
use crate::policy::{DataContext, MailContext, Verdict};
use crate::smtp::command::Path;
use crate::smtp::reply::Reply;
use crate::store::BlockScope;

use super::DataFacts;

fn refusal(what: String, contact: Option<&str>, rule: &'static str) -> Verdict {
    let contact = contact.unwrap_or("your provider's abuse desk");
    Verdict::Reject(Reply::refusal(
        554,
        "5.7.1",
        rule,
        format!("{what} is blocked for this account; contact {contact}"),
    ))
}

pub struct BlockedSender;

impl MailCheck for BlockedSender {
    fn rule(&self) -> &'static str {
        "block.sender"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a MailContext<'a>) -> CheckFuture<'a> {
        Box::pin(async move {
            let Path::Mailbox { .. } = ctx.sender else {
                return Ok(Verdict::Continue);
            };
            if !ctx.tenant.narrow_blocks.sender() {
                return Ok(Verdict::Continue);
            }
            let address = identity(&ctx.sender.to_address(), true);
            let block = env
                .store
                .block_get(&ctx.tenant.id, BlockScope::Sender, &address)
                .await
                .map_err(super::store_error)?;
            Ok(match block {
                Some(_) => refusal(
                    format!("Sender address {address}"),
                    ctx.tenant.contact.as_deref(),
                    "block.sender",
                ),
                None => Verdict::Continue,
            })
        })
    }
}

pub struct BlockedCampaign;

impl DataCheck for BlockedCampaign {
    fn rule(&self) -> &'static str {
        "block.campaign"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a DataContext<'a>, facts: &'a DataFacts) -> CheckFuture<'a> {
        Box::pin(async move {
            // Without campaign blocks there is nothing to look up (and no campaign to compute).
            if !ctx.tenant.narrow_blocks.campaign() {
                return Ok(Verdict::Continue);
            }
            let campaign = facts.campaign(env, ctx).await?;
            let block = env
                .store
                .block_get(&ctx.tenant.id, BlockScope::Campaign, campaign)
                .await
                .map_err(super::store_error)?;
            Ok(match block {
                Some(_) => refusal(
                    format!("This mailing (campaign {campaign})"),
                    ctx.tenant.contact.as_deref(),
                    "block.campaign",
                ),
                None => Verdict::Continue,
            })
        })
    }
}
