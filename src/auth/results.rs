//! Authentication-Results (RFC 8601) fields as raw header text: reading a field's authserv-id,
//! and removing the fields that claim ours from a message before we add our own (a tenant must
//! not be able to hand receivers a verdict in our name). Pure byte work; never panics.

/// The authserv-id of an (ARC-)Authentication-Results value: the first token, after the
/// `i=N;` instance tag for ARC, with comments and an optional version skipped.
pub fn authserv_id(value: &str, skip_instance: bool) -> Option<String> {
    let mut text = strip_comments(value);
    if skip_instance {
        let (_, rest) = text.split_once(';')?;
        text = rest.to_string();
    }
    let head = text.split(';').next()?.trim();
    let id = head.split_whitespace().next()?;
    Some(id.trim_matches('"').to_string())
}

/// Whether authserv-id `id` names `ours`: case-insensitive, a trailing dot ignored (`gw.test.`
/// is `gw.test` to a receiver).
pub fn same_id(id: &str, ours: &str) -> bool {
    id.trim_end_matches('.')
        .eq_ignore_ascii_case(ours.trim_end_matches('.'))
}

fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// `message` without the Authentication-Results fields whose authserv-id is `our_id`
/// (case-insensitive, a trailing dot ignored), or `None` when it has none. Only the header block is touched; the whole
/// block is scanned (no field-count limit), folded fields are removed with their continuation
/// lines, and the body is kept byte for byte.
pub fn strip_own(message: &[u8], our_id: &str) -> Option<Vec<u8>> {
    let mut remove: Vec<(usize, usize)> = Vec::new();
    for field in fields(message) {
        let (name, value) = match field.text.iter().position(|&b| b == b':') {
            Some(colon) => (&field.text[..colon], &field.text[colon + 1..]),
            None => continue,
        };
        if !name.trim_ascii().eq_ignore_ascii_case(b"authentication-results") {
            continue;
        }
        let unfolded = String::from_utf8_lossy(value).replace("\r\n", " ");
        if authserv_id(&unfolded, false).is_some_and(|id| same_id(&id, our_id)) {
            remove.push((field.start, field.end));
        }
    }
    if remove.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(message.len());
    let mut at = 0;
    for (start, end) in remove {
        out.extend_from_slice(&message[at..start]);
        at = end;
    }
    out.extend_from_slice(&message[at..]);
    Some(out)
}

/// The message without the header fields named `names` (any case), or `None` when it has none
/// of them.
pub fn strip_named(message: &[u8], names: &[&str]) -> Option<Vec<u8>> {
    let remove: Vec<(usize, usize)> = fields(message)
        .into_iter()
        .filter(|field| {
            field.text.iter().position(|&b| b == b':').is_some_and(|colon| {
                let name = field.text[..colon].trim_ascii();
                names.iter().any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
            })
        })
        .map(|field| (field.start, field.end))
        .collect();
    if remove.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(message.len());
    let mut at = 0;
    for (start, end) in remove {
        out.extend_from_slice(&message[at..start]);
        at = end;
    }
    out.extend_from_slice(&message[at..]);
    Some(out)
}

/// One header field: its byte range (with continuation lines and the final CRLF) and its text
/// (without the final CRLF).
struct Field<'a> {
    start: usize,
    end: usize,
    text: &'a [u8],
}

/// The fields of the header block, which ends at the first empty line (or the end of input).
fn fields(message: &[u8]) -> Vec<Field<'_>> {
    let mut out: Vec<Field<'_>> = Vec::new();
    let mut pos = 0;
    while pos < message.len() {
        let line_end = find_crlf(message, pos).map(|p| p + 2).unwrap_or(message.len());
        let line = &message[pos..line_end];
        if line == b"\r\n" {
            break;
        }
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        match out.last_mut() {
            Some(field) if continuation => {
                field.end = line_end;
                field.text = trim_crlf(&message[field.start..line_end]);
            }
            _ => out.push(Field {
                start: pos,
                end: line_end,
                text: trim_crlf(line),
            }),
        }
        pos = line_end;
    }
    out
}

fn find_crlf(message: &[u8], from: usize) -> Option<usize> {
    message[from..].windows(2).position(|w| w == b"\r\n").map(|p| p + from)
}

fn trim_crlf(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r\n").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authserv_id_skips_comments_version_and_arc_instance() {
        assert_eq!(authserv_id("gw.test; spf=pass", false).as_deref(), Some("gw.test"));
        assert_eq!(
            authserv_id("(c) gw.test 1; dkim=none", false).as_deref(),
            Some("gw.test")
        );
        assert_eq!(authserv_id("i=1; gw.test; spf=pass", true).as_deref(), Some("gw.test"));
        assert_eq!(authserv_id("", false), None);
    }

    #[test]
    fn strips_only_our_fields_with_their_continuation_lines() {
        let message = b"Authentication-Results: GW.test;\r\n\tdkim=pass header.d=bank.example\r\n\
From: a@acme.example\r\nAuthentication-Results: other.example; spf=pass\r\n\
authentication-results : (forged) gw.test; dmarc=pass\r\nAuthentication-Results: gw.test.; dmarc=pass\r\n\
Subject: x\r\n\r\n\
Authentication-Results: gw.test; body text stays\r\n";
        let stripped = strip_own(message, "gw.test").expect("changed");
        assert_eq!(
            stripped,
            b"From: a@acme.example\r\nAuthentication-Results: other.example; spf=pass\r\nSubject: x\r\n\r\n\
Authentication-Results: gw.test; body text stays\r\n"
                .to_vec()
        );
    }

    #[test]
    fn a_message_without_our_fields_is_left_alone() {
        assert_eq!(strip_own(b"From: a@b\r\n\r\nbody", "gw.test"), None);
        assert_eq!(strip_own(b"", "gw.test"), None);
        assert_eq!(strip_own(b"\r\n\r\n", "gw.test"), None);
        assert_eq!(
            strip_own(b"Authentication-Results: gw.test", "gw.test"),
            Some(Vec::new())
        );
    }
}
