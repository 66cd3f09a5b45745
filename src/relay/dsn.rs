//! Delivery status notifications (RFC 3464): a `multipart/report` to the envelope sender naming
//! each failed recipient with its status and the next hop's reply, plus the original headers.

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
        human.push_str(&format!(
            "  <{}>: {}\r\n",
            r.address,
            clean(r.last_reply.as_deref().unwrap_or("failed"))
        ));
    }
    let mut status = format!(
        "Reporting-MTA: dns; {hostname}\r\nX-Aupgate-Queue-ID: {queue_id}\r\nArrival-Date: {}\r\n",
        rfc5322_date(arrival_secs)
    );
    for r in &failed {
        let reply = clean(r.last_reply.as_deref().unwrap_or("failed"));
        status.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {}\r\nAction: failed\r\nStatus: {}\r\nDiagnostic-Code: smtp; {reply}\r\n",
            r.address,
            status_code(&reply)
        ));
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

/// The enhanced status code in a reply (`550 5.1.1 ...` → `5.1.1`), or `5.0.0`.
fn status_code(reply: &str) -> String {
    reply
        .split_whitespace()
        .nth(1)
        .filter(|code| {
            let parts: Vec<&str> = code.split('.').collect();
            parts.len() == 3
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
                && code.starts_with('5')
        })
        .unwrap_or("5.0.0")
        .to_string()
}

fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
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

    fn rcpt(address: &str, status: RecipientStatus, reply: &str) -> RecipientState {
        RecipientState {
            address: address.into(),
            status,
            last_reply: Some(reply.into()),
        }
    }

    #[test]
    fn names_only_failed_recipients() {
        let recipients = vec![
            rcpt("ok@x.example", RecipientStatus::Delivered, "250 2.0.0 ok"),
            rcpt("bad@x.example", RecipientStatus::Failed, "550 5.1.1 no such user"),
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
        let recipients = vec![rcpt("bad@x.example", RecipientStatus::Failed, "550 5.1.1 no")];
        assert!(build("gw", "Q", "", &recipients, b"", 0, 0).is_none());
    }
}
