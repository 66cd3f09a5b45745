//! `attachments.dangerous`: letter bombing (Pageant Server: "content that will or could
//! potentially harm the recipient's computer"; aup/README.md rule 7). Refuses `550 5.7.1`, naming
//! the file, when an attachment's name has a dangerous extension from the profile list (after the
//! normalisation Windows applies: path, trailing dots and blanks, alternate data streams removed),
//! hides one behind right-to-left or invisible characters, when a part has an executable MIME
//! type, or when an archive attachment (ZIP, gzip, tar, and archives inside them: `archives`)
//! lists such a name (`inspect_archives`).
//! `attachments.malformed`: a MIME structure too deep, too wide or without a boundary is refused
//! too, since what cannot be walked cannot be checked.
//!
//! Two passes, so a broken structure cannot hide a name: every `Content-Type` /
//! `Content-Disposition` line anywhere in the message is read for names, and the MIME tree is
//! walked (own small parser; depth ≤ 8, ≤ 256 parts; ranges into the message, no copies) for
//! executable types, uuencoded files and archive contents. Everything is linear in the message size
//! (times the depth); nothing is ever written back. The check that runs it is
//! `policy::checks::LetterBomb`.

use super::archives;
use crate::policy::headers::{
    base64_lenient, decode_charset, decode_encoded_words, hex_pair, is_format_control, Headers,
};
use crate::policy::profile::Attachments;
use crate::smtp::reply::Reply;

const MAX_DEPTH: usize = 8;
const MAX_PARTS: usize = 256;
/// RFC 2231 continuations beyond this are ignored (a name is not that long).
const MAX_SECTIONS: usize = 64;

/// MIME types that are executables whatever the part is called.
const EXECUTABLE_TYPES: &[&str] = &[
    "application/x-msdownload",
    "application/x-msdos-program",
    "application/x-dosexec",
    "application/x-ms-installer",
    "application/x-msi",
    "application/hta",
    "application/x-ms-shortcut",
];

/// Why a message is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Finding {
    Dangerous { name: String, why: String },
    Malformed(&'static str),
}

impl Finding {
    /// The SMTP refusal for this finding.
    pub fn reply(&self) -> Reply {
        match self {
            Finding::Dangerous { name, why } => Reply::refusal(
                550,
                "5.7.1",
                "attachments.dangerous",
                format!("Letter bomb: attachment \"{}\" {why}", shown(name)),
            ),
            Finding::Malformed(why) => Reply::refusal(
                550,
                "5.7.1",
                "attachments.malformed",
                format!("Letter bomb check: the MIME structure cannot be checked ({why})"),
            ),
        }
    }
}

