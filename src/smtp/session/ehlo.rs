//! EHLO / HELO: greet, reset the transaction, advertise extensions (AUTH only over TLS or on a
//! trusted listener; STARTTLS only before TLS and when configured).

use super::{End, Envelope, Session};
use crate::config::ListenerTls;
use crate::smtp::reply;

impl Session {
    pub(super) fn ehlo(&mut self, name: String, extended: bool) -> Result<(), End> {
        self.helo = Some(name);
        self.esmtp = extended;
        self.envelope = Envelope::default();
        let hostname = &self.ctx.config.server.hostname;
        if !extended {
            self.reply(reply::helo(hostname, &self.peer.ip().to_string()));
            return Ok(());
        }
        let mut extensions = vec![
            "PIPELINING".into(),
            format!("SIZE {}", self.ctx.config.limits.max_message_size.get()).into(),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if self.starttls_available() {
            extensions.push("STARTTLS".into());
        }
        if self.auth_allowed() {
            extensions.push("AUTH PLAIN LOGIN".into());
        }
        self.reply(reply::ehlo(hostname, &self.peer.ip().to_string(), extensions));
        Ok(())
    }

    pub(super) fn starttls_available(&self) -> bool {
        !self.tls && self.listener.tls == ListenerTls::Starttls && self.ctx.tls.is_some()
    }

    /// AUTH is offered and accepted only over TLS, unless the listener is marked trusted.
    pub(super) fn auth_allowed(&self) -> bool {
        self.tls || self.listener.trusted
    }
}
