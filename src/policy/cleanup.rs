//! Cleanup: the one place that edits an accepted message between DATA and the queue, as
//! Postfix's cleanup(8) does for smtpd. The engine decides (which fields the gateway adds, with
//! which campaign, under which key it signs, what the authentication stage says); this module
//! writes them, in one order, and nothing else touches the bytes that are queued. The session
//! describes how the message arrived ([`Arrival`]) and queues what [`Cleaned::into_queued`]
//! gives it.
//!
//! The order, each step on top of what the steps before left:
//!
//! 1. **Remove** the tenant's Authentication-Results fields that claim our authserv-id (with
//!    `headers.authentication_results = "remove"`), its copies of the gateway's own fields (the
//!    trace header, CFBL) and the List-Unsubscribe fields ours replace. First, so that nothing
//!    after it (least of all our signature) vouches for a forged field.
//! 2. **Date and Message-ID** when the message has none and the tenant did not sign it, as a
//!    submission server does (RFC 6409 8.2, 8.3); a signed message is left as signed, since a
//!    field its signature covers (even by absence) would break it.
//! 3. **Received** (RFC 5321 4.4), our trace field, on top of the tenant's message.
//! 4. **List-Unsubscribe** (and `-Post`), the gateway's own for bulk mail.
//! 5. **Attribution**: Feedback-ID, `X-Aupgate-Ref`, CFBL (`complaints::attribution`).
//! 6. **DKIM-Signature**, made over everything below it, so it covers the fields of steps 2–5
//!    that `auth::keys::SIGNED_HEADERS` names (Date, Message-ID, List-Unsubscribe, Feedback-ID,
//!    CFBL): last, because a field added after it would break it or go unsigned.
//! 7. **Authentication-Results**, ours, right under the signature: it reports the verification
//!    of the message as it leaves, our signature included, so it can only be written after; it
//!    is not a signed name, so it does not break the signature above it.
//!
//! The queued header block therefore reads, top down: DKIM-Signature, Authentication-Results,
//! attribution, List-Unsubscribe, Received, Date, Message-ID, the tenant's (cleaned) fields.
//! [`Draft`] holds steps 1–5; the authentication stage signs [`Draft::signed`] and verifies
//! [`Draft::outgoing`]; [`Draft::seal`] adds steps 6–7.
//!
//! This module never decides: it has no store, no DNS, no profile lookups, and it never refuses a
//! message. It never panics on any input.

use std::net::IpAddr;

use crate::auth::results;
use crate::message::date::rfc5322_date;
use crate::message::Message;

/// How the message came in: the facts of our Received field, from the session.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// The client's EHLO name, when it gave one.
    pub helo: Option<&'a str>,
    pub peer: IpAddr,
    /// The gateway's name (`server.hostname`): it receives and it names new Message-IDs.
    pub hostname: &'a str,
    pub tls: bool,
    pub authenticated: bool,
    pub smtputf8: bool,
    /// When the message was received (unix ms).
    pub now_ms: u64,
}

/// What the engine decided the message gets, for [`Draft::new`].
pub struct Edits<'a> {
    /// Remove the Authentication-Results fields with this authserv-id (ours); `None` keeps them
    /// (the profile refuses such messages instead).
    pub forged_results_of: Option<&'a str>,
    /// Remove these fields (any case): the gateway's own and those its fields replace.
    pub replaced: &'a [&'a str],
    /// `None` (offline dry runs): no trace fields.
    pub arrival: Option<&'a Arrival<'a>>,
    /// The queue id, named by the Received field and a new Message-ID.
    pub queue_id: &'a str,
    /// The gateway's List-Unsubscribe fields, each ending in CRLF (may be empty).
    pub unsubscribe: String,
    /// The attribution fields, each ending in CRLF (may be empty).
    pub attribution: String,
}

/// An accepted message after steps 1–5: the fields added on top and the cleaned message, not yet
/// signed.
#[derive(Debug)]
pub struct Draft<'m> {
    received: &'m [u8],
    /// The message after step 1, when it removed anything.
    stripped: Option<Vec<u8>>,
    /// Steps 5, 4, 3, 2 top down: what goes on the cleaned message, under the signature.
    added: String,
    message_id: Option<String>,
}