/// A file name echoed into a reply: no control or format characters, short.
fn shown(name: &str) -> String {
    name.chars()
        .take(80)
        .map(|c| {
            if c.is_control() || is_format_control(c) || c == '"' {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// The whole check on the raw message.
#[cfg(test)]
pub(crate) fn inspect(message: &[u8], rules: &Attachments) -> Option<Finding> {
    inspect_parsed(message, &Headers::parse(message), rules)
}

/// [`inspect`] with the message's top-level header block already parsed (the DATA checks
/// share one parse).
pub fn inspect_parsed(message: &[u8], headers: &Headers, rules: &Attachments) -> Option<Finding> {
    if let Some(finding) = scan_header_lines(message, rules) {
        return Some(finding);
    }
    walk(message, headers, rules)
}

// ----- names -----

/// Judges one file name: `Some(why)` when it is dangerous.
pub fn judge(name: &str, rules: &Attachments) -> Option<String> {
    let decoded = decode_encoded_words(name);
    for candidate in [name, decoded.as_str()] {
        if rules.block_double_extensions && candidate.chars().any(is_format_control) {
            return Some("hides its real extension with right-to-left or invisible characters".into());
        }
        let clean: String = candidate
            .chars()
            .filter(|c| !is_format_control(*c) && !c.is_control())
            .collect();
        let base = clean.rsplit(['/', '\\']).next().unwrap_or("");
        // `evil.exe:stream` (an NTFS alternate data stream) is `evil.exe` to Windows.
        let before_stream = base.split(':').next().unwrap_or("");
        for variant in [base, before_stream] {
            // Windows drops trailing dots and blanks: `evil.exe. ` is `evil.exe`.
            let variant = variant
                .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
                .to_lowercase();
            let Some((stem, ext)) = variant.rsplit_once('.') else {
                continue;
            };
            let ext = ext.trim();
            if rules.extensions.iter().any(|e| e.eq_ignore_ascii_case(ext)) {
                let double = stem.contains('.') && rules.block_double_extensions;
                return Some(if double {
                    format!("hides a dangerous extension behind another (double extension, .{ext})")
                } else {
                    format!("has a dangerous file type (.{ext})")
                });
            }
        }
    }
    None
}

fn judge_all(names: &[String], rules: &Attachments) -> Option<Finding> {
    names.iter().find_map(|name| {
        judge(name, rules).map(|why| Finding::Dangerous {
            name: name.clone(),
            why,
        })
    })
}

// ----- header fields and parameters -----

/// `type/subtype` (lowercase) and its parameters `(name lowercase, value)`.
fn parse_field(value: &str) -> (String, Vec<(String, String)>) {
    let mut pieces = split_params(value).into_iter();
    let kind = pieces.next().unwrap_or_default().trim().to_ascii_lowercase();
    let params = pieces
        .filter_map(|piece| {
            let (name, value) = piece.split_once('=')?;
            let value = value.trim();
            let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
                Some(inner) => unescape(inner),
                None => value.to_string(),
            };
            Some((name.trim().to_ascii_lowercase(), value))
        })
        .collect();
    (kind, params)
}

/// Splits at `;` outside quotes.
fn split_params(value: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut in_quote = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && in_quote {
            escaped = true;
        } else if c == '"' {
            in_quote = !in_quote;
        } else if c == ';' && !in_quote {
            out.push(String::new());
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.push(c);
        }
    }
    out
}

fn unescape(quoted: &str) -> String {
    let mut out = String::with_capacity(quoted.len());
    let mut escaped = false;
    for c in quoted.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// Every value a reader could take for parameter `key`: the plain one, the RFC 2231 extended
/// one (`key*=utf-8''...`) and the joined continuations (`key*0*=`, `key*1=`...).
fn param_values(params: &[(String, String)], key: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut sections: Vec<(usize, bool, &str)> = Vec::new();
    for (name, value) in params {
        if name == key {
            values.push(value.clone());
        } else if let Some(rest) = name.strip_prefix(key).and_then(|r| r.strip_prefix('*')) {
            if rest.is_empty() {
                values.push(extended_value(value, true));
            } else {
                let (index, encoded) = match rest.strip_suffix('*') {
                    Some(index) => (index, true),
                    None => (rest, false),
                };
                if let Ok(index) = index.parse::<usize>() {
                    if index < MAX_SECTIONS {
                        sections.push((index, encoded, value));
                    }
                }
            }
        }
    }
    if !sections.is_empty() {
        sections.sort_by_key(|s| s.0);
        let first_encoded = sections.first().is_some_and(|s| s.0 == 0 && s.1);
        let mut joined_bytes = String::new();
        for (i, (_, encoded, value)) in sections.iter().enumerate() {
            // Only the first encoded section carries `charset'lang'`.
            let text = if *encoded {
                extended_raw(value, i == 0 && first_encoded)
            } else {
                value.to_string()
            };
            joined_bytes.push_str(&text);
        }
        let charset = if first_encoded {
            sections[0].2.split('\'').next().unwrap_or("")
        } else {
            "us-ascii"
        };
        let bytes: Vec<u8> = joined_bytes
            .chars()
            .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
            .collect();
        values.push(decode_charset(charset, &bytes));
    }
    values
}

/// `charset'lang'pct-encoded` → text.
fn extended_value(value: &str, with_charset: bool) -> String {
    let charset = if with_charset {
        value.split('\'').next().unwrap_or("")
    } else {
        "us-ascii"
    };
    let raw = extended_raw(value, with_charset);
    let bytes: Vec<u8> = raw
        .chars()
        .map(|c| if (c as u32) < 256 { c as u8 } else { b'?' })
        .collect();
    decode_charset(charset, &bytes)
}

/// Percent-decodes (after dropping `charset'lang'`), one char per byte.
fn extended_raw(value: &str, with_charset: bool) -> String {
    let data = if with_charset {
        value.splitn(3, '\'').nth(2).unwrap_or(value)
    } else {
        value
    };
    let bytes = data.as_bytes();
    let mut out = String::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(byte) = hex_pair(bytes[i + 1], bytes[i + 2]) {
                out.push(char::from(byte));
                i += 3;
                continue;
            }
        }
        out.push(char::from(bytes[i]));
        i += 1;
    }
    out
}

/// The file names a part's headers give it (Content-Disposition `filename`, Content-Type `name`).
fn names_of(kind: &str, value: &str) -> Vec<String> {
    let (_, params) = parse_field(value);
    let key = if kind == "content-disposition" {
        "filename"
    } else {
        "name"
    };
    let mut names = param_values(&params, key);
    // Some readers take either parameter from either field.
    names.extend(param_values(&params, if key == "name" { "filename" } else { "name" }));
    names
}

// ----- pass 1: every Content-Type / Content-Disposition line -----

fn scan_header_lines(data: &[u8], rules: &Attachments) -> Option<Finding> {
    // Lines are matched as bytes; only a matching field is decoded (lossily) as text.
    let mut lines = lines(data).map(|l| l.strip_suffix(b"\r").unwrap_or(l)).peekable();
    while let Some(line) = lines.next() {
        let Some(kind) = ["content-disposition", "content-type"]
            .into_iter()
            .find(|kind| starts_with_field(line, kind))
        else {
            continue;
        };
        let mut value = String::from_utf8_lossy(&line[kind.len() + 1..]).into_owned();
        while let Some(next) = lines.peek() {
            if !(next.starts_with(b" ") || next.starts_with(b"\t")) || value.len() > 16 * 1024 {
                break;
            }
            value.push(' ');
            value.push_str(String::from_utf8_lossy(next).trim());
            lines.next();
        }
        if let Some(finding) = judge_all(&names_of(kind, &value), rules) {
            return Some(finding);
        }
    }
    None
}

/// The lines of `data` split at LF (each without it), found with a vectorised search: the two
/// line scans are most of this check's cost on a plain-text message.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b'\n', data)
        .chain(std::iter::once(data.len()))
        .map(move |end| {
            let line = &data[start..end];
            start = end + 1;
            line
        })
}

