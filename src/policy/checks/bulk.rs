//! `bulk.max_recipients` (DESIGN.md "Bulk"): more than N distinct recipients of one campaign in
//! the window, counted exactly in a capped set, unless the tenant is a registered bulk sender and
//! the message carries List-Unsubscribe (RFC 8058 one-click where the profile asks) and names the
//! recipient in To (or, with `recipient_in_body`, in the body).

use crate::policy::recipient::identity;
use crate::policy::stage::{key, AtData, Check, CheckFuture, DataStage, Env};
use crate::policy::Rule;
use crate::policy::{DataContext, Verdict};
use crate::store::Key;
use crate::wire::reply::Reply;

use super::{cap, window_text};

pub struct Bulk;

/// The distinct set of one campaign's recipients (the check charges it, the usage view reads it).
pub fn campaign_key(tenant: &str, campaign: &str) -> Key {
    key("bulk", tenant).part(campaign)
}

impl Bulk {
    /// Registered bulk senders are exempt only with a working unsubscribe and the recipient in To.
    fn exempt(env: &Env<'_>, ctx: &DataContext<'_>, recipient: &str) -> bool {
        let rule = &env.profile.bulk;
        if !rule.registered_senders.iter().any(|t| t == &ctx.tenant.id) {
            return false;
        }
        let Some(unsubscribe) = ctx.message.headers().first("list-unsubscribe") else {
            return false;
        };
        // RFC 8058: the POST field, and an HTTPS URI to post to.
        if rule.require_one_click
            && !(ctx
                .message
                .headers()
                .first("list-unsubscribe-post")
                .is_some_and(|v| v.replace(' ', "").eq_ignore_ascii_case("List-Unsubscribe=One-Click"))
                && unsubscribe
                    .split('<')
                    .skip(1)
                    .any(|uri| uri.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))))
        {
            return false;
        }
        let to: String = ctx.message.headers().all("to").collect::<Vec<_>>().join(",");
        let strip = env.profile.recipients.strip_subaddress;
        names(&to, recipient, strip)
            || (rule.recipient_in_body && names(&ctx.message.readable().text, recipient, strip))
    }
}

/// Whether `text` (a `To:` value or a body) holds an address whose counting identity is
/// `recipient`.
fn names(text: &str, recipient: &str, strip_subaddress: bool) -> bool {
    text.split(|c: char| c.is_whitespace() || ",;<>()[]\"':=/".contains(c))
        .filter(|part| part.contains('@'))
        .any(|part| identity(part.trim_matches('.'), strip_subaddress) == recipient)
}

impl Check<AtData> for Bulk {
    fn check<'a>(&'a self, env: &'a Env<'a>, stage: &'a DataStage<'a>) -> CheckFuture<'a> {
        let (ctx, facts) = (stage.message, stage.facts);
        Box::pin(async move {
            let rule = &env.profile.bulk;
            if !rule.enabled {
                return Ok(Verdict::Continue);
            }
            let campaign = facts.campaign(env, ctx).await?;
            for recipient in &facts.recipients {
                if Self::exempt(env, ctx, recipient) {
                    continue;
                }
                let key = campaign_key(&ctx.tenant.id, campaign);
                let charge = facts
                    .charge_member(env, key, recipient, rule.window.get(), cap(rule.max_recipients))
                    .await?;
                if !charge.admitted {
                    return Ok(Verdict::Reject(Reply::refusal(
                        550,
                        "5.7.1", Rule::BulkMaxRecipients,
                        format!(
                            "Bulk mail: more than {} distinct recipients of one campaign within {} (campaign {}); register as a bulk sender",
                            rule.max_recipients,
                            window_text(rule.window.get()),
                            campaign,
                        ),
                    )));
                }
            }
            Ok(Verdict::Continue)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn a_recipient_is_named_in_a_header_or_a_body() {
        assert!(names("\"Ann\" <Ann@Example.org>, bob@x.org", "ann@example.org", true));
        assert!(names(
            "Hello,\nthis mail was sent to ann+news@example.org.",
            "ann@example.org",
            true
        ));
        assert!(names("<p>Sent to <b>ann@example.org</b></p>", "ann@example.org", true));
        assert!(!names("Sent to anna@example.org", "ann@example.org", true));
        assert!(!names("no address here", "ann@example.org", true));
    }
}
