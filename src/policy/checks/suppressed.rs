//! `suppression.hard_bounce`: a recipient on the tenant's suppression list — it hard-bounced (the
//! relay records it), complained, or unsubscribed through the gateway's link — is refused for the
//! tenant's bulk mail until the list is cleaned (Pageant Server: "removal
//! of bounced addresses before the next mailing"; aup/README.md rule 8, list hygiene).
//!
//! Whether a message is bulk mail is known only after DATA, so the check runs there, once per
//! message, and refuses the whole message (SMTP has one reply to DATA). Bulk mail is recognised by
//! what list software puts on it: `List-Unsubscribe`, `List-Unsubscribe-Post`, `List-Id`, or
//! `Precedence: bulk|list|junk`. Mail without those markers is not bulk by any reading the
//! gateway can check: a tenant that strips them to reach a suppressed address is held to the bulk
//! limit instead, since a registered bulk sender's exemption needs `List-Unsubscribe`. Transactional
//! mail (a receipt, a password reset) to a suppressed address is relayed: the recipient may have
//! come back, and a second hard bounce costs the tenant nothing the first did not.

use std::borrow::Cow;

use crate::message::Headers;
use crate::policy::recipient::identity;
use crate::policy::stage::{AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::Rule;
use crate::policy::Verdict;
use crate::wire::reply::Reply;

pub struct Suppressed;

/// The `Precedence` values that mark bulk mail (RFC 3834 §3.1.8 lists them as signs of
/// automatic or list mail).
const BULK_PRECEDENCE: [&str; 3] = ["bulk", "list", "junk"];

/// Whether the header block marks the message as list or bulk mail.
pub fn is_bulk_mail(headers: &Headers) -> bool {
    ["list-unsubscribe", "list-unsubscribe-post", "list-id"]
        .iter()
        .any(|name| headers.first(name).is_some())
        || headers
            .all("precedence")
            .any(|value| BULK_PRECEDENCE.iter().any(|p| value.trim().eq_ignore_ascii_case(p)))
}

impl Check<AtData> for Suppressed {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            if !env.profile.suppression.enabled || !is_bulk_mail(ctx.message.headers()) {
                return Ok(Verdict::Continue);
            }
            // The list holds mailboxes (`+tag` stripped, as the relay records them) whatever
            // the profile counts recipients by: the shared identities when they are the same.
            let mailboxes: Cow<'_, [String]> = if env.profile.recipients.strip_subaddress {
                Cow::Borrowed(&facts.recipients)
            } else {
                let mut own: Vec<String> = ctx.recipients.iter().map(|r| identity(&r.to_address(), true)).collect();
                own.sort();
                own.dedup();
                Cow::Owned(own)
            };
            let mut suppressed = Vec::new();
            for mailbox in mailboxes.iter() {
                if env.ops.suppression_contains(&ctx.tenant.id, mailbox, env.now).await? {
                    suppressed.push(mailbox.as_str());
                }
            }
            let Some(first) = suppressed.first() else {
                return Ok(Verdict::Continue);
            };
            let others = match suppressed.len() {
                1 => String::new(),
                n => format!(" and {} more recipients", n - 1),
            };
            Ok(Verdict::Reject(Reply::refusal(
                550,
                "5.7.1",
                Rule::SuppressionHardBounce,
                format!(
                    "Recipient {first}{others} is suppressed for your bulk mail (it hard-bounced, complained or unsubscribed earlier); remove it from the list and send again"
                ),
            )))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::is_bulk_mail;
    use crate::message::Headers;

    fn headers(text: &str) -> Headers {
        Headers::parse(text.as_bytes())
    }

    #[test]
    fn list_markers_make_bulk_mail() {
        for marked in [
            "From: a@x\r\nList-Unsubscribe: <https://x/u>\r\n\r\n",
            "From: a@x\r\nList-Id: News <news.x>\r\n\r\n",
            "From: a@x\r\nlist-unsubscribe-post: List-Unsubscribe=One-Click\r\n\r\n",
            "From: a@x\r\nPrecedence:  Bulk \r\n\r\n",
            "From: a@x\r\nPrecedence: list\r\n\r\n",
            "From: a@x\r\nPrecedence: first-class\r\nPrecedence: junk\r\n\r\n",
        ] {
            assert!(is_bulk_mail(&headers(marked)), "{marked:?}");
        }
    }

    #[test]
    fn transactional_mail_is_not_bulk() {
        for unmarked in [
            "From: a@x\r\nSubject: Your receipt\r\n\r\n",
            "From: a@x\r\nPrecedence: first-class\r\n\r\n",
            "From: a@x\r\nX-List-Id: not a list header\r\n\r\n",
            "From: a@x\r\nSubject: List-Unsubscribe: <https://x/u>\r\n\r\n",
        ] {
            assert!(!is_bulk_mail(&headers(unmarked)), "{unmarked:?}");
        }
    }
}
