//! One queue entry's envelope and delivery state, stored as JSON beside the raw message body.
//!
//! The format is versioned (`version`): fields added since the first release (which wrote no
//! version) default when absent, so an upgrade reads the spool it finds and never quarantines it
//! (`tests/fixtures/queue_entry_v0.json` is an entry as that release wrote it). An entry of a
//! version newer than this code knows is not guessed at: it does not decode, so it is
//! quarantined (kept, not delivered with parameters we would drop).
//!
//! Each recipient's last reply is stored as data (`wire::response::Reason`) since version 3;
//! older entries hold its text, read once on load by [`reason_from_text`] (the one place a
//! reply's text is parsed back, and only for entries this code did not write).

use serde::{Deserialize, Deserializer, Serialize};

use crate::wire::response::{EnhancedStatus, Reason, Response};

/// Delivery state of one recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientStatus {
    Pending,
    Delivered,
    Failed,
}

/// One recipient and what happened to it so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientState {
    pub address: String,
    pub status: RecipientStatus,
    /// The last reply from the next hop (or our reason), for logs and DSNs (text before
    /// version 3).
    #[serde(default, deserialize_with = "typed_or_text")]
    pub last_reply: Option<Reason>,
}

/// The format this code writes; `0` is the first release's (no `version` field), `1` added the
/// MAIL FROM parameters, `2` the gateway's own mail (`own`), `3` the replies as data
/// (`last_reply`).
pub const FORMAT_VERSION: u32 = 3;

/// `last_reply` as version 3 writes it, or as text (versions 0 to 2).
fn typed_or_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Reason>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Typed(Reason),
        Text(String),
    }
    Ok(Option::<Stored>::deserialize(deserializer)?.map(|stored| match stored {
        Stored::Typed(reason) => reason,
        Stored::Text(text) => reason_from_text(&text),
    }))
}

/// A reply as versions 0 to 2 stored it: `550 5.1.1 text` (as `Reason`'s `Display` wrote it) is
/// that reply, without the host that sent it, which those versions did not keep; any other
/// text (`connect: ...`, `MAIL: 550 ...`) is our own reason in words, as those versions' DSNs
/// read it (`5.0.0`).
fn reason_from_text(text: &str) -> Reason {
    let code = text
        .get(..3)
        .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|digits| digits.parse::<u16>().ok())
        .filter(|code| (200..600).contains(code));
    let rest = text.get(3..).filter(|rest| rest.is_empty() || rest.starts_with(' '));
    let (Some(code), Some(rest)) = (code, rest) else {
        return Reason::Local(text.to_string());
    };
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let (first, after) = rest.split_once(' ').unwrap_or((rest, ""));
    match EnhancedStatus::parse(first) {
        Some(status) => Reason::Response(Response::new(code, Some(status), after)),
        None => Reason::Response(Response::new(code, None, rest)),
    }
}

/// The message body type the client declared with `BODY=` (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum BodyType {
    /// No `BODY=` parameter (and every entry of the first release).
    #[default]
    #[serde(rename = "unspecified")]
    Unspecified,
    #[serde(rename = "7BIT")]
    SevenBit,
    #[serde(rename = "8BITMIME")]
    EightBitMime,
}

/// The ESMTP parameters of MAIL FROM that the relay must declare again to the next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MailParams {
    /// `SMTPUTF8` (RFC 6531): the envelope or the header may hold UTF-8.
    pub smtputf8: bool,
    pub body: BodyType,
}

/// The envelope and bookkeeping of a queued message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// The format version the entry was read in (absent = 0); always written as
    /// `FORMAT_VERSION`, since every field of this version is written.
    #[serde(default, serialize_with = "current_version")]
    pub version: u32,
    pub id: String,
    pub tenant: String,
    /// Envelope sender; empty for the null sender (never bounced).
    pub sender: String,
    pub recipients: Vec<RecipientState>,
    pub created_ms: u64,
    pub attempts: u32,
    pub next_attempt_ms: u64,
    /// Trace headers we add (Received), written before the body on relay.
    pub trace: String,
    /// The client declared `SMTPUTF8` on MAIL FROM (absent in version 0: no).
    #[serde(default)]
    pub smtputf8: bool,
    /// The client's `BODY=` (absent in version 0: unspecified).
    #[serde(default)]
    pub body_type: BodyType,
    /// The gateway's own mail (a DSN, a notice to the tenant): its outcomes are never counted
    /// against the tenant and never feed the tenant's suppression list (absent before version
    /// 2: the tenant's).
    #[serde(default)]
    pub own: bool,
}

fn current_version<S: serde::Serializer>(_: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u32(FORMAT_VERSION)
}

