//! One queue entry's envelope and delivery state, stored as JSON beside the raw message body.

use serde::{Deserialize, Serialize};

/// Delivery state of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientStatus {
    Pending,
    Delivered,
    Failed,
}

/// One recipient and what happened to it so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientState {
    pub address: String,
    pub status: RecipientStatus,
    /// The last reply from the next hop (or our reason), for logs and DSNs.
    pub last_reply: Option<String>,
}

/// The envelope and bookkeeping of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub id: String,
    pub tenant: String,
    /// Envelope sender; empty for the null sender (never bounced).
    pub sender: String,
    pub recipients: Vec<RecipientState>,
    pub created_ms: u64,
    pub attempts: u32,
    pub next_attempt_ms: u64,
    /// Trace headers we add (Received), written before the body on relay.
    pub trace: String,
}

impl QueueEntry {
    pub fn new(
        id: String,
        tenant: String,
        sender: String,
        recipients: Vec<String>,
        trace: String,
        now_ms: u64,
    ) -> Self {
        QueueEntry {
            id,
            tenant,
            sender,
            recipients: recipients
                .into_iter()
                .map(|address| RecipientState {
                    address,
                    status: RecipientStatus::Pending,
                    last_reply: None,
                })
                .collect(),
            created_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            trace,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data structures cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<QueueEntry> {
        serde_json::from_slice(bytes).ok()
    }

    pub fn pending(&self) -> impl Iterator<Item = &RecipientState> {
        self.recipients.iter().filter(|r| r.status == RecipientStatus::Pending)
    }
}
