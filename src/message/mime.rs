//! The MIME walk, with the one set of limits every reader of a message shares.
//!
//! mail-parser splits the message into parts and decodes each body (base64, quoted-printable,
//! charsets); this file turns its part tree into one flat list, in document order, that the
//! letter-bomb check, the fingerprint and anything else walk. The limits are enforced here and
//! nowhere else, so two checks can never disagree on a message's structure:
//!
//! - [`MAX_PARTS`] parts in all (every level counted, nested messages included);
//! - [`MAX_DEPTH`] levels of multipart and attached-message nesting;
//! - [`MAX_STRUCTURE_LINES`] lines that can open a part (`--…` delimiters, `Content-Type:`
//!   fields) in a multipart message: mail-parser itself has no part or depth limit, and a part
//!   costs it far more memory than the few bytes of its delimiter, so it only ever sees the
//!   message up to that line (a message cut there is over the limits: [`Overflow`]);
//! - [`MAX_FIELDS`] lines that look like header fields, for the same reason: mail-parser keeps
//!   every field of every part, at ~16 times the bytes of a short line (a 25 MiB block of
//!   `X-A: b` lines cost 400 MiB before this limit);
//! - [`MAX_TEXT_BYTES`] of decoded text handed out as the readable body
//!   ([`super::readable`]). Decoded bodies are never larger than the message (base64 and
//!   quoted-printable only shrink; charset decoding at most triples), and mail-parser decodes
//!   base64-encoded attached messages at most 3 levels deep.
//!
//! A message over a limit is still walked up to it; whether that is a refusal is the caller's
//! decision ([`super::Message::overflow`]). Never panics on any input.

use mail_parser::{Encoding, MessagePart, MimeHeaders, PartType};

use super::headers::Headers;

/// Parts walked in the whole message (every level counted); later parts are not seen.
pub const MAX_PARTS: usize = 256;
/// Levels of multipart / attached-message nesting walked; deeper parts are not seen.
pub const MAX_DEPTH: usize = 16;
/// Lines that can open a MIME part in a multipart message; the rest of the message is not
/// parsed as MIME.
pub const MAX_STRUCTURE_LINES: usize = 4_096;
/// Lines that look like header fields (`name:`) anywhere in a multipart message, or in the top
/// header block of any message; the rest of the message is not parsed as MIME.
pub const MAX_FIELDS: usize = 16_384;
/// Decoded bytes of the readable text kept.
pub const MAX_TEXT_BYTES: usize = 256 * 1024;

/// A limit the message went over: it was walked only up to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    TooManyParts,
    TooDeep,
    TooManyStructureLines,
    TooManyFields,
}

impl Overflow {
    pub fn describe(self) -> &'static str {
        match self {
            Overflow::TooManyParts => "more than 256 MIME parts",
            Overflow::TooDeep => "MIME nesting deeper than 16",
            Overflow::TooManyStructureLines => "more than 4096 MIME delimiter lines",
            Overflow::TooManyFields => "more than 16384 header fields",
        }
    }
}

/// One part of the walk: a view into mail-parser's tree.
#[derive(Clone, Copy)]
pub struct Part<'m> {
    /// 0 for the message itself; each multipart or attached message adds one.
    pub depth: usize,
    /// Inside an attached message (`message/rfc822`, `message/global`).
    pub in_message: bool,
    /// The bytes the part's offsets index (the message, or a decoded attached message).
    container: &'m [u8],
    part: &'m MessagePart<'m>,
}

