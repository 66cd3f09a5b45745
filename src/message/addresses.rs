//! Address headers read strictly: a mailbox-list parser that refuses (never guesses) whenever
//! two readers could see different addresses, the character classes that make text render
//! differently from its bytes, and address-like words in free text.
//!
//! Why our own and not mail-parser's address parser: mail-parser repairs what it can (a second
//! `<...>`, an unbalanced quote) and returns *one* reading; the header-integrity and ownership
//! checks must refuse exactly those messages, because the reader at the far end may repair them
//! differently. Linear in its input; never panics.

use super::headers::decode_encoded_words;

/// Comments nest; deeper nesting than this is refused as ambiguous.
const MAX_COMMENT_DEPTH: usize = 8;

/// One mailbox of an address header, as a strict parser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// The display name as a reader shows it: quotes removed, encoded-words decoded, comments
    /// included (old-style `addr (Name)` shows the comment as the name).
    pub display: String,
    /// The display name before encoded-word decoding.
    pub display_raw: String,
    pub local: String,
    pub domain: String,
}

impl Mailbox {
    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }
}

/// Why an address header cannot be read unambiguously.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressError {
    /// Control, NUL, invalid UTF-8 or bidirectional-override characters.
    ControlCharacters,
    /// Unbalanced `<>`, quotes or comments, or comments nested too deep.
    Unbalanced,
    /// More than one `<...>` in one mailbox, or text after it.
    SeveralAddresses,
    /// No address at all (empty field, `<>`).
    Empty,
    /// Not a plain `local@domain` (several `@`, source route, spaces, bad domain).
    BadAddrSpec,
    /// A comment inside the address itself.
    CommentInAddress,
    /// An encoded-word inside the address itself (RFC 2047 forbids it; readers differ).
    EncodedWordInAddress,
    /// Group syntax (`name: a, b;`) where only mailboxes are allowed.
    Group,
}

impl AddressError {
    pub fn describe(self) -> &'static str {
        match self {
            AddressError::ControlCharacters => "control, NUL, undecodable or bidirectional-override characters",
            AddressError::Unbalanced => "unbalanced angle brackets, quotes or comments",
            AddressError::SeveralAddresses => "more than one address in one mailbox",
            AddressError::Empty => "no address",
            AddressError::BadAddrSpec => "not a plain local@domain address",
            AddressError::CommentInAddress => "a comment inside the address",
            AddressError::EncodedWordInAddress => "an encoded-word inside the address",
            AddressError::Group => "group syntax",
        }
    }
}

/// Characters that make text render differently from its order, or that are invisible.
pub fn is_format_control(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{061C}')
}

/// Control characters (C0 except TAB, DEL, C1), the replacement character left by invalid
/// UTF-8, and format controls.
pub fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| (c.is_control() && c != '\t') || c == '\u{FFFD}' || is_format_control(c))
}

/// Parses an address header value into its mailboxes, strictly: anything two readers could
/// read as different addresses is an error. `allow_groups` accepts RFC 5322 group syntax
/// (`Reply-To`); originator fields (`From`, `Sender`) never carry groups here.
pub fn parse_mailboxes(value: &str, allow_groups: bool) -> Result<Vec<Mailbox>, AddressError> {
    if has_control(value) {
        return Err(AddressError::ControlCharacters);
    }
    let mut mailboxes = Vec::new();
    for element in split_top_level(value, allow_groups)? {
        if element.trim().is_empty() {
            continue;
        }
        mailboxes.push(parse_mailbox(element)?);
    }
    if mailboxes.is_empty() {
        return Err(AddressError::Empty);
    }
    Ok(mailboxes)
}

