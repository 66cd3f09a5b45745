//! A small, bounded MIME walker: finds the text part of a message that a reader would see and
//! decodes it (quoted-printable, base64, Latin-1 / UTF-8) into a `String`.
//!
//! It exists only to feed the fingerprint, so it is deliberately forgiving: broken MIME never
//! fails, it degrades to "treat the bytes as text/plain". It must never allocate or loop in
//! proportion to anything but the capped input: at most [`MAX_DEPTH`] levels of multipart,
//! [`MAX_PARTS`] parts in all, and [`MAX_DECODED`] bytes of decoded text. Attachments are skipped
//! without being decoded. It is not a general MIME parser and must not be used as one.

/// Multipart nesting followed; deeper parts are ignored.
pub const MAX_DEPTH: usize = 8;
/// Parts examined in the whole message (every level counted); later parts are ignored.
pub const MAX_PARTS: usize = 64;
/// Decoded bytes of the chosen text part kept; the rest is ignored.
pub const MAX_DECODED: usize = 256 * 1024;

/// The body text found in a message, and who it was addressed to.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Decoded text of the chosen part (possibly HTML; see `is_html`).
    pub text: String,
    /// The chosen part was `text/html` (no `text/plain` part found).
    pub is_html: bool,
    /// Words of the `To:` header (display names and local parts), lower-cased: personalisation
    /// that the normaliser removes wherever it appears in the body.
    pub recipient_words: Vec<String>,
    /// The `From:` address, lower-cased (empty without one).
    pub author: String,
    /// The `From:` display name, lower-cased (empty without one).
    pub author_name: String,
}

/// Header fields the walker cares about, unfolded.
#[derive(Debug, Default)]
struct Headers {
    content_type: Option<String>,
    transfer_encoding: Option<String>,
    disposition: Option<String>,
    to: Option<String>,
    from: Option<String>,
}

/// Splits a message (or a MIME part) into headers and body. Input whose first line is not a
/// header field is all body.
fn split_headers(part: &[u8]) -> (Headers, &[u8]) {
    let mut h = Headers::default();
    if !looks_like_header(part) {
        return (h, part);
    }
    let mut pos = 0;
    let mut current: Option<(usize, String)> = None; // (field index, value)
    let mut body_start = part.len();
    while pos < part.len() {
        let end = memchr_nl(&part[pos..]).map_or(part.len(), |i| pos + i);
        let line = trim_cr(&part[pos..end]);
        let next = (end + 1).min(part.len());
        if line.is_empty() {
            body_start = next;
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, v)) = current.as_mut() {
                if v.len() < 8192 {
                    v.push(' ');
                    v.push_str(String::from_utf8_lossy(line).trim());
                }
            }
        } else {
            if let Some((idx, v)) = current.take() {
                store_field(&mut h, idx, v);
            }
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                let name = &line[..colon];
                let idx = FIELDS.iter().position(|f| name.eq_ignore_ascii_case(f.as_bytes()));
                if let Some(idx) = idx {
                    let value = String::from_utf8_lossy(&line[colon + 1..]).trim().to_string();
                    current = Some((idx, value));
                }
            }
        }
        pos = next;
        if end == part.len() {
            body_start = part.len();
        }
    }
    if let Some((idx, v)) = current.take() {
        store_field(&mut h, idx, v);
    }
    (h, &part[body_start.min(part.len())..])
}

const FIELDS: [&str; 5] = ["content-type", "content-transfer-encoding", "content-disposition", "to", "from"];

fn store_field(h: &mut Headers, idx: usize, v: String) {
    let slot = match idx {
        0 => &mut h.content_type,
        1 => &mut h.transfer_encoding,
        2 => &mut h.disposition,
        3 => &mut h.to,
        _ => &mut h.from,
    };
    if slot.is_none() {
        *slot = Some(v);
    }
}

/// True when the first line is `name: value` with a plausible field name.
fn looks_like_header(part: &[u8]) -> bool {
    let line = &part[..memchr_nl(part).unwrap_or(part.len())];
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(c) => line[..c].iter().all(|&b| b.is_ascii_graphic()),
    }
}

