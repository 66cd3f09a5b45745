//! One parse of a message, shared by everything that reads one: the session (trace fields,
//! Message-ID), every DATA check, the fingerprint and the signer. The session calls [`parse`]
//! once per message and hands the [`Message`] to the engine in `DataContext`.
//!
//! - [`headers`] — the top-level header block, raw and unfolded, and RFC 2047 encoded-words.
//! - [`addresses`] — strict mailbox lists, format-control characters, addresses in free text.
//! - [`params`] — Content-Type / Content-Disposition parameters, every reading (RFC 2231).
//! - [`mime`] — the MIME walk (mail-parser) and the one set of limits: [`mime::MAX_PARTS`]
//!   parts, [`mime::MAX_DEPTH`] levels, [`mime::MAX_STRUCTURE_LINES`] delimiter lines,
//!   [`mime::MAX_FIELDS`] header fields, [`mime::MAX_TEXT_BYTES`] of readable text.
//! - [`readable`] — the text a reader sees and the names it is addressed to (the fingerprint's
//!   input).
//! - [`date`] — RFC 5322 dates, written (Date, Received) and read back.
//! - [`decode`] — charsets (mail-parser, so encoding_rs), lenient base64, RFC 2047 `Q`.
//!
//! What the library does and what we keep: mail-parser splits the MIME tree and decodes bodies,
//! encoded-words' and bodies' charsets. Our own code remains only where a check must be
//! stricter than a forgiving parser, and each file says why: the raw header block (duplicates,
//! malformed field names, an encoded-word inside an address must be *seen*, not repaired), the
//! strict address parser (refuse what two readers could read differently), every reading of a
//! file-name parameter, and the line scan of the letter-bomb check (a name in a structure no
//! walk reaches). The DKIM signer and the header-integrity checks read the raw bytes
//! ([`Message::raw`]) because a signature and a forgery are about bytes.
//!
//! This module never decides policy and never writes a message; it never panics on any input
//! and is linear in the message size (fuzzed: `fuzz/fuzz_targets/message_parse.rs`).

pub mod addresses;
pub mod date;
pub mod decode;
pub mod headers;
pub mod mime;
pub mod params;
pub mod readable;

pub use addresses::{addresses_in_text, has_control, is_format_control, parse_mailboxes, AddressError, Mailbox};
pub use decode::{base64_lenient, decode_charset};
pub use headers::{decode_encoded_words, Headers};
pub use mime::{Body, Overflow, Part};
pub use readable::Readable;

/// A message parsed once: its raw bytes, its top-level header block, and its MIME tree.
pub struct Message<'a> {
    raw: &'a [u8],
    headers: Headers,
    mime: Option<mail_parser::Message<'a>>,
    overflow: Option<Overflow>,
}

/// Parses `raw` (a whole RFC 5322 message). Never fails: what cannot be read as MIME is a
/// message without parts, whose readable body is its bytes.
pub fn parse(raw: &[u8]) -> Message<'_> {
    Message::parse(raw)
}

impl<'a> Message<'a> {
    pub fn parse(raw: &'a [u8]) -> Message<'a> {
        let headers = Headers::parse(raw);
        let (mime, cut) = mime::parse(raw, &headers);
        let overflow = match (&mime, cut) {
            (_, Some(cut)) => Some(cut),
            (Some(m), None) => mime::walk(m).1,
            (None, None) => None,
        };
        Message {
            raw,
            headers,
            mime,
            overflow,
        }
    }

    /// The message as received, byte for byte.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The top-level header fields, raw (see [`Headers`]).
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Every part in document order (the message itself first), within the limits.
    pub fn parts(&self) -> Vec<Part<'_>> {
        self.mime.as_ref().map(|m| mime::walk(m).0).unwrap_or_default()
    }

    /// The first limit the message went over, if any: its parts past it were not seen.
    pub fn overflow(&self) -> Option<Overflow> {
        self.overflow
    }
}

