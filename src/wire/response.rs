//! What decided a recipient's delivery outcome, as data: a reply (the next hop's, naming the host
//! that sent it, or ours in a reply's form), the next hop's refusal of the whole transaction at
//! one command, or our own reason in words when there is no reply (a connection that failed).
//!
//! The queue keeps it as it is (`RecipientState::last_reply`), the DSN takes its `Status:` and
//! `Diagnostic-Code:` from it, and whether a failure is a hard bounce is read from the parsed
//! status: nothing here parses a reply's text back. It renders as the reply did on the wire
//! (`550 5.1.1 No such user`), which is what logs show.
//!
//! It depends on nothing in the crate but the reply catalogue (`wire`), so the queue can store it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::wire::Reply;

/// An enhanced status code (RFC 3463): class, subject, detail. Stored as its text (`"5.1.1"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnhancedStatus {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedStatus {
    pub const fn new(class: u8, subject: u16, detail: u16) -> EnhancedStatus {
        EnhancedStatus { class, subject, detail }
    }

    /// Reads `"5.1.1"` (our catalogue's statuses are written as text).
    pub fn parse(text: &str) -> Option<EnhancedStatus> {
        let mut parts = text.split('.');
        let class = parts.next()?.parse().ok()?;
        let subject = parts.next()?.parse().ok()?;
        let detail = parts.next()?.parse().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(EnhancedStatus { class, subject, detail })
    }

    /// The status a reply without one implies (RFC 3463 §3.1: the class follows the basic
    /// code's first digit, "other or undefined" subject and detail): `550` → `5.0.0`.
    pub fn of_code(code: u16) -> Option<EnhancedStatus> {
        match code / 100 {
            class @ (2 | 4 | 5) => Some(EnhancedStatus::new(class as u8, 0, 0)),
            _ => None,
        }
    }

    /// A bad destination address or mailbox (`5.1.x`), or a disabled mailbox (`5.2.1`): the
    /// address will not work later either.
    pub fn is_bad_address(self) -> bool {
        self.class == 5 && (self.subject == 1 || (self.subject == 2 && self.detail == 1))
    }
}

impl fmt::Display for EnhancedStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

impl Serialize for EnhancedStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EnhancedStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        EnhancedStatus::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not an enhanced status code: {text:?}")))
    }
}

/// One SMTP reply that decided an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<EnhancedStatus>,
    /// The text after code and status; the lines of a multi-line reply joined by spaces.
    pub text: String,
    /// The next hop that sent it (its host name); `None` for ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

impl Response {
    /// One of our own replies (no `remote`).
    pub fn new(code: u16, status: Option<EnhancedStatus>, text: impl Into<String>) -> Response {
        Response {
            code,
            status,
            text: text.into(),
            remote: None,
        }
    }

    /// The reply of next hop `host`, as smtp-proto parsed it (no enhanced status when it sent
    /// none; a multi-line reply keeps the status of its lines and its text on one line).
    pub fn from_hop(host: &str, response: &smtp_proto::Response<String>) -> Response {
        let [class, subject, detail] = response.esc;
        let status = (class != 0).then(|| EnhancedStatus::new(class, subject.into(), detail.into()));
        let text = response
            .message
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        Response {
            code: response.code,
            status,
            text,
            remote: Some(host.to_string()),
        }
    }

    /// One of our catalogue's replies (its first line).
    pub fn from_reply(reply: &Reply) -> Response {
        let text = reply.lines().first().map(|line| line.as_ref()).unwrap_or("");
        Response::new(reply.code(), EnhancedStatus::parse(reply.status()), text)
    }

    /// A `5xx` reply: the next hop (or we) will not take it later either.
    pub fn is_permanent(&self) -> bool {
        self.code / 100 == 5
    }

    /// The enhanced status this reply stands for: its own, or the one its code implies when it
    /// sent none or one of another class than its code (RFC 3463 requires them to agree).
    pub fn effective_status(&self) -> Option<EnhancedStatus> {
        self.status
            .filter(|status| u16::from(status.class) == self.code / 100)
            .or_else(|| EnhancedStatus::of_code(self.code))
    }

