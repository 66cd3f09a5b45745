//! The one path every complaint takes after it arrives (mail to a feedback address, `POST
//! /api/v1/complaints`, `aupgate admin complaints import`, the abuse desk's form): parse, set
//! aside what is no complaint (`not-spam`, a report about a report, no report at all),
//! attribute, and hand to the [`ComplaintSink`].
//!
//! Attribution, strongest first:
//! 1. the returned message's topmost `X-Aupgate-Ref`, verified with the server's trace keys: a
//!    forged or altered value attributes nothing (and the next step is tried);
//! 2. the returned message's Message-ID in the index written when the message was accepted
//!    (`RateStore::message_origin_get`);
//! 3. neither: stored unattributed, shown to the admin, no effect on any tenant.
//!
//! It decides nothing about what a complaint does (the sink does) and never drops one: every
//! failure is an error the caller answers with a temporary failure.

use std::sync::Arc;

use aws_lc_rs::digest;
use serde::{Deserialize, Serialize};

use super::model::{AttributedBy, Complaint, ComplaintError, ComplaintSink, ComplaintSource, Recorded};
use super::report::{self, Ignored, Parsed, ReportError};
use super::TraceKeys;
use crate::policy::recipient::identity;
use crate::store::RateStore;

/// What became of one report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored as complaint `id`; `tenant` is `None` for an unattributed one.
    Recorded {
        id: String,
        tenant: Option<String>,
        campaign: Option<String>,
        attributed_by: Option<AttributedBy>,
    },
    /// The same report was stored before as `id`: nothing counted again.
    Duplicate { id: String },
    /// Not a complaint: `not_spam`, `report_about_report`, `not_a_report`, `other_report` (a
    /// DSN, an MDN), `auto_reply` or `not_from_a_loop` (a message attached with no ARF fields
    /// and none of Microsoft's loop marks).
    Ignored { reason: String },
}

/// Why a report could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The report is over `[feedback] max_report_size` (the caller refuses it for good).
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The abuse desk's form names nothing to attribute by, or something malformed.
    #[error("{0}")]
    Invalid(String),
    /// Storing failed: try again later, nothing was lost.
    #[error(transparent)]
    Complaint(#[from] ComplaintError),
}

/// A complaint the abuse desk types in (`POST /api/v1/complaints` as JSON).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ManualComplaint {
    /// The tenant complained about (or give `message_id`).
    #[serde(default)]
    pub tenant: Option<String>,
    /// The Message-ID of the mail complained about: attributes it when the gateway relayed it.
    #[serde(default)]
    pub message_id: Option<String>,
    /// Who complained (an address or a domain); none makes the complaint anonymous.
    #[serde(default)]
    pub reporter: Option<String>,
    /// The complaining recipient: suppressed for the tenant.
    #[serde(default)]
    pub recipient: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
    /// A case's deadline is shorter (Integra: 24 h instead of 5 business days).
    #[serde(default)]
    pub urgent: bool,
}

/// Reports larger than this are parsed as blocking work (`block_in_place`).
const PARSE_BLOCKING_ABOVE: usize = 256 * 1024;

/// Longest note or reporter the form takes.
const MAX_FORM_FIELD: usize = 4096;

/// The intake path, shared by the SMTP mailbox, the API and (through the API) the CLI.
pub struct Intake {
    keys: TraceKeys,
    store: Arc<dyn RateStore>,
    sink: Arc<dyn ComplaintSink>,
    own_addresses: Vec<String>,
    max_size: usize,
}

impl Intake {
    /// `own_addresses`: `[feedback] addresses`; `max_size`: `[feedback] max_report_size`.
    pub fn new(
        keys: TraceKeys,
        store: Arc<dyn RateStore>,
        sink: Arc<dyn ComplaintSink>,
        own_addresses: &[String],
        max_size: usize,
    ) -> Intake {
        Intake {
            keys,
            store,
            sink,
            own_addresses: own_addresses.iter().map(|a| a.to_ascii_lowercase()).collect(),
            max_size,
        }
    }

    /// The largest report taken.
    pub fn max_size(&self) -> usize {
        self.max_size
    }