impl std::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("bytes", &self.raw.len())
            .field("parts", &self.parts().len())
            .field("overflow", &self.overflow)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multipart(parts: usize, boundary: &str) -> String {
        let mut m = format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n");
        for i in 0..parts {
            m.push_str(&format!("--{boundary}\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n"));
        }
        m.push_str(&format!("--{boundary}--\r\n"));
        m
    }

    #[test]
    fn walks_in_document_order_within_the_limits() {
        let m = multipart(3, "b");
        let msg = parse(m.as_bytes());
        let texts: Vec<String> = msg
            .parts()
            .iter()
            .filter_map(|p| match p.body() {
                Body::Text(t) => Some(t.trim().to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["part 0", "part 1", "part 2"]);
        assert_eq!(msg.overflow(), None);

        let wide = multipart(mime::MAX_PARTS + 5, "b");
        let msg = parse(wide.as_bytes());
        assert_eq!(msg.parts().len(), mime::MAX_PARTS);
        assert_eq!(msg.overflow(), Some(Overflow::TooManyParts));

        let mut deep = String::new();
        for i in 0..mime::MAX_DEPTH + 2 {
            deep.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"l{i}\"\r\n\r\n--l{i}\r\n"
            ));
        }
        deep.push_str("Content-Type: text/plain\r\n\r\nhi\r\n");
        let msg = parse(deep.as_bytes());
        assert_eq!(msg.overflow(), Some(Overflow::TooDeep));
        assert!(msg.parts().iter().all(|p| p.depth <= mime::MAX_DEPTH));
    }

    #[test]
    fn attached_messages_are_walked_with_their_own_headers() {
        let inner = "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: application/x-dosexec\r\n\r\nMZ\r\n--x--\r\n";
        let b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(inner)
        };
        for (encoding, body) in [("7bit", inner.to_string()), ("base64", b64)] {
            let raw = format!(
                "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\n\
Content-Type: message/rfc822\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}\r\n--b1--\r\n"
            );
            let msg = parse(raw.as_bytes());
            let parts = msg.parts();
            let last = parts.last().expect("parts");
            assert!(last.in_message, "{encoding}");
            assert_eq!(
                last.headers().first("content-type"),
                Some("application/x-dosexec"),
                "{encoding}"
            );
            assert_eq!(last.bytes(), b"MZ", "{encoding}");
        }
    }

    #[test]
    fn delimiter_floods_are_cut_before_mail_parser_sees_them() {
        let flood = multipart(mime::MAX_STRUCTURE_LINES, "a");
        let msg = parse(flood.as_bytes());
        assert_eq!(msg.overflow(), Some(Overflow::TooManyStructureLines));
        assert!(msg.parts().len() <= mime::MAX_PARTS);
        // The same lines in a plain-text message are just text.
        let text = format!("Content-Type: text/plain\r\n\r\n{}", "--\r\n".repeat(5_000));
        assert_eq!(parse(text.as_bytes()).overflow(), None);
        // Header fields: in the top block of any message, anywhere in a multipart one.
        let fields = "X-A: b\r\n".repeat(mime::MAX_FIELDS + 1);
        let flood = format!("Subject: x\r\n{fields}\r\nbody");
        assert_eq!(parse(flood.as_bytes()).overflow(), Some(Overflow::TooManyFields));
        let flood = format!("Content-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\n{fields}\r\nx\r\n--p--\r\n");
        assert_eq!(parse(flood.as_bytes()).overflow(), Some(Overflow::TooManyFields));
        let text = format!("Content-Type: text/plain\r\n\r\n{fields}");
        assert_eq!(parse(text.as_bytes()).overflow(), None);
        // Also inside an attached message mail-parser would decode and parse.
        use base64::Engine as _;
        let inner = base64::engine::general_purpose::STANDARD.encode(format!("{fields}\r\nbody"));
        let flood = format!(
            "Content-Type: multipart/mixed; boundary=p\r\n\r\n--p\r\nContent-Type: message/rfc822\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{inner}\r\n--p--\r\n"
        );
        assert_eq!(parse(flood.as_bytes()).overflow(), Some(Overflow::TooManyFields));
    }

    #[test]
    fn inputs_the_fuzzer_found_parse() {
        // Tripped a `debug_assert!` inside mail-parser (see the root Cargo.toml).
        let raw = include_bytes!("../../tests/fixtures/message/mail-parser-debug-assert-1.eml");
        let msg = parse(raw);
        let _ = (
            msg.parts().len(),
            msg.readable(),
            msg.displayed(),
            msg.recipient_words(),
        );
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let pieces: &[&[u8]] = &[
            b"Content-Type: multipart/mixed; boundary=b\r\n",
            b"Content-Type: message/rfc822\r\n",
            b"Content-Transfer-Encoding: base64\r\n",
            b"Content-Transfer-Encoding: quoted-printable\r\n",
            b"Content-Type: text/plain; charset=shift_jis\r\n",
            b"--b\r\n",
            b"--b--\r\n",
            b"\r\n",
            b"\n",
            b"=?utf-8?b?",
            b"\xff\x00\x82",
            b"UEsDBA==",
            b"=E9=\r\n",
        ];
        for _ in 0..3_000 {
            let mut message = Vec::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                message.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let msg = parse(&message);
            for part in msg.parts() {
                let _ = (part.headers(), part.content_type(), part.body(), part.bytes());
            }
            let _ = (msg.readable(), msg.displayed(), msg.recipient_words());
        }
    }
}
