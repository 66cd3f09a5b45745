//! A header block as the strict checks read it: unfolded `(name, value)` pairs with the values
//! *raw* (not decoded), every duplicate kept in order, and the first malformed line noted; plus
//! RFC 2047 encoded-word decoding for the callers that want what a reader shows.
//!
//! Why our own and not mail-parser's header list: mail-parser parses each value into a typed
//! form (an address list, a date) and forgives malformed lines, while header integrity must see
//! exactly the bytes that two different readers would disagree on (a field name with a space
//! before its colon, a second `From`, an encoded-word inside an address). The encoded-word
//! reader here is deliberately the *most lenient* one (inside quoted strings, padding optional)
//! so that what any reader could show is what gets judged; its charsets are decoded by
//! mail-parser (`decode::decode_charset`).
//!
//! Bounded: at most `MAX_HEADERS` fields from the first `MAX_HEADER_BYTES` bytes; every other
//! function here is linear in its input. Never panics on any input.

use super::decode::{base64_lenient, decode_charset, q_decode};

const MAX_HEADER_BYTES: usize = 256 * 1024;
const MAX_HEADERS: usize = 1_000;

/// The header fields of a message, in order.
#[derive(Debug, Default)]
pub struct Headers {
    fields: Vec<(String, String)>,
    truncated: bool,
    /// The first line of the header block that is not a well-formed field: a name with
    /// whitespace or other characters outside RFC 5322 `ftext` before the colon, or no colon at
    /// all. Readers disagree on such lines (one sees a From, another a body line).
    malformed: Option<String>,
}

impl Headers {
    pub fn parse(message: &[u8]) -> Headers {
        let limit = message.len().min(MAX_HEADER_BYTES);
        let block = &message[..limit];
        let found_end = block.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 2);
        let end = found_end.unwrap_or(limit);
        // No end of the header block inside the window of a longer message: the rest is unseen.
        let mut truncated = found_end.is_none() && message.len() > MAX_HEADER_BYTES;
        // Validation alone is much faster than the lossy decoder; most header blocks are valid.
        let text = match std::str::from_utf8(&block[..end]) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(&block[..end]),
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut malformed = None;
        for line in text.split("\r\n") {
            if line.is_empty() {
                break;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some((_, value)) = fields.last_mut() {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if fields.len() >= MAX_HEADERS {
                truncated = true;
                break;
            }
            match line.find(':') {
                Some(colon) => {
                    let name = &line[..colon];
                    if malformed.is_none() && !is_field_name(name) {
                        malformed = Some(name.chars().take(40).collect());
                    }
                    fields.push((name.trim().to_ascii_lowercase(), line[colon + 1..].trim().to_string()));
                }
                None if malformed.is_none() => malformed = Some(line.chars().take(40).collect()),
                None => {}
            }
        }
        Headers {
            fields,
            truncated,
            malformed,
        }
    }

    /// The first malformed line of the header block (a field name with whitespace or other
    /// characters outside `ftext` before its colon, or a line without a colon), if any.
    pub fn malformed(&self) -> Option<&str> {
        self.malformed.as_deref()
    }

    /// Values of every field named `name` (case-insensitive).
    pub fn all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    pub fn count(&self, name: &str) -> usize {
        self.all(name).count()
    }

    /// True when the header block did not fit the parse limits: fields past the limit were not
    /// seen, so nothing may be concluded from their absence.
    pub fn truncated(&self) -> bool {
        self.truncated
    }
}

/// RFC 5322 `field-name = 1*ftext`: printable US-ASCII except the colon.
fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// Decodes RFC 2047 encoded-words (`=?charset?B|Q?text?=`) anywhere in `text`, the way a lenient
/// mail reader does (also inside quoted strings, padding optional). Whitespace between two
/// adjacent encoded-words is dropped. Charsets are decoded by `decode::decode_charset` (every
/// charset mail-parser knows; unknown ones as UTF-8 or Latin-1, which keeps ASCII, and so any
/// `@`, where it is). A malformed encoded-word is left as it is.
pub fn decode_encoded_words(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut pending_space = String::new();
    let mut last_was_word = false;
    while !rest.is_empty() {
        if let Some((decoded, used)) = encoded_word(rest) {
            if !last_was_word {
                out.push_str(&pending_space);
            }
            pending_space.clear();
            out.push_str(&decoded);
            rest = &rest[used..];
            last_was_word = true;
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        rest = &rest[c.len_utf8()..];
        if c == ' ' || c == '\t' {
            pending_space.push(c);
            continue;
        }
        out.push_str(&pending_space);
        pending_space.clear();
        out.push(c);
        last_was_word = false;
    }
    out.push_str(&pending_space);
    out
}

/// One encoded-word at the start of `text`: the decoded text and the bytes it used.
fn encoded_word(text: &str) -> Option<(String, usize)> {
    let body = text.strip_prefix("=?")?;
    let q1 = body.find('?')?;
    let charset = &body[..q1];
    let after = &body[q1 + 1..];
    let q2 = after.find('?')?;
    let encoding = &after[..q2];
    let payload_start = &after[q2 + 1..];
    let close = payload_start.find("?=")?;
    let payload = &payload_start[..close];
    if charset.is_empty() || payload.contains([' ', '\t']) {
        return None;
    }
    let bytes = match encoding {
        "B" | "b" => base64_lenient(payload.as_bytes())?,
        "Q" | "q" => q_decode(payload.as_bytes()),
        _ => return None,
    };
    // RFC 2231 language suffix: `utf-8*en`.
    let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase();
    let used = 2 + q1 + 1 + q2 + 1 + close + 2;
    Some((decode_charset(&charset, &bytes), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_stops_at_the_body() {
        let h = Headers::parse(
            b"To: a@x.example,\r\n\tb@x.example\r\nList-Unsubscribe: <mailto:u@x>\r\n\r\nTo: body@x\r\n",
        );
        assert_eq!(h.first("to"), Some("a@x.example, b@x.example"));
        assert_eq!(h.count("To"), 1);
        assert!(h.first("list-unsubscribe").is_some());
        assert!(!h.truncated());
    }

    #[test]
    fn too_many_fields_is_reported_as_truncated() {
        let message: String = (0..1_001).map(|i| format!("X-{i}: v\r\n")).collect::<String>() + "\r\nbody";
        assert!(Headers::parse(message.as_bytes()).truncated());
    }

    #[test]
    fn encoded_words_decode() {
        let cases = [
            ("=?utf-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?=", "ceo@bank.example"),
            ("=?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ?=", "ceo@bank.example"),
            ("=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?=", "Jürgen Müller"),
            ("=?iso-8859-1?q?J=FCrgen?=", "Jürgen"),
            ("=?us-ascii?q?a?= =?us-ascii?q?b?=", "ab"),
            ("plain =?utf-8?q?x?= text", "plain x text"),
            ("=?utf-8?x?broken?=", "=?utf-8?x?broken?="),
            ("=?utf-8?q?a=4?=", "a=4"),
            ("=?", "=?"),
            ("=?utf-16be?b?AGMAQABi?=", "c@b"),
        ];
        for (input, expected) in cases {
            assert_eq!(decode_encoded_words(input), expected, "{input}");
        }
    }
}
