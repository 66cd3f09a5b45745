//! What decided a recipient's delivery outcome, as data: the next hop's reply as parsed (code,
//! enhanced status, text), or our own reason. Whether a failure is a hard bounce is read from the
//! parsed status, never from the reply's text. It renders as the reply did on the wire
//! (`550 5.1.1 No such user`), which is what logs and the queue entry keep.

use std::fmt;

use crate::smtp::reply::Reply;

/// An enhanced status code (RFC 3463): class, subject, detail.
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

/// One SMTP reply that decided an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub code: u16,
    pub status: Option<EnhancedStatus>,
    pub text: String,
}

impl Response {
    pub fn new(code: u16, status: Option<EnhancedStatus>, text: impl Into<String>) -> Response {
        Response {
            code,
            status,
            text: text.into(),
        }
    }

    /// The next hop's reply, as smtp-proto parsed it (no enhanced status when it sent none).
    pub fn from_hop(response: &smtp_proto::Response<String>) -> Response {
        let [class, subject, detail] = response.esc;
        let status = (class != 0).then(|| EnhancedStatus::new(class, subject.into(), detail.into()));
        Response::new(response.code, status, response.message.trim())
    }

    /// One of our catalogue's replies (its first line).
    pub fn from_reply(reply: &Reply) -> Response {
        let text = reply.lines().first().map(|line| line.as_ref()).unwrap_or("");
        Response::new(reply.code(), EnhancedStatus::parse(reply.status()), text)
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

/// Why a recipient was deferred or failed: a reply (the next hop's, or ours in its form), or
/// our own reason in words (a session failure naming its stage, an unreachable next hop).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Response(Response),
    Local(String),
}

impl Reason {
    /// A hard bounce: only a reply can say so.
    pub fn is_hard_bounce(&self) -> bool {
        match self {
            Reason::Response(response) => response.is_hard_bounce(),
            Reason::Local(_) => false,
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
            Reason::Local(text) => f.write_str(text),
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
    }

    #[test]
    fn statuses_parse_strictly() {
        assert_eq!(EnhancedStatus::parse("4.7.24"), Some(EnhancedStatus::new(4, 7, 24)));
        assert_eq!(EnhancedStatus::parse(""), None);
        assert_eq!(EnhancedStatus::parse("5.1"), None);
        assert_eq!(EnhancedStatus::parse("5.1.1.1"), None);
        assert_eq!(EnhancedStatus::parse("5.x.1"), None);
    }
}
