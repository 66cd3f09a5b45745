//! A feedback report, parsed into what a complaint needs: the feedback type, the reporter, the
//! complaining recipient, the returned message (or only its header) and the fields of it that
//! lead back to the tenant (the topmost `X-Aupgate-Ref`, the original Message-ID).
//!
//! What real feedback loops send, and how each is read:
//! - ARF (RFC 5965, RFC 6650): a `multipart/report; report-type=feedback-report` whose
//!   `message/feedback-report` part is read by mail-auth's [`Feedback::parse_arf`]; the returned
//!   message is the `message/rfc822` part or, from loops that return only the header (RFC 6650
//!   allows it), the `text/rfc822-headers` part.
//! - Microsoft-style reports (JMRP, Outlook.com): not a `multipart/report`, no ARF fields, only
//!   the original attached as `message/rfc822`: read as `abuse`, the reporter being the report's
//!   `From` domain and the recipient Hotmail's `X-HmXmrOriginalRecipient` when present.
//!   Without ARF fields nothing says the mail is a complaint, and plenty of other mail carries a
//!   message or its header (bounces, read receipts, vacation replies, a message forwarded as an
//!   attachment), so this reading is taken only for what looks like Microsoft's loop and
//!   nothing else: the report is no `multipart/report` of another kind (a DSN's
//!   `delivery-status`, an MDN's `disposition-notification`: [`Ignored::OtherReport`]), is no
//!   automatic reply (`Auto-Submitted: auto-replied`, or the vacation programs' `X-Autoreply`,
//!   `X-Autorespond`, `Precedence: auto_reply`: [`Ignored::AutoReply`]; RFC 3834's
//!   `auto-generated`, which a feedback loop may write, is no reply), and carries one of JMRP's
//!   marks: Hotmail's `X-HmXmrOriginalRecipient` on the returned message, or JMRP's subject
//!   `complaint about message from <ip>`. Anything else is [`Ignored::NotFromALoop`]. The marks
//!   prove nothing (a report can be forged whole, as an ARF one can); they keep ordinary mail to
//!   a feedback address from counting.
//! - Redacted recipients (RFC 6590): a redacted `Original-Rcpt-To` (a local part of `x`s, `*`s,
//!   a hash-looking token or the word "redacted") names nobody: the recipient is unknown, which is
//!   not an error.
//!
//! Not complaints: `Feedback-Type: not-spam` ([`Ignored::NotSpam`]), a report about a report —
//! the returned message is itself a `multipart/report` or carries a feedback report, or was sent
//! from one of our own feedback addresses ([`Ignored::AboutReport`]) — mail that is no feedback
//! report at all ([`Ignored::NotAReport`]), and, without ARF fields, what is not Microsoft's loop
//! ([`Ignored::OtherReport`], [`Ignored::AutoReply`], [`Ignored::NotFromALoop`], above).
//!
//! Pure (no I/O, no store) and bounded: the report's size is checked before anything is parsed,
//! the header block read is capped by `message::Headers`, every string kept is capped, and no
//! input makes it panic (the `complaint_report` fuzz target). mail-parser does the MIME work; our
//! own code only picks the parts and reads a few fields.

use std::borrow::Cow;

use mail_auth::report::{Feedback, FeedbackType};
use mail_parser::{Encoding, MessageParser, MimeHeaders, PartType};

use crate::message::addresses::parse_mailboxes;
use crate::message::Headers;
use crate::policy::recipient::identity;

/// The trace header's name (`attribution::TRACE_HEADER`, which needs the server build).
const TRACE_HEADER: &str = "x-aupgate-ref";
/// Longest string kept from a report (a reporter, a Message-ID, a recipient): anything longer
/// is not a value a feedback loop writes.
const MAX_FIELD: usize = 512;

