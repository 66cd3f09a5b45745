//! Delivery status notifications (RFC 3464): a `multipart/report` to the envelope sender naming
//! each failed recipient with its status and the next hop's reply, plus the original headers.
//! Each recipient's `Status:`, `Remote-MTA:` and `Diagnostic-Code:` come from its stored reason
//! (`relay::response`), never from its text.
//!
//! No line of a DSN exceeds 998 octets (RFC 5322 §2.1.1), however long the next hop's reply:
//! fields are folded at spaces (RFC 5322 §2.2.3), the human-readable lines wrapped, at 78
//! octets, and a single word that cannot fit on a line of 998 is cut and marked `[...]`.

use super::response::{EnhancedStatus, Reason};
use crate::queue::{RecipientState, RecipientStatus};
use crate::smtp::trace::rfc5322_date;

/// The longest line of a message, CRLF excluded (RFC 5322 §2.1.1).
const MAX_LINE: usize = 998;

/// Where lines are folded or wrapped when the text allows (RFC 5322's recommended limit).
const FOLD_AT: usize = 78;

/// Ends a word cut to fit [`MAX_LINE`].
const CUT: &str = "[...]";

/// A DSN ready to queue: envelope recipient (the original sender) and the message.
pub struct Dsn {
    pub recipient: String,
    pub message: Vec<u8>,
}

/// Builds the DSN for the failed recipients of a message, or `None` when nothing failed or the
/// original sender is null (a bounce is never bounced).
pub fn build(
    hostname: &str,
    queue_id: &str,
    sender: &str,
    recipients: &[RecipientState],
    original: &[u8],
    arrival_secs: u64,
    now_secs: u64,
) -> Option<Dsn> {
    let failed: Vec<&RecipientState> = recipients
        .iter()
        .filter(|r| r.status == RecipientStatus::Failed)
        .collect();
    if sender.is_empty() || failed.is_empty() {
        return None;
    }
    let boundary = format!("aupgate-dsn-{queue_id}");
    let mut human = String::new();
    human.push_str("This is the mail gateway at ");
    human.push_str(hostname);
    human.push_str(".\r\n\r\nYour message could not be delivered to the following recipients:\r\n\r\n");
    for r in &failed {
        let reason = r.last_reply.as_ref().map_or("failed".to_string(), ToString::to_string);
        human.push_str(&wrap(
            " ",
            &format!("<{}>: {}", clean(&r.address), clean(&reason)),
            "    ",
        ));
        human.push_str("\r\n");
    }
    let mut status = format!(
        "Reporting-MTA: dns; {hostname}\r\nX-Aupgate-Queue-ID: {queue_id}\r\nArrival-Date: {}\r\n",
        rfc5322_date(arrival_secs)
    );
    for r in &failed {
        status.push_str(&recipient_fields(&r.address, r.last_reply.as_ref()));
    }
    let headers = original_headers(original);
    let message = format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{sender}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {date}\r\n\
         Message-ID: <{queue_id}.dsn@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\
         \r\n\
         --{boundary}\r\n\
         {human}\r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         {status}\r\n\
         --{boundary}\r\n\
         {headers}\r\n\
         --{boundary}--\r\n",
        date = rfc5322_date(now_secs),
        human = seven_bit_part("text/plain; charset=utf-8", &human),
        headers = seven_bit_part("text/rfc822-headers; charset=utf-8", &headers),
    );
    Some(Dsn {
        recipient: sender.to_string(),
        message: message.into_bytes(),
    })
}

/// One failed recipient's fields (RFC 3464 §2.3): its status, the next hop that refused it and
/// that hop's reply, when a reply decided it.
fn recipient_fields(address: &str, reason: Option<&Reason>) -> String {
    let mut fields = format!(
        "\r\n{}\r\nAction: failed\r\nStatus: {}\r\n",
        final_recipient(&clean(address)),
        failure_status(reason)
    );
    let reply = reason.and_then(Reason::reply);
    let remote = reply.and_then(|reply| reply.remote.as_deref());
    if let Some(host) = remote {
        fields.push_str(&field("Remote-MTA: dns;", &seven_bit(&clean(host))));
        fields.push_str("\r\n");
    }
    // A next hop's reply is an `smtp` diagnostic; one the gateway gave itself (no next hop
    // answered: none found, a hop without SMTPUTF8 or 8BITMIME, the queue's age) is its own
    // type, as Postfix writes `X-Postfix`, so nobody reads it as a remote server's words.
    if let Some(reply) = reply {
        let kind = if remote.is_some() {
            "Diagnostic-Code: smtp;"
        } else {
            "Diagnostic-Code: X-aupgate;"
        };
        fields.push_str(&field(kind, &seven_bit(&clean(&reply.to_string()))));
        fields.push_str("\r\n");
    }
    fields
}

