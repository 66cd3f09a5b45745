//! MAIL FROM: who is sending (identified tenant, or refusal), the ESMTP parameters, then the
//! policy engine's MAIL checks (suspension, sender-domain ownership, ...).
//!
//! Parameters: `SIZE` (RFC 1870), `BODY=7BIT|8BITMIME` (RFC 6152) and `SMTPUTF8` (RFC 6531) are
//! kept in the envelope and declared again on relay; `AUTH=<>` or an xtext address (RFC 4954 5)
//! is accepted and its value ignored (the tenant is what AUTH or the network proved). A non-ASCII
//! sender without `SMTPUTF8` is refused `553 5.6.7`.

use super::{End, Envelope, Session};
use crate::policy::{MailContext, Verdict};
use crate::queue::{BodyType, MailParams};
use crate::smtp::command::{is_auth_value, Param, Path};
use crate::smtp::reply;

impl Session {
    pub(super) async fn mail(&mut self, sender: Path, params: Vec<Param>) -> Result<(), End> {
        if self.helo.is_none() {
            return self.error_reply(reply::bad_sequence("Send EHLO/HELO first"));
        }
        if self.envelope.sender.is_some() {
            return self.error_reply(reply::bad_sequence("Nested MAIL command"));
        }
        let limits = &self.ctx.config.limits;
        if self.messages >= limits.max_messages_per_session {
            self.reply(reply::session_messages_limit());
            return Err(End::AfterReply);
        }
        // A client the gateway sends nothing for may still write to a local mailbox (the
        // feedback addresses): its transaction takes only local recipients (`rcpt`).
        let unidentified = (self.listener.require_auth && self.auth_tenant.is_none()) || self.tenant().is_none();
        let local_only = unidentified && !self.ctx.local_mailboxes.is_empty();
        if self.listener.require_auth && self.auth_tenant.is_none() && !local_only {
            return self.error_reply(if self.auth_allowed() {
                reply::auth_required()
            } else {
                reply::encryption_required()
            });
        }
        let tenant = self.tenant().filter(|_| !local_only);
        if tenant.is_none() && !local_only {
            tracing::info!(
                rule = "client.unidentified",
                verdict = "reject",
                code = "554 5.7.1",
                "relay attempt refused"
            );
            return self.error_reply(reply::relay_denied());
        }
        let mut mail_params = MailParams::default();
        let mut declared_size = None;
        let mut seen: Vec<&str> = Vec::with_capacity(params.len());
        for param in &params {
            // A parameter given twice is a syntax error (RFC 5321 4.1.2: at most once each).
            if seen.contains(&param.keyword.as_str()) {
                return self.error_reply(reply::syntax("Duplicate ESMTP parameter"));
            }
            seen.push(&param.keyword);
            match (param.keyword.as_str(), param.value.as_deref()) {
                ("SIZE", Some(value)) => match value.parse::<u64>() {
                    Ok(size) if size > limits.max_message_size.get() => {
                        return self.error_reply(reply::size_exceeded(limits.max_message_size.get()));
                    }
                    Ok(size) => declared_size = Some(size),
                    Err(_) => return self.error_reply(reply::syntax("Bad SIZE value")),
                },
                ("BODY", Some(value)) if value.eq_ignore_ascii_case("7BIT") => mail_params.body = BodyType::SevenBit,
                ("BODY", Some(value)) if value.eq_ignore_ascii_case("8BITMIME") => {
                    mail_params.body = BodyType::EightBitMime;
                }
                ("SMTPUTF8", None) => mail_params.smtputf8 = true,
                ("AUTH", Some(value)) if is_auth_value(value) => {}
                ("AUTH", _) => return self.error_reply(reply::bad_auth_parameter()),
                _ => return self.error_reply(reply::unsupported_parameter(&param.keyword)),
            }
        }
        if !mail_params.smtputf8 && !sender.is_ascii() {
            return self.error_reply(reply::utf8_address_without_smtputf8(true));
        }
        let Some(tenant) = tenant else {
            self.envelope = Envelope {
                sender: Some(sender),
                params: mail_params,
                declared_size,
                local_only: true,
                ..Envelope::default()
            };
            self.reply(reply::sender_ok());
            return Ok(());
        };
        let engine = self.ctx.engine.clone();
        let (verdict, prefetched) = engine
            .on_mail_reading_ahead(&MailContext {
                tenant: &tenant,
                peer: self.peer.ip(),
                sender: &sender,
                authenticated: self.auth_tenant.is_some(),
            })
            .await;
        if self.apply_verdict(verdict)? {
            self.envelope = Envelope {
                sender: Some(sender),
                params: mail_params,
                declared_size,
                prefetched,
                ..Envelope::default()
            };
            self.reply(reply::sender_ok());
        }
        Ok(())
    }

    /// Sends the verdict's reply if it refuses; true when the command may proceed.
    pub(super) fn apply_verdict(&mut self, verdict: Verdict) -> Result<bool, End> {
        match verdict {
            Verdict::Continue | Verdict::Accept => Ok(true),
            Verdict::Defer(reply) => {
                self.reply(reply);
                Ok(false)
            }
            Verdict::Reject(reply) => {
                self.error_reply(reply)?;
                Ok(false)
            }
            Verdict::Disconnect(reply) => {
                self.reply(reply);
                Err(End::AfterReply)
            }
        }
    }
}