/// A part's decoded body.
#[derive(Debug, Clone, Copy)]
pub enum Body<'m> {
    /// A multipart container; its children follow it in the walk.
    Multipart,
    /// An attached message (its raw bytes); its parts follow it in the walk.
    Message(&'m [u8]),
    /// A `text/*` part other than HTML (or one whose structure could not be read), decoded
    /// to text from its charset.
    Text(&'m str),
    Html(&'m str),
    /// Anything else, transfer-decoded.
    Binary(&'m [u8]),
}

impl<'m> Part<'m> {
    /// The part's raw header block (up to and including the blank line).
    pub fn header_block(&self) -> &'m [u8] {
        let (start, end) = (self.part.offset_header as usize, self.part.offset_body as usize);
        self.container.get(start..end).unwrap_or_default()
    }

    /// The part's body as it is in the message (still transfer-encoded).
    pub fn raw_body(&self) -> &'m [u8] {
        let (start, end) = (self.part.offset_body as usize, self.part.offset_end as usize);
        self.container.get(start..end).unwrap_or_default()
    }

    /// The part's header fields, raw (see [`Headers`]).
    pub fn headers(&self) -> Headers {
        Headers::parse(self.header_block())
    }

    /// `type/subtype` (or just `type`) lower-cased, as the part declares it.
    pub fn content_type(&self) -> Option<String> {
        self.part.content_type().map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        })
    }

    /// `Content-Disposition: attachment`.
    pub fn is_attachment(&self) -> bool {
        self.part.content_disposition().is_some_and(|cd| cd.is_attachment())
    }

    /// The body could not be decoded as declared (bad base64, a multipart without its
    /// delimiters): it is given as raw text.
    pub fn encoding_problem(&self) -> bool {
        self.part.is_encoding_problem
    }

    pub fn body(&self) -> Body<'m> {
        match &self.part.body {
            PartType::Multipart(_) => Body::Multipart,
            PartType::Message(m) => Body::Message(m.raw_message()),
            PartType::Text(t) => Body::Text(t),
            PartType::Html(t) => Body::Html(t),
            PartType::Binary(b) | PartType::InlineBinary(b) => Body::Binary(b),
        }
    }

    /// The decoded body as bytes (text as UTF-8; nothing for a multipart).
    pub fn bytes(&self) -> &'m [u8] {
        self.part.contents()
    }
}