/// `Final-Recipient`: an ASCII address as `rfc822`, one with UTF-8 as RFC 6533's `utf-8` type
/// in its 7-bit form (`\x{FC}` for `ü`; `+`, `=` and `\` too), so that the report stays 7-bit
/// and reaches a sender whose next hop takes nothing else.
fn final_recipient(address: &str) -> String {
    if address.is_ascii() {
        return field("Final-Recipient: rfc822;", address);
    }
    let xtext = escaped(address, |c| c.is_ascii_graphic() && !matches!(c, '+' | '=' | '\\'));
    field("Final-Recipient: utf-8;", &xtext)
}

/// `text` with each non-ASCII character as `\x{HEX}` (RFC 6533's 7-bit form): a
/// `message/delivery-status` part cannot be transfer-encoded, so what a next hop said in UTF-8
/// is kept this way.
fn seven_bit(text: &str) -> String {
    escaped(text, |c| c.is_ascii())
}

/// `text` with each character `keep` refuses written `\x{HEX}`.
fn escaped(text: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if keep(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\x{{{:X}}}", c as u32));
        }
    }
    out
}

/// A MIME part's header and body: as it is when the text is ASCII, base64 when it holds UTF-8
/// (a failed UTF-8 recipient, a UTF-8 original), so that the whole report is 7-bit.
fn seven_bit_part(content_type: &str, text: &str) -> String {
    if text.is_ascii() {
        return format!("Content-Type: {content_type}\r\n\r\n{text}");
    }
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text);
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|line| std::str::from_utf8(line).unwrap_or_default())
        .collect();
    format!(
        "Content-Type: {content_type}\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        lines.join("\r\n")
    )
}

/// A header field `head value` (`head` is the name, its colon and any type, e.g.
/// `Diagnostic-Code: smtp;`), folded (RFC 5322 §2.2.3): a CRLF goes before a space of the value,
/// so unfolding gives the value back. No CRLF at the end.
fn field(head: &str, value: &str) -> String {
    wrap(head, value, " ")
}

/// `first` then the words of `text` (one line, no control characters) separated by spaces, on
/// lines of at most [`FOLD_AT`] octets where the words allow and never more than [`MAX_LINE`]:
/// each line after the first starts with `indent` instead of the space before its first word
/// (`" "` folds a header field). A word too long for any line is cut and ends with [`CUT`]; a
/// run of spaces that would not fit is dropped. Lines joined with CRLF, none at the end.
fn wrap(first: &str, text: &str, indent: &str) -> String {
    let mut out = String::with_capacity(first.len() + text.len() + 8);
    out.push_str(first);
    let mut line = first.len();
    for word in text.split(' ') {
        if word.is_empty() {
            // One of several spaces in a row: kept while it fits; never starts a line (a folded
            // line must not be only white space).
            if line < MAX_LINE {
                out.push(' ');
                line += 1;
            }
            continue;
        }
        if line + 1 + word.len() > FOLD_AT && line > indent.len() {
            out.push_str("\r\n");
            out.push_str(indent);
            line = indent.len();
        } else {
            out.push(' ');
            line += 1;
        }
        if line + word.len() <= MAX_LINE {
            out.push_str(word);
            line += word.len();
        } else {
            let keep = word.floor_char_boundary(MAX_LINE.saturating_sub(line + CUT.len()));
            out.push_str(&word[..keep]);
            out.push_str(CUT);
            line += keep + CUT.len();
        }
    }
    out
}