    /// Takes one raw report received at `now` (unix ms).
    pub async fn report(&self, raw: &[u8], source: ComplaintSource, now: u64) -> Result<Outcome, IntakeError> {
        // A large report is parsed with the runtime told that this worker blocks meanwhile (as
        // DATA does with a large message).
        let parse = || report::parse(raw, self.max_size, &self.own_addresses);
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let parsed = if raw.len() > PARSE_BLOCKING_ABOVE && multi_thread {
            tokio::task::block_in_place(parse)
        } else {
            parse()
        };
        let parsed = match parsed? {
            Parsed::Ignored(why) => return Ok(ignored(why)),
            Parsed::Complaint(parsed) => parsed,
        };
        let found = self
            .attribute(parsed.trace.as_deref(), parsed.original_message_id.as_deref(), now)
            .await?;
        // The recipient a report names is checked against the recipients the Message-ID index
        // recorded for the message: one it never had makes the report a forgery.
        let recipient_confirmed = match (&parsed.recipient, &found.recipients) {
            (Some(recipient), Some(digests)) => {
                if !digests.contains(&crate::store::complaints::recipient_digest(recipient)) {
                    tracing::warn!(queue_id = ?found.queue_id, "a complaint names a recipient the message never had: ignored");
                    return Ok(ignored(Ignored::NotARecipient));
                }
                true
            }
            _ => false,
        };
        let complaint = Complaint {
            dedup_key: dedup_key(&parsed.dedup_basis(found.queue_id.as_deref(), recipient_confirmed)),
            tenant: found.tenant,
            campaign: found.campaign,
            queue_id: found.queue_id,
            attributed_by: found.by,
            recipient: parsed.recipient,
            reporter: parsed.reporter,
            feedback_type: parsed.feedback_type,
            received_at: now,
            original_message_id: parsed.original_message_id,
            original: parsed.original,
            source,
            urgent: false,
            note: None,
        };
        self.record(complaint).await
    }