/// Why a report is no complaint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// `Feedback-Type: not-spam`: the recipient says the mail was wanted.
    NotSpam,
    /// A report about a report (or about mail from one of our feedback addresses): counting it
    /// would let two feedback loops complain to each other forever.
    AboutReport,
    /// No feedback report and no returned message in it.
    NotAReport,
    /// A `multipart/report` of another kind (a DSN, an MDN) with a message returned in it.
    OtherReport,
    /// An automatic reply (a vacation notice) quoting or attaching the message.
    AutoReply,
    /// A message attached with no ARF fields and none of Microsoft's loop marks: mail forwarded
    /// as an attachment, not a complaint.
    NotFromALoop,
    /// The report names a recipient the returned message was never sent to (the Message-ID
    /// index knows its recipients): a forged report, or one about a forged copy.
    NotARecipient,
}

impl Ignored {
    /// The stable word the API and the CLI print.
    pub fn as_str(self) -> &'static str {
        match self {
            Ignored::NotSpam => "not_spam",
            Ignored::AboutReport => "report_about_report",
            Ignored::NotAReport => "not_a_report",
            Ignored::OtherReport => "other_report",
            Ignored::AutoReply => "auto_reply",
            Ignored::NotFromALoop => "not_from_a_loop",
            Ignored::NotARecipient => "not_a_recipient",
        }
    }
}

/// Why a report could not be read at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    #[error("the report is {size} bytes, over the limit of {limit}")]
    TooBig { size: usize, limit: usize },
}

/// What a feedback report says, as far as a complaint needs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedReport {
    /// ARF `Feedback-Type`, lower case (`abuse`, `fraud`, `virus`, `auth-failure`, `other`).
    pub feedback_type: String,
    /// The feedback loop: ARF `Reporting-MTA`'s host, else the report's `From` domain.
    pub reporter: Option<String>,
    /// The complaining recipient as suppression lists keep it (`policy::recipient::identity`);
    /// `None` when the report does not name it or redacted it.
    pub recipient: Option<String>,
    /// The report's own Message-ID (what tells the same report sent twice when the returned
    /// message has no identity).
    pub report_message_id: Option<String>,
    /// The returned message's Message-ID, without its angle brackets.
    pub original_message_id: Option<String>,
    /// The value of the returned message's topmost `X-Aupgate-Ref`, whitespace removed.
    pub trace: Option<String>,
    /// ARF `Arrival-Date` (unix seconds).
    pub arrival_date: Option<i64>,
    /// The returned message (or only its header block, see `headers_only`).
    pub original: Vec<u8>,
    pub headers_only: bool,
}

impl ParsedReport {
    /// What identifies the complaint, NUL-separated (hashed by the caller into
    /// `Complaint::dedup_key`): what was complained about, not the report, so that one message
    /// counts once per recipient however many reports (new Message-IDs, other loops) name it.
    /// The original's queue id (`queue_id`, from attribution: a verified trace header or the
    /// Message-ID index) or else its Message-ID, with the recipient when the report names it
    /// (normalised; a redacted one is empty, so the redacted complaints about one message count
    /// once). Only for a returned message with no identity at all, the report's own
    /// Message-ID, and without that the reporter and arrival date.
    pub fn dedup_basis(&self, queue_id: Option<&str>, recipient_confirmed: bool) -> String {
        // A recipient the gateway cannot confirm was one of the message's does not tell reports
        // apart: otherwise one genuine message, reported again under invented recipients, would
        // count as many complaints as a forger likes.
        let recipient = self.recipient.as_deref().filter(|_| recipient_confirmed).unwrap_or("");
        match (queue_id, &self.original_message_id, &self.report_message_id) {
            (Some(queue_id), _, _) => format!("queue-id\0{queue_id}\0{recipient}"),
            (None, Some(id), _) => format!("message-id\0{id}\0{recipient}"),
            (None, None, Some(id)) => format!("report-id\0{id}"),
            (None, None, None) => format!(
                "report\0{}\0{recipient}\0{}",
                self.reporter.as_deref().unwrap_or(""),
                self.arrival_date.map(|d| d.to_string()).unwrap_or_default()
            ),
        }
    }
}

/// The verdict on one report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Complaint(Box<ParsedReport>),
    Ignored(Ignored),
}

