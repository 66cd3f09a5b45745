//! Parses one SMTP command line (without its line ending) into a `Command`. Pure and I/O-free, so it
//! is unit-tested and fuzzed on byte slices. It checks syntax and the RFC 5321 size limits only
//! (local part 64, domain 255, path `max_path` octets); it knows nothing of policy, and nothing of
//! which parameters a transaction may carry (that is the session's MAIL and RCPT stages).

pub use crate::wire::path::MIN_MAX_PATH;

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    Mail { address: Path, params: Vec<Param> },
    Rcpt { address: Path, params: Vec<Param> },
    Data,
    Rset,
    Noop,
    Quit,
    Vrfy,
    Expn,
    Help,
    StartTls,
    Auth { mechanism: String, initial: Option<String> },
}

/// The envelope address type lives with the other values the session and the policy share.
pub use crate::wire::Path;

/// An ESMTP parameter `KEYWORD[=value]`; the keyword is upper-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub keyword: String,
    pub value: Option<String>,
}

/// Why a line is not a valid command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// Not a command we know (`500 5.5.1`).
    Unknown,
    /// A known command with bad arguments (`501`).
    Syntax(&'static str),
    /// The address in MAIL or RCPT is malformed (`501 5.1.7` / `501 5.1.3`).
    BadAddress,
    /// The path in MAIL or RCPT is longer than the maximum (RFC 5321 4.5.3.1.3, 4.5.3.1.10:
    /// `501 Path too long`).
    PathTooLong,
}

/// `<>` or RFC 3461 xtext (printable ASCII but `+` and `=`, and `+XX` hex escapes): the value of
/// `AUTH=` on MAIL FROM (RFC 4954 5).
pub fn is_auth_value(value: &str) -> bool {
    if value == "<>" {
        return true;
    }
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                let hex = |b: u8| b.is_ascii_digit() || (b'A'..=b'F').contains(&b);
                match (bytes.get(i + 1), bytes.get(i + 2)) {
                    (Some(&a), Some(&b)) if hex(a) && hex(b) => i += 3,
                    _ => return false,
                }
            }
            b'=' => return false,
            b'!'..=b'~' => i += 1,
            _ => return false,
        }
    }
    !bytes.is_empty()
}

/// Parses a command line with the minimum path limit (256 octets).
pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
    parse_limited(line, MIN_MAX_PATH)
}

/// Parses a command line; a MAIL or RCPT path longer than `max_path` octets (`<` and `>`
/// included) is `PathTooLong`.
pub fn parse_limited(line: &[u8], max_path: usize) -> Result<Command, CommandError> {
    let Ok(line) = std::str::from_utf8(line) else {
        return Err(CommandError::Syntax("Command line is not valid UTF-8"));
    };
    if line.bytes().any(|b| b == 0 || b == b'\r' || b == b'\n') {
        return Err(CommandError::Syntax("Control characters in command"));
    }
    let (verb, rest) = match line.find(' ') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => (line, ""),
    };
    let verb = verb.to_ascii_uppercase();
    match verb.as_str() {
        "EHLO" | "HELO" => {
            let name = rest.trim();
            if name.is_empty() || name.contains(' ') {
                return Err(CommandError::Syntax(if verb == "EHLO" {
                    "Syntax: EHLO hostname"
                } else {
                    "Syntax: HELO hostname"
                }));
            }
            Ok(if verb == "EHLO" {
                Command::Ehlo(name.to_string())
            } else {
                Command::Helo(name.to_string())
            })
        }
        "MAIL" => {
            let rest = strip_prefix_ci(rest, "FROM:").ok_or(CommandError::Syntax("Syntax: MAIL FROM:<address>"))?;
            let (address, params) = parse_path_and_params(rest, true, max_path)?;
            Ok(Command::Mail { address, params })
        }
        "RCPT" => {
            let rest = strip_prefix_ci(rest, "TO:").ok_or(CommandError::Syntax("Syntax: RCPT TO:<address>"))?;
            let (address, params) = parse_path_and_params(rest, false, max_path)?;
            Ok(Command::Rcpt { address, params })
        }
        "DATA" => no_args(rest, Command::Data),
        "RSET" => no_args(rest, Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => no_args(rest, Command::Quit),
        "VRFY" => Ok(Command::Vrfy),
        "EXPN" => Ok(Command::Expn),
        "HELP" => Ok(Command::Help),
        "STARTTLS" => no_args(rest, Command::StartTls),
        "AUTH" => {
            let mut parts = rest.split_ascii_whitespace();
            let mechanism = parts
                .next()
                .ok_or(CommandError::Syntax("Syntax: AUTH mechanism [initial-response]"))?
                .to_ascii_uppercase();
            let initial = parts.next().map(str::to_string);
            if parts.next().is_some() {
                return Err(CommandError::Syntax("Syntax: AUTH mechanism [initial-response]"));
            }
            Ok(Command::Auth { mechanism, initial })
        }
        _ => Err(CommandError::Unknown),
    }
}