/// True when `line` opens the header field `name` (ASCII case-insensitive, colon right after it).
fn starts_with_field(line: &[u8], name: &str) -> bool {
    line.len() > name.len() && line[..name.len()].eq_ignore_ascii_case(name.as_bytes()) && line[name.len()] == b':'
}

// ----- pass 2: the MIME tree -----

fn walk(message: &[u8], top: &Headers, rules: &Attachments) -> Option<Finding> {
    // (start, end, depth) ranges into `message`.
    let mut stack = vec![(0usize, message.len(), 0usize)];
    let mut parts = 0usize;
    // One budget for all the archives of the message.
    let mut budget = archives::Budget::default();
    while let Some((start, end, depth)) = stack.pop() {
        parts += 1;
        if parts > MAX_PARTS {
            return Some(Finding::Malformed("more than 256 MIME parts"));
        }
        let entity = &message[start..end];
        let parsed;
        let headers = if start == 0 && end == message.len() {
            top
        } else {
            parsed = Headers::parse(entity);
            &parsed
        };
        let (kind, params) = parse_field(headers.first("content-type").unwrap_or("text/plain"));
        let mut names: Vec<String> = headers
            .first("content-type")
            .map(|v| names_of("content-type", v))
            .unwrap_or_default();
        for value in headers.all("content-disposition") {
            names.extend(names_of("content-disposition", value));
        }
        if let Some(finding) = judge_all(&names, rules) {
            return Some(finding);
        }
        if EXECUTABLE_TYPES.contains(&kind.as_str()) {
            return Some(Finding::Dangerous {
                name: names.first().cloned().unwrap_or_else(|| format!("({kind})")),
                why: format!("is an executable ({kind})"),
            });
        }
        let body_offset = body_start(entity);
        let body = &entity[body_offset..];
        let encoding = headers
            .first("content-transfer-encoding")
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if kind.starts_with("multipart/") {
            if depth >= MAX_DEPTH {
                return Some(Finding::Malformed("MIME nesting deeper than 8"));
            }
            let boundary = param_values(&params, "boundary").into_iter().next().unwrap_or_default();
            if boundary.is_empty() || boundary.len() > 200 {
                return Some(Finding::Malformed("a multipart part without a usable boundary"));
            }
            let children = split_multipart(body, boundary.as_bytes());
            if children.len() > MAX_PARTS {
                return Some(Finding::Malformed("more than 256 MIME parts"));
            }
            for (s, e) in children.into_iter().rev() {
                let base = start + body_offset;
                stack.push((base + s, base + e, depth + 1));
            }
            continue;
        }
        if kind == "message/rfc822" || kind == "message/global" {
            if depth >= MAX_DEPTH {
                return Some(Finding::Malformed("MIME nesting deeper than 8"));
            }
            if encoding == "base64" {
                // Not allowed by RFC 2046, yet some readers decode it: read its names.
                let decoded = base64_lenient(body).unwrap_or_default();
                if let Some(finding) = scan_header_lines(&decoded, rules) {
                    return Some(finding);
                }
            } else {
                stack.push((start + body_offset, end, depth + 1));
            }
            continue;
        }
        if kind.starts_with("text/") && encoding != "base64" {
            if let Some(finding) = uuencoded(body, rules) {
                return Some(finding);
            }
        }
        if rules.inspect_archives {
            if let Some(finding) = archive(body, &encoding, &names, rules, &mut budget) {
                return Some(finding);
            }
        }
    }
    None
}

