//! Notices to tenants: a ladder step (warning, final warning, suspension, a complaint case) or a
//! forwarded unsubscribe, written as a MIME message to the tenant's `contact` and put straight
//! into the gateway's own durable queue.
//!
//! A notice never passes through the policy engine: it charges no quota, counter or campaign of
//! the tenant, and its queue entry is marked as the gateway's own (`QueueEntry::own`), so its
//! outcome is never counted against the tenant nor feeds the tenant's suppression list.
//!
//! The message: `From` and envelope sender `[feedback] notice_from` (default `postmaster@`
//! `[server] hostname`), `Date`, `Message-ID`, `Auto-Submitted: auto-generated` (RFC 3834), a
//! `multipart/mixed` of a `text/plain` part with the reason and, for each copy in
//! [`Notice::copies`], a `message/rfc822` part (or `text/rfc822-headers` when the copy is only a
//! header block, as many feedback loops return it). Copies are attached as they are, their line
//! ends made CRLF (a `message/rfc822` part may not be base64-encoded, RFC 2046 5.2.1); the
//! envelope declares `BODY=8BITMIME` when a copy holds 8-bit bytes.
//!
//! Copies are bounded, so that a tenant with thousands of complaints gets a notice of a sane
//! size: at most [`MAX_COPIES`] (the newest: the list is oldest first), in full while they total
//! at most [`MAX_COPIES_BYTES`], beyond that only their header block (`text/rfc822-headers`);
//! the reported mails not attached at all are listed in the text by Message-ID (at most
//! [`MAX_LISTED`], then their number).
//!
//! Like relayed mail, a notice is DKIM-signed when the gateway holds a key for its From domain
//! (`aupgate dkim generate` for the notice-from domain); otherwise it goes out unsigned.
//!
//! A tenant without a contact address (none, or a contact that is not a mail address) gets its
//! notice sent to the notice-from address instead (the provider's postmaster), and the audit
//! record says so. Every notice is audited in the tenant's log: action `notice`, target the
//! queue id, the kind as reason.

use std::sync::Arc;

use serde_json::json;

use super::model::{ComplaintError, ComplaintFut, Notice, NoticeKind, NoticeSender};

/// Most copies of reported mails one notice attaches.
pub const MAX_COPIES: usize = 20;
/// Most bytes of attached copies in one notice (beyond: header blocks only).
pub const MAX_COPIES_BYTES: usize = 5 * 1024 * 1024;
/// Most Message-IDs of reported mails not attached that a notice lists.
pub const MAX_LISTED: usize = 100;
use crate::queue::{now_ms, BodyType, MailParams, Queue, QueueEntry};
use crate::smtp::trace::rfc5322_date;
use crate::store::{AuditRecord, RateStore};

/// Sends notices through the gateway's own queue.
pub struct QueueNotices {
    hostname: String,
    from: String,
    store: Arc<dyn RateStore>,
    queue: Queue,
    /// Signs notices when the gateway holds a DKIM key for the From domain.
    signer: Option<Arc<crate::auth::Authenticator>>,
}

impl QueueNotices {
    /// Notices from `[feedback] notice_from` (or `postmaster@hostname`).
    pub fn new(config: &crate::config::Config, store: Arc<dyn RateStore>, queue: Queue) -> QueueNotices {
        QueueNotices {
            hostname: config.server.hostname.clone(),
            from: notice_from(config),
            store,
            queue,
            signer: None,
        }
    }

    /// Notices are DKIM-signed, like relayed mail, when `auth` holds a key for the From domain
    /// (or a parent of it).
    pub fn with_signer(mut self, auth: Arc<crate::auth::Authenticator>) -> QueueNotices {
        self.signer = Some(auth);
        self
    }

    /// A DKIM-Signature field for `message` (empty without a key, or if signing fails: a notice
    /// goes out unsigned rather than not at all).
    async fn signature(&self, message: &[u8]) -> String {
        let Some(auth) = &self.signer else {
            return String::new();
        };
        let Some((_, domain)) = self.from.rsplit_once('@') else {
            return String::new();
        };
        let Some(key) = auth.signing_key(domain, |_| true).await else {
            return String::new();
        };
        match auth.sign(&key, &[message]) {
            Ok((field, _)) => field,
            Err(error) => {
                tracing::warn!(domain = %key.domain, %error, "signing a notice failed; it goes out unsigned");
                String::new()
            }
        }
    }

    /// The address notices come from (and go to when a tenant has no contact).
    pub fn from_address(&self) -> &str {
        &self.from
    }