fn no_args(rest: &str, command: Command) -> Result<Command, CommandError> {
    if rest.trim().is_empty() {
        Ok(command)
    } else {
        Err(CommandError::Syntax("This command takes no arguments"))
    }
}

fn strip_prefix_ci<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let text = text.trim_start();
    if text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(text[prefix.len()..].trim_start())
    } else {
        None
    }
}

fn parse_path_and_params(text: &str, allow_null: bool, max_path: usize) -> Result<(Path, Vec<Param>), CommandError> {
    if !text.starts_with('<') {
        return Err(CommandError::BadAddress);
    }
    let end = find_path_end(text).ok_or(CommandError::BadAddress)?;
    // `end` indexes the closing `>`: the path is `end + 1` octets with both brackets.
    if end + 1 > max_path {
        return Err(CommandError::PathTooLong);
    }
    let inner = &text[1..end];
    let path = parse_mailbox(inner, allow_null)?;
    let mut params = Vec::new();
    for word in text[end + 1..].split_ascii_whitespace() {
        let (keyword, value) = match word.find('=') {
            Some(i) => (&word[..i], Some(word[i + 1..].to_string())),
            None => (word, None),
        };
        if keyword.is_empty() || !keyword.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(CommandError::Syntax("Bad ESMTP parameter"));
        }
        params.push(Param {
            keyword: keyword.to_ascii_uppercase(),
            value,
        });
    }
    if !text[end + 1..].is_empty() && !text[end + 1..].starts_with(' ') {
        return Err(CommandError::BadAddress);
    }
    Ok((path, params))
}

/// Index of the `>` closing the path, honouring quoted local parts.
fn find_path_end(text: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_mailbox(inner: &str, allow_null: bool) -> Result<Path, CommandError> {
    if inner.is_empty() {
        return if allow_null {
            Ok(Path::Null)
        } else {
            Err(CommandError::BadAddress)
        };
    }
    // A source route (`@a,@b:user@d`) is accepted and ignored (RFC 5321 4.1.2).
    let mailbox = if inner.starts_with('@') {
        let colon = inner.find(':').ok_or(CommandError::BadAddress)?;
        &inner[colon + 1..]
    } else {
        inner
    };
    let at = mailbox.rfind('@').ok_or(CommandError::BadAddress)?;
    let (local, domain) = (&mailbox[..at], &mailbox[at + 1..]);
    if local.is_empty() || local.len() > 64 || domain.is_empty() || domain.len() > 255 {
        return Err(CommandError::BadAddress);
    }
    if !valid_local_part(local) {
        return Err(CommandError::BadAddress);
    }
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => is_address_literal(literal),
        // One trailing dot is the root (`x.example.` is `x.example`); two are no domain.
        None => !domain.ends_with("..") && crate::tenant::normalize_domain(domain).is_some(),
    };
    if !domain_ok {
        return Err(CommandError::BadAddress);
    }
    Ok(Path::Mailbox {
        local: local.to_string(),
        domain: domain.to_string(),
    })
}

