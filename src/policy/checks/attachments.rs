//! The letter-bomb check (`attachments.*`): runs [`crate::policy::inspect::attachments`] on the
//! message, with the header block the DATA stage already parsed.

use crate::policy::engine::{AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::inspect::attachments::inspect_parsed;
use crate::policy::Verdict;

pub struct LetterBomb;

impl Check<AtData> for LetterBomb {
    fn rule(&self) -> &'static str {
        "attachments.dangerous"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let ctx = stage.message;
        let rules = &env.profile.attachments;
        let found = rules
            .enabled
            .then(|| inspect_parsed(ctx.message, ctx.headers, rules))
            .flatten();
        let verdict = match found {
            Some(finding) => Verdict::Reject(finding.reply()),
            None => Verdict::Continue,
        };
        super::ready(Ok(verdict))
    }
}