/// Parses `raw` (a whole report as received), refusing anything over `max_size` bytes.
/// `own_addresses` are the gateway's feedback addresses (lower case): a returned message sent
/// from one of them makes the report a report about a report.
pub fn parse(raw: &[u8], max_size: usize, own_addresses: &[String]) -> Result<Parsed, ReportError> {
    if raw.len() > max_size {
        return Err(ReportError::TooBig {
            size: raw.len(),
            limit: max_size,
        });
    }
    let Some(message) = MessageParser::new().parse(raw) else {
        return Ok(Parsed::Ignored(Ignored::NotAReport));
    };
    let mut arf: Option<Cow<'_, [u8]>> = None;
    let mut returned: Option<Vec<u8>> = None;
    let mut returned_headers: Option<Vec<u8>> = None;
    for part in &message.parts {
        if part.is_content_type("message", "feedback-report") {
            if arf.is_none() {
                arf = Some(match &part.body {
                    PartType::Text(text) | PartType::Html(text) => Cow::Owned(text.as_bytes().to_vec()),
                    PartType::Binary(bytes) | PartType::InlineBinary(bytes) => Cow::Owned(bytes.to_vec()),
                    _ => Cow::Borrowed(part_bytes(raw, part.offset_body, part.offset_end)),
                });
            }
            continue;
        }
        match &part.body {
            PartType::Message(nested) if returned.is_none() => {
                returned = Some(match &nested.raw_message {
                    Cow::Borrowed(whole) => part_bytes(whole, part.offset_body, part.offset_end).to_vec(),
                    Cow::Owned(decoded) => decoded.clone(),
                });
            }
            PartType::Text(text) if returned_headers.is_none() && part.is_content_type("text", "rfc822-headers") => {
                // The bytes as sent when they were not transfer-encoded (mail-parser's text is
                // decoded, invalid UTF-8 replaced); the decoded text otherwise.
                returned_headers = Some(match part.encoding {
                    Encoding::None => part_bytes(raw, part.offset_body, part.offset_end).to_vec(),
                    _ => text.as_bytes().to_vec(),
                });
            }
            // A header-only return some loops label `message/rfc822-headers`.
            PartType::Binary(bytes) | PartType::InlineBinary(bytes)
                if returned_headers.is_none()
                    && (part.is_content_type("text", "rfc822-headers")
                        || part.is_content_type("message", "rfc822-headers")) =>
            {
                returned_headers = Some(bytes.to_vec());
            }
            _ => {}
        }
    }
    let report_from = message
        .from()
        .and_then(|from| from.first())
        .and_then(|address| address.address())
        .map(str::to_string);
    let report_message_id = message.message_id().map(clean_id).filter(|id| !id.is_empty());
    let (original, headers_only) = match (returned, returned_headers) {
        (Some(message), _) => (message, false),
        (None, Some(headers)) => (headers, true),
        (None, None) => return Ok(Parsed::Ignored(Ignored::NotAReport)),
    };
    // Without ARF fields, only what looks like Microsoft's loop is read as a complaint.
    if arf.is_none() {
        if message.is_content_type("multipart", "report") {
            return Ok(Parsed::Ignored(Ignored::OtherReport));
        }
        if auto_replied(&Headers::parse(raw)) {
            return Ok(Parsed::Ignored(Ignored::AutoReply));
        }
    }
    let jmrp_subject = message
        .subject()
        .is_some_and(|subject| subject.trim().to_ascii_lowercase().starts_with(JMRP_SUBJECT));
    let mut report = ParsedReport {
        report_message_id,
        headers_only,
        ..ParsedReport::default()
    };
    let mut arf_recipient = None;
    match &arf {
        Some(fields) => match Feedback::parse_arf(fields) {
            Some(feedback) => {
                if feedback.feedback_type() == FeedbackType::NotSpam {
                    return Ok(Parsed::Ignored(Ignored::NotSpam));
                }
                report.feedback_type = feedback_type_name(feedback.feedback_type()).to_string();
                report.reporter = feedback.reporting_mta().and_then(reporting_host);
                report.arrival_date = feedback.arrival_date();
                arf_recipient = feedback.original_rcpt_to().map(str::to_string);
            }
            // ARF fields mail-auth cannot read (an unknown or missing Feedback-Type): the
            // type as written, and never a complaint when that says not-spam.
            None => {
                let written = raw_feedback_type(fields);
                if written.as_deref() == Some("not-spam") {
                    return Ok(Parsed::Ignored(Ignored::NotSpam));
                }
                report.feedback_type = written.unwrap_or_else(|| "other".into());
            }
        },
        // Microsoft-style: a returned message and nothing else says what it is.
        None => report.feedback_type = "abuse".into(),
    }
    if report.reporter.is_none() {
        report.reporter = report_from
            .as_deref()
            .and_then(|from| from.rsplit_once('@'))
            .map(|(_, domain)| domain.trim_end_matches('.').to_ascii_lowercase())
            .filter(|domain| !domain.is_empty() && domain.len() <= MAX_FIELD);
    }
    let original = with_crlf(original);
    let headers = Headers::parse(&original);
    if is_report(&headers, &original, headers_only) || sent_from_own(&headers, own_addresses) {
        return Ok(Parsed::Ignored(Ignored::AboutReport));
    }
    if arf.is_none() && !jmrp_subject && headers.first("x-hmxmroriginalrecipient").is_none() {
        return Ok(Parsed::Ignored(Ignored::NotFromALoop));
    }
    report.original_message_id = headers.first("message-id").map(clean_id).filter(|id| !id.is_empty());
    report.trace = headers
        .first(TRACE_HEADER)
        .map(|value| value.split_whitespace().collect::<String>())
        .filter(|value| !value.is_empty() && value.len() <= MAX_FIELD);
    // A loop that redacted `Original-Rcpt-To` chose not to say who complained: the returned
    // header's To is not read instead.
    report.recipient = match arf_recipient.as_deref() {
        Some(named) => mailbox(named),
        None => headers
            .first("x-hmxmroriginalrecipient")
            .and_then(mailbox)
            .or_else(|| single_to(&headers)),
    };
    report.original = original;
    Ok(Parsed::Complaint(Box::new(report)))
}