/// Splits at top-level commas (and group `:`/`;` when allowed), checking that quotes, comments
/// and angle brackets balance.
fn split_top_level(value: &str, allow_groups: bool) -> Result<Vec<&str>, AddressError> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quote = false;
    let mut escaped = false;
    let mut depth = 0usize;
    let mut in_angle = false;
    let mut in_group = false;
    for (i, c) in value.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        if in_quote {
            match c {
                '\\' => escaped = true,
                '"' => in_quote = false,
                _ => {}
            }
            continue;
        }
        if depth > 0 {
            match c {
                '\\' => escaped = true,
                '(' => {
                    depth += 1;
                    if depth > MAX_COMMENT_DEPTH {
                        return Err(AddressError::Unbalanced);
                    }
                }
                ')' => depth -= 1,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_quote = true,
            '(' => depth = 1,
            ')' => return Err(AddressError::Unbalanced),
            '<' if in_angle => return Err(AddressError::Unbalanced),
            '<' => in_angle = true,
            '>' if !in_angle => return Err(AddressError::Unbalanced),
            '>' => in_angle = false,
            ',' if in_angle => return Err(AddressError::BadAddrSpec),
            ',' => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            ':' if !in_angle => {
                if !allow_groups || in_group {
                    return Err(AddressError::Group);
                }
                in_group = true;
                start = i + 1;
            }
            ';' if !in_angle => {
                if !in_group {
                    return Err(AddressError::Group);
                }
                in_group = false;
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if in_quote || depth > 0 || in_angle || escaped || in_group {
        return Err(AddressError::Unbalanced);
    }
    parts.push(&value[start..]);
    Ok(parts)
}

fn parse_mailbox(element: &str) -> Result<Mailbox, AddressError> {
    // Walk once: the phrase (display name, unquoted), the text outside comments with its quotes
    // (a bare addr-spec), the comments, and the one `<...>`.
    let mut phrase = String::new();
    let mut outside = String::new();
    let mut comments: Vec<String> = Vec::new();
    let mut angle: Option<String> = None;
    let mut angles = 0;
    let mut after_angle = false;
    let mut in_quote = false;
    let mut in_angle = false;
    let mut escaped = false;
    let mut depth = 0usize;
    for c in element.chars() {
        if depth > 0 {
            if in_angle {
                return Err(AddressError::CommentInAddress);
            }
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
                continue;
            } else if c == '(' {
                depth += 1;
            } else if c == ')' {
                depth -= 1;
                if depth == 0 {
                    continue;
                }
            }
            if let Some(comment) = comments.last_mut() {
                comment.push(c);
            }
            continue;
        }
        if in_angle {
            match (c, in_quote, escaped) {
                (_, _, true) => escaped = false,
                ('\\', true, false) => escaped = true,
                ('"', _, false) => in_quote = !in_quote,
                ('(', false, false) => return Err(AddressError::CommentInAddress),
                ('>', false, false) => {
                    in_angle = false;
                    after_angle = true;
                    continue;
                }
                _ => {}
            }
            if let Some(addr) = angle.as_mut() {
                addr.push(c);
            }
            continue;
        }
        if in_quote {
            if escaped {
                escaped = false;
                phrase.push(c);
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            } else {
                phrase.push(c);
            }
            outside.push(c);
            continue;
        }
        match c {
            '(' => {
                depth = 1;
                comments.push(String::new());
                phrase.push(' ');
                outside.push(' ');
            }
            '<' => {
                angles += 1;
                if angles > 1 || after_angle {
                    return Err(AddressError::SeveralAddresses);
                }
                in_angle = true;
                angle = Some(String::new());
            }
            '"' => {
                in_quote = true;
                outside.push(c);
            }
            c if c.is_whitespace() => {
                phrase.push(' ');
                outside.push(' ');
            }
            c => {
                if after_angle {
                    return Err(AddressError::SeveralAddresses);
                }
                phrase.push(c);
                outside.push(c);
            }
        }
    }
    if in_quote || in_angle || depth > 0 || escaped {
        return Err(AddressError::Unbalanced);
    }
    let comments = comments.join(" ");
    let (spec, display_raw) = match angle {
        Some(spec) => (spec, format!("{} {}", collapse(&phrase), comments)),
        None => (outside, comments),
    };
    let (local, domain) = parse_addr_spec(spec.trim())?;
    let display_raw = collapse(&display_raw);
    // Only blanks are collapsed: a CR, LF or NUL smuggled in through an encoded-word must stay
    // visible to the callers.
    let decoded = decode_encoded_words(&display_raw);
    let display = decoded
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Mailbox {
        display,
        display_raw,
        local,
        domain,
    })
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `local@domain` with a dot-atom or quoted local part and a dot-atom domain: no spaces, no
/// source route, exactly one `@` outside quotes, no encoded-word.
fn parse_addr_spec(spec: &str) -> Result<(String, String), AddressError> {
    if spec.is_empty() {
        return Err(AddressError::Empty);
    }
    if spec.contains("=?") {
        return Err(AddressError::EncodedWordInAddress);
    }
    let mut at = None;
    let mut in_quote = false;
    let mut escaped = false;
    for (i, c) in spec.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '@' if !in_quote => {
                if at.is_some() {
                    return Err(AddressError::BadAddrSpec);
                }
                at = Some(i);
            }
            c if !in_quote && (c.is_whitespace() || "<>()[],;:\\".contains(c)) => {
                return Err(AddressError::BadAddrSpec)
            }
            _ => {}
        }
    }
    let at = at.ok_or(AddressError::BadAddrSpec)?;
    let (local, domain) = (&spec[..at], &spec[at + 1..]);
    let quoted = local.len() >= 2 && local.starts_with('"') && local.ends_with('"');
    if local.is_empty() || (local.contains('"') && !quoted) {
        return Err(AddressError::BadAddrSpec);
    }
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
            && !label.starts_with('-')
    };
    if domain.is_empty() || !domain.split('.').all(label_ok) {
        return Err(AddressError::BadAddrSpec);
    }
    Ok((local.to_string(), domain.to_ascii_lowercase()))
}

