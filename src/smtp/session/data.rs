//! DATA: receive the message with the smuggling-proof receiver, hand it to the engine with how it
//! arrived, write the message `policy::cleanup` made of it to the queue durably, and only then
//! reply `250` with the queue id. The session never edits the message itself.

use tokio::time::Instant;

use super::deadline::DataPace;
use super::io::Phase;
use super::{End, Envelope, Session};
use crate::policy::cleanup::Arrival;
use crate::policy::{DataContext, DataDecision};
use crate::queue::{now_ms, QueueEntry};
use crate::smtp::budget::{Reservation, COPIES};
use crate::smtp::data::{initial_capacity, DataError, DataReceiver, Progress};
use crate::smtp::reply::{self, Reply};

/// Messages larger than this are parsed as blocking work (`block_in_place`).
const PARSE_BLOCKING_ABOVE: usize = 256 * 1024;

impl Session {
    pub(super) async fn data(&mut self) -> Result<(), End> {
        let Some(sender) = self.envelope.sender.clone() else {
            return self.error_reply(reply::bad_sequence("Need MAIL command"));
        };
        if !self.envelope.local.is_empty() {
            return self.local_data().await;
        }
        if self.envelope.recipients.is_empty() {
            return self.error_reply(reply::no_valid_recipients());
        }
        let Some(tenant) = self.tenant() else {
            return self.error_reply(reply::relay_denied());
        };
        let max_size = self.ctx.config.limits.max_message_size.as_usize();
        let capacity = initial_capacity(max_size, self.envelope.declared_size);
        let Some(held) = self.ctx.data_budget.reserve(COPIES * capacity as u64) else {
            tracing::info!(
                rule = "limits.data_in_flight",
                verdict = "defer",
                code = "452 4.3.1",
                "no room for the message"
            );
            self.reply(reply::data_in_flight_exceeded());
            return Ok(());
        };
        let (body, _held) = match self.receive_body(max_size, capacity, held).await? {
            Ok(received) => received,
            Err(refusal) => {
                tracing::info!(rule = "data", verdict = "reject", code = %refusal.summary(), "message refused");
                self.envelope = Envelope::default();
                return self.error_reply(refusal);
            }
        };
        // A message cut while it was read was never accepted: nothing is queued or charged.
        let envelope = std::mem::take(&mut self.envelope);
        let engine = self.ctx.engine.clone();
        let queue_id = self.ctx.queue.new_id();
        let now = now_ms();
        // The message is parsed once: every check, the fingerprint, the signer and the cleanup
        // read this parse. A large one is parsed with the runtime told that this worker
        // blocks meanwhile.
        let parse = || crate::message::parse(&body);
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let message = if body.len() > PARSE_BLOCKING_ABOVE && multi_thread {
            tokio::task::block_in_place(parse)
        } else {
            parse()
        };
        let arrival = Arrival {
            helo: self.helo.as_deref(),
            peer: self.peer.ip(),
            hostname: &self.ctx.config.server.hostname,
            tls: self.tls,
            authenticated: self.auth_tenant.is_some(),
            smtputf8: envelope.params.smtputf8,
            now_ms: now,
        };
        let decision = engine
            .on_data(&DataContext {
                tenant: &tenant,
                sender: &sender,
                recipients: &envelope.recipients,
                message: &message,
                arrival: Some(&arrival),
                queue_id: &queue_id,
            })
            .await;
        let DataDecision {
            verdict,
            cleaned,
            pending,
            ..
        } = decision;
        drop(message);
        if !self.apply_verdict(verdict)? {
            return Ok(());
        }
        // An accepted verdict always carries its cleaned message and its bookkeeping.
        let (Some(cleaned), Some(pending)) = (cleaned, pending) else {
            return Ok(());
        };
        // The Message-ID as relayed: the tenant's, or the one the cleanup added.
        let message_id = cleaned.message_id().map(str::to_string);
        let (prefix, body) = cleaned.into_queued(body);
        if self
            .enqueue(&tenant.id, queue_id.clone(), envelope, prefix, body, now)
            .await
        {
            // The message is durable: it keeps the charges its checks made (the quotas among
            // them). Its acceptance is recorded while the 250 goes out and the next command is
            // read; the last one's recording is done first, so at most one is in flight.
            self.recorded().await;
            let (sent, recording) = pending.commit(&queue_id, message_id.as_deref(), self.flush()).await;
            self.recording = Some(recording);
            sent?;
        } else {
            // Not queued (the client was told 451): the message does not count.
            pending.abandon().await;
        }
        Ok(())
    }

    /// Queues the message durably and replies; true when it was accepted.
    async fn enqueue(
        &mut self,
        tenant: &str,
        id: String,
        envelope: Envelope,
        prefix: String,
        body: Vec<u8>,
        now: u64,
    ) -> bool {
        let sender = envelope.sender.map(|s| s.to_address()).unwrap_or_default();
        let recipients: Vec<String> = envelope.recipients.iter().map(|r| r.to_address()).collect();
        let count = recipients.len();
        let size = body.len();
        let entry = QueueEntry::new(id.clone(), tenant.to_string(), sender, recipients, prefix, now)
            .with_mail_params(envelope.params);
        match self.ctx.queue.enqueue(entry, body).await {
            Ok(()) => {
                self.messages += 1;
                tracing::info!(queue_id = %id, recipients = count, size, "message queued");
                self.reply(reply::queued(&id));
                true
            }
            Err(error) => {
                tracing::error!(%error, "queue write failed");
                self.reply(reply::queue_write_failed());
                false
            }
        }
    }
}

impl Session {
    /// Answers `354` and reads the message with the smuggling-proof receiver, at most
    /// `max_size` bytes at the pace the limits ask: the body with the reservation that pays for
    /// its copies until it is queued or refused (released on drop), or the refusal of a message
    /// that broke a rule of the receiver. Relayed mail and local mailboxes read DATA here.
    pub(super) async fn receive_body(
        &mut self,
        max_size: usize,
        capacity: usize,
        held: Reservation,
    ) -> Result<Result<(Vec<u8>, Option<Reservation>), Reply>, End> {
        self.reply(reply::start_data());
        self.flush().await?;
        let limits = &self.ctx.config.limits;
        let mut receiver = DataReceiver::with_budget(max_size, limits.max_data_line, capacity, held);
        let mut pace = DataPace::new(
            Instant::now(),
            limits.data_min_rate.get(),
            limits.data_rate_grace.get(),
            limits.command_timeout.get(),
        );
        let mut received = 0u64;
        loop {
            if let Progress::Done { consumed } = receiver.feed(&self.inbuf) {
                self.consume(consumed);
                break;
            }
            received += self.inbuf.len() as u64;
            self.inbuf.clear();
            let (deadline, expiry) = pace.deadline(received, Instant::now());
            self.read_more(Phase::Data, deadline, expiry).await?;
        }
        let held = receiver.take_reservation();
        Ok(match receiver.finish() {
            Ok(body) => Ok((body, held)),
            Err(error) => Err(match error {
                DataError::BareLineBreak => reply::bare_line_break(),
                DataError::Nul => reply::nul_in_data(),
                DataError::LineTooLong => reply::data_line_too_long(self.ctx.config.limits.max_data_line),
                DataError::TooBig => reply::size_exceeded(max_size as u64),
                DataError::OverBudget => reply::data_in_flight_exceeded(),
            }),
        })
    }
}
