//! What a reader sees of a message: the decoded text of its body (the first `text/plain` part
//! outside attachments, else the first `text/html` one), what a mail client shows of it
//! ([`Message::displayed`]: the last alternative, inline parts together), and the words of the
//! names it is addressed to. This is what the fingerprint normalises; it is
//! forgiving on purpose (broken MIME degrades to "the bytes as text"), unlike the checks, which
//! refuse what they cannot read. It never decides anything.

use mail_parser::{MimeHeaders, PartType};

use super::headers::decode_encoded_words;
use super::mime::{Body, MAX_DEPTH, MAX_TEXT_BYTES};
use super::Message;

/// One piece of what a client shows: a part's decoded text, HTML or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub text: String,
    pub is_html: bool,
}

/// What a mail client shows: the inline text parts, in order.
pub type View = Vec<Segment>;

/// The body text a reader sees.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Readable {
    /// Decoded text of the chosen part (HTML when `is_html`), at most
    /// [`MAX_TEXT_BYTES`](super::mime::MAX_TEXT_BYTES).
    pub text: String,
    /// The chosen part is `text/html` (there was no `text/plain` one).
    pub is_html: bool,
}

impl Message<'_> {
    /// The body text a reader sees (see the module docs).
    pub fn readable(&self) -> Readable {
        let mime = self.mime.as_ref().filter(|_| starts_with_header(self.raw));
        let Some(mime) = mime else {
            // Not even a header block: the whole message is body.
            return Readable {
                text: capped(&String::from_utf8_lossy(self.raw)),
                is_html: false,
            };
        };
        let mut html = None;
        for part in super::mime::walk(mime).0 {
            // Parts of an attached message are that message's, not this one's.
            if part.in_message || part.is_attachment() {
                continue;
            }
            let kind = part.content_type();
            let kind = kind.as_deref();
            // A multipart mail-parser could not split (no delimiter found) is read as text.
            let plain =
                matches!(kind, None | Some("text/plain" | "text")) || kind.is_some_and(|k| k.starts_with("multipart/"));
            match part.body() {
                Body::Text(text) if plain => {
                    return Readable {
                        text: capped(text),
                        is_html: false,
                    }
                }
                // A top-level type that is no type at all (`Content-Type: garbage`): its body is
                // what a reader sees.
                Body::Binary(bytes) if part.depth == 0 && kind.is_none_or(|k| !k.contains('/')) => {
                    return Readable {
                        text: capped(&String::from_utf8_lossy(bytes)),
                        is_html: false,
                    }
                }
                Body::Html(text) if html.is_none() => html = Some(text),
                _ => {}
            }
        }
        match html {
            Some(text) => Readable {
                text: capped(text),
                is_html: true,
            },
            None => Readable::default(),
        }
    }

    /// What a mail client shows of the message: the last alternative of a
    /// `multipart/alternative` it can display (the richest, HTML where there is some; a plain
    /// copy or a decoy before it is not what the reader sees), every inline text part of a
    /// `multipart/mixed` one after another, the root of a `multipart/related`, and an attached
    /// message sent inline (not as an attachment) as part of the text. Attachments are not shown.
    /// The texts are cut to [`MAX_TEXT_BYTES`] together.
    pub fn displayed(&self) -> View {
        match self.mime.as_ref().filter(|_| starts_with_header(self.raw)) {
            Some(mime) => shown(mime, 0, 0),
            None => vec![Segment {
                text: capped(&String::from_utf8_lossy(self.raw)),
                is_html: false,
            }],
        }
    }

    /// Lower-cased name words of the `To:` field: display-name words (the first four of each
    /// recipient) and the alphabetic pieces of each local part (`john.smith+x@…` → `john`,
    /// `smith`), encoded-words decoded; at most 16. Personalisation that the fingerprint removes wherever it appears in the body.
    pub fn recipient_words(&self) -> Vec<String> {
        self.headers.first("to").map(recipient_words).unwrap_or_default()
    }
}

/// True when the first line is `name: value` with a plausible field name (anything else is
/// text without headers, whatever a parser makes of it).
fn starts_with_header(raw: &[u8]) -> bool {
    let line = &raw[..memchr::memchr(b'\n', raw).unwrap_or(raw.len())];
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(c) => line[..c].iter().all(|&b| b.is_ascii_graphic()),
    }
}

/// At most [`MAX_TEXT_BYTES`] of `text`, cut at a character boundary.
fn capped(text: &str) -> String {
    capped_to(text, MAX_TEXT_BYTES).to_owned()
}