/// Address-like words (`x@y`) in free text, as `(local, domain)`; fullwidth and small `@` count.
pub fn addresses_in_text(text: &str) -> Vec<(String, String)> {
    let normalized: String = text
        .chars()
        .map(|c| if matches!(c, '\u{FF20}' | '\u{FE6B}') { '@' } else { c })
        .collect();
    let stop = |c: char| c.is_whitespace() || "<>()\"',;:[]@".contains(c);
    let mut found = Vec::new();
    for (i, _) in normalized.match_indices('@') {
        let left: String = normalized[..i]
            .chars()
            .rev()
            .take_while(|&c| !stop(c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let right: String = normalized[i + 1..].chars().take_while(|&c| !stop(c)).collect();
        let right = right.trim_end_matches('.');
        if !left.is_empty() && !right.is_empty() {
            found.push((left, right.to_ascii_lowercase()));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailboxes_parse_strictly() {
        let ok: &[(&str, &[&str], &str)] = &[
            ("a@acme.example", &["a@acme.example"], ""),
            ("Alice <a@acme.example>", &["a@acme.example"], "Alice"),
            ("\"Doe, John\" <j@acme.example>", &["j@acme.example"], "Doe, John"),
            ("a@acme.example (Alice)", &["a@acme.example"], "Alice"),
            ("<a@ACME.example.>", &["a@acme.example"], ""),
            (
                "a@acme.example, b@acme.example",
                &["a@acme.example", "b@acme.example"],
                "",
            ),
            ("\"odd@local\"@acme.example", &["\"odd@local\"@acme.example"], ""),
            (
                "=?utf-8?q?J=C3=BCrgen?= <j@acme.example>",
                &["j@acme.example"],
                "Jürgen",
            ),
        ];
        for (input, addresses, display) in ok {
            let parsed = parse_mailboxes(input, false).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            let got: Vec<String> = parsed.iter().map(Mailbox::address).collect();
            assert_eq!(&got, addresses, "{input}");
            assert_eq!(parsed[0].display, *display, "{input}");
        }
        let bad: &[(&str, AddressError)] = &[
            ("<a@evil.example> <b@acme.example>", AddressError::SeveralAddresses),
            ("Name <b@acme.example> x", AddressError::SeveralAddresses),
            ("<b@acme.example", AddressError::Unbalanced),
            ("b@acme.example>", AddressError::Unbalanced),
            ("<<b@acme.example>>", AddressError::Unbalanced),
            ("\"unterminated <b@acme.example>", AddressError::Unbalanced),
            ("(open <b@acme.example>", AddressError::Unbalanced),
            ("a@evil.example@acme.example", AddressError::BadAddrSpec),
            ("<a@evil.example@acme.example>", AddressError::BadAddrSpec),
            ("<@route.example:a@acme.example>", AddressError::BadAddrSpec),
            ("<a (c) @acme.example>", AddressError::CommentInAddress),
            ("<=?utf-8?q?ceo?=@acme.example>", AddressError::EncodedWordInAddress),
            ("a\0@acme.example", AddressError::ControlCharacters),
            ("Ev\u{202E}il <a@acme.example>", AddressError::ControlCharacters),
            ("bad\u{FFFD} <a@acme.example>", AddressError::ControlCharacters),
            ("<>", AddressError::Empty),
            ("", AddressError::Empty),
            ("group: a@acme.example;", AddressError::Group),
            ("a@acme.example; b@evil.example", AddressError::Group),
            ("<a @acme.example>", AddressError::BadAddrSpec),
            ("<a,b@acme.example>", AddressError::BadAddrSpec),
            ("(((((((((deep))))))))) a@acme.example", AddressError::Unbalanced),
        ];
        for (input, expected) in bad {
            assert_eq!(parse_mailboxes(input, false), Err(*expected), "{input}");
        }
        assert!(parse_mailboxes("team: a@acme.example, b@acme.example;", true).is_ok());
    }

    #[test]
    fn addresses_are_found_in_text() {
        assert_eq!(
            addresses_in_text("CEO ceo@bank.example."),
            vec![("ceo".into(), "bank.example".into())]
        );
        assert_eq!(addresses_in_text("ceo\u{FF20}bank.example").len(), 1);
        assert!(addresses_in_text("Alice @ home").is_empty());
    }
}
