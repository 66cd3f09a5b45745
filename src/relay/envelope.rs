//! What one relay transaction declares on MAIL FROM, from the queued envelope, the message's
//! content and what the next hop's EHLO offered: `BODY=8BITMIME` (RFC 6152), `SMTPUTF8`
//! (RFC 6531) and `SIZE=` (RFC 1870), each only when the hop offers it — and which recipients
//! cannot be sent to that hop at all. Pure, so the decisions are unit-tested without a socket.
//!
//! It never downgrades or converts:
//! - a hop without SMTPUTF8 gets no UTF-8 envelope: a non-ASCII recipient fails permanently with
//!   `5.6.7` (in its DSN); a non-ASCII sender, or a UTF-8 header in a message sent with
//!   `SMTPUTF8`, fails the whole message with `5.6.7`. An all-ASCII message goes out without the
//!   parameter, as RFC 6531 allows.
//! - a hop without 8BITMIME gets no 8-bit content: the message fails permanently with `5.6.3`.
//!   Converting it to quoted-printable or base64 (what Postfix does) would rewrite the body the
//!   tenant's — and our — DKIM signatures cover, so every signed message would arrive broken;
//!   returning it with an honest DSN is the choice here. A message declared `8BITMIME` whose
//!   bytes are all 7-bit is sent as it is (it needs nothing).

use crate::queue::{BodyType, MailParams};
use crate::smtp::reply::{self, Reply};

/// The extensions of the next hop that matter here (from its EHLO reply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offered {
    pub smtputf8: bool,
    pub eight_bit_mime: bool,
    pub size: bool,
}

/// What the message's bytes need: any octet over 127 anywhere, and in the header section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Content {
    pub eight_bit: bool,
    pub eight_bit_header: bool,
}

impl Content {
    /// Scans the trace fields we add and the message as queued.
    pub fn of(trace: &[u8], body: &[u8]) -> Content {
        let header_end = memchr::memmem::find(body, b"\r\n\r\n").map_or(body.len(), |i| i + 2);
        let high = |bytes: &[u8]| !bytes.is_ascii();
        let eight_bit_header = high(trace) || high(&body[..header_end]);
        Content {
            eight_bit_header,
            eight_bit: eight_bit_header || high(&body[header_end..]),
        }
    }
}

/// The MAIL FROM line to send, and per recipient (in order) the reason it is not sent, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub mail_from: String,
    pub refused: Vec<Option<Reply>>,
}

