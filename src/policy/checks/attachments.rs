//! The letter-bomb check (`attachments.*`): runs [`crate::policy::inspect::attachments`] on the
//! message, with the header block the DATA stage already parsed.

use crate::policy::engine::{CheckFuture, DataCheck, Env};
use crate::policy::inspect::attachments::inspect_parsed;
use crate::policy::{DataContext, Verdict};

use super::campaign::DataFacts;

pub struct LetterBomb;

impl DataCheck for LetterBomb {
    fn rule(&self) -> &'static str {
        "attachments.dangerous"
    }

    fn check<'a>(&'a self, env: &'a Env<'a>, ctx: &'a DataContext<'a>, _facts: &'a DataFacts) -> CheckFuture<'a> {
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