impl<'m> Draft<'m> {
    /// Steps 1–5 on `message`.
    pub fn new(message: &'m Message<'m>, edits: Edits<'_>) -> Draft<'m> {
        let received = message.raw();
        let headers = message.headers();
        // 1. Remove.
        let stripped = edits.forged_results_of.and_then(|id| results::strip_own(received, id));
        let stripped = match edits.replaced {
            [] => stripped,
            names => results::strip_named(stripped.as_deref().unwrap_or(received), names).or(stripped),
        };
        // 2 and 3, written top down: Received, then a missing Date and Message-ID.
        let mut trace = String::new();
        let mut new_message_id = None;
        if let Some(arrival) = edits.arrival {
            trace = received_field(arrival, edits.queue_id);
            let signed = headers.count("dkim-signature") > 0;
            let secs = arrival.now_ms / 1000;
            if headers.count("date") == 0 && !signed {
                trace.push_str(&format!("Date: {}\r\n", rfc5322_date(secs)));
            }
            if headers.count("message-id") == 0 && !signed {
                let id = format!("<{}@{}>", edits.queue_id, arrival.hostname);
                trace.push_str(&format!("Message-ID: {id}\r\n"));
                new_message_id = Some(id);
            }
        }
        let message_id = headers
            .first("message-id")
            .map(|id| id.trim().to_string())
            .or(new_message_id);
        // 5 over 4 over 3 and 2.
        let mut added = edits.attribution;
        added.push_str(&edits.unsubscribe);
        added.push_str(&trace);
        Draft {
            received,
            stripped,
            added,
            message_id,
        }
    }

    /// What the signature covers, in order: the added fields, then the cleaned message.
    pub fn signed(&self) -> [&[u8]; 2] {
        [self.added.as_bytes(), self.message()]
    }

    /// The message as it leaves with `signature` (a DKIM-Signature field, or empty) on top:
    /// what receivers will verify, without our Authentication-Results.
    pub fn outgoing(&self, signature: &str) -> Vec<u8> {
        let message = self.message();
        let mut out = Vec::with_capacity(signature.len() + self.added.len() + message.len());
        out.extend_from_slice(signature.as_bytes());
        out.extend_from_slice(self.added.as_bytes());
        out.extend_from_slice(message);
        out
    }

    /// Steps 6 and 7: our DKIM-Signature (made over [`Draft::signed`]) and our
    /// Authentication-Results under it, each empty or ending in CRLF.
    pub fn seal(self, signature: &str, authentication_results: &str) -> Cleaned {
        let mut prefix = String::with_capacity(signature.len() + authentication_results.len() + self.added.len());
        prefix.push_str(signature);
        prefix.push_str(authentication_results);
        prefix.push_str(&self.added);
        Cleaned {
            prefix,
            stripped: self.stripped,
            message_id: self.message_id,
        }
    }

    /// The message after step 1.
    fn message(&self) -> &[u8] {
        self.stripped.as_deref().unwrap_or(self.received)
    }
}

/// An accepted message, cleaned: what the session queues. It owns its bytes, so the parse of the
/// received message can be dropped before the received bytes are handed over.
#[derive(Debug)]
pub struct Cleaned {
    /// Every field the gateway puts on top, in order, each ending in CRLF.
    prefix: String,
    stripped: Option<Vec<u8>>,
    message_id: Option<String>,
}

impl Cleaned {
    /// The Message-ID as relayed: the tenant's, or the one step 2 added.
    pub fn message_id(&self) -> Option<&str> {
        self.message_id.as_deref()
    }