/// The inside of an address literal (RFC 5321 4.1.3): an IPv4 address, or `IPv6:` and an IPv6
/// address (no other tag is registered).
fn is_address_literal(literal: &str) -> bool {
    match literal.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => literal[5..].parse::<std::net::Ipv6Addr>().is_ok(),
        _ => literal.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

fn valid_local_part(local: &str) -> bool {
    if local.starts_with('"') {
        return local.len() >= 2 && local.ends_with('"');
    }
    // Dot-atom, UTF-8 allowed (SMTPUTF8).
    !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox(local: &str, domain: &str) -> Path {
        Path::Mailbox {
            local: local.into(),
            domain: domain.into(),
        }
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, Result<Command, CommandError>)> = vec![
            ("EHLO client.example", Ok(Command::Ehlo("client.example".into()))),
            ("ehlo   client.example ", Ok(Command::Ehlo("client.example".into()))),
            ("HELO", Err(CommandError::Syntax("Syntax: HELO hostname"))),
            ("EHLO", Err(CommandError::Syntax("Syntax: EHLO hostname"))),
            (
                "MAIL FROM:<a@b.example>",
                Ok(Command::Mail {
                    address: mailbox("a", "b.example"),
                    params: vec![],
                }),
            ),
            (
                "mail from: <a@b.example> SIZE=100 BODY=8BITMIME",
                Ok(Command::Mail {
                    address: mailbox("a", "b.example"),
                    params: vec![
                        Param {
                            keyword: "SIZE".into(),
                            value: Some("100".into()),
                        },
                        Param {
                            keyword: "BODY".into(),
                            value: Some("8BITMIME".into()),
                        },
                    ],
                }),
            ),
            (
                "MAIL FROM:<>",
                Ok(Command::Mail {
                    address: Path::Null,
                    params: vec![],
                }),
            ),
            ("RCPT TO:<>", Err(CommandError::BadAddress)),
            (
                "RCPT TO:<@relay.example:bob@x.example>",
                Ok(Command::Rcpt {
                    address: mailbox("bob", "x.example"),
                    params: vec![],
                }),
            ),
            (
                "RCPT TO:<\"a b\"@x.example>",
                Ok(Command::Rcpt {
                    address: mailbox("\"a b\"", "x.example"),
                    params: vec![],
                }),
            ),
            ("RCPT TO:<bob@x..example>", Err(CommandError::BadAddress)),
            ("RCPT TO:<bob@x.example..>", Err(CommandError::BadAddress)),
            ("RCPT TO:<bob@[x.example]>", Err(CommandError::BadAddress)),
            ("RCPT TO:<bob@[300.1.1.1]>", Err(CommandError::BadAddress)),
            (
                "RCPT TO:<bob@[192.0.2.1]>",
                Ok(Command::Rcpt {
                    address: mailbox("bob", "[192.0.2.1]"),
                    params: vec![],
                }),
            ),
            (
                "RCPT TO:<bob@[IPv6:2001:db8::1]>",
                Ok(Command::Rcpt {
                    address: mailbox("bob", "[IPv6:2001:db8::1]"),
                    params: vec![],
                }),
            ),
            (
                "RCPT TO:<bob@x.example.>",
                Ok(Command::Rcpt {
                    address: mailbox("bob", "x.example."),
                    params: vec![],
                }),
            ),
            ("RCPT TO:bob@x.example", Err(CommandError::BadAddress)),
            ("RCPT TO:<bob@x.example", Err(CommandError::BadAddress)),
            ("RCPT TO:<bob>", Err(CommandError::BadAddress)),
            (
                "RCPT TO:<jörg@bücher.example>",
                Ok(Command::Rcpt {
                    address: mailbox("jörg", "bücher.example"),
                    params: vec![],
                }),
            ),
            (
                "MAIL TO:<a@b.example>",
                Err(CommandError::Syntax("Syntax: MAIL FROM:<address>")),
            ),
            ("DATA", Ok(Command::Data)),
            ("DATA now", Err(CommandError::Syntax("This command takes no arguments"))),
            ("STARTTLS", Ok(Command::StartTls)),
            (
                "AUTH PLAIN AGJvYgBzZWNyZXQ=",
                Ok(Command::Auth {
                    mechanism: "PLAIN".into(),
                    initial: Some("AGJvYgBzZWNyZXQ=".into()),
                }),
            ),
            (
                "auth login",
                Ok(Command::Auth {
                    mechanism: "LOGIN".into(),
                    initial: None,
                }),
            ),
            ("VRFY bob", Ok(Command::Vrfy)),
            ("BDAT 10 LAST", Err(CommandError::Unknown)),
            ("", Err(CommandError::Unknown)),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line.as_bytes()), expected, "line {line:?}");
        }
    }

    #[test]
    fn paths_longer_than_the_maximum_are_refused() {
        // `<` + 64 + `@` + domain + `>`: exactly 256 octets passes, 257 does not.
        let local = "l".repeat(64);
        // Labels of 9 octets (a label may hold 63 at most), then `.example`.
        let domain = |len: usize| {
            let mut d: Vec<u8> = (0..len - 8).map(|i| if i % 10 == 9 { b'.' } else { b'd' }).collect();
            if d.last() == Some(&b'.') {
                *d.last_mut().unwrap() = b'd';
            }
            String::from_utf8(d).unwrap() + ".example"
        };
        let at_256 = format!("RCPT TO:<{local}@{}>", domain(256 - 64 - 3));
        let at_257 = format!("RCPT TO:<{local}@{}>", domain(257 - 64 - 3));
        assert!(matches!(parse(at_256.as_bytes()), Ok(Command::Rcpt { .. })));
        assert_eq!(parse(at_257.as_bytes()), Err(CommandError::PathTooLong));
        let mail = format!("MAIL FROM:<{local}@{}> SIZE=10", domain(257 - 64 - 3));
        assert_eq!(parse(mail.as_bytes()), Err(CommandError::PathTooLong));
        // A larger configured maximum admits it; a source route counts towards the length.
        assert!(matches!(
            parse_limited(at_257.as_bytes(), 300),
            Ok(Command::Rcpt { .. })
        ));
        let routed = format!("RCPT TO:<@{}:{local}@x.example>", "r".repeat(200));
        assert_eq!(parse(routed.as_bytes()), Err(CommandError::PathTooLong));
    }

    #[test]
    fn utf8_addresses_are_told_apart() {
        let Ok(Command::Rcpt { address, .. }) = parse("RCPT TO:<jörg@bücher.example>".as_bytes()) else {
            panic!("parses");
        };
        assert!(!address.is_ascii());
        assert!(mailbox("a", "b.example").is_ascii());
        assert!(!mailbox("a", "bücher.example").is_ascii());
        assert!(Path::Null.is_ascii());
    }

    #[test]
    fn auth_parameter_values() {
        for ok in ["<>", "a@b.example", "e+3Dmc2@example.com", "+2B"] {
            assert!(is_auth_value(ok), "{ok}");
        }
        for bad in ["", "a=b", "+2", "+zz", "a b", "jörg@x", "+2b"] {
            assert!(!is_auth_value(bad), "{bad}");
        }
        assert_eq!(
            parse(b"MAIL FROM:<a@b.example> AUTH=<>"),
            Ok(Command::Mail {
                address: mailbox("a", "b.example"),
                params: vec![Param {
                    keyword: "AUTH".into(),
                    value: Some("<>".into()),
                }],
            })
        );
    }

    #[test]
    fn invalid_utf8_and_nul_are_syntax_errors() {
        assert!(matches!(
            parse(b"MAIL FROM:<\xff@x.example>"),
            Err(CommandError::Syntax(_))
        ));
        assert!(matches!(parse(b"NOOP \0"), Err(CommandError::Syntax(_))));
    }
}
