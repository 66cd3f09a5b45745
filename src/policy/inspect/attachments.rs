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
//! walked (the shared walk of `crate::message`, with its limits: a message over them is refused
//! as malformed) for executable types, uuencoded files and archive contents. The names are read
//! from each part's raw header fields with `message::params`, every reading a reader could take.
//! Everything is linear in the message size; nothing is ever written back. The check that runs
//! it is `policy::checks::LetterBomb`.

use super::archives;
use crate::message::params::{file_names, param_values, parse_field};
use crate::message::{base64_lenient, decode_encoded_words, is_format_control, Body, Message};
use crate::policy::profile::Attachments;
use crate::policy::Rule;
use crate::wire::reply::Reply;

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
                Rule::AttachmentsDangerous,
                format!("Letter bomb: attachment \"{}\" {why}", shown(name)),
            ),
            Finding::Malformed(why) => Reply::refusal(
                550,
                "5.7.1",
                Rule::AttachmentsMalformed,
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

/// The whole check on a message parsed once (`crate::message::parse`).
pub fn inspect(message: &Message<'_>, rules: &Attachments) -> Option<Finding> {
    if let Some(finding) = scan_header_lines(message.raw(), rules) {
        return Some(finding);
    }
    walk(message, rules)
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
        if let Some(finding) = judge_all(&file_names(kind, &value), rules) {
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

fn walk(message: &Message<'_>, rules: &Attachments) -> Option<Finding> {
    // One budget for all the archives of the message.
    let mut budget = archives::Budget::default();
    for part in message.parts() {
        let parsed;
        let headers = if part.depth == 0 {
            message.headers()
        } else {
            parsed = part.headers();
            &parsed
        };
        let (kind, params) = parse_field(headers.first("content-type").unwrap_or("text/plain"));
        let mut names: Vec<String> = headers
            .first("content-type")
            .map(|v| file_names("content-type", v))
            .unwrap_or_default();
        for value in headers.all("content-disposition") {
            names.extend(file_names("content-disposition", value));
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
        let encoding = headers
            .first("content-transfer-encoding")
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if kind.starts_with("multipart/") {
            let boundary = param_values(&params, "boundary").into_iter().next().unwrap_or_default();
            if boundary.is_empty() || boundary.len() > 200 {
                return Some(Finding::Malformed("a multipart part without a usable boundary"));
            }
        }
        let data: std::borrow::Cow<'_, [u8]> = match part.body() {
            Body::Multipart => continue,
            Body::Message(decoded) => {
                // Not allowed by RFC 2046, yet some readers decode it: its parts follow in the
                // walk (mail-parser decodes it), and its header lines are read here too.
                if encoding == "base64" {
                    if let Some(finding) = scan_header_lines(decoded, rules) {
                        return Some(finding);
                    }
                }
                continue;
            }
            Body::Binary(bytes) => bytes.into(),
            // Text is handed out charset-decoded; an archive or a uuencoded file in it is read
            // from the transfer-decoded bytes instead.
            Body::Text(_) | Body::Html(_) if encoding == "base64" => {
                base64_lenient(part.raw_body()).unwrap_or_default().into()
            }
            Body::Text(text) | Body::Html(text) if encoding == "quoted-printable" => text.as_bytes().into(),
            Body::Text(_) | Body::Html(_) => part.raw_body().into(),
        };
        if kind.starts_with("text/") {
            if let Some(finding) = uuencoded(&data, rules) {
                return Some(finding);
            }
        }
        if rules.inspect_archives {
            if let Some(finding) = archive(&data, &names, rules, &mut budget) {
                return Some(finding);
            }
        }
    }
    message
        .overflow()
        .map(|overflow| Finding::Malformed(overflow.describe()))
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
fn archive(data: &[u8], names: &[String], rules: &Attachments, budget: &mut archives::Budget) -> Option<Finding> {
    let by_name = names.iter().find_map(|n| archives::Kind::of_name(n));
    let kind = archives::Kind::of(data).or(by_name)?;
    let outer = names.first().cloned().unwrap_or_else(|| "archive".into());
    match archives::names(data, kind, &outer, budget) {
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

    fn inspect(raw: &[u8], rules: &Attachments) -> Option<Finding> {
        super::inspect(&crate::message::parse(raw), rules)
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
        for i in 0..crate::message::mime::MAX_DEPTH + 2 {
            deep.push_str(&format!(
                "Content-Type: multipart/mixed; boundary=\"l{i}\"\r\n\r\n--l{i}\r\n"
            ));
        }
        deep.push_str("Content-Type: text/plain\r\n\r\nhi\r\n");
        assert_eq!(
            inspect(deep.as_bytes(), &rules()),
            Some(Finding::Malformed("MIME nesting deeper than 16"))
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