/// Where an entity's body starts (after the blank line; the whole entity has no body without one).
fn body_start(entity: &[u8]) -> usize {
    if entity.starts_with(b"\r\n") {
        return 2;
    }
    entity
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4)
        .unwrap_or(entity.len())
}

/// The parts of a multipart body, as ranges: between delimiter lines (`--boundary`, a prefix
/// match, as lenient readers do), up to the close delimiter or the end. Stops after
/// `MAX_PARTS + 1` parts.
fn split_multipart(body: &[u8], boundary: &[u8]) -> Vec<(usize, usize)> {
    let mut parts = Vec::new();
    let mut open: Option<usize> = None;
    let mut pos = 0;
    while pos <= body.len() && parts.len() <= MAX_PARTS {
        let line_end = body[pos..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| pos + p)
            .unwrap_or(body.len());
        let line = &body[pos..line_end];
        if line.len() >= 2 + boundary.len() && line.starts_with(b"--") && &line[2..2 + boundary.len()] == boundary {
            if let Some(part_start) = open {
                parts.push((part_start, pos.saturating_sub(2).max(part_start)));
            }
            if line[2 + boundary.len()..].starts_with(b"--") {
                return parts;
            }
            open = Some((line_end + 2).min(body.len()));
        }
        if line_end >= body.len() {
            break;
        }
        pos = line_end + 2;
    }
    if let Some(part_start) = open {
        parts.push((part_start, body.len()));
    }
    parts
}

/// `begin 644 name` lines of uuencoded files in a text body.
fn uuencoded(body: &[u8], rules: &Attachments) -> Option<Finding> {
    for line in lines(body) {
        let Some(rest) = line.strip_prefix(b"begin ") else {
            continue;
        };
        let mode_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if !(3..=4).contains(&mode_len) || rest.get(mode_len) != Some(&b' ') {
            continue;
        }
        let name = String::from_utf8_lossy(&rest[mode_len + 1..])
            .trim_end_matches('\r')
            .to_string();
        if let Some(why) = judge(&name, rules) {
            return Some(Finding::Dangerous { name, why });
        }
    }
    None
}

// ----- archives -----

