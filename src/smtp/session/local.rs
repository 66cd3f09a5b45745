//! Recipients and DATA of a local mailbox (`smtp::local`): RCPT asks the mailbox to admit the
//! client once per transaction; DATA reads the message with the same smuggling-proof receiver
//! as relayed mail, limited to the mailbox's size, and answers with the mailbox's reply. Nothing
//! here is queued, relayed, charged to a tenant or seen by the policy engine.

use super::{End, Session};
use crate::smtp::budget::COPIES;
use crate::smtp::command::Path;
use crate::smtp::data::initial_capacity;
use crate::smtp::reply;

impl Session {
    /// RCPT TO a local mailbox's address (`mailbox` is its index).
    pub(super) async fn local_rcpt(&mut self, mailbox: usize, recipient: Path) -> Result<(), End> {
        if !self.envelope.recipients.is_empty() {
            self.reply(reply::local_and_relayed_recipients());
            return Ok(());
        }
        let Some(local) = self.ctx.local_mailboxes.get(mailbox).cloned() else {
            return self.error_reply(reply::relay_denied());
        };
        if !self.envelope.local.iter().any(|(index, _)| *index == mailbox) {
            if let Some(refusal) = local.admit(self.peer.ip()).await {
                tracing::info!(code = %refusal.summary(), "local recipient refused");
                self.reply(refusal);
                return Ok(());
            }
        }
        self.envelope.local.push((mailbox, recipient));
        self.reply(reply::recipient_ok());
        Ok(())
    }

    /// DATA for local recipients: each mailbox gets the message once, for its recipients; the
    /// reply is the last mailbox's, or the first refusal.
    pub(super) async fn local_data(&mut self) -> Result<(), End> {
        let mut mailboxes: Vec<usize> = self.envelope.local.iter().map(|(index, _)| *index).collect();
        mailboxes.dedup();
        let max_size = mailboxes
            .iter()
            .filter_map(|index| self.ctx.local_mailboxes.get(*index))
            .map(|mailbox| mailbox.max_size())
            .min()
            .unwrap_or(0)
            .min(self.ctx.config.limits.max_message_size.get());
        let max_size = usize::try_from(max_size).unwrap_or(usize::MAX);
        if self.envelope.declared_size.is_some_and(|size| size > max_size as u64) {
            self.envelope = Default::default();
            return self.error_reply(reply::size_exceeded(max_size as u64));
        }
        let capacity = initial_capacity(max_size, self.envelope.declared_size);
        let Some(held) = self.ctx.data_budget.reserve(COPIES * capacity as u64) else {
            self.reply(reply::data_in_flight_exceeded());
            return Ok(());
        };
        let (body, _held) = match self.receive_body(max_size, capacity, held).await? {
            Ok(received) => received,
            Err(refusal) => {
                tracing::info!(code = %refusal.summary(), "local message refused");
                self.envelope = Default::default();
                return self.error_reply(refusal);
            }
        };
        let envelope = std::mem::take(&mut self.envelope);
        let mut answer = None;
        for index in mailboxes {
            let Some(mailbox) = self.ctx.local_mailboxes.get(index).cloned() else {
                continue;
            };
            let recipients: Vec<String> = envelope
                .local
                .iter()
                .filter(|(i, _)| *i == index)
                .map(|(_, path)| path.to_address())
                .collect();
            let reply = mailbox.deliver(self.peer.ip(), &recipients, body.clone()).await;
            let refused = reply.code() >= 400;
            answer = Some(reply);
            if refused {
                break;
            }
        }
        self.messages += 1;
        self.reply(answer.unwrap_or_else(reply::no_valid_recipients));
        Ok(())
    }
}