fn memchr_nl(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `type/subtype` lower-cased and the parameters of a Content-Type-like value.
fn parse_content_type(v: &str) -> (String, Vec<(String, String)>) {
    let mut parts = split_params(v).into_iter();
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, val) = p.split_once('=')?;
            let val = val.trim().trim_matches('"').to_string();
            Some((k.trim().to_ascii_lowercase(), val))
        })
        .collect();
    (mime, params)
}

/// Splits on `;` outside double quotes.
fn split_params(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in v.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A text leaf chosen during the walk.
struct Leaf<'a> {
    body: &'a [u8],
    encoding: Option<String>,
    charset: Option<String>,
}

#[derive(Default)]
struct Found<'a> {
    plain: Option<Leaf<'a>>,
    html: Option<Leaf<'a>>,
    parts: usize,
}

/// Extracts the body text of a whole RFC 5322 message.
pub fn extract(message: &[u8]) -> Extracted {
    let (headers, body) = split_headers(message);
    let recipient_words = headers.to.as_deref().map(recipient_words).unwrap_or_default();
    let author = headers.from.as_deref().map(address_of).unwrap_or_default();
    let author_name = headers.from.as_deref().map(display_name_of).unwrap_or_default();
    let mut found = Found::default();
    walk(headers, body, 0, &mut found);
    let (leaf, is_html) = match (found.plain, found.html) {
        (Some(p), _) => (p, false),
        (None, Some(h)) => (h, true),
        (None, None) => {
            return Extracted {
                recipient_words,
                author,
                author_name,
                ..Extracted::default()
            }
        }
    };
    let bytes = decode_transfer(leaf.body, leaf.encoding.as_deref());
    Extracted {
        text: decode_charset(&bytes, leaf.charset.as_deref()),
        is_html,
        recipient_words,
        author,
        author_name,
    }
}

/// The display name of a `From:` value (`"Ann Lee" <a@b>` → `ann lee`), lower-cased.
fn display_name_of(from: &str) -> String {
    let Some((name, _)) = from.rsplit_once('<') else {
        return String::new();
    };
    let name = decode_encoded_words(name.trim());
    name.trim().trim_matches('"').trim().to_lowercase()
}

/// The address in a `From:` value (`Name <a@b>` or `a@b`), lower-cased.
fn address_of(from: &str) -> String {
    let inner = from.rsplit_once('<').map_or(from, |(_, rest)| rest.split('>').next().unwrap_or(""));
    inner.trim().to_ascii_lowercase()
}

fn walk<'a>(headers: Headers, body: &'a [u8], depth: usize, found: &mut Found<'a>) {
    if found.parts >= MAX_PARTS || found.plain.is_some() {
        return;
    }
    found.parts += 1;
    let (mime, params) = headers
        .content_type
        .as_deref()
        .map(parse_content_type)
        .unwrap_or_else(|| ("text/plain".to_string(), Vec::new()));
    let attachment = headers
        .disposition
        .as_deref()
        .is_some_and(|d| d.trim_start().to_ascii_lowercase().starts_with("attachment"));
    if mime.starts_with("multipart/") {
        match param(&params, "boundary") {
            Some(b) if depth < MAX_DEPTH && !b.is_empty() => {
                let parts = split_multipart(body, b.as_bytes());
                if parts.is_empty() {
                    // Broken multipart: read the body as plain text rather than lose it.
                    set_leaf(found, false, body, headers.transfer_encoding, None);
                }
                for p in parts {
                    let (h, b) = split_headers_part(p);
                    walk(h, b, depth + 1, found);
                    if found.parts >= MAX_PARTS || found.plain.is_some() {
                        break;
                    }
                }
            }
            Some(_) => {}
            None => set_leaf(found, false, body, headers.transfer_encoding, None),
        }
        return;
    }
    if attachment {
        return;
    }
    let charset = param(&params, "charset").map(str::to_string);
    // A type that is not text/* at all (or is empty from broken headers) is treated as plain
    // only at the top level; inside a multipart it is an attachment.
    let is_plain = mime == "text/plain" || mime == "text" || (depth == 0 && !mime.contains('/'));
    if is_plain {
        set_leaf(found, false, body, headers.transfer_encoding, charset);
    } else if mime == "text/html" {
        set_leaf(found, true, body, headers.transfer_encoding, charset);
    }
}

