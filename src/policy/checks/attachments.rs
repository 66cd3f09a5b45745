//! The letter-bomb check (`attachments.*`): runs [`crate::policy::inspect::attachments`] on the
//! message the session already parsed. A message that may carry
//! archives to open (anything but a single text part, up to the inspection's 32 MiB budget), or
//! a large one, is inspected with the runtime told that this worker blocks, so other sessions
//! move to another thread meanwhile.

use crate::policy::inspect::attachments::inspect;
use crate::policy::stage::{AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::Verdict;

/// Messages larger than this are inspected as blocking work whatever their type.
const BLOCKING_ABOVE: usize = 256 * 1024;

pub struct LetterBomb;

impl Check<AtData> for LetterBomb {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let ctx = stage.message;
        let rules = &env.profile.attachments;
        if !rules.enabled {
            return super::ready(Ok(Verdict::Continue));
        }
        let inspect = || inspect(ctx.message, rules);
        // `block_in_place` needs the multi-thread runtime (the offline tools use a current-thread
        // one, where nothing else waits).
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let single_text_part = ctx
            .message
            .headers()
            .first("content-type")
            .is_none_or(|v| v.trim_start().get(..5).is_some_and(|t| t.eq_ignore_ascii_case("text/")));
        let may_block = ctx.message.raw().len() > BLOCKING_ABOVE || !single_text_part;
        let found = if may_block && multi_thread {
            tokio::task::block_in_place(inspect)
        } else {
            inspect()
        };
        let verdict = match found {
            Some(finding) => Verdict::Reject(finding.reply()),
            None => Verdict::Continue,
        };
        super::ready(Ok(verdict))
    }
}
