//! Delivery status notifications (RFC 3464): a `multipart/report` to the envelope sender naming
//! each failed recipient with its status and the next hop's reply, plus the original headers.
//! Each recipient's `Status:`, `Remote-MTA:` and `Diagnostic-Code:` come from its stored reason
//! (`relay::response`), never from its text.

use super::response::{EnhancedStatus, Reason};
use crate::queue::{RecipientState, RecipientStatus};
use crate::smtp::trace::rfc5322_date;

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
        human.push_str(&format!("  <{}>: {}\r\n", r.address, clean(&reason)));
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
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         {human}\r\n\
         --{boundary}\r\n\
         Content-Type: message/delivery-status\r\n\
         \r\n\
         {status}\r\n\
         --{boundary}\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         {headers}\r\n\
         --{boundary}--\r\n",
        date = rfc5322_date(now_secs),
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
        "\r\nFinal-Recipient: rfc822; {address}\r\nAction: failed\r\nStatus: {}\r\n",
        failure_status(reason)
    );
    let reply = reason.and_then(Reason::reply);
    if let Some(host) = reply.and_then(|reply| reply.remote.as_deref()) {
        fields.push_str(&format!("Remote-MTA: dns; {}\r\n", clean(host)));
    }
    if let Some(reply) = reply {
        fields.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", clean(&reply.to_string())));
    }
    fields
}

/// A failed recipient's status: its reply's (`5.1.1`), the one a reply's code implies when it
/// sent none (`550` → `5.0.0`), or `5.0.0` — a failure is always class 5.
fn failure_status(reason: Option<&Reason>) -> EnhancedStatus {
    reason
        .and_then(Reason::reply)
        .and_then(|reply| reply.effective_status())
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
        // Ours (no next hop named); the catalogue's status.
        assert_eq!(
            fields_for(reply(554, "5.6.3", "Not delivered")),
            "Final-Recipient: rfc822; bad@x.example\r\nAction: failed\r\nStatus: 5.6.3\r\n\
             Diagnostic-Code: smtp; 554 5.6.3 Not delivered\r\n"
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
}
