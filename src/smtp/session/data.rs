//! DATA: receive the message with the smuggling-proof receiver, run the message checks, add our
//! trace header, write it to the queue durably, and only then reply `250` with the queue id.

use super::io::Phase;
use super::{End, Envelope, Session};
use crate::policy::DataContext;
use crate::queue::{now_ms, QueueEntry};
use crate::smtp::data::{DataError, DataReceiver, Progress};
use crate::smtp::reply;
use crate::smtp::trace::received_header;

impl Session {
    pub(super) async fn data(&mut self) -> Result<(), End> {
        let Some(sender) = self.envelope.sender.clone() else {
            return self.error_reply(reply::bad_sequence("Need MAIL command"));
        };
        if self.envelope.recipients.is_empty() {
            return self.error_reply(reply::no_valid_recipients());
        }
        let Some(tenant) = self.tenant() else {
            return self.error_reply(reply::relay_denied());
        };
        self.reply(reply::start_data());
        self.flush().await?;

        let limits = &self.ctx.config.limits;
        let max_size = limits.max_message_size.as_usize();
        let mut receiver = DataReceiver::new(max_size, limits.max_data_line);
        loop {
            if let Progress::Done { consumed } = receiver.feed(&self.inbuf) {
                self.consume(consumed);
                break;
            }
            self.inbuf.clear();
            self.read_more(Phase::Data).await?;
        }
        let envelope = std::mem::take(&mut self.envelope);
        let body = match receiver.finish() {
            Ok(body) => body,
            Err(error) => {
                let refusal = match error {
                    DataError::BareLineBreak => reply::bare_line_break(),
                    DataError::LineTooLong => reply::data_line_too_long(self.ctx.config.limits.max_data_line),
                    DataError::TooBig => reply::size_exceeded(max_size as u64),
                };
                tracing::info!(rule = "data", verdict = "reject", code = %refusal.summary(), "message refused");
                return self.error_reply(refusal);
            }
        };
        let engine = self.ctx.engine.clone();
        let verdict = engine
            .on_data(&DataContext {
                tenant: &tenant,
                sender: &sender,
                recipients: &envelope.recipients,
                message: &body,
            })
            .await;
        if !self.apply_verdict(verdict)? {
            return Ok(());
        }
        let recipients = envelope.recipients.len();
        if let Some(queue_id) = self.enqueue(&tenant.id, envelope, body).await {
            // The message is durable: tell the client first, then charge the quotas and audit.
            self.flush().await?;
            engine.on_accepted(&tenant, recipients, &queue_id).await;
        }
        Ok(())
    }

    /// Queues the message durably and replies; the queue id when it was accepted.
    async fn enqueue(&mut self, tenant: &str, envelope: Envelope, body: Vec<u8>) -> Option<String> {
        let queue = &self.ctx.queue;
        let id = queue.new_id();
        let now = now_ms();
        let with = match (self.tls, self.auth_tenant.is_some()) {
            (false, false) => "ESMTP",
            (true, false) => "ESMTPS",
            (false, true) => "ESMTPA",
            (true, true) => "ESMTPSA",
        };
        let with = if envelope.smtputf8 {
            format!("UTF8{with}")
        } else {
            with.to_string()
        };
        let mut trace = received_header(
            self.helo.as_deref().unwrap_or("unknown"),
            self.peer.ip(),
            &self.ctx.config.server.hostname,
            &with,
            &id,
            now / 1000,
        );
        // Like a submission server (RFC 6409 8.2, 8.3): add a missing Date and Message-ID.
        let headers = crate::policy::headers::Headers::parse(&body);
        if headers.count("date") == 0 {
            trace.push_str(&format!("Date: {}\r\n", crate::smtp::trace::rfc5322_date(now / 1000)));
        }
        if headers.count("message-id") == 0 {
            trace.push_str(&format!("Message-ID: <{id}@{}>\r\n", self.ctx.config.server.hostname));
        }
        let sender = envelope.sender.map(|s| s.to_address()).unwrap_or_default();
        let recipients: Vec<String> = envelope.recipients.iter().map(|r| r.to_address()).collect();
        let count = recipients.len();
        let size = body.len();
        let entry = QueueEntry::new(id.clone(), tenant.to_string(), sender, recipients, trace, now);
        match queue.enqueue(entry, body).await {
            Ok(()) => {
                self.messages += 1;
                tracing::info!(queue_id = %id, recipients = count, size, "message queued");
                self.reply(reply::queued(&id));
                Some(id)
            }
            Err(error) => {
                tracing::error!(%error, "queue write failed");
                self.reply(reply::temporary_failure());
                None
            }
        }
    }
}