impl QueueEntry {
    pub fn new(
        id: String,
        tenant: String,
        sender: String,
        recipients: Vec<String>,
        trace: String,
        now_ms: u64,
    ) -> Self {
        QueueEntry {
            version: FORMAT_VERSION,
            id,
            tenant,
            sender,
            recipients: recipients
                .into_iter()
                .map(|address| RecipientState {
                    address,
                    status: RecipientStatus::Pending,
                    last_reply: None,
                })
                .collect(),
            created_ms: now_ms,
            attempts: 0,
            next_attempt_ms: now_ms,
            trace,
            smtputf8: false,
            body_type: BodyType::Unspecified,
            own: false,
        }
    }

    /// The entry marked as the gateway's own mail (see `own`).
    pub fn gateways_own(mut self) -> Self {
        self.own = true;
        self
    }

    /// The entry with the MAIL FROM parameters the relay declares again.
    pub fn with_mail_params(mut self, params: MailParams) -> Self {
        self.smtputf8 = params.smtputf8;
        self.body_type = params.body;
        self
    }

    pub fn mail_params(&self) -> MailParams {
        MailParams {
            smtputf8: self.smtputf8,
            body: self.body_type,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain data structures cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The entry, or `None` for bytes that are not an entry of a version this code knows.
    pub fn decode(bytes: &[u8]) -> Option<QueueEntry> {
        serde_json::from_slice::<QueueEntry>(bytes)
            .ok()
            .filter(|entry| entry.version <= FORMAT_VERSION)
    }

    pub fn pending(&self) -> impl Iterator<Item = &RecipientState> {
        self.recipients.iter().filter(|r| r.status == RecipientStatus::Pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry exactly as the first release's `QueueEntry::encode` wrote it.
    const RELEASE_0: &[u8] = include_bytes!("../../tests/fixtures/queue_entry_v0.json");
    /// An entry as version 2 wrote it (replies as text): every kind of reply it stored.
    const VERSION_2: &[u8] = include_bytes!("../../tests/fixtures/queue_entry_v2.json");

    /// A recipient as versions 0 to 2 wrote it.
    #[derive(Serialize, Deserialize)]
    struct TextRecipient {
        address: String,
        status: RecipientStatus,
        last_reply: Option<String>,
    }

    /// The first release's `QueueEntry` field for field (git history: `src/queue/entry.rs` before
    /// format versions), to show the fixture is byte for byte what that release wrote.
    #[derive(Serialize, Deserialize)]
    struct Release0 {
        id: String,
        tenant: String,
        sender: String,
        recipients: Vec<TextRecipient>,
        created_ms: u64,
        attempts: u32,
        next_attempt_ms: u64,
        trace: String,
    }

    /// Version 2's `QueueEntry` field for field (git history: `src/queue/entry.rs` before
    /// format 3).
    #[derive(Serialize, Deserialize)]
    struct Version2 {
        version: u32,
        id: String,
        tenant: String,
        sender: String,
        recipients: Vec<TextRecipient>,
        created_ms: u64,
        attempts: u32,
        next_attempt_ms: u64,
        trace: String,
        smtputf8: bool,
        body_type: BodyType,
        own: bool,
    }

    #[test]
    fn fixture_is_what_release_0_wrote() {
        let old: Release0 = serde_json::from_slice(RELEASE_0).expect("release 0 entry");
        assert_eq!(serde_json::to_vec(&old).unwrap(), RELEASE_0);
    }

    #[test]
    fn release_0_entry_decodes_with_defaults() {
        let entry = QueueEntry::decode(RELEASE_0).expect("an upgrade reads the old spool");
        assert_eq!(entry.version, 0);
        assert_eq!(entry.id, "0006471A2B3C4D5E00000001");
        assert_eq!(entry.sender, "a@acme.example");
        assert_eq!(entry.attempts, 2);
        assert_eq!(entry.pending().count(), 1);
        assert_eq!(entry.recipients[1].status, RecipientStatus::Failed);
        assert_eq!(
            entry.recipients[1].last_reply,
            Some(Reason::Response(Response::new(
                550,
                Some(EnhancedStatus::new(5, 1, 1)),
                "no such user"
            )))
        );
        assert_eq!(entry.mail_params(), MailParams::default());
        assert!(!entry.smtputf8);
        assert_eq!(entry.body_type, BodyType::Unspecified);
        assert!(entry.trace.starts_with("Received: from client.test"));
        // Written again, it is in the current format.
        let again = QueueEntry::decode(&entry.encode()).unwrap();
        assert_eq!(again.version, FORMAT_VERSION);
        assert_eq!(again.recipients, entry.recipients);
    }

    #[test]
    fn new_entries_round_trip_their_parameters() {
        let params = MailParams {
            smtputf8: true,
            body: BodyType::EightBitMime,
        };
        let entry = QueueEntry::new(
            "Q".into(),
            "t".into(),
            "jörg@bücher.example".into(),
            vec!["b@x".into()],
            String::new(),
            5,
        )
        .with_mail_params(params);
        let bytes = entry.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"version\":3,"), "{text}");
        assert!(text.contains("\"body_type\":\"8BITMIME\""), "{text}");
        let back = QueueEntry::decode(&bytes).expect("decodes");
        assert_eq!(back, entry);
        assert_eq!(back.mail_params(), params);
    }

    #[test]
    fn version_1_entries_are_the_tenants_mail() {
        let mut value: serde_json::Value = serde_json::from_slice(
            &QueueEntry::new(
                "Q".into(),
                "t".into(),
                "a@x".into(),
                vec!["b@y".into()],
                String::new(),
                0,
            )
            .gateways_own()
            .encode(),
        )
        .unwrap();
        value["version"] = 1.into();
        value.as_object_mut().unwrap().remove("own");
        let entry = QueueEntry::decode(value.to_string().as_bytes()).expect("decodes");
        assert_eq!(entry.version, 1);
        assert!(!entry.own);
    }

    #[test]
    fn unknown_newer_versions_are_not_guessed_at() {
        let text = String::from_utf8(
            QueueEntry::new("Q".into(), "t".into(), String::new(), vec![], String::new(), 0).encode(),
        )
        .unwrap()
        .replace("\"version\":3", "\"version\":4");
        assert!(QueueEntry::decode(text.as_bytes()).is_none());
    }

    #[test]
    fn version_2_fixture_is_what_version_2_wrote() {
        let old: Version2 = serde_json::from_slice(VERSION_2).expect("version 2 entry");
        assert_eq!(serde_json::to_vec(&old).unwrap(), VERSION_2);
    }

    #[test]
    fn version_2_entry_reads_its_replies_as_data() {
        let entry = QueueEntry::decode(VERSION_2).expect("an upgrade reads the version 2 spool");
        assert_eq!(entry.version, 2);
        assert!(entry.own && entry.smtputf8);
        assert_eq!(entry.body_type, BodyType::EightBitMime);
        let status = EnhancedStatus::parse;
        let replies: Vec<Option<Reason>> = entry.recipients.iter().map(|r| r.last_reply.clone()).collect();
        assert_eq!(
            replies,
            vec![
                Some(Response::new(451, status("4.3.0"), "try later").into()),
                Some(Response::new(550, status("5.1.1"), "no such user").into()),
                Some(Response::new(550, None, "mailbox unavailable").into()),
                Some(Reason::Local("MAIL: 554 5.7.1 sender refused".into())),
                Some(Reason::Local("connect: Connection refused (os error 111)".into())),
                Some(Response::new(250, status("2.0.0"), "Ok: queued as 4F2").into()),
                None,
            ]
        );
        // Each reads as the text it was stored as, and is written again as data.
        let stored: Version2 = serde_json::from_slice(VERSION_2).unwrap();
        for (old, new) in stored.recipients.iter().zip(&entry.recipients) {
            assert_eq!(old.last_reply, new.last_reply.as_ref().map(ToString::to_string));
        }
        let again = String::from_utf8(entry.encode()).unwrap();
        assert!(
            again.contains(r#""last_reply":{"response":{"code":550,"status":"5.1.1","text":"no such user"}}"#),
            "{again}"
        );
        assert_eq!(
            QueueEntry::decode(again.as_bytes()).unwrap().recipients,
            entry.recipients
        );
    }

    #[test]
    fn stored_reply_texts_read_strictly() {
        for (text, expected) in [
            (
                "550 5.1.1 no such user",
                Response::new(550, EnhancedStatus::parse("5.1.1"), "no such user").into(),
            ),
            (
                "550 5.1.1",
                Response::new(550, EnhancedStatus::parse("5.1.1"), "").into(),
            ),
            ("421 too busy", Response::new(421, None, "too busy").into()),
            ("550 5.1 odd", Response::new(550, None, "5.1 odd").into()),
            ("5500 no", Reason::Local("5500 no".into())),
            ("999 no", Reason::Local("999 no".into())),
            ("DATA: 554 no", Reason::Local("DATA: 554 no".into())),
            ("", Reason::Local(String::new())),
            ("55", Reason::Local("55".into())),
            ("5é5 x", Reason::Local("5é5 x".into())),
        ] {
            assert_eq!(reason_from_text(text), expected, "{text:?}");
        }
    }
}