/// How a JMRP report's subject begins (`complaint about message from 192.0.2.1`).
const JMRP_SUBJECT: &str = "complaint about message from";

/// The report is an automatic reply (RFC 3834 `auto-replied`, or a vacation program's own
/// marks); `auto-generated`, which a feedback loop may write, is not.
fn auto_replied(headers: &Headers) -> bool {
    let value = |name: &str| headers.first(name).map(|v| v.trim().to_ascii_lowercase());
    value("auto-submitted").is_some_and(|v| v.starts_with("auto-replied"))
        || headers.first("x-autoreply").is_some()
        || headers.first("x-autorespond").is_some()
        || value("precedence").is_some_and(|v| v == "auto_reply")
}

/// `raw[from..to]`, or nothing when the offsets do not lie in `raw`.
fn part_bytes(raw: &[u8], from: u32, to: u32) -> &[u8] {
    raw.get(from as usize..to as usize).unwrap_or_default()
}

fn feedback_type_name(kind: FeedbackType) -> &'static str {
    match kind {
        FeedbackType::Abuse => "abuse",
        FeedbackType::AuthFailure => "auth-failure",
        FeedbackType::Fraud => "fraud",
        FeedbackType::NotSpam => "not-spam",
        FeedbackType::Other => "other",
        FeedbackType::Virus => "virus",
    }
}

/// The `Feedback-Type` written in ARF fields mail-auth could not read, lower case.
fn raw_feedback_type(fields: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(fields.get(..fields.len().min(64 * 1024)).unwrap_or_default()).into_owned();
    text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let value = value.trim().to_ascii_lowercase();
        (name.trim().eq_ignore_ascii_case("feedback-type")
            && !value.is_empty()
            && value.len() <= 64
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then_some(value)
    })
}

/// The host of `Reporting-MTA: dns; mail.example.net`.
fn reporting_host(value: &str) -> Option<String> {
    let host = value.split_once(';').map_or(value, |(_, host)| host).trim();
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    (!host.is_empty() && host.len() <= MAX_FIELD && !host.contains(char::is_whitespace)).then_some(host)
}