    async fn deliver(&self, notice: &Notice) -> Result<String, ComplaintError> {
        let record = self.store.tenant_get(&notice.tenant).await?;
        let contact = record
            .as_ref()
            .and_then(|r| r.contact.as_deref())
            .and_then(mail_address);
        let (to, fallback) = match contact {
            Some(address) => (address, false),
            None => (self.from.clone(), true),
        };
        let id = self.queue.new_id();
        let now = now_ms();
        let message = compose(&Composition {
            hostname: &self.hostname,
            from: &self.from,
            to: &to,
            queue_id: &id,
            now_secs: now / 1000,
            notice,
            boundary: &format!("aupgate-notice-{id}-{:016x}", rand::random::<u64>()),
        });
        let body_type = if message.is_ascii() {
            BodyType::SevenBit
        } else {
            BodyType::EightBitMime
        };
        let signature = self.signature(&message).await;
        let entry = QueueEntry::new(
            id.clone(),
            notice.tenant.clone(),
            self.from.clone(),
            vec![to.clone()],
            signature,
            now,
        )
        .with_mail_params(MailParams {
            smtputf8: false,
            body: body_type,
        })
        .gateways_own();
        self.queue
            .enqueue(entry, message)
            .await
            .map_err(|e| ComplaintError::Notice(e.to_string()))?;
        let reason = if fallback {
            format!(
                "{} notice sent to {to}: the tenant has no contact mail address",
                kind_name(notice.kind)
            )
        } else {
            format!("{} notice sent to {to}", kind_name(notice.kind))
        };
        let audit = AuditRecord {
            at: now,
            actor: "notices".into(),
            action: "notice".into(),
            target: id.clone(),
            reason,
            detail: json!({
                "kind": notice.kind,
                "to": to,
                "no_contact": fallback,
                "copies": notice.copies.len(),
            }),
        };
        if let Err(error) = self.store.audit_append(&notice.tenant, &audit).await {
            // The notice is queued and will go out: a lost audit line must not send it twice.
            tracing::error!(tenant = %notice.tenant, queue_id = %id, %error, "audit of a notice failed");
        }
        tracing::info!(tenant = %notice.tenant, queue_id = %id, kind = kind_name(notice.kind), to = %to, "notice queued");
        Ok(id)
    }
}

impl NoticeSender for QueueNotices {
    fn send<'a>(&'a self, notice: &'a Notice) -> ComplaintFut<'a, String> {
        Box::pin(self.deliver(notice))
    }
}

/// `[feedback] notice_from`, or `postmaster@` the server's hostname.
pub fn notice_from(config: &crate::config::Config) -> String {
    config
        .feedback
        .notice_from
        .clone()
        .unwrap_or_else(|| format!("postmaster@{}", config.server.hostname))
}

/// The mail address in a contact (`a@b`, `Name <a@b>`, `mailto:a@b`), if it holds one.
pub fn mail_address(contact: &str) -> Option<String> {
    let text = contact.trim();
    let text = match (text.rfind('<'), text.rfind('>')) {
        (Some(open), Some(close)) if open < close => &text[open + 1..close],
        _ => text,
    };
    let text = text.strip_prefix("mailto:").unwrap_or(text).trim();
    let (local, domain) = text.rsplit_once('@')?;
    let plain = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\\\"".contains(c))
    };
    (plain(local) && plain(domain) && crate::tenant::normalize_domain(domain).is_some()).then(|| text.to_string())
}

/// The kind as the audit log and the logs name it.
pub fn kind_name(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Warning => "warning",
        NoticeKind::FinalWarning => "final_warning",
        NoticeKind::Suspension => "suspension",
        NoticeKind::CaseOpened => "case_opened",
        NoticeKind::CaseDeadlineNear => "case_deadline_near",
        NoticeKind::Unsubscribe => "unsubscribe",
    }
}

fn subject(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Warning => "Warning: your mail breaks the acceptable use policy",
        NoticeKind::FinalWarning => "Final warning: your mail breaks the acceptable use policy",
        NoticeKind::Suspension => "Your outbound mail has been suspended",
        NoticeKind::CaseOpened => "A complaint about your mail needs your action",
        NoticeKind::CaseDeadlineNear => "Reminder: the deadline of a complaint case is near",
        NoticeKind::Unsubscribe => "A recipient unsubscribed from your mail",
    }
}

/// What one notice message is made of.
struct Composition<'a> {
    hostname: &'a str,
    from: &'a str,
    to: &'a str,
    queue_id: &'a str,
    now_secs: u64,
    notice: &'a Notice,
    boundary: &'a str,
}