/// Parses the MIME structure of `raw` with mail-parser, cut where it would go over
/// [`MAX_STRUCTURE_LINES`] or [`MAX_FIELDS`]. Also says which limit cut it, if one did.
pub(super) fn parse<'a>(raw: &'a [u8], headers: &Headers) -> (Option<mail_parser::Message<'a>>, Option<Overflow>) {
    let structured = headers.all("content-type").any(|v| {
        let v = v.trim_start().as_bytes();
        starts_with_ignore_case(v, b"multipart/") || starts_with_ignore_case(v, b"message/")
    });
    let cut = cut(raw, structured);
    let input = &raw[..cut.map_or(raw.len(), |(at, _)| at)];
    (
        mail_parser::MessageParser::default().parse(input),
        cut.map(|(_, why)| why),
    )
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// Where the line that goes over a budget starts, and which budget. A message that is not
/// multipart has one header block, the top one; in a multipart message any line may be in one.
fn cut(raw: &[u8], structured: bool) -> Option<(usize, Overflow)> {
    scan(raw, structured, 0, &mut (0, 0))
}

/// Levels of transfer-encoded attached messages mail-parser decodes and parses.
const ENCODED_LEVELS: usize = 3;

/// [`cut`] with the counts so far (structure lines, field lines). A transfer-encoded attached
/// message is decoded and counted too, since mail-parser decodes and parses it; when it goes
/// over, the cut is where its body starts.
fn scan(raw: &[u8], structured: bool, level: usize, counts: &mut (usize, usize)) -> Option<(usize, Overflow)> {
    let starts = std::iter::once(0).chain(memchr::memchr_iter(b'\n', raw).map(|i| i + 1));
    let mut in_top_block = true;
    // The header block being read: a `message/*` type seen, and a transfer encoding.
    let (mut attached, mut encoding): (bool, Option<bool>) = (false, None);
    // Where the body of a transfer-encoded attached message starts, and whether it is base64.
    let mut encoded: Option<(usize, bool)> = None;
    let nested = |body: usize, end: usize, base64: bool, counts: &mut (usize, usize)| {
        if level >= ENCODED_LEVELS {
            return None;
        }
        let data = raw.get(body..end).unwrap_or_default();
        let decoded = if base64 {
            super::decode::base64_lenient(data).unwrap_or_default()
        } else {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(data).unwrap_or_default()
        };
        scan(&decoded, true, level + 1, counts).map(|(_, why)| (body, why))
    };
    for start in starts {
        let line = &raw[start.min(raw.len())..];
        let blank = line.starts_with(b"\r\n") || line.starts_with(b"\n");
        if in_top_block && blank {
            in_top_block = false;
            if !structured {
                return None;
            }
        }
        if line.starts_with(b"--") {
            if let Some((body, base64)) = encoded.take() {
                if let Some(cut) = nested(body, start, base64, counts) {
                    return Some(cut);
                }
            }
            (attached, encoding) = (false, None);
        }
        if blank {
            if let (true, Some(base64)) = (attached, encoding) {
                let after = if line.starts_with(b"\r\n") { 2 } else { 1 };
                encoded = Some((start + after, base64));
            }
            (attached, encoding) = (false, None);
        }
        if structured && (line.starts_with(b"--") || starts_with_ignore_case(line, b"content-type:")) {
            counts.0 += 1;
            if counts.0 > MAX_STRUCTURE_LINES {
                return Some((start, Overflow::TooManyStructureLines));
            }
            let value = line.get(13..).unwrap_or_default().trim_ascii_start();
            attached |= starts_with_ignore_case(value, b"message/");
        }
        if starts_with_ignore_case(line, b"content-transfer-encoding:") {
            let value = line.get(26..).unwrap_or_default().trim_ascii_start();
            if starts_with_ignore_case(value, b"base64") {
                encoding = Some(true);
            } else if starts_with_ignore_case(value, b"quoted-printable") {
                encoding = Some(false);
            }
        }
        if is_field_line(line) {
            counts.1 += 1;
            if counts.1 > MAX_FIELDS {
                return Some((start, Overflow::TooManyFields));
            }
        }
    }
    encoded.and_then(|(body, base64)| nested(body, raw.len(), base64, counts))
}

/// `name:` at the start of `line`, as mail-parser would take a header field (a name of up to
/// 76 printable characters).
fn is_field_line(line: &[u8]) -> bool {
    match line.iter().take(77).position(|&b| b == b':') {
        Some(0) | None => false,
        Some(colon) => line[..colon].iter().all(|b| b.is_ascii_graphic()),
    }
}

/// The parts of `root` in document order, within the limits, and the first limit crossed.
pub(super) fn walk<'m>(root: &'m mail_parser::Message<'m>) -> (Vec<Part<'m>>, Option<Overflow>) {
    let mut parts = Vec::new();
    let mut overflow = None;
    // (message, the bytes its offsets index, part id, depth, inside an attached message)
    let mut stack: Vec<Frame<'m>> = vec![(root, root.raw_message(), 0, 0, false)];
    while let Some((message, container, id, depth, in_message)) = stack.pop() {
        let Some(part) = message.parts.get(id) else {
            continue;
        };
        if depth > MAX_DEPTH {
            overflow.get_or_insert(Overflow::TooDeep);
            continue;
        }
        if parts.len() >= MAX_PARTS {
            overflow.get_or_insert(Overflow::TooManyParts);
            break;
        }
        parts.push(Part {
            depth,
            in_message,
            container,
            part,
        });
        match &part.body {
            // Children always come after their parent in mail-parser's list; anything else
            // would be a loop, and is skipped.
            PartType::Multipart(children) => stack.extend(
                children
                    .iter()
                    .rev()
                    .map(|&c| c as usize)
                    .filter(|&c| c > id)
                    .map(|c| (message, container, c, depth + 1, in_message)),
            ),
            PartType::Message(nested) => {
                // An attached message sent as is was parsed from the same bytes as its parent,
                // so its offsets index those; a transfer-encoded one was decoded and parsed on
                // its own, and its offsets index the decoded bytes.
                let nested_container = match part.encoding {
                    Encoding::None => container,
                    _ => nested.raw_message(),
                };
                stack.push((nested, nested_container, 0, depth + 1, true));
            }
            _ => {}
        }
    }
    (parts, overflow)
}

type Frame<'m> = (&'m mail_parser::Message<'m>, &'m [u8], usize, usize, bool);