/// A failed recipient's status: its reply's (`5.1.1`), the one a reply's code implies when it
/// sent none (`550` → `5.0.0`), or `5.0.0` — a failure is always class 5.
fn failure_status(reason: Option<&Reason>) -> EnhancedStatus {
    reason
        .and_then(Reason::status)
        .filter(|status| status.class == 5)
        .unwrap_or(EnhancedStatus::new(5, 0, 0))
}

/// One line of a header field: control characters (a reply's line breaks among them) become
/// spaces.
fn clean(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// The header block of the original message (up to the first empty line), with lines kept CRLF.
fn original_headers(message: &[u8]) -> String {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(message.len().min(64 * 1024));
    String::from_utf8_lossy(&message[..end.min(64 * 1024)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::response::{Response, Stage};

    fn rcpt(address: &str, status: RecipientStatus, reply: Reason) -> RecipientState {
        RecipientState {
            address: address.into(),
            status,
            last_reply: Some(reply),
        }
    }

    fn reply(code: u16, status: &str, text: &str) -> Reason {
        Response::new(code, EnhancedStatus::parse(status), text).into()
    }

    fn from_hop(code: u16, status: &str, text: &str) -> Reason {
        let mut reply = Response::new(code, EnhancedStatus::parse(status), text);
        reply.remote = Some("mx1.x.example".into());
        reply.into()
    }

    /// The delivery-status fields of a DSN for one failed recipient.
    fn fields_for(reason: Reason) -> String {
        let recipients = vec![rcpt("bad@x.example", RecipientStatus::Failed, reason)];
        let dsn = build("gw.example", "Q1", "s@t.example", &recipients, b"", 0, 0).expect("dsn");
        let text = String::from_utf8(dsn.message).unwrap();
        let start = text.find("\r\nFinal-Recipient:").expect("a recipient");
        let end = text[start..].find("\r\n\r\n").expect("end of fields");
        text[start + 2..start + end + 2].to_string()
    }

    #[test]
    fn names_only_failed_recipients() {
        let recipients = vec![
            rcpt("ok@x.example", RecipientStatus::Delivered, from_hop(250, "2.0.0", "ok")),
            rcpt(
                "bad@x.example",
                RecipientStatus::Failed,
                from_hop(550, "5.1.1", "no such user"),
            ),
        ];
        let dsn = build(
            "gw.example",
            "Q1",
            "s@t.example",
            &recipients,
            b"Subject: hi\r\n\r\nbody\r\n",
            0,
            0,
        )
        .expect("dsn");
        let text = String::from_utf8(dsn.message).unwrap();
        assert_eq!(dsn.recipient, "s@t.example");
        assert!(text.contains("Final-Recipient: rfc822; bad@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"));
        assert!(!text.contains("ok@x.example"));
        assert!(text.contains("Subject: hi\r\n"));
        assert!(!text.contains("body"));
    }

    #[test]
    fn null_sender_is_never_bounced() {
        let recipients = vec![rcpt(
            "bad@x.example",
            RecipientStatus::Failed,
            reply(550, "5.1.1", "no"),
        )];
        assert!(build("gw", "Q", "", &recipients, b"", 0, 0).is_none());
    }

    #[test]
    fn an_expired_delivery_is_5_4_7_and_quotes_the_last_hops_reply() {
        let last = from_hop(451, "4.3.0", "try later");
        let fields = fields_for(Reason::Expired {
            last: Some(Box::new(last)),
        });
        assert!(
            fields.contains(
                "Status: 5.4.7\r\nRemote-MTA: dns; mx1.x.example\r\nDiagnostic-Code: smtp; 451 4.3.0 try later\r\n"
            ),
            "{fields}"
        );
        // Expired without ever having a reply (every attempt failed to connect): no hop to name.
        let fields = fields_for(Reason::Expired {
            last: Some(Box::new(Reason::Local("connect: refused".into()))),
        });
        assert!(fields.ends_with("Status: 5.4.7\r\n"), "{fields}");
    }

    #[test]
    fn status_and_diagnostic_come_from_the_stored_reply() {
        // The next hop's reply: its status, the host, its reply.
        assert_eq!(
            fields_for(from_hop(550, "5.1.1", "no such user")),
            "Final-Recipient: rfc822; bad@x.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\
             Remote-MTA: dns; mx1.x.example\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n"
        );
        // No enhanced status: the one the basic code implies.
        assert_eq!(
            fields_for(from_hop(550, "", "mailbox unavailable")),
            "Final-Recipient: rfc822; bad@x.example\r\nAction: failed\r\nStatus: 5.0.0\r\n\
             Remote-MTA: dns; mx1.x.example\r\nDiagnostic-Code: smtp; 550 mailbox unavailable\r\n"
        );
        // Ours (no next hop named): the catalogue's status, a diagnostic of our own type.
        assert_eq!(
            fields_for(reply(554, "5.6.3", "Not delivered")),
            "Final-Recipient: rfc822; bad@x.example\r\nAction: failed\r\nStatus: 5.6.3\r\n\
             Diagnostic-Code: X-aupgate; 554 5.6.3 Not delivered\r\n"
        );
        // The transaction refused at MAIL: the hop's status, its reply without our stage label.
        let refused = Reason::Refused {
            stage: Stage::Mail,
            reply: Response {
                remote: Some("mx1.x.example".into()),
                ..Response::new(554, EnhancedStatus::parse("5.7.1"), "sender refused")
            },
        };
        assert!(fields_for(refused).ends_with(
            "Status: 5.7.1\r\nRemote-MTA: dns; mx1.x.example\r\nDiagnostic-Code: smtp; 554 5.7.1 sender refused\r\n"
        ));
        // Our words without a reply: no diagnostic to quote.
        assert_eq!(
            fields_for(Reason::Local("MAIL: 550 5.1.1 x".into())),
            "Final-Recipient: rfc822; bad@x.example\r\nAction: failed\r\nStatus: 5.0.0\r\n"
        );
        // A status of another class than a failure is never reported as one.
        assert!(fields_for(reply(451, "4.3.0", "later")).contains("Status: 5.0.0\r\n"));
    }

    #[test]
    fn a_multi_line_reply_keeps_its_status_on_one_line() {
        let wire = "550-5.2.1 The account is disabled\r\n550 5.2.1 contact the owner\r\n";
        let parsed = smtp_proto::response::parser::ResponseReceiver::default()
            .parse(&mut wire.as_bytes().iter())
            .expect("a complete reply");
        let fields = fields_for(Response::from_hop("mx1.x.example", &parsed).into());
        assert!(fields.contains("Status: 5.2.1\r\n"), "{fields}");
        assert!(
            fields.contains("Diagnostic-Code: smtp; 550 5.2.1 The account is disabled contact the owner\r\n"),
            "{fields}"
        );
        // Line breaks inside a stored text never break the field.
        let fields = fields_for(from_hop(550, "5.1.1", "one\r\ntwo"));
        assert!(
            fields.contains("Diagnostic-Code: smtp; 550 5.1.1 one  two\r\n"),
            "{fields}"
        );
    }

    /// Every line of a DSN, CRLF excluded, in octets.
    fn longest_line(message: &[u8]) -> usize {
        String::from_utf8_lossy(message)
            .split("\r\n")
            .map(str::len)
            .max()
            .unwrap_or(0)
    }

    fn dsn_for(reason: Reason) -> String {
        let recipients = vec![rcpt("bad@x.example", RecipientStatus::Failed, reason)];
        let dsn = build("gw.example", "Q1", "s@t.example", &recipients, b"", 0, 0).expect("dsn");
        assert!(longest_line(&dsn.message) <= MAX_LINE, "a line over 998 octets");
        String::from_utf8(dsn.message).unwrap()
    }

    #[test]
    fn a_3000_character_reply_is_folded_and_wrapped_under_998_octets() {
        // A long multi-line reply as the relay stores it: its lines joined with spaces.
        let text: String = (0..60)
            .map(|i| format!("line {i:02} of a very long explanation from the next hop, far too long"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(text.len() > 3_000);
        let message = dsn_for(from_hop(550, "5.7.1", &text));
        let quoting = message.split("\r\n").filter(|l| l.contains("explanation"));
        assert!(quoting.count() > 40, "the reply spread over many lines");
        assert!(
            message
                .split("\r\n")
                .filter(|l| l.contains("explanation"))
                .all(|l| l.len() <= FOLD_AT),
            "folded where spaces allow: {message}"
        );
        // Unfolding (RFC 5322 §2.2.3: remove the CRLFs before white space) gives the reply back.
        let fields = fields_for(from_hop(550, "5.7.1", &text));
        assert!(
            fields
                .replace("\r\n ", " ")
                .contains(&format!("Diagnostic-Code: smtp; 550 5.7.1 {text}\r\n")),
            "{fields}"
        );
        // The human-readable part: the whole reply, wrapped and indented.
        let human_start = message
            .find("  <bad@x.example>: 550 5.7.1 line 00")
            .expect("human part");
        let human_end = human_start + message[human_start..].find("\r\n\r\n").expect("end");
        let human = &message[human_start..human_end];
        assert!(human.lines().skip(1).all(|l| l.starts_with("    ")), "{human}");
        assert_eq!(
            human.replace("\r\n    ", " ").trim_start(),
            format!("<bad@x.example>: 550 5.7.1 {text}")
        );
    }

    #[test]
    fn a_utf8_recipient_is_reported_in_7_bit() {
        let recipients = vec![rcpt(
            "jürgen+x@example.net",
            RecipientStatus::Failed,
            reply(550, "5.6.7", "the next hop does not support SMTPUTF8"),
        )];
        let original = "From: a@acme.example\r\nTo: jürgen+x@example.net\r\nSubject: Grüße\r\n\r\nbody\r\n";
        let dsn = build(
            "gw.example",
            "Q1",
            "s@t.example",
            &recipients,
            original.as_bytes(),
            0,
            0,
        )
        .expect("dsn");
        assert!(dsn.message.is_ascii(), "{}", String::from_utf8_lossy(&dsn.message));
        let text = String::from_utf8(dsn.message).unwrap();
        assert!(
            text.contains(
                "Final-Recipient: utf-8; j\\x{FC}rgen\\x{2B}x@example.net\r\nAction: failed\r\nStatus: 5.6.7\r\n"
            ),
            "{text}"
        );
        // The human part and the original's headers, base64: they decode to the UTF-8 text.
        let parsed = mail_parser::MessageParser::default()
            .parse(text.as_bytes())
            .expect("a MIME report");
        let human = parsed.body_text(0).expect("the human part");
        assert!(human.contains("<jürgen+x@example.net>: 550 5.6.7"), "{human}");
        assert!(text.contains("Content-Type: text/rfc822-headers; charset=utf-8\r\nContent-Transfer-Encoding: base64"));
    }

    #[test]
    fn a_word_longer_than_a_line_is_cut_and_marked() {
        let word = "é".repeat(1_500); // 3,000 octets, no space to fold at
        let message = dsn_for(from_hop(550, "5.1.1", &format!("{word} tail")));
        assert!(message.is_ascii(), "a next hop's UTF-8 is kept 7-bit");
        let diagnostic = message
            .split("\r\n")
            .find(|l| l.starts_with("Diagnostic-Code:"))
            .expect("diagnostic");
        assert_eq!(diagnostic, "Diagnostic-Code: smtp; 550 5.1.1");
        let cut = message
            .split("\r\n")
            .find(|l| l.starts_with(" \\x{E9}\\x{E9}"))
            .expect("the long word on its own line");
        assert!(cut.ends_with(CUT), "{cut}");
        assert!(cut.len() <= MAX_LINE && cut.len() > MAX_LINE - 12, "{}", cut.len());
        assert!(
            message.contains(&format!("{CUT}\r\n tail\r\n")),
            "the words after it stay"
        );
        // Cut at a character's boundary where the text is UTF-8 (the human part).
        let folded = wrap(" ", &format!("{word} tail"), "    ");
        let first = folded.split("\r\n").next().expect("a line");
        assert!(
            first.ends_with(&format!("é{CUT}")) && first.len() <= MAX_LINE,
            "{first}"
        );
        // Spaces only: kept while they fit, never a line of white space alone.
        let message = dsn_for(from_hop(550, "5.1.1", &" ".repeat(3_000)));
        assert!(!message.split("\r\n").any(|l| !l.is_empty() && l.trim().is_empty()));
    }
}
