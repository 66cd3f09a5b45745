//! RCPT TO: a non-ASCII recipient only in a `SMTPUTF8` transaction (`553 5.6.7`), the recipient
//! limit, a local mailbox's address (`local`: taken without a tenant, never mixed with relayed
//! recipients), then the policy engine's RCPT checks.

use super::{End, Session};
use crate::policy::RcptContext;
use crate::smtp::command::{Param, Path};
use crate::smtp::reply;

impl Session {
    pub(super) async fn rcpt(&mut self, recipient: Path, params: Vec<Param>) -> Result<(), End> {
        let Some(sender) = self.envelope.sender.clone() else {
            return self.error_reply(reply::bad_sequence("Need MAIL before RCPT"));
        };
        if let Some(param) = params.first() {
            return self.error_reply(reply::unsupported_parameter(&param.keyword));
        }
        if !self.envelope.params.smtputf8 && !recipient.is_ascii() {
            return self.error_reply(reply::utf8_address_without_smtputf8(false));
        }
        let limit = self.ctx.config.limits.max_recipients;
        if self.envelope.recipients.len() + self.envelope.local.len() >= limit {
            self.reply(reply::too_many_recipients(limit));
            return Ok(());
        }
        if let Some(mailbox) = self.ctx.local_mailboxes.find(&recipient.to_address()) {
            return self.local_rcpt(mailbox, recipient).await;
        }
        if self.envelope.local_only {
            // What MAIL FROM would have answered without the local mailboxes.
            let refusal = match (
                self.listener.require_auth && self.auth_tenant.is_none(),
                self.auth_allowed(),
            ) {
                (true, true) => reply::auth_required(),
                (true, false) => reply::encryption_required(),
                (false, _) => reply::relay_denied(),
            };
            return self.error_reply(refusal);
        }
        // A client that may relay: the relayed recipient goes in a transaction of its own.
        if !self.envelope.local.is_empty() {
            self.reply(reply::local_and_relayed_recipients());
            return Ok(());
        }
        let Some(tenant) = self.tenant() else {
            return self.error_reply(reply::relay_denied());
        };
        let engine = self.ctx.engine.clone();
        let verdict = engine
            .on_rcpt_with(
                &RcptContext {
                    tenant: &tenant,
                    sender: &sender,
                    recipient: &recipient,
                    accepted_so_far: self.envelope.recipients.len(),
                },
                &self.envelope.prefetched,
            )
            .await;
        if self.apply_verdict(verdict)? {
            self.envelope.recipients.push(recipient);
            self.reply(reply::recipient_ok());
        }
        Ok(())
    }
}