    /// Takes a complaint the abuse desk typed in. The tenant, when named, must exist (the
    /// caller checks); a Message-ID the gateway does not know leaves the complaint with the
    /// named tenant, or unattributed.
    pub async fn manual(&self, form: &ManualComplaint, now: u64) -> Result<Outcome, IntakeError> {
        let tenant = form.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty());
        let message_id = form
            .message_id
            .as_deref()
            .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').trim())
            .filter(|id| !id.is_empty());
        if tenant.is_none() && message_id.is_none() {
            return Err(IntakeError::Invalid("give `tenant` or `message_id`".into()));
        }
        for (name, value) in [
            ("note", &form.note),
            ("reporter", &form.reporter),
            ("recipient", &form.recipient),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > MAX_FORM_FIELD) {
                return Err(IntakeError::Invalid(format!(
                    "`{name}` is longer than {MAX_FORM_FIELD}"
                )));
            }
        }
        if message_id.is_some_and(|id| id.len() > 998 || id.contains(char::is_control)) {
            return Err(IntakeError::Invalid("`message_id` is not a Message-ID".into()));
        }
        let recipient = match form.recipient.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
            Some(address) => Some(mailbox(address)?),
            None => None,
        };
        let by_id = match message_id {
            Some(id) => self.attribute(None, Some(id), now).await?,
            None => Found::default(),
        };
        let found = match tenant {
            // The named tenant decides; the Message-ID adds its campaign when it is the same
            // tenant's mail.
            Some(named) if by_id.tenant.as_deref() == Some(named) => Found {
                by: Some(AttributedBy::Operator),
                ..by_id
            },
            Some(named) => Found {
                tenant: Some(named.to_string()),
                by: Some(AttributedBy::Operator),
                ..Found::default()
            },
            None => by_id,
        };
        let reporter = form.reporter.as_deref().map(str::trim).filter(|r| !r.is_empty());
        let note = form.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let basis = format!(
            "manual\0{}\0{}\0{}\0{}\0{}",
            tenant.unwrap_or(""),
            message_id.unwrap_or(""),
            recipient.as_deref().unwrap_or(""),
            reporter.unwrap_or(""),
            note.unwrap_or("")
        );
        let complaint = Complaint {
            dedup_key: dedup_key(&basis),
            tenant: found.tenant,
            campaign: found.campaign,
            queue_id: found.queue_id,
            attributed_by: found.by,
            recipient,
            reporter: reporter.map(str::to_string),
            feedback_type: "abuse".into(),
            received_at: now,
            original_message_id: message_id.map(str::to_string),
            original: Vec::new(),
            source: ComplaintSource::Manual,
            urgent: form.urgent,
            note: note.map(str::to_string),
        };
        self.record(complaint).await
    }

    async fn record(&self, complaint: Complaint) -> Result<Outcome, IntakeError> {
        let outcome = match self.sink.record(&complaint).await? {
            Recorded::New { id } => Outcome::Recorded {
                id,
                tenant: complaint.tenant.clone(),
                campaign: complaint.campaign.clone(),
                attributed_by: complaint.attributed_by,
            },
            Recorded::Duplicate { id } => Outcome::Duplicate { id },
        };
        tracing::info!(
            tenant = complaint.tenant.as_deref().unwrap_or(""),
            reporter = complaint.reporter.as_deref().unwrap_or(""),
            feedback_type = %complaint.feedback_type,
            source = ?complaint.source,
            outcome = ?outcome,
            "complaint taken"
        );
        Ok(outcome)
    }

    /// The tenant, campaign and queue id the returned message leads to.
    async fn attribute(
        &self,
        trace: Option<&str>,
        message_id: Option<&str>,
        now: u64,
    ) -> Result<Found, ComplaintError> {
        // The index entry of the Message-ID (its recipients; the attribution when the trace
        // header is missing or does not verify).
        let origin = match message_id {
            Some(message_id) => self.store.message_origin_get(message_id, now).await?,
            None => None,
        };
        let recipients_of = |origin: &crate::store::MessageOrigin| {
            Some(origin.recipients.clone()).filter(|digests| !digests.is_empty())
        };
        if let Some(attribution) = trace.and_then(|value| self.keys.verify(value)) {
            let queue_id = Some(attribution.queue_id).filter(|q| !q.is_empty());
            let recipients = origin
                .as_ref()
                .filter(|o| queue_id.as_deref() == Some(o.queue_id.as_str()))
                .and_then(recipients_of);
            return Ok(Found {
                tenant: Some(attribution.tenant),
                // `-` is no campaign: two complaints about campaign-less mail are unrelated.
                campaign: Some(attribution.campaign).filter(|c| !c.is_empty() && c != super::attribution::NO_CAMPAIGN),
                queue_id,
                by: Some(AttributedBy::TraceHeader),
                recipients,
            });
        }
        if trace.is_some() {
            tracing::warn!("a complaint's trace header does not verify: not attributed by it");
        }
        Ok(match origin {
            Some(origin) => Found {
                recipients: recipients_of(&origin),
                tenant: Some(origin.tenant),
                campaign: origin.campaign,
                queue_id: Some(origin.queue_id),
                by: Some(AttributedBy::MessageId),
            },
            None => Found::default(),
        })
    }
}

/// What attribution found.
#[derive(Default)]
struct Found {
    tenant: Option<String>,
    campaign: Option<String>,
    queue_id: Option<String>,
    by: Option<AttributedBy>,
    /// The message's recipient digests, when the index recorded them.
    recipients: Option<Vec<String>>,
}

fn ignored(why: Ignored) -> Outcome {
    Outcome::Ignored {
        reason: why.as_str().to_string(),
    }
}

/// The dedup key of a report's identity: SHA-256, the first 16 bytes in hex.
fn dedup_key(basis: &str) -> String {
    let digest = digest::digest(&digest::SHA256, basis.as_bytes());
    crate::store::key::hex(&digest.as_ref()[..16])
}

/// The form's recipient as suppression lists keep it.
fn mailbox(address: &str) -> Result<String, IntakeError> {
    let address = address.trim_start_matches('<').trim_end_matches('>');
    match address.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !address.contains(|c: char| c.is_whitespace() || c.is_control()) =>
        {
            Ok(identity(address, true))
        }
        _ => Err(IntakeError::Invalid(format!("`{address}` is not an email address"))),
    }
}