    /// A permanent failure that says the address is bad (its suppression is kept).
    pub fn is_hard_bounce(&self) -> bool {
        self.status.is_some_and(EnhancedStatus::is_bad_address)
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(status) => write!(f, "{} {status} {}", self.code, self.text),
            None => write!(f, "{} {}", self.code, self.text),
        }
    }
}

/// The command of the transaction the next hop refused as a whole (before any recipient, or
/// the DATA command itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    #[serde(rename = "greeting")]
    Greeting,
    #[serde(rename = "EHLO")]
    Ehlo,
    #[serde(rename = "MAIL")]
    Mail,
    #[serde(rename = "DATA")]
    Data,
    #[serde(rename = "RSET")]
    Rset,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Greeting => "greeting",
            Stage::Ehlo => "EHLO",
            Stage::Mail => "MAIL",
            Stage::Data => "DATA",
            Stage::Rset => "RSET",
        }
    }
}

/// Why a recipient was delivered, deferred or failed (see the module doc). Stored in the queue
/// as `{"response": {...}}`, `{"refused": {...}}` or `{"local": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A reply about this recipient: the next hop's (to RCPT, or at the end of data), or ours in
    /// its form (no next hop for the domain, a TLS policy the hop does not meet).
    Response(Response),
    /// The next hop refused the whole transaction at `stage`: every recipient shares the reply,
    /// which says nothing about any one address (never a hard bounce).
    Refused { stage: Stage, reply: Response },
    /// Our own reason in words, when no reply was had (a connection that failed or timed out).
    Local(String),
    /// Still undelivered after `[queue] max_age` (RFC 3463 `5.4.7`), with the last attempt's
    /// reason: its reply (and the host that gave it) is what the DSN quotes.
    Expired { last: Option<Box<Reason>> },
}

impl Reason {
    /// The reply this reason carries, if any.
    pub fn reply(&self) -> Option<&Response> {
        match self {
            Reason::Response(response) | Reason::Refused { reply: response, .. } => Some(response),
            Reason::Local(_) => None,
            Reason::Expired { last } => last.as_deref().and_then(Reason::reply),
        }
    }

    /// A hard bounce: only a reply about this recipient can say so.
    pub fn is_hard_bounce(&self) -> bool {
        match self {
            Reason::Response(response) => response.is_hard_bounce(),
            Reason::Refused { .. } | Reason::Local(_) | Reason::Expired { .. } => false,
        }
    }

    /// The next hop that gave this reason, when a next hop did.
    pub fn remote(&self) -> Option<&str> {
        self.reply().and_then(|reply| reply.remote.as_deref())
    }

    /// A `5xx` reply, or the time to retry is over: retrying will not help.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Reason::Expired { .. }) || self.reply().is_some_and(Response::is_permanent)
    }

    /// The enhanced status a DSN gives for this reason: `5.4.7` for an expired delivery, else
    /// its reply's (or the one its code implies), if any.
    pub fn status(&self) -> Option<EnhancedStatus> {
        match self {
            Reason::Expired { .. } => Some(EnhancedStatus::new(5, 4, 7)),
            _ => self.reply().and_then(Response::effective_status),
        }
    }
}