/// Decides what to declare; `Err` is a reason that fails every recipient (nothing is sent).
pub fn plan(
    sender: &str,
    recipients: &[String],
    params: MailParams,
    content: Content,
    offered: Offered,
    size: usize,
) -> Result<Plan, Reply> {
    let utf8_envelope = !sender.is_ascii() || recipients.iter().any(|r| !r.is_ascii());
    let needs_smtputf8 = params.smtputf8 || utf8_envelope;
    let mut refused: Vec<Option<Reply>> = vec![None; recipients.len()];
    if !offered.smtputf8 {
        if !sender.is_ascii() {
            return Err(reply::next_hop_without_smtputf8("sender address"));
        }
        if params.smtputf8 && content.eight_bit_header {
            return Err(reply::next_hop_without_smtputf8("message header"));
        }
        for (slot, recipient) in refused.iter_mut().zip(recipients) {
            if !recipient.is_ascii() {
                *slot = Some(reply::next_hop_without_smtputf8("recipient address"));
            }
        }
    }
    if content.eight_bit && !offered.eight_bit_mime {
        return Err(reply::next_hop_without_8bitmime());
    }
    let mut mail_from = format!("MAIL FROM:<{sender}>");
    if offered.eight_bit_mime && (content.eight_bit || params.body == BodyType::EightBitMime) {
        mail_from.push_str(" BODY=8BITMIME");
    }
    if offered.smtputf8 && needs_smtputf8 {
        mail_from.push_str(" SMTPUTF8");
    }
    if offered.size {
        mail_from.push_str(&format!(" SIZE={size}"));
    }
    mail_from.push_str("\r\n");
    Ok(Plan { mail_from, refused })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Offered = Offered {
        smtputf8: true,
        eight_bit_mime: true,
        size: true,
    };
    const UTF8: MailParams = MailParams {
        smtputf8: true,
        body: BodyType::EightBitMime,
    };

    fn rcpts(list: &[&str]) -> Vec<String> {
        list.iter().map(|r| r.to_string()).collect()
    }

    #[test]
    fn content_is_classified_by_where_its_8bit_octets_are() {
        assert_eq!(
            Content::of(b"Received: x\r\n", b"Subject: a\r\n\r\nplain\r\n"),
            Content::default()
        );
        let body = Content::of(b"", "Subject: a\r\n\r\nd\u{e9}j\u{e0}\r\n".as_bytes());
        assert!(body.eight_bit && !body.eight_bit_header);
        let header = Content::of(b"", "Subject: d\u{e9}j\u{e0}\r\n\r\nx\r\n".as_bytes());
        assert!(header.eight_bit && header.eight_bit_header);
        let trace = Content::of("Received: from h\u{f6}st\r\n".as_bytes(), b"\r\nx\r\n");
        assert!(trace.eight_bit_header);
    }

    #[test]
    fn declares_what_the_hop_offers_and_the_message_needs() {
        let eight = Content {
            eight_bit: true,
            eight_bit_header: false,
        };
        let plan = plan("a@b.example", &rcpts(&["jörg@x.example"]), UTF8, eight, ALL, 1234).unwrap();
        assert_eq!(
            plan.mail_from,
            "MAIL FROM:<a@b.example> BODY=8BITMIME SMTPUTF8 SIZE=1234\r\n"
        );
        assert_eq!(plan.refused, vec![None]);
        // Nothing declared and nothing offered: the bare command of old.
        let bare = super::plan(
            "a@b.example",
            &rcpts(&["c@d.example"]),
            MailParams::default(),
            Content::default(),
            Offered::default(),
            10,
        )
        .unwrap();
        assert_eq!(bare.mail_from, "MAIL FROM:<a@b.example>\r\n");
        // 8-bit content the client did not declare is declared for it.
        let undeclared = super::plan("a@b.example", &[], MailParams::default(), eight, ALL, 7).unwrap();
        assert_eq!(undeclared.mail_from, "MAIL FROM:<a@b.example> BODY=8BITMIME SIZE=7\r\n");
        // A UTF-8 envelope needs SMTPUTF8 even on an entry that did not record it (a DSN).
        let dsn = super::plan(
            "",
            &rcpts(&["jörg@x.example"]),
            MailParams::default(),
            Content::default(),
            ALL,
            1,
        )
        .unwrap();
        assert_eq!(dsn.mail_from, "MAIL FROM:<> SMTPUTF8 SIZE=1\r\n");
    }

    #[test]
    fn a_hop_without_smtputf8_gets_no_utf8_envelope() {
        let hop = Offered { smtputf8: false, ..ALL };
        let plan = plan(
            "a@b.example",
            &rcpts(&["ok@x.example", "jörg@x.example", "bob@bücher.example"]),
            UTF8,
            Content::default(),
            hop,
            5,
        )
        .unwrap();
        assert_eq!(plan.mail_from, "MAIL FROM:<a@b.example> BODY=8BITMIME SIZE=5\r\n");
        let refused: Vec<Option<&str>> = plan.refused.iter().map(|r| r.as_ref().map(|r| r.status())).collect();
        assert_eq!(refused, vec![None, Some("5.6.7"), Some("5.6.7")]);
        let sender = super::plan(
            "jörg@b.example",
            &rcpts(&["c@d.example"]),
            UTF8,
            Content::default(),
            hop,
            5,
        );
        assert_eq!(sender.unwrap_err().summary().get(..9), Some("550 5.6.7"));
        let header = Content {
            eight_bit: true,
            eight_bit_header: true,
        };
        let utf8_header = super::plan("a@b.example", &rcpts(&["c@d.example"]), UTF8, header, hop, 5);
        assert_eq!(utf8_header.unwrap_err().status(), "5.6.7");
    }

    #[test]
    fn a_hop_without_8bitmime_gets_no_8bit_content() {
        let hop = Offered {
            eight_bit_mime: false,
            ..ALL
        };
        let eight = Content {
            eight_bit: true,
            eight_bit_header: false,
        };
        let refused = plan(
            "a@b.example",
            &rcpts(&["c@d.example"]),
            MailParams::default(),
            eight,
            hop,
            5,
        );
        assert_eq!(refused.unwrap_err().summary().get(..9), Some("554 5.6.3"));
        // Declared 8BITMIME but 7-bit bytes only: it needs nothing, so it is sent undeclared.
        let seven = plan(
            "a@b.example",
            &rcpts(&["c@d.example"]),
            UTF8,
            Content::default(),
            hop,
            5,
        )
        .unwrap();
        assert_eq!(seven.mail_from, "MAIL FROM:<a@b.example> SMTPUTF8 SIZE=5\r\n");
    }
}
