//! The values the complaint pipeline's stages hand each other: intake parses a report into a
//! [`Complaint`] and gives it to a [`ComplaintSink`] (storage, suppression, counts, ladders); a
//! ladder step sends the tenant a [`Notice`] through a [`NoticeSender`] (the gateway's own
//! queue); the relay tells a [`DeliveryWatcher`] when it counted a recipient's outcome so a
//! rate ladder can be evaluated. Each stage depends only on these types, not on the others.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};

/// A boxed future returning `Result<T, ComplaintError>`.
pub type ComplaintFut<'a, T> = Pin<Box<dyn Future<Output = Result<T, ComplaintError>> + Send + 'a>>;

/// Why a complaint stage failed (the caller answers with a temporary failure, never drops it).
#[derive(Debug, thiserror::Error)]
pub enum ComplaintError {
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("notice: {0}")]
    Notice(String),
    #[error("{0}")]
    Invalid(String),
}

/// How a complaint reached the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintSource {
    /// Mail to one of `[feedback] addresses`.
    Smtp,
    /// `POST /api/v1/complaints` with a raw report.
    Http,
    /// `aupgate admin complaints import`.
    Cli,
    /// Typed in by the abuse desk (the JSON form).
    Manual,
}

/// How the complaint was tied to its tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttributedBy {
    /// The topmost verified `X-Aupgate-Ref` of the returned message.
    TraceHeader,
    /// The returned message's Message-ID, found in the acceptance audit.
    MessageId,
    /// Named by the operator (the JSON form's tenant).
    Operator,
}

/// One complaint as intake hands it on: parsed, deduplicated by `dedup_key`, attributed if it
/// could be (`tenant` is `None` for an unattributed one, which is stored and shown to the admin
/// but has no effect on any tenant).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Complaint {
    /// The same report twice has the same key, and counts once.
    pub dedup_key: String,
    pub tenant: Option<String>,
    pub campaign: Option<String>,
    pub queue_id: Option<String>,
    pub attributed_by: Option<AttributedBy>,
    /// The complaining recipient (normalised), when the report names it (RFC 6590 redaction
    /// leaves it out).
    pub recipient: Option<String>,
    /// Who reported it (the feedback loop's domain or address); `None` is anonymous.
    pub reporter: Option<String>,
    /// ARF `Feedback-Type` (`abuse`, `fraud`, `virus`, `other`...; `not-spam` never gets here).
    pub feedback_type: String,
    /// When the gateway received it (unix ms): the time every window counts by.
    pub received_at: u64,
    /// The reported message's Message-ID (the original's, not the report's).
    pub original_message_id: Option<String>,
    /// The returned message as reported: whole (`message/rfc822`) or only its header
    /// (`text/rfc822-headers`). A notice attaches it as the copy of the reported mail.
    pub original: Vec<u8>,
    pub source: ComplaintSource,
    /// The abuse desk marked it urgent (a case's deadline is shorter).
    pub urgent: bool,
    /// The abuse desk's note.
    pub note: Option<String>,
}

/// What storing a complaint did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Stored under `id`, its effects applied.
    New { id: String },
    /// The same report was already stored under `id`: nothing counted again.
    Duplicate { id: String },
}

/// Where intake hands a parsed complaint: stores it and applies its effects (suppression,
/// counts, ladders).
pub trait ComplaintSink: Send + Sync {
    fn record<'a>(&'a self, complaint: &'a Complaint) -> ComplaintFut<'a, Recorded>;
}

/// What a notice tells the tenant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    Warning,
    FinalWarning,
    Suspension,
    CaseOpened,
    CaseDeadlineNear,
    /// A recipient unsubscribed through the gateway's link or address (forwarded to the tenant).
    Unsubscribe,
}

/// A notice to a tenant's `contact`.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub tenant: String,
    pub kind: NoticeKind,
    /// Why, in words the tenant reads (the rule and its numbers).
    pub reason: String,
    /// Copies of the reported mails, each attached as a `message/rfc822` part.
    pub copies: Vec<Vec<u8>>,
}

/// Sends notices through the gateway's own queue; returns the queue id.
pub trait NoticeSender: Send + Sync {
    fn send<'a>(&'a self, notice: &'a Notice) -> ComplaintFut<'a, String>;
}

/// Told by the relay each time it counted a recipient's outcome for `tenant`, so that a
/// complaint- or bounce-rate ladder can look at the new figures.
pub trait DeliveryWatcher: Send + Sync {
    fn outcome_counted<'a>(&'a self, tenant: &'a str) -> ComplaintFut<'a, ()>;
}

/// The stored complaints, read by a ladder that needs more than the one complaint in hand (SPCM's
/// notice carries copies of every reported mail of the period).
pub trait ComplaintLog: Send + Sync {
    /// The tenant's complaints received in `[from, to)` (unix ms), oldest first.
    fn received<'a>(&'a self, tenant: &'a str, from: u64, to: u64) -> ComplaintFut<'a, Vec<Complaint>>;
}