impl From<Response> for Reason {
    fn from(response: Response) -> Reason {
        Reason::Response(response)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Response(response) => response.fmt(f),
            Reason::Refused { stage, reply } => write!(f, "{}: {reply}", stage.as_str()),
            Reason::Local(text) => f.write_str(text),
            Reason::Expired { last: Some(last) } => write!(f, "Delivery time expired; last error: {last}"),
            Reason::Expired { last: None } => f.write_str("Delivery time expired"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_as_on_the_wire() {
        let r = Response::new(550, Some(EnhancedStatus::new(5, 1, 1)), "No such user");
        assert_eq!(r.to_string(), "550 5.1.1 No such user");
        assert!(r.is_hard_bounce());
        let r = Response::new(550, None, "User unknown");
        assert_eq!(r.to_string(), "550 User unknown");
        assert!(!r.is_hard_bounce());
        assert!(Response::new(550, EnhancedStatus::parse("5.2.1"), "disabled").is_hard_bounce());
        assert!(!Response::new(552, EnhancedStatus::parse("5.2.2"), "full").is_hard_bounce());
        assert!(!Response::new(550, EnhancedStatus::parse("5.7.1"), "policy").is_hard_bounce());
        assert!(Response::new(556, EnhancedStatus::parse("5.1.10"), "null MX").is_hard_bounce());
        assert!(!Reason::Local("MAIL: 550 5.1.1 x".into()).is_hard_bounce());
        let refused = Reason::Refused {
            stage: Stage::Mail,
            reply: Response::new(550, EnhancedStatus::parse("5.1.1"), "x"),
        };
        assert_eq!(refused.to_string(), "MAIL: 550 5.1.1 x");
        assert!(!refused.is_hard_bounce());
        assert!(refused.is_permanent());
    }

    #[test]
    fn statuses_parse_strictly() {
        assert_eq!(EnhancedStatus::parse("4.7.24"), Some(EnhancedStatus::new(4, 7, 24)));
        assert_eq!(EnhancedStatus::parse(""), None);
        assert_eq!(EnhancedStatus::parse("5.1"), None);
        assert_eq!(EnhancedStatus::parse("5.1.1.1"), None);
        assert_eq!(EnhancedStatus::parse("5.x.1"), None);
    }

    #[test]
    fn a_reply_without_a_status_stands_for_its_codes_class() {
        for (code, status, expected) in [
            (550, None, Some("5.0.0")),
            (554, None, Some("5.0.0")),
            (451, None, Some("4.0.0")),
            (250, None, Some("2.0.0")),
            (550, Some("5.1.1"), Some("5.1.1")),
            // A status of another class than the code is not believed.
            (550, Some("4.2.2"), Some("5.0.0")),
            (421, Some("4.7.0"), Some("4.7.0")),
            (354, None, None),
        ] {
            let reply = Response::new(code, status.and_then(EnhancedStatus::parse), "x");
            assert_eq!(
                reply.effective_status().map(|s| s.to_string()).as_deref(),
                expected,
                "{reply}"
            );
        }
    }

    fn parse_hop_reply(wire: &str) -> smtp_proto::Response<String> {
        smtp_proto::response::parser::ResponseReceiver::default()
            .parse(&mut wire.as_bytes().iter())
            .expect("a complete reply")
    }

    #[test]
    fn a_multi_line_reply_keeps_its_status_and_reads_as_one_line() {
        let wire = "550-5.1.1 The email account that you tried to reach does not exist.\r\n\
                    550-5.1.1 Please try double-checking the recipient's email address\r\n\
                    550 5.1.1 for typos or unnecessary spaces. d2-20020a05\r\n";
        let reply = Response::from_hop("mx1.dest.example", &parse_hop_reply(wire));
        assert_eq!(reply.code, 550);
        assert_eq!(reply.status, Some(EnhancedStatus::new(5, 1, 1)));
        assert_eq!(reply.remote.as_deref(), Some("mx1.dest.example"));
        assert_eq!(
            reply.text,
            "The email account that you tried to reach does not exist. Please try \
             double-checking the recipient's email address for typos or unnecessary spaces. \
             d2-20020a05"
        );
        assert!(reply.is_hard_bounce());
        let plain = Response::from_hop("mx", &parse_hop_reply("550-mailbox unavailable\r\n550 moved\r\n"));
        assert_eq!((plain.status, plain.text.as_str()), (None, "mailbox unavailable moved"));
        assert_eq!(plain.effective_status(), Some(EnhancedStatus::new(5, 0, 0)));
    }

    #[test]
    fn reasons_are_stored_as_data() {
        let remote = Reason::Response(Response::from_hop("mx1.x", &parse_hop_reply("550 5.1.1 no\r\n")));
        let json = serde_json::to_string(&remote).unwrap();
        assert_eq!(
            json,
            r#"{"response":{"code":550,"status":"5.1.1","text":"no","remote":"mx1.x"}}"#
        );
        let refused = Reason::Refused {
            stage: Stage::Data,
            reply: Response::new(554, None, "no"),
        };
        let local = Reason::Local("connect: refused".into());
        for reason in [remote, refused, local] {
            let back: Reason = serde_json::from_str(&serde_json::to_string(&reason).unwrap()).unwrap();
            assert_eq!(back, reason);
        }
        assert!(serde_json::from_str::<Reason>(r#"{"response":{"code":550,"status":"5.x","text":""}}"#).is_err());
    }
}