    /// The fields for the top of the message and the message under them, from the `received`
    /// bytes this was made from.
    pub fn into_queued(self, received: Vec<u8>) -> (String, Vec<u8>) {
        (self.prefix, self.stripped.unwrap_or(received))
    }
}

/// Our `Received:` field (folded, CRLF-terminated). The EHLO name is the client's word: kept to
/// printable characters without parentheses, so it cannot end the field or the comment.
fn received_field(arrival: &Arrival<'_>, queue_id: &str) -> String {
    let with = match (arrival.tls, arrival.authenticated) {
        (false, false) => "ESMTP",
        (true, false) => "ESMTPS",
        (false, true) => "ESMTPA",
        (true, true) => "ESMTPSA",
    };
    let utf8 = if arrival.smtputf8 { "UTF8" } else { "" };
    let helo: String = arrival
        .helo
        .unwrap_or("unknown")
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != '(' && *c != ')')
        .take(255)
        .collect();
    format!(
        "Received: from {helo} ([{peer}])\r\n\tby {hostname} (aupgate) with {utf8}{with} id {queue_id};\r\n\t{date}\r\n",
        peer = arrival.peer,
        hostname = arrival.hostname,
        date = rfc5322_date(arrival.now_ms / 1000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: u64 = 1_795_448_232_000;

    fn arrival(helo: &str) -> Arrival<'_> {
        Arrival {
            helo: Some(helo),
            peer: "192.0.2.1".parse().unwrap(),
            hostname: "gw.test",
            tls: true,
            authenticated: true,
            smtputf8: false,
            now_ms: NOW_MS,
        }
    }

    fn edits<'a>(arrival: &'a Arrival<'a>, replaced: &'a [&'a str]) -> Edits<'a> {
        Edits {
            forged_results_of: Some("gw.test"),
            replaced,
            arrival: Some(arrival),
            queue_id: "Q1",
            unsubscribe:
                "List-Unsubscribe: <https://gw.test/u/t>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                    .into(),
            attribution: "Feedback-ID: c:t:p:gw\r\nX-Aupgate-Ref: 1.k.p.m\r\n".into(),
        }
    }

    fn queued(cleaned: Cleaned, received: &[u8]) -> String {
        let (prefix, body) = cleaned.into_queued(received.to_vec());
        prefix + std::str::from_utf8(&body).unwrap()
    }

    /// The names of the header fields of `message`, top down.
    fn field_names(message: &str) -> Vec<&str> {
        message
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .split("\r\n")
            .filter(|line| !line.starts_with([' ', '\t']))
            .filter_map(|line| line.split_once(':').map(|(name, _)| name))
            .collect()
    }

    #[test]
    fn the_signature_covers_every_added_field_and_no_forged_one_survives() {
        let raw = b"Authentication-Results: gw.test; dkim=pass; dmarc=pass\r\n\
            From: a@acme.example\r\n\
            X-Aupgate-Ref: 1.k.forged.m\r\n\
            List-Unsubscribe: <mailto:tenant@acme.example>\r\n\
            Authentication-Results: other.example; spf=pass\r\n\
            Subject: hi\r\n\r\nbody\r\n";
        let message = crate::message::parse(raw);
        let arrival = arrival("client.test");
        let replaced = ["X-Aupgate-Ref", "List-Unsubscribe", "List-Unsubscribe-Post"];
        let draft = Draft::new(&message, edits(&arrival, &replaced));

        let signed = draft.signed().concat();
        let signed = std::str::from_utf8(&signed).unwrap();
        let signature = "DKIM-Signature: v=1; d=acme.example; b=x\r\n";
        assert_eq!(
            draft.outgoing(signature),
            format!("{signature}{signed}").into_bytes(),
            "receivers verify exactly what was signed, under the signature"
        );
        let results = "Authentication-Results: gw.test; dkim=pass\r\n";
        let cleaned = draft.seal(signature, results);
        assert_eq!(cleaned.message_id(), Some("<Q1@gw.test>"));
        let out = queued(cleaned, raw);

        // The signature sits on top of exactly the bytes it was made over, our
        // Authentication-Results (not a signed name) between them.
        assert_eq!(out, format!("{signature}{results}{signed}"));
        assert_eq!(
            field_names(signed),
            [
                "Feedback-ID",
                "X-Aupgate-Ref",
                "List-Unsubscribe",
                "List-Unsubscribe-Post",
                "Received",
                "Date",
                "Message-ID",
                "From",
                "Authentication-Results",
                "Subject"
            ],
            "{signed}"
        );
        assert!(
            signed.contains("Authentication-Results: other.example"),
            "another server's kept"
        );
        assert!(
            !signed.contains("gw.test; dkim=pass; dmarc=pass"),
            "the forged one removed"
        );
        assert!(!out.contains("forged") && !out.contains("tenant@acme.example"));
        assert!(signed.contains("Received: from client.test ([192.0.2.1])\r\n\tby gw.test (aupgate) with ESMTPSA id Q1;\r\n\tMon, 23 Nov 2026 15:37:12 +0000\r\n"));
        assert!(signed.contains("Date: Mon, 23 Nov 2026 15:37:12 +0000\r\nMessage-ID: <Q1@gw.test>\r\n"));
    }

    #[test]
    fn a_message_the_tenant_signed_gets_no_date_or_message_id() {
        let raw = b"DKIM-Signature: v=1; d=acme.example; h=from; b=y\r\nFrom: a@acme.example\r\n\r\nbody\r\n";
        let message = crate::message::parse(raw);
        let arrival = arrival("client.test");
        let draft = Draft::new(&message, edits(&arrival, &[]));
        let cleaned = draft.seal("", "");
        assert_eq!(cleaned.message_id(), None);
        let out = queued(cleaned, raw);
        assert!(!out.contains("\r\nDate:") && !out.contains("Message-ID"), "{out}");
        assert!(
            out.ends_with(std::str::from_utf8(raw).unwrap()),
            "the signed message untouched"
        );
    }

    #[test]
    fn the_tenant_message_id_is_kept_and_an_unchanged_message_is_not_copied() {
        let raw = b"From: a@acme.example\r\nMessage-ID:  <m1@acme.example> \r\n\r\nbody\r\n";
        let message = crate::message::parse(raw);
        let draft = Draft::new(
            &message,
            Edits {
                forged_results_of: Some("gw.test"),
                replaced: &["X-Aupgate-Ref"],
                arrival: None,
                queue_id: "",
                unsubscribe: String::new(),
                attribution: String::new(),
            },
        );
        assert!(draft.stripped.is_none());
        let cleaned = draft.seal("", "");
        assert_eq!(cleaned.message_id(), Some("<m1@acme.example>"));
        assert_eq!(queued(cleaned, raw).as_bytes(), raw);
    }

    #[test]
    fn helo_cannot_break_the_received_field() {
        let field = received_field(&arrival("evil\r\nX-Injected: 1 (x)"), "ID1");
        assert_eq!(field.matches("\r\n").count(), 3);
        assert!(!field.contains("\r\nX-Injected"));
        let utf8 = Arrival {
            smtputf8: true,
            tls: false,
            authenticated: false,
            helo: None,
            ..arrival("")
        };
        assert!(received_field(&utf8, "ID1")
            .starts_with("Received: from unknown ([192.0.2.1])\r\n\tby gw.test (aupgate) with UTF8ESMTP id ID1;"));
    }
}