/// A Message-ID without angle brackets and surrounding whitespace.
fn clean_id(value: &str) -> String {
    let value = value.trim();
    let value = value.strip_prefix('<').unwrap_or(value);
    let value = value.strip_suffix('>').unwrap_or(value).trim();
    value.chars().take(MAX_FIELD).collect()
}

/// The message with bare LF line ends made CRLF (a header-only part decoded by mail-parser, or
/// a report saved by a Unix tool), so the header block reads as every other one.
fn with_crlf(bytes: Vec<u8>) -> Vec<u8> {
    if !bytes.contains(&b'\n') || bytes.windows(2).any(|w| w == b"\r\n") {
        return bytes;
    }
    let mut out = Vec::with_capacity(bytes.len() + bytes.len() / 32);
    for byte in bytes {
        if byte == b'\n' {
            out.push(b'\r');
        }
        out.push(byte);
    }
    out
}

/// The returned message is itself a report.
fn is_report(headers: &Headers, original: &[u8], headers_only: bool) -> bool {
    let content_type = headers.first("content-type").unwrap_or("").to_ascii_lowercase();
    if content_type.starts_with("multipart/report") || content_type.starts_with("message/feedback-report") {
        return true;
    }
    if headers_only || !content_type.starts_with("multipart/") {
        return false;
    }
    MessageParser::new().parse(original).is_some_and(|message| {
        message
            .parts
            .iter()
            .any(|part| part.is_content_type("message", "feedback-report"))
    })
}

/// The returned message was sent from one of our feedback addresses (its From, Sender or
/// Return-Path).
fn sent_from_own(headers: &Headers, own: &[String]) -> bool {
    if own.is_empty() {
        return false;
    }
    ["from", "sender", "return-path"].iter().any(|name| {
        headers.all(name).any(|value| {
            let value = value.trim();
            let mailboxes = parse_mailboxes(value, false).unwrap_or_default();
            let mut addresses: Vec<String> = mailboxes.iter().map(|m| m.address().to_ascii_lowercase()).collect();
            if addresses.is_empty() {
                addresses.push(value.trim_start_matches('<').trim_end_matches('>').to_ascii_lowercase());
            }
            addresses.iter().any(|address| own.iter().any(|o| o == address))
        })
    })
}

/// A recipient a report names, unless it is not an address or is redacted (RFC 6590).
fn mailbox(value: &str) -> Option<String> {
    let value = value.trim();
    let value = value.strip_prefix("rfc822;").unwrap_or(value).trim();
    let value = value.trim_start_matches('<').trim_end_matches('>').trim();
    if value.len() > MAX_FIELD || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = value.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') || redacted(local) {
        return None;
    }
    Some(identity(value, true))
}

/// A local part a feedback loop wrote in place of the real one (RFC 6590): all one masking
/// character, the word "redacted" or "removed", or a long hex token (a hash).
fn redacted(local: &str) -> bool {
    let lower = local.trim_matches('"').to_ascii_lowercase();
    let masked = !lower.is_empty()
        && lower.chars().all(|c| matches!(c, 'x' | '*' | '#' | '.' | '_' | '-'))
        && lower.chars().any(|c| c != '.' && c != '_' && c != '-');
    let hashed = lower.len() >= 16 && lower.chars().all(|c| c.is_ascii_hexdigit());
    masked || hashed || lower.contains("redacted") || lower.contains("removed")
}