/// Part headers: a part with no header block at all starts with an empty line, or has none.
fn split_headers_part(part: &[u8]) -> (Headers, &[u8]) {
    if part.starts_with(b"\r\n") {
        return (Headers::default(), &part[2..]);
    }
    if part.starts_with(b"\n") {
        return (Headers::default(), &part[1..]);
    }
    split_headers(part)
}

fn set_leaf<'a>(found: &mut Found<'a>, html: bool, body: &'a [u8], encoding: Option<String>, charset: Option<String>) {
    let slot = if html { &mut found.html } else { &mut found.plain };
    if slot.is_none() {
        *slot = Some(Leaf {
            body,
            encoding,
            charset,
        });
    }
}

/// The parts between `--boundary` lines (the preamble and epilogue dropped). At most
/// [`MAX_PARTS`] parts are returned.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    while pos < body.len() {
        let end = memchr_nl(&body[pos..]).map_or(body.len(), |i| pos + i);
        let line = trim_cr(&body[pos..end]);
        if line.len() >= boundary.len() + 2 && line.starts_with(b"--") && &line[2..2 + boundary.len()] == boundary {
            let rest = &line[2 + boundary.len()..];
            if let Some(s) = start.take() {
                // The line break before the delimiter belongs to the delimiter.
                let mut e = pos;
                if e > s && body[e - 1] == b'\n' {
                    e -= 1;
                }
                if e > s && body[e - 1] == b'\r' {
                    e -= 1;
                }
                parts.push(&body[s..e.max(s)]);
                if parts.len() >= MAX_PARTS {
                    return parts;
                }
            }
            if rest.starts_with(b"--") {
                return parts;
            }
            start = Some((end + 1).min(body.len()));
        }
        pos = end + 1;
    }
    // Unterminated last part: keep what there is.
    if let Some(s) = start {
        if s < body.len() {
            parts.push(&body[s..]);
        }
    }
    parts
}

/// Undoes the Content-Transfer-Encoding, keeping at most [`MAX_DECODED`] bytes.
fn decode_transfer(body: &[u8], encoding: Option<&str>) -> Vec<u8> {
    let enc = encoding.unwrap_or("").trim().to_ascii_lowercase();
    match enc.as_str() {
        "base64" => decode_base64(body, MAX_DECODED),
        "quoted-printable" => decode_qp(body, MAX_DECODED),
        _ => body[..body.len().min(MAX_DECODED)].to_vec(),
    }
}

/// Lenient base64: skips anything outside the alphabet, stops at padding or at `cap` bytes.
pub fn decode_base64(input: &[u8], cap: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity((input.len() / 4 * 3).min(cap));
    let mut acc: u32 = 0;
    let mut n = 0;
    for &b in input {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
            if out.len() >= cap {
                out.truncate(cap);
                return out;
            }
        }
    }
    match n {
        2 => out.push((acc >> 4) as u8),
        3 => out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]),
        _ => {}
    }
    out.truncate(cap);
    out
}

/// Lenient quoted-printable: soft line breaks removed, `=XX` decoded, bad escapes kept as is.
pub fn decode_qp(input: &[u8], cap: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len().min(cap));
    let mut i = 0;
    while i < input.len() && out.len() < cap {
        let b = input[i];
        if b != b'=' {
            out.push(b);
            i += 1;
            continue;
        }
        let rest = &input[i + 1..];
        if rest.starts_with(b"\r\n") {
            i += 3;
        } else if rest.starts_with(b"\n") {
            i += 2;
        } else if rest.len() >= 2 {
            match (hex(rest[0]), hex(rest[1])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b);
                    i += 1;
                }
            }
        } else {
            out.push(b);
            i += 1;
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Bytes to text: the Latin-1 family byte for byte, everything else as (lossy) UTF-8. Other
/// legacy charsets come out as replacement characters, consistently for every variant of a
/// campaign, which is all the fingerprint needs.
fn decode_charset(bytes: &[u8], charset: Option<&str>) -> String {
    let cs = charset.unwrap_or("").to_ascii_lowercase();
    let latin1 = cs.starts_with("iso-8859-1") || cs == "latin1" || cs == "iso-8859-15" || cs.starts_with("windows-125");
    if latin1 && std::str::from_utf8(bytes).is_err() {
        bytes.iter().map(|&b| b as char).collect()
    } else {
        // Validation alone is much faster than the lossy decoder; most bodies are valid.
        match std::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(bytes).into_owned(),
        }
    }
}