/// At most `max` bytes of `text`, cut at a character boundary.
fn capped_to(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The length of a view's texts together.
fn text_len(view: &[Segment]) -> usize {
    view.iter().map(|s| s.text.len()).sum()
}

/// Appends `then` to `view`, the texts cut to [`MAX_TEXT_BYTES`] together.
fn append(view: &mut View, then: &[Segment]) {
    let mut left = MAX_TEXT_BYTES.saturating_sub(text_len(view));
    for segment in then {
        if left == 0 {
            break;
        }
        let text = capped_to(&segment.text, left);
        left -= text.len();
        view.push(Segment {
            text: text.to_owned(),
            is_html: segment.is_html,
        });
    }
}

/// What a client shows of part `id` of `message` (see [`Message::displayed`]), nested `depth`
/// deep.
fn shown(message: &mail_parser::Message<'_>, id: usize, depth: usize) -> View {
    let Some(part) = message.parts.get(id) else {
        return Vec::new();
    };
    if depth > MAX_DEPTH || part.content_disposition().is_some_and(|cd| cd.is_attachment()) {
        return Vec::new();
    }
    let (kind, sub) = part.content_type().map_or((None, None), |ct| {
        (
            Some(ct.ctype().to_ascii_lowercase()),
            ct.subtype().map(str::to_ascii_lowercase),
        )
    });
    let one = |text: &str, is_html: bool| {
        vec![Segment {
            text: capped(text),
            is_html,
        }]
    };
    match &part.body {
        PartType::Multipart(children) => {
            // Children always come after their parent in mail-parser's list (see mime::walk).
            let mut children = children.iter().map(|&c| c as usize).filter(|&c| c > id);
            match sub.as_deref() {
                Some("alternative") => children
                    .rev()
                    .map(|c| shown(message, c, depth + 1))
                    .find(|v| !v.is_empty())
                    .unwrap_or_default(),
                Some("related") => children
                    .next()
                    .map(|c| shown(message, c, depth + 1))
                    .unwrap_or_default(),
                _ => {
                    let mut view = Vec::new();
                    for c in children {
                        if text_len(&view) >= MAX_TEXT_BYTES {
                            break;
                        }
                        append(&mut view, &shown(message, c, depth + 1));
                    }
                    view
                }
            }
        }
        PartType::Message(nested) => shown(nested, 0, depth + 1),
        PartType::Html(text) => one(text, true),
        PartType::Text(text) => match (kind.as_deref(), sub.as_deref()) {
            // A multipart mail-parser could not split (no delimiter found) is read as text.
            (None | Some("multipart"), _) | (Some("text"), None | Some("plain")) => one(text, false),
            _ => Vec::new(),
        },
        // A top-level type that is no type at all (`Content-Type: garbage`): its body is what a
        // reader sees.
        PartType::Binary(bytes) if depth == 0 && sub.is_none() && kind.as_deref() != Some("multipart") => {
            one(&String::from_utf8_lossy(bytes), false)
        }
        _ => Vec::new(),
    }
}
fn recipient_words(to: &str) -> Vec<String> {
    let to = decode_encoded_words(to);
    let mut words: Vec<String> = Vec::new();
    let mut push = |w: &str| {
        let w = w.to_lowercase();
        if w.chars().count() >= 2 && !STOP_NAMES.contains(&w.as_str()) && !words.contains(&w) {
            words.push(w);
        }
    };
    // Display-name words since the last address: a name has a few; more is text stuffed into
    // the field to be taken out of the body.
    let mut name_words = 0;
    for chunk in to.split(|c: char| c.is_whitespace() || c == ',' || c == '<' || c == '>') {
        if let Some((local, _)) = chunk.split_once('@') {
            name_words = 0;
            for piece in local.split(|c: char| !c.is_alphabetic()) {
                if piece.chars().count() >= 3 {
                    push(piece);
                }
            }
        } else {
            for piece in chunk.split(|c: char| !c.is_alphabetic()).filter(|p| !p.is_empty()) {
                name_words += 1;
                if name_words <= MAX_NAME_WORDS {
                    push(piece);
                }
            }
        }
    }
    words.truncate(16);
    words
}

/// Display-name words of one recipient taken as its name.
const MAX_NAME_WORDS: usize = 4;

/// Words that are never treated as a recipient's name even when they appear in `To:`.
const STOP_NAMES: [&str; 12] = [
    "info", "mail", "admin", "sales", "support", "contact", "team", "the", "and", "of", "mr", "ms",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::parse;

    fn readable(raw: &[u8]) -> Readable {
        parse(raw).readable()
    }

    #[test]
    fn picks_plain_over_html_in_alternative() {
        let msg = b"To: \"John Smith\" <john.smith@example.com>\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
preamble\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
cGxhaW4gdGV4dA==\r\n--b1--\r\n";
        let m = parse(msg);
        assert_eq!(m.readable().text, "plain text");
        assert!(!m.readable().is_html);
        assert_eq!(m.recipient_words(), vec!["john", "smith"]);
    }

    #[test]
    fn a_display_name_is_a_few_words() {
        let m = parse(b"To: \"Fresh roasted coffee beans delivered weekly\" <ann@example.com>\r\n\r\nx");
        assert_eq!(m.recipient_words(), vec!["fresh", "roasted", "coffee", "beans", "ann"]);
    }

    #[test]
    fn html_only_and_attachments_skipped() {
        let msg = b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached\r\n\
--x\r\nContent-Type: text/html; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
<b>caf=E9</b>\r\n--x--\r\n";
        let r = readable(msg);
        assert_eq!(r.text.trim_end(), "<b>café</b>");
        assert!(r.is_html);
    }

    #[test]
    fn no_headers_is_all_body() {
        assert_eq!(readable(b"just some text\nmore").text, "just some text\nmore");
    }

    #[test]
    fn transfer_encodings_decode() {
        let cases: [(&str, &str, &str); 4] = [
            ("base64", "SGVsbG8gd29ybGQ=", "Hello world"),
            ("quoted-printable", "caf=C3=A9 =\r\nlatte", "café latte"),
            ("quoted-printable", "50=25 off", "50% off"),
            ("7bit", "plain", "plain"),
        ];
        for (encoding, body, want) in cases {
            let msg = format!(
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n{body}"
            );
            assert_eq!(readable(msg.as_bytes()).text.trim_end(), want, "{encoding}");
        }
    }

    /// A single-part message in `charset`, 8bit.
    fn in_charset(charset: &str, body: &[u8]) -> Vec<u8> {
        let mut m = format!(
            "From: a@acme.example\r\nContent-Type: text/plain; charset={charset}\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
        )
        .into_bytes();
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn legacy_charsets_decode_to_their_text() {
        let cases: [(&str, &[u8], &str); 4] = [
            // "Привет мир" in windows-1251
            ("windows-1251", b"\xcf\xf0\xe8\xe2\xe5\xf2 \xec\xe8\xf0", "Привет мир"),
            // "こんにちは" in Shift_JIS
            ("Shift_JIS", b"\x82\xb1\x82\xf1\x82\xc9\x82\xbf\x82\xcd", "こんにちは"),
            // "你好世界" in GB2312
            ("gb2312", b"\xc4\xe3\xba\xc3\xca\xc0\xbd\xe7", "你好世界"),
            ("iso-8859-1", b"caf\xe9", "café"),
        ];
        for (charset, bytes, want) in cases {
            assert_eq!(readable(&in_charset(charset, bytes)).text, want, "{charset}");
        }
    }

    #[test]
    fn legacy_charsets_decode_in_encoded_words() {
        // Subjects as B- and Q-encoded words in the same three charsets.
        let cases = [
            ("=?windows-1251?B?z/Do4uXy?=", "Привет"),
            ("=?Shift_JIS?B?grGC8YLJgr+CzQ==?=", "こんにちは"),
            ("=?GB2312?Q?=C4=E3=BA=C3?=", "你好"),
        ];
        for (word, want) in cases {
            let msg = format!("Subject: {word}\r\nTo: {word} <x@y.example>\r\n\r\nbody");
            let m = parse(msg.as_bytes());
            let subject = m.headers().first("subject").map(decode_encoded_words);
            assert_eq!(subject.as_deref(), Some(want), "{word}");
            assert_eq!(m.recipient_words(), vec![want.to_lowercase()], "{word}");
        }
    }

    #[test]
    fn encoded_word_names() {
        assert_eq!(
            recipient_words("=?utf-8?Q?Jos=C3=A9_Garc=C3=ADa?= <jg@x.org>, bob@y"),
            vec!["josé", "garcía", "bob"]
        );
    }

    #[test]
    fn long_text_is_capped_at_a_char_boundary() {
        let body = "é".repeat(MAX_TEXT_BYTES);
        let text = readable(&in_charset("utf-8", body.as_bytes())).text;
        assert!(text.len() <= MAX_TEXT_BYTES && text.len() >= MAX_TEXT_BYTES - 1);
    }
}