/// The returned message's `To`, when it names exactly one mailbox (a complaint is about one
/// recipient; several cannot say which one complained).
fn single_to(headers: &Headers) -> Option<String> {
    if headers.count("to") != 1 {
        return None;
    }
    let mailboxes = parse_mailboxes(headers.first("to")?, false).ok()?;
    match mailboxes.as_slice() {
        [one] => mailbox(&one.address()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &[String] = &[];

    fn complaint(raw: &str) -> ParsedReport {
        match parse(raw.as_bytes(), 1 << 20, OWN).expect("parses") {
            Parsed::Complaint(report) => *report,
            other => panic!("not a complaint: {other:?}"),
        }
    }

    const ORIGINAL: &str = "X-Aupgate-Ref: 1.k1.cGF5.bWFj\r\nFrom: news@acme.example\r\nTo: bob@example.net\r\n\
        Message-ID: <m1@acme.example>\r\nSubject: offer\r\n\r\nBuy now\r\n";

    fn arf(feedback_type: &str, extra: &str, returned: &str) -> String {
        format!(
            "From: fbl@reports.example.org\r\nTo: fbl@gw.example\r\nMessage-ID: <r1@reports.example.org>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report\r\n\
             --b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: {feedback_type}\r\nUser-Agent: t/1\r\n\
             Version: 1\r\nReporting-MTA: dns; mta.reports.example.org\r\n{extra}\r\n\
             --b\r\n{returned}\r\n--b--\r\n"
        )
    }

    #[test]
    fn an_arf_report_with_the_whole_message() {
        let raw = arf(
            "abuse",
            "Original-Rcpt-To: Bob+x@Example.NET\r\nArrival-Date: Thu, 8 Mar 2005 14:00:00 EDT\r\n",
            &format!("Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"),
        );
        let report = complaint(&raw);
        assert_eq!(report.feedback_type, "abuse");
        assert_eq!(report.reporter.as_deref(), Some("mta.reports.example.org"));
        assert_eq!(report.recipient.as_deref(), Some("bob@example.net"));
        assert_eq!(report.report_message_id.as_deref(), Some("r1@reports.example.org"));
        assert_eq!(report.original_message_id.as_deref(), Some("m1@acme.example"));
        assert_eq!(report.trace.as_deref(), Some("1.k1.cGF5.bWFj"));
        assert!(report.arrival_date.is_some());
        assert!(!report.headers_only);
        assert!(report.original.starts_with(b"X-Aupgate-Ref"));
    }

    #[test]
    fn only_the_header_returned() {
        let headers_only = ORIGINAL.split("\r\n\r\n").next().unwrap_or_default();
        let raw = arf(
            "fraud",
            "",
            &format!("Content-Type: text/rfc822-headers\r\n\r\n{headers_only}\r\n"),
        );
        let report = complaint(&raw);
        assert!(report.headers_only);
        assert_eq!(report.feedback_type, "fraud");
        assert_eq!(report.original_message_id.as_deref(), Some("m1@acme.example"));
        // No Original-Rcpt-To: the returned To names one mailbox.
        assert_eq!(report.recipient.as_deref(), Some("bob@example.net"));
    }

    #[test]
    fn a_redacted_recipient_is_unknown() {
        for redacted in [
            "xxxxxxxx@example.net",
            "redacted@example.net",
            "0123456789abcdef0123@example.net",
        ] {
            let raw = arf(
                "abuse",
                &format!("Original-Rcpt-To: {redacted}\r\n"),
                &format!("Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"),
            );
            assert_eq!(complaint(&raw).recipient, None, "{redacted}");
        }
    }

    #[test]
    fn not_spam_and_reports_about_reports_are_ignored() {
        let raw = arf(
            "not-spam",
            "",
            &format!("Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"),
        );
        assert_eq!(
            parse(raw.as_bytes(), 1 << 20, OWN),
            Ok(Parsed::Ignored(Ignored::NotSpam))
        );
        let inner = arf("abuse", "", &format!("Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"));
        let raw = arf("abuse", "", &format!("Content-Type: message/rfc822\r\n\r\n{inner}"));
        assert_eq!(
            parse(raw.as_bytes(), 1 << 20, OWN),
            Ok(Parsed::Ignored(Ignored::AboutReport))
        );
        let own = vec!["news@acme.example".to_string()];
        let raw = arf("abuse", "", &format!("Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"));
        assert_eq!(
            parse(raw.as_bytes(), 1 << 20, &own),
            Ok(Parsed::Ignored(Ignored::AboutReport))
        );
    }

    #[test]
    fn a_microsoft_style_report() {
        let returned = ORIGINAL.replace(
            "To: bob@example.net",
            "To: xxxxxxx@outlook.example\r\nX-HmXmrOriginalRecipient: <carol@outlook.example>",
        );
        let raw = format!(
            "From: staff@hotmail.example\r\nTo: fbl@gw.example\r\nSubject: complaint about message from 192.0.2.1\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\n\
             Content-Type: text/plain\r\n\r\nThis is a JMRP complaint\r\n--m\r\nContent-Type: message/rfc822\r\n\
             Content-Disposition: attachment\r\n\r\n{returned}\r\n--m--\r\n"
        );
        let report = complaint(&raw);
        assert_eq!(report.feedback_type, "abuse");
        assert_eq!(report.reporter.as_deref(), Some("hotmail.example"));
        assert_eq!(report.recipient.as_deref(), Some("carol@outlook.example"));
        assert_eq!(report.report_message_id, None);
        assert_eq!(report.original_message_id.as_deref(), Some("m1@acme.example"));
    }

    /// `report` headers and a body attaching `returned` as `message/rfc822` (or its header as
    /// `text/rfc822-headers`) in a `content_type` container.
    fn attaching(report: &str, content_type: &str, second: &str, returned_type: &str, returned: &str) -> String {
        format!(
            "From: someone@mailbox.example\r\nTo: fbl@gw.example\r\nMessage-ID: <x1@mailbox.example>\r\n{report}\
             MIME-Version: 1.0\r\nContent-Type: {content_type}; boundary=\"z\"\r\n\r\n--z\r\n\
             Content-Type: text/plain\r\n\r\nSee below.\r\n--z\r\n{second}\
             --z\r\nContent-Type: {returned_type}\r\n\r\n{returned}\r\n--z--\r\n"
        )
    }

    #[test]
    fn bounces_receipts_auto_replies_and_forwards_are_no_complaints() {
        let headers_only = ORIGINAL.split("\r\n\r\n").next().unwrap_or_default();
        let dsn = attaching(
            "Subject: Undelivered Mail Returned to Sender\r\n",
            "multipart/report; report-type=delivery-status",
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.mailbox.example\r\n\r\n\
             Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n",
            "message/rfc822",
            ORIGINAL,
        );
        let dsn_headers = attaching(
            "Subject: Delivery Status Notification (Failure)\r\n",
            "multipart/report; report-type=delivery-status",
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.mailbox.example\r\n\r\n\
             Final-Recipient: rfc822; bob@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n",
            "text/rfc822-headers",
            &format!("{headers_only}\r\n"),
        );
        let mdn = attaching(
            "Subject: Read: offer\r\n",
            "multipart/report; report-type=disposition-notification",
            "Content-Type: message/disposition-notification\r\n\r\nReporting-UA: mua.example\r\n\
             Final-Recipient: rfc822; bob@example.net\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n\r\n",
            "message/rfc822",
            ORIGINAL,
        );
        for (name, raw) in [("dsn", &dsn), ("dsn headers", &dsn_headers), ("mdn", &mdn)] {
            assert_eq!(
                parse(raw.as_bytes(), 1 << 20, OWN),
                Ok(Parsed::Ignored(Ignored::OtherReport)),
                "{name}"
            );
        }
        // Auto-replies, even with Microsoft's mark on the returned message.
        let marked = ORIGINAL.replace(
            "To: bob@example.net",
            "To: bob@example.net\r\nX-HmXmrOriginalRecipient: bob@example.net",
        );
        for marks in [
            "Subject: Automatic reply: offer\r\nAuto-Submitted: auto-replied\r\n",
            "Subject: Out of office\r\nAuto-Submitted: Auto-Replied (vacation)\r\n",
            "Subject: Away\r\nX-Autoreply: yes\r\n",
            "Subject: Away\r\nPrecedence: auto_reply\r\n",
        ] {
            let raw = attaching(marks, "multipart/mixed", "", "message/rfc822", &marked);
            assert_eq!(
                parse(raw.as_bytes(), 1 << 20, OWN),
                Ok(Parsed::Ignored(Ignored::AutoReply)),
                "{marks}"
            );
        }
        // A message forwarded as an attachment: no ARF fields, no loop marks.
        let forward = attaching(
            "Subject: Fwd: offer\r\n",
            "multipart/mixed",
            "",
            "message/rfc822",
            ORIGINAL,
        );
        assert_eq!(
            parse(forward.as_bytes(), 1 << 20, OWN),
            Ok(Parsed::Ignored(Ignored::NotFromALoop))
        );
        // A loop's `auto-generated` report with JMRP's subject is still read.
        let generated = attaching(
            "Subject: complaint about message from 192.0.2.1\r\nAuto-Submitted: auto-generated\r\n",
            "multipart/mixed",
            "",
            "message/rfc822",
            ORIGINAL,
        );
        assert_eq!(complaint(&generated).feedback_type, "abuse");
        // Microsoft's mark on the returned message is enough without the subject.
        let marked_only = attaching("Subject: report\r\n", "multipart/mixed", "", "message/rfc822", &marked);
        assert_eq!(complaint(&marked_only).recipient.as_deref(), Some("bob@example.net"));
    }

    #[test]
    fn garbage_and_size() {
        assert_eq!(parse(b"hello", 1 << 20, OWN), Ok(Parsed::Ignored(Ignored::NotAReport)));
        assert_eq!(
            parse(&[b'a'; 100], 10, OWN),
            Err(ReportError::TooBig { size: 100, limit: 10 })
        );
        for raw in [
            &b""[..],
            b"\r\n\r\n",
            b"Content-Type: multipart/report\r\n\r\n--",
            &[0xff; 64],
        ] {
            let _ = parse(raw, 1 << 20, OWN);
        }
    }

    /// Found by fuzzing: a header-only return with invalid UTF-8 is kept as sent, not
    /// replaced character by character (which tripled it).
    #[test]
    fn a_header_part_keeps_its_bytes() {
        let found = include_bytes!("../../tests/fixtures/complaints/fuzz-headers-invalid-utf8-1.eml");
        // With JMRP's subject, so that it is read as a Microsoft-style report.
        let raw = &[&b"Subject: complaint about message from 192.0.2.1\r\n"[..], found].concat();
        match parse(raw, 1 << 20, OWN) {
            Ok(Parsed::Complaint(report)) => {
                assert!(report.headers_only);
                assert!(report.original.len() <= raw.len() * 2 + 2, "{}", report.original.len());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_basis_is_what_was_complained_about_not_the_report() {
        let raw = arf("abuse", "", &format!("Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"));
        let first = complaint(&raw);
        assert_eq!(first.dedup_basis(None, true), complaint(&raw).dedup_basis(None, true));
        // Another report (its own Message-ID, another loop) about the same message.
        let other = raw
            .replace("<r1@reports.example.org>", "<r2@elsewhere.example>")
            .replace("mta.reports.example.org", "fbl.elsewhere.example");
        assert_eq!(complaint(&other).dedup_basis(None, true), first.dedup_basis(None, true));
        assert_eq!(
            complaint(&other).dedup_basis(Some("Q1"), true),
            first.dedup_basis(Some("Q1"), true)
        );
        assert!(first.dedup_basis(None, true).contains("m1@acme.example"));
        // Another recipient of the same message is another complaint.
        let carol = arf(
            "abuse",
            "Original-Rcpt-To: carol@example.net\r\n",
            &format!("Content-Type: message/rfc822\r\n\r\n{ORIGINAL}"),
        );
        assert_ne!(
            complaint(&carol).dedup_basis(Some("Q1"), true),
            first.dedup_basis(Some("Q1"), true)
        );
        // ... but only when the message is known to have had that recipient: an unconfirmed
        // recipient does not tell reports about one message apart.
        assert_eq!(
            complaint(&carol).dedup_basis(Some("Q1"), false),
            first.dedup_basis(Some("Q1"), false)
        );
        // A returned message with no identity: the report's own Message-ID.
        let anonymous = raw.replace("Message-ID: <m1@acme.example>\r\n", "");
        assert_eq!(
            complaint(&anonymous).dedup_basis(None, true),
            "report-id\0r1@reports.example.org"
        );
    }
}