/// The notice as a MIME message, CRLF line ends throughout.
fn compose(c: &Composition<'_>) -> Vec<u8> {
    let Composition {
        hostname,
        from,
        to,
        queue_id,
        now_secs,
        notice,
        boundary,
    } = c;
    let mut text = format!(
        "This is the mail gateway at {hostname}, about the mail of your account `{tenant}`.\r\n\r\n",
        tenant = notice.tenant
    );
    // Only CR and LF are inserted: the reason stays the UTF-8 it was.
    text.push_str(&String::from_utf8_lossy(&crlf(notice.reason.trim().as_bytes())));
    text.push_str("\r\n");
    let (attached, listed) = bounded_copies(&notice.copies);
    if !attached.is_empty() {
        let headers_only = attached.iter().filter(|(_, headers_only)| *headers_only).count();
        text.push_str(&format!(
            "\r\nAttached: {} cop{} of the reported mail{}.\r\n",
            attached.len(),
            if attached.len() == 1 { "y" } else { "ies" },
            if headers_only > 0 {
                format!(" ({headers_only} as headers only, to keep this notice small)")
            } else {
                String::new()
            }
        ));
    }
    if !listed.is_empty() {
        text.push_str(&format!(
            "\r\n{} more reported mail{} not attached, by Message-ID:\r\n",
            listed.len(),
            if listed.len() == 1 { "" } else { "s" }
        ));
        for id in listed.iter().take(MAX_LISTED) {
            text.push_str(&format!("  {id}\r\n"));
        }
        if listed.len() > MAX_LISTED {
            text.push_str(&format!("  ... and {} more\r\n", listed.len() - MAX_LISTED));
        }
    }
    let encoding = if text.is_ascii() { "7bit" } else { "8bit" };
    let mut out = format!(
        "From: <{from}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{queue_id}.notice@{hostname}>\r\n\
         Auto-Submitted: auto-generated\r\n\
         X-Aupgate-Notice: {kind}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\
         \r\n\
         This is a MIME message.\r\n\
         \r\n\
         --{boundary}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: {encoding}\r\n\
         \r\n\
         {text}",
        subject = subject(notice.kind),
        date = rfc5322_date(*now_secs),
        kind = kind_name(notice.kind),
    )
    .into_bytes();
    for (i, (copy, headers_only)) in attached.into_iter().enumerate() {
        let (content_type, name) = if headers_only {
            ("text/rfc822-headers", format!("reported-{}-headers.txt", i + 1))
        } else {
            ("message/rfc822", format!("reported-{}.eml", i + 1))
        };
        let encoding = if copy.is_ascii() { "7bit" } else { "8bit" };
        out.extend_from_slice(
            format!(
                "\r\n--{boundary}\r\nContent-Type: {content_type}\r\nContent-Transfer-Encoding: {encoding}\r\n\
                 Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(&copy);
        if !copy.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The copies a notice attaches, newest last, each CRLF and whether it is a header block only;
/// and the Message-IDs (`(unknown)` when none) of those it does not attach. See the module doc.
fn bounded_copies(copies: &[Vec<u8>]) -> (Vec<(Vec<u8>, bool)>, Vec<String>) {
    let first_attached = copies.len().saturating_sub(MAX_COPIES);
    let listed = copies[..first_attached].iter().map(|c| message_id(c)).collect();
    let mut budget = MAX_COPIES_BYTES;
    let mut attached = Vec::new();
    // The newest first into the budget, so the complaint at hand is always attached in full
    // when it fits at all.
    for copy in copies[first_attached..].iter().rev() {
        let copy = crlf(copy);
        let header_end = copy.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 2);
        let (part, headers_only) = match header_end {
            Some(_) if copy.len() <= budget => (copy, false),
            Some(end) => (copy[..end].to_vec(), true),
            None => (copy, true),
        };
        let part = if part.len() <= budget {
            part
        } else {
            // Not even its header block fits: keep its Message-ID line only.
            format!("Message-ID: {}\r\n", message_id(&part)).into_bytes()
        };
        budget = budget.saturating_sub(part.len());
        attached.push((part, headers_only));
    }
    attached.reverse();
    (attached, listed)
}

/// The Message-ID field of a copy, as written, or `(unknown)`.
fn message_id(copy: &[u8]) -> String {
    mail_parser::MessageParser::default()
        .parse_headers(copy)
        .and_then(|m| m.message_id().map(|id| format!("<{id}>")))
        .unwrap_or_else(|| "(unknown)".to_string())
}

/// `bytes` with every line end CRLF (a lone LF or CR becomes CRLF).
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
                continue;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders, PartType};

    fn notice(copies: Vec<Vec<u8>>) -> Notice {
        Notice {
            tenant: "acme".into(),
            kind: NoticeKind::Warning,
            reason: "2 complaints in 24 hours (complaints.spcm: 2 or more in one 24-hour period).".into(),
            copies,
        }
    }

    fn composed(notice: &Notice) -> Vec<u8> {
        compose(&Composition {
            hostname: "gw.example",
            from: "postmaster@gw.example",
            to: "abuse@acme.example",
            queue_id: "Q1",
            now_secs: 1_800_000_000,
            notice,
            boundary: "b-1",
        })
    }

    #[test]
    fn a_notice_carries_its_reason_and_each_copy_as_a_part() {
        let whole = b"From: news@acme.example\nTo: x@dest.example\nSubject: Sale\n\nBuy now\n".to_vec();
        let header_only = b"From: news@acme.example\r\nSubject: Other\r\n".to_vec();
        let raw = composed(&notice(vec![whole, header_only]));
        let text = String::from_utf8(raw.clone()).unwrap();
        assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
        for field in [
            "From: <postmaster@gw.example>\r\n",
            "To: <abuse@acme.example>\r\n",
            "Message-ID: <Q1.notice@gw.example>\r\n",
            "Auto-Submitted: auto-generated\r\n",
            "Date: ",
        ] {
            assert!(text.contains(field), "{field}: {text}");
        }
        let message = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(message.subject(), Some(subject(NoticeKind::Warning)));
        let body = message.body_text(0).expect("text part");
        assert!(body.contains("2 complaints in 24 hours"), "{body}");
        let attachments: Vec<_> = message.attachments().collect();
        assert_eq!(attachments.len(), 2, "{text}");
        let PartType::Message(copy) = &attachments[0].body else {
            panic!("message/rfc822 part: {:?}", attachments[0].body);
        };
        assert_eq!(copy.subject(), Some("Sale"));
        assert_eq!(copy.body_text(0).as_deref().map(str::trim), Some("Buy now"));
        assert_eq!(
            attachments[1].content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("text", Some("rfc822-headers")))
        );
    }

    #[test]
    fn contacts_are_read_as_addresses_or_not_at_all() {
        assert_eq!(
            mail_address("abuse@acme.example").as_deref(),
            Some("abuse@acme.example")
        );
        assert_eq!(
            mail_address("Acme Abuse <abuse@acme.example>").as_deref(),
            Some("abuse@acme.example")
        );
        assert_eq!(
            mail_address("mailto:abuse@acme.example").as_deref(),
            Some("abuse@acme.example")
        );
        for not_mail in [
            "",
            "call +41 44 000 00 00",
            "https://acme.example/abuse",
            "a b@c.example",
            "@x",
        ] {
            assert_eq!(mail_address(not_mail), None, "{not_mail}");
        }
    }

    #[test]
    fn copies_are_bounded_in_number_and_size() {
        // 25 reported mails: the 5 oldest listed by Message-ID, the newest 20 attached.
        let mail = |n: usize, body: usize| {
            format!(
                "Message-ID: <m{n}@acme.example>\r\nSubject: offer {n}\r\n\r\n{}\r\n",
                "x".repeat(body)
            )
            .into_bytes()
        };
        let raw = composed(&notice((0..25).map(|n| mail(n, 10)).collect()));
        let message = MessageParser::default().parse(&raw).expect("parses");
        assert_eq!(message.attachments().count(), MAX_COPIES);
        let body = message.body_text(0).expect("text part");
        assert!(body.contains("Attached: 20 copies of the reported mail."), "{body}");
        assert!(
            body.contains("5 more reported mails not attached, by Message-ID:"),
            "{body}"
        );
        assert!(
            body.contains("<m0@acme.example>") && body.contains("<m4@acme.example>"),
            "{body}"
        );
        assert!(!body.contains("<m5@acme.example>"), "{body}");
        // 20 copies of 1 MiB: 5 MiB in all at most; the newest in full, the rest headers only.
        let big: Vec<Vec<u8>> = (0..20).map(|n| mail(n, 1024 * 1024)).collect();
        let raw = composed(&notice(big));
        assert!(raw.len() < MAX_COPIES_BYTES + 64 * 1024, "{} bytes", raw.len());
        let message = MessageParser::default().parse(&raw).expect("parses");
        let attachments: Vec<_> = message.attachments().collect();
        assert_eq!(attachments.len(), 20);
        let full = attachments
            .iter()
            .filter(|a| matches!(a.body, PartType::Message(_)))
            .count();
        assert_eq!(full, 4, "four copies of 1 MiB fit in 5 MiB");
        let PartType::Message(newest) = &attachments[19].body else {
            panic!("the newest copy is attached in full");
        };
        assert_eq!(newest.subject(), Some("offer 19"));
        assert_eq!(
            attachments[0].content_type().map(|c| (c.ctype(), c.subtype())),
            Some(("text", Some("rfc822-headers")))
        );
        let body = message.body_text(0).expect("text part");
        assert!(
            body.contains("(16 as headers only, to keep this notice small)"),
            "{body}"
        );
    }

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(crlf(b"a\nb\r\nc\rd"), b"a\r\nb\r\nc\r\nd");
    }
}