/// An archive attachment (ZIP, gzip or tar, by magic or by name; see `archives`) whose entries,
/// at any level, include a dangerous name.
fn archive(
    body: &[u8],
    encoding: &str,
    names: &[String],
    rules: &Attachments,
    budget: &mut archives::Budget,
) -> Option<Finding> {
    let by_name = names.iter().find_map(|n| archives::Kind::of_name(n));
    let data = match encoding {
        "base64" => {
            let head: Vec<u8> = body
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .take(352)
                .collect();
            let magic = base64_lenient(&head).and_then(|h| archives::Kind::of(&h));
            if magic.is_none() && by_name.is_none() {
                return None;
            }
            base64_lenient(body)?
        }
        _ => {
            if archives::Kind::of(body).is_none() && by_name.is_none() {
                return None;
            }
            body.to_vec()
        }
    };
    let kind = archives::Kind::of(&data).or(by_name)?;
    let outer = names.first().cloned().unwrap_or_else(|| "archive".into());
    match archives::names(&data, kind, &outer, budget) {
        Ok(entries) => entries.iter().find_map(|entry| {
            judge(entry.rsplit(" -> ").next().unwrap_or(entry), rules).map(|why| Finding::Dangerous {
                name: format!("{outer} -> {entry}"),
                why,
            })
        }),
        Err(why) => Some(Finding::Malformed(why)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn rules() -> Attachments {
        Attachments::default()
    }

    #[test]
    fn names_table() {
        let cases: &[(&str, bool)] = &[
            ("report.pdf", false),
            ("photo.JPG", false),
            ("setup.exe", true),
            ("SETUP.EXE", true),
            ("invoice.pdf.exe", true),
            ("invoice.pdf.exe.", true),
            ("invoice.pdf.exe . ", true),
            ("invoice.exe.pdf", false),
            ("C:\\temp\\run.bat", true),
            ("dir/run.cmd", true),
            ("evil.exe:Zone.Identifier", true),
            ("invoice\u{202E}fdp.exe", true),
            ("invoice\u{202E}xcod.pdf", true),
            ("=?utf-8?q?invoice=2Epdf=2Eexe?=", true),
            ("=?utf-8?b?c2V0dXAuc2Ny?=", true),
            ("archive.zip", false),
            ("noext", false),
            ("disk.iso", true),
            ("", false),
        ];
        for (name, dangerous) in cases {
            assert_eq!(judge(name, &rules()).is_some(), *dangerous, "{name:?}");
        }
        let lax = Attachments {
            block_double_extensions: false,
            ..rules()
        };
        assert!(
            judge("invoice\u{202E}xcod.pdf", &lax).is_none(),
            "format controls only refused with block_double_extensions"
        );
        assert!(
            judge("invoice\u{202E}fdp.exe", &lax).is_some(),
            "yet the real extension is still seen"
        );
    }

    #[test]
    fn rfc2231_parameters_are_joined_and_decoded() {
        let (_, params) =
            parse_field("attachment; filename*0*=utf-8''in%76oice; filename*1=\".pdf\"; filename*2*=%2Eexe");
        assert_eq!(param_values(&params, "filename"), vec!["invoice.pdf.exe".to_string()]);
        let (_, params) = parse_field("attachment; filename*=UTF-8'en'r%C3%A9sum%C3%A9.scr");
        assert_eq!(param_values(&params, "filename"), vec!["résumé.scr".to_string()]);
        let (_, params) = parse_field("attachment; filename=\"a;b\\\".exe\"");
        assert_eq!(param_values(&params, "filename"), vec!["a;b\".exe".to_string()]);
    }

    /// A ZIP of empty stored members with these names.
    fn zip_with(names: &[&str]) -> Vec<u8> {
        let members: Vec<(&str, &[u8], bool)> = names.iter().map(|n| (*n, &b""[..], false)).collect();
        crate::policy::inspect::archives::tests::zip(&members)
    }

    fn mail(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut m = String::from("From: a@acme.example\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\npreamble\r\n");
        for (headers, body) in parts {
            m.push_str(&format!("--b1\r\n{headers}\r\n\r\n{body}\r\n"));
        }
        m.push_str("--b1--\r\n");
        m.into_bytes()
    }

    fn b64(data: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(data)
    }

    #[test]
    fn messages_table() {
        let zip_bad = b64(&zip_with(&["docs/readme.txt", "docs/run.exe"]));
        let zip_ok = b64(&zip_with(&["docs/readme.txt", "photo.jpg"]));
        let inner_zip = zip_with(&["deep/evil.scr"]);
        let zip_nested = b64(&zip_with(&[std::str::from_utf8(&inner_zip).unwrap_or("x")]));
        let text = ("Content-Type: text/plain", "hello");
        let cases: Vec<(String, Vec<u8>, Option<&str>)> = vec![
            ("plain".into(), b"From: a@acme.example\r\n\r\nhello\r\n".to_vec(), None),
            ("pdf".into(), mail(&[text, ("Content-Type: application/pdf; name=\"r.pdf\"\r\nContent-Transfer-Encoding: base64", "JVBERi0xLjQK")]), None),
            ("exe".into(), mail(&[text, ("Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"setup.exe\"", "TVqQ")]), Some("attachments.dangerous")),
            ("name only in content-type".into(), mail(&[("Content-Type: application/octet-stream; name=run.bat", "x")]), Some("attachments.dangerous")),
            ("folded 2231".into(), mail(&[("Content-Disposition: attachment;\r\n filename*0=\"invoice.pdf\";\r\n filename*1=\".exe\"", "x")]), Some("attachments.dangerous")),
            ("exe type".into(), mail(&[("Content-Type: application/x-msdownload", "MZ")]), Some("attachments.dangerous")),
            ("zip with exe".into(), mail(&[("Content-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64", &zip_bad)]), Some("attachments.dangerous")),
            ("zip by magic".into(), mail(&[("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64", &zip_bad)]), Some("attachments.dangerous")),
            ("clean zip".into(), mail(&[("Content-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64", &zip_ok)]), None),
            ("stored zip in zip".into(), mail(&[("Content-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64", &zip_nested)]), Some("attachments.dangerous")),
            ("uuencoded".into(), mail(&[("Content-Type: text/plain", "begin 644 game.exe\r\nM'XL\r\nend")]), Some("attachments.dangerous")),
            ("no boundary".into(), b"Content-Type: multipart/mixed\r\n\r\nx\r\n".to_vec(), Some("attachments.malformed")),
            (
                "nested rfc822".into(),
                mail(&[("Content-Type: message/rfc822", "Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: application/x-dosexec\r\n\r\nMZ\r\n--x--")]),
                Some("attachments.dangerous"),
            ),
            (
                "broken structure, name still seen".into(),
                b"Content-Type: multipart/mixed; boundary=zz\r\n\r\ngarbage\r\nContent-Disposition: attachment; filename=x.js\r\n".to_vec(),
                Some("attachments.dangerous"),
            ),
        ];
        for (what, message, expected) in cases {
            let got = inspect(&message, &rules()).map(|f| match f {
                Finding::Dangerous { .. } => "attachments.dangerous",
                Finding::Malformed(_) => "attachments.malformed",
            });
            assert_eq!(got, expected, "{what}");
        }
        let no_archives = Attachments {
            inspect_archives: false,
            ..rules()
        };
        assert!(inspect(
            &mail(&[(
                "Content-Type: application/zip; name=\"a.zip\"\r\nContent-Transfer-Encoding: base64",
                &zip_bad
            )]),
            &no_archives
        )
        .is_none());
    }

    #[test]
    fn limits_are_refused_not_skipped() {
        let mut deep = String::new();
        for i in 0..10 {
            deep.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"l{i}\"\r\n\r\n--l{i}\r\n"
            ));
        }
        deep.push_str("Content-Type: text/plain\r\n\r\nhi\r\n");
        assert_eq!(
            inspect(deep.as_bytes(), &rules()),
            Some(Finding::Malformed("MIME nesting deeper than 8"))
        );
        let wide = mail(&vec![("Content-Type: text/plain", "x"); 300]);
        assert_eq!(
            inspect(&wide, &rules()),
            Some(Finding::Malformed("more than 256 MIME parts"))
        );
    }

    #[test]
    fn the_reply_names_the_file() {
        let finding = inspect(
            &mail(&[("Content-Disposition: attachment; filename=\"invoice.pdf.exe\"", "x")]),
            &rules(),
        )
        .expect("refused");
        let reply = finding.reply().summary();
        assert!(
            reply.starts_with("550 5.7.1 Letter bomb: attachment \"invoice.pdf.exe\""),
            "{reply}"
        );
        assert!(reply.ends_with("[rule attachments.dangerous]"), "{reply}");
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let pieces: &[&[u8]] = &[
            b"Content-Type: multipart/mixed; boundary=b\r\n",
            b"--b\r\n",
            b"--b--\r\n",
            b"\r\n",
            b"Content-Disposition: attachment; filename*0*=utf-8''%",
            b"PK\x01\x02",
            b"PK\x03\x04\xff\xff",
            b"Content-Transfer-Encoding: base64\r\n",
            b"UEsDBA==",
            b"Content-Type: message/rfc822\r\n",
            b"\xff\x00=?utf-8?b?",
            b"begin 644 ",
        ];
        for _ in 0..3_000 {
            let mut message = Vec::new();
            for _ in 0..(seed % 24) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                message.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
            }
            let _ = inspect(&message, &rules());
            for kind in [archives::Kind::Zip, archives::Kind::Tar, archives::Kind::Gzip] {
                let _ = archives::names(&message, kind, "x", &mut archives::Budget::default());
            }
        }
    }
}
