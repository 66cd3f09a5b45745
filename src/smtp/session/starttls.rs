//! STARTTLS: upgrade the connection. Everything the client pipelined after the command is thrown
//! away (CVE-2011-0411), and so is all session state: the client must EHLO again.

use super::{End, Envelope, Session};
use crate::smtp::reply;

impl Session {
    pub(super) async fn starttls(&mut self) -> Result<(), End> {
        if self.tls {
            return self.error_reply(reply::bad_sequence("Already in TLS"));
        }
        let Some(acceptor) = self.ctx.tls.clone().filter(|_| self.starttls_available()) else {
            return self.error_reply(reply::tls_unavailable());
        };
        self.reply(reply::ready_for_tls());
        self.flush().await?;
        self.inbuf.clear();
        self.discarding_line = false;
        let Some(stream) = self.stream.take() else {
            return Err(End::Closed);
        };
        let timeout = self.ctx.config.limits.command_timeout.get();
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                self.stream = Some(Box::new(tls));
                self.tls = true;
                self.helo = None;
                self.esmtp = false;
                self.auth_tenant = None;
                self.envelope = Envelope::default();
                Ok(())
            }
            Ok(Err(error)) => {
                tracing::info!(%error, "STARTTLS handshake failed");
                Err(End::Closed)
            }
            Err(_) => Err(End::Closed),
        }
    }
}
