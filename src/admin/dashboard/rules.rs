//! What each refusal means, in a tenant's words: one entry per [`Rule`], with what to do about
//! it. The `match` has no `_` arm, so a new rule does not compile until it is explained here.

use crate::wire::rule::Rule;

/// A rule explained: what happened and what the tenant can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Explanation {
    pub what: &'static str,
    pub action: &'static str,
}

const fn e(what: &'static str, action: &'static str) -> Explanation {
    Explanation { what, action }
}

/// The explanation of `rule`.
pub const fn explain(rule: Rule) -> Explanation {
    match rule {
        Rule::TenantSuspended => e(
            "Your account is suspended: the gateway refuses all of its mail.",
            "Contact the provider's abuse desk; only they can lift the suspension.",
        ),
        Rule::SenderDomain => e(
            "The envelope sender's domain is not one of your verified domains.",
            "Send from a verified domain, or add the domain and publish its verification record (see Domains).",
        ),
        Rule::BlockSender => e(
            "The abuse desk blocked this sender address.",
            "Use another sender or ask the abuse desk why the address is blocked.",
        ),
        Rule::BlockCampaign => e(
            "The abuse desk blocked this mailing (every copy of it, however personalised).",
            "Stop the mailing and contact the abuse desk.",
        ),
        Rule::QuotaMessages | Rule::QuotaMessagesPerHour | Rule::QuotaMessagesPerDay => e(
            "You reached your message quota for the window; the mail was deferred, not lost.",
            "Your server retries on its own; the gauge shows when enough of the window frees up. Ask for a higher quota if you need one.",
        ),
        Rule::QuotaRecipients | Rule::QuotaRecipientsPerHour | Rule::QuotaRecipientsPerDay => e(
            "You reached your recipient quota for the window; the mail was deferred, not lost.",
            "Your server retries on its own; the gauge shows when the quota frees up. Ask for a higher quota if you need one.",
        ),
        Rule::SuppressionHardBounce => e(
            "The recipient's address bounced permanently before, so it is on your suppression list.",
            "Remove the address from your lists; if it works again, remove it from the suppression list.",
        ),
        Rule::HeadersIntegrity
        | Rule::HeadersLimits
        | Rule::HeadersMalformedField
        | Rule::HeadersReceivedHops
        | Rule::HeadersFromCount
        | Rule::HeadersSenderCount
        | Rule::HeadersAmbiguousAddress
        | Rule::HeadersEncodedFrom
        | Rule::HeadersSenderRequired
        | Rule::HeadersDisplayNameAddress => e(
            "The message headers are malformed or ambiguous (From/Sender fields, too many or broken fields, a mail loop).",
            "Fix the software composing the message: one plain From address, well-formed fields.",
        ),
        Rule::HeadersForeignOriginator => e(
            "The From address belongs to a domain that is not yours.",
            "Send as one of your verified domains.",
        ),
        Rule::HeadersAuthenticationResults => e(
            "The message carries Authentication-Results headers claiming checks it cannot have passed.",
            "Remove Authentication-Results headers before relaying.",
        ),
        Rule::AttachmentsDangerous => e(
            "The message carries an attachment type that spreads malware (executables, scripts).",
            "Send a link to the file instead, or archive it in a format receivers accept.",
        ),
        Rule::AttachmentsMalformed => e(
            "An attachment could not be read (broken MIME structure or encoding).",
            "Check the software building the message.",
        ),
        Rule::SmsGatewayBulk => e(
            "Too many messages to SMS gateway addresses.",
            "Use an SMS provider's API for text messages.",
        ),
        Rule::MailBombMaxMessages | Rule::MailBombMaxMessagesPerDomain => e(
            "Too many copies of one message to the same recipient (or domain) within 24 hours: a mail bomb.",
            "Check for a loop or a form being abused; the count frees up as the 24 hours slide.",
        ),
        Rule::BulkMaxRecipients => e(
            "One mailing reached more distinct recipients than the bulk limit allows.",
            "Send newsletters through a registered bulk sender, or ask the provider for an exemption.",
        ),
        Rule::Authentication
        | Rule::SpfFail
        | Rule::SpfSoftfail
        | Rule::SpfPermerror
        | Rule::DkimBroken
        | Rule::DkimUnparsable
        | Rule::DmarcPolicy => e(
            "Receivers would reject this mail as forged for your domain (SPF, DKIM or DMARC would fail).",
            "Publish the SPF include and DKIM records shown under Domains, and keep the message unchanged after signing.",
        ),
        Rule::DkimSign => e(
            "The gateway could not sign the message with your domain's DKIM key.",
            "Retry later; if it persists, contact the provider.",
        ),
        Rule::SpfTemperror | Rule::DkimTemperror | Rule::DmarcTemperror => e(
            "A DNS lookup for your domain failed for now; the mail was deferred.",
            "Nothing if it passes; if it persists, check your domain's DNS servers.",
        ),
        Rule::ClientNetwork | Rule::ClientUnidentified => e(
            "The connecting server is not in your networks and did not log in.",
            "Connect from one of your networks or authenticate with your SMTP credentials.",
        ),
        Rule::AuthAddressLockout | Rule::AuthUserLockout | Rule::AuthFailures | Rule::AuthFailed => e(
            "Login failed, or too many failed logins locked the address or user name for a while.",
            "Check the credentials configured on your server; the lock ends by itself.",
        ),
        Rule::LimitsDataRate => e(
            "The client sent data too slowly.",
            "Check the network between your server and the gateway.",
        ),
        Rule::LimitsPathLength => e(
            "An address in the envelope is too long.",
            "Use shorter addresses.",
        ),
        Rule::LimitsRecipients => e(
            "Too many recipients in one message.",
            "Split the recipients over several messages.",
        ),
        Rule::LimitsMessageSize => e(
            "The message is larger than the gateway accepts.",
            "Send large files as links.",
        ),
        Rule::LimitsDataInFlight => e(
            "The gateway was receiving too much data at once; the mail was deferred.",
            "Nothing: your server retries.",
        ),
        Rule::DataBareLineBreak | Rule::DataLineLength => e(
            "The message contains a bare CR or LF or an over-long line (not valid SMTP).",
            "Fix the software sending the message: lines must end in CRLF and stay under 1000 bytes.",
        ),
        Rule::DataNul => e(
            "The message contains a NUL byte, which mail text may not hold.",
            "Fix the software sending the message, or send binary content as a base64 attachment.",
        ),
        Rule::LimitsConnections | Rule::LimitsConnectionsPerIp => e(
            "The gateway, or your address, had as many connections open as it allows.",
            "Nothing: your server retries. Fewer parallel connections avoid it.",
        ),
        Rule::LimitsCommandTimeout | Rule::LimitsSessionTimeout => e(
            "Your server was silent too long, or kept one session open too long.",
            "Nothing: your server retries. Send promptly and reconnect for long batches.",
        ),
        Rule::LimitsErrors => e(
            "Your server sent too many commands the gateway refused in one session.",
            "Fix the software sending the commands; check the replies it ignored.",
        ),
        Rule::LimitsSessionMessages | Rule::LimitsSessionBytes => e(
            "Your server sent as many messages or bytes in one session as the gateway allows.",
            "Nothing: your server reconnects and continues.",
        ),
        Rule::ServerShutdown => e(
            "The gateway was stopping (an upgrade or a restart).",
            "Nothing: your server retries.",
        ),
        Rule::RecipientsSeparate => e(
            "A message to the gateway's own addresses (feedback, unsubscribe) and relayed mail were mixed in one transaction.",
            "Nothing: your server sends the other recipients in a next transaction.",
        ),
        Rule::QueueWrite => e(
            "The gateway could not store the message; it was deferred.",
            "Nothing: your server retries.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_explained_in_full_sentences() {
        for &rule in Rule::ALL {
            let explanation = explain(rule);
            assert!(explanation.what.ends_with('.'), "{rule}");
            assert!(explanation.action.ends_with('.'), "{rule}");
        }
    }
}