/// Lower-cased name words of a `To:` value: display-name words and the alphabetic pieces of each
/// local part (`john.smith+x@…` → `john`, `smith`). RFC 2047 encoded words are decoded.
fn recipient_words(to: &str) -> Vec<String> {
    let to = decode_encoded_words(to);
    let mut words: Vec<String> = Vec::new();
    let mut push = |w: &str| {
        let w = w.to_lowercase();
        if w.chars().count() >= 2 && !STOP_NAMES.contains(&w.as_str()) && !words.contains(&w) {
            words.push(w);
        }
    };
    for chunk in to.split(|c: char| c.is_whitespace() || c == ',' || c == '<' || c == '>') {
        if let Some((local, _)) = chunk.split_once('@') {
            for piece in local.split(|c: char| !c.is_alphabetic()) {
                if piece.chars().count() >= 3 {
                    push(piece);
                }
            }
        } else {
            for piece in chunk.split(|c: char| !c.is_alphabetic()) {
                push(piece);
            }
        }
    }
    words.truncate(16);
    words
}

/// Words that are never treated as a recipient's name even when they appear in `To:`.
const STOP_NAMES: [&str; 12] = [
    "info", "mail", "admin", "sales", "support", "contact", "team", "the", "and", "of", "mr", "ms",
];

/// Decodes RFC 2047 `=?charset?B|Q?text?=` words; anything malformed is kept verbatim.
fn decode_encoded_words(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut rest = v;
    while let Some(start) = rest.find("=?") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let decoded = (|| {
            let (charset, after) = after.split_once('?')?;
            let (enc, after) = after.split_once('?')?;
            let (text, after) = after.split_once("?=")?;
            let bytes = match enc {
                "B" | "b" => decode_base64(text.as_bytes(), 1024),
                "Q" | "q" => decode_qp(text.replace('_', " ").as_bytes(), 1024),
                _ => return None,
            };
            Some((decode_charset(&bytes, Some(charset)), after))
        })();
        match decoded {
            Some((text, after)) => {
                out.push_str(&text);
                rest = after;
            }
            None => {
                out.push_str("=?");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_decoding_table() {
        let cases: [(&[u8], &str, &[u8]); 6] = [
            (b"SGVsbG8gd29ybGQ=", "base64", b"Hello world"),
            (b"SGVs\r\nbG8g d29y!bGQ", "base64", b"Hello world"),
            (b"caf=C3=A9 =\r\nlatte", "quoted-printable", "café latte".as_bytes()),
            (b"50=25 off =ZZ", "quoted-printable", b"50% off =ZZ"),
            (b"trailing =", "quoted-printable", b"trailing ="),
            (b"plain", "7bit", b"plain"),
        ];
        for (input, enc, want) in cases {
            assert_eq!(decode_transfer(input, Some(enc)), want, "{enc}");
        }
    }

    #[test]
    fn picks_plain_over_html_in_alternative() {
        let msg = b"To: \"John Smith\" <john.smith@example.com>\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
preamble\r\n--b1\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n\
cGxhaW4gdGV4dA==\r\n--b1--\r\n";
        let e = extract(msg);
        assert_eq!(e.text, "plain text");
        assert!(!e.is_html);
        assert_eq!(e.recipient_words, vec!["john", "smith"]);
    }

    #[test]
    fn html_only_and_attachments_skipped() {
        let msg = b"Content-Type: multipart/mixed; boundary=x\n\n--x\n\
Content-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nattached\n\
--x\nContent-Type: text/html; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n\
<b>caf=E9</b>\n--x--\n";
        let e = extract(msg);
        assert_eq!(e.text, "<b>café</b>");
        assert!(e.is_html);
    }

    #[test]
    fn no_headers_is_all_body() {
        assert_eq!(extract(b"just some text\nmore").text, "just some text\nmore");
    }

    #[test]
    fn encoded_word_names() {
        assert_eq!(
            recipient_words("=?utf-8?Q?Jos=C3=A9_Garc=C3=ADa?= <jg@x.org>, bob@y"),
            vec!["josé", "garcía", "bob"]
        );
    }
}
