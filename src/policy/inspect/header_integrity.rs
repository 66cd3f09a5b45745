//! `headers.*`: header integrity (aup/README.md rule 3; SocketLabs "no false or misleading header
//! information", a domain "controlled by the sender"; IMS-Network "forging headers"). Refuses,
//! with `550 5.7.1` unless noted:
//! - `headers.limits`: a header block too large to read whole (`552 5.3.4`);
//! - `headers.malformed_field`: a header line that is not a well-formed field (whitespace before
//!   the colon as in `From : x`, or no colon), which readers disagree on;
//! - `headers.received_hops`: more than `max_received` Received fields, a loop (`554 5.4.0`);
//! - `headers.from_count`: not exactly one From; `headers.sender_count`: more than one Sender;
//! - `headers.ambiguous_address`: an originator field two readers could read differently, or
//!   whose quoted local part holds an `@` and so reads as another address
//!   (`"ceo@bank.example"@tenant.example`);
//! - `headers.encoded_from`: an encoded-word hiding an address or control characters;
//! - `headers.sender_required`: several From mailboxes without a single-mailbox Sender;
//! - `headers.display_name_address`: a display name carrying a foreign address;
//! - `headers.foreign_originator`: a From/Sender (and Reply-To, Resent-*) domain not the tenant's;
//! - `headers.authentication_results`: an Authentication-Results claiming our authserv-id.
//!
//! With the header checks off, [`inspect_ownership`] still holds From and Sender to the tenant's
//! domains (issue 4 item 3: sender-domain ownership is not optional).
//!
//! Pure and bounded: it reads the already-capped `Headers` and never touches the store. It never
//! rewrites the message. The check that runs it is `policy::checks::HeaderIntegrity`.

use crate::auth::results::authserv_id;
use crate::message::{addresses_in_text, has_control, parse_mailboxes, AddressError, Headers, Mailbox};
use crate::policy::profile::{AuthResultsAction, HeaderRules};
use crate::policy::Rule;
use crate::wire::reply::Reply;

/// One refusal: the rule id and the text (the catalogue of this check's replies is `reply`).
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub rule: Rule,
    pub text: String,
}

impl Refusal {
    fn new(rule: Rule, text: impl Into<String>) -> Refusal {
        Refusal {
            rule,
            text: text.into(),
        }
    }

    /// The SMTP refusal (the catalogue of this check's replies).
    pub fn reply(&self) -> Reply {
        let (code, status) = match self.rule {
            Rule::HeadersReceivedHops => (554, "5.4.0"),
            Rule::HeadersLimits => (552, "5.3.4"),
            _ => (550, "5.7.1"),
        };
        Reply::refusal(code, status, self.rule, &self.text)
    }
}

/// A domain or address echoed into a reply: printable ASCII only, short.
fn shown(text: &str) -> String {
    text.chars()
        .take(80)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

/// The whole check on parsed headers; `owns` says whether a domain is the tenant's.
pub fn inspect(headers: &Headers, rules: &HeaderRules, owns: &dyn Fn(&str) -> bool) -> Option<Refusal> {
    if let Some(refusal) = unreadable(headers) {
        return Some(refusal);
    }
    let received = headers.count("received") as u64;
    if received > rules.max_received {
        return Some(Refusal::new(
            Rule::HeadersReceivedHops,
            format!(
                "Too many Received fields ({received} > {}): mail loop",
                rules.max_received
            ),
        ));
    }
    let from_count = headers.count("from");
    if from_count != 1 {
        return Some(Refusal::new(
            Rule::HeadersFromCount,
            format!("Header forgery: {from_count} From fields, exactly one is required"),
        ));
    }
    let from = match originator(headers.first("from").unwrap_or(""), "From", false) {
        Ok(mailboxes) => mailboxes,
        Err(refusal) => return Some(refusal),
    };
    let sender_count = headers.count("sender");
    if sender_count > 1 {
        return Some(Refusal::new(
            Rule::HeadersSenderCount,
            format!("Header forgery: {sender_count} Sender fields, at most one is allowed"),
        ));
    }
    let sender = match headers.first("sender").map(|v| originator(v, "Sender", false)) {
        Some(Err(refusal)) => return Some(refusal),
        Some(Ok(mailboxes)) => mailboxes,
        None => Vec::new(),
    };
    if from.len() > 1 && sender.len() != 1 {
        return Some(Refusal::new(
            Rule::HeadersSenderRequired,
            format!(
                "Header forgery: From names {} mailboxes, a Sender with exactly one mailbox is required",
                from.len()
            ),
        ));
    }
    if sender.len() > 1 {
        return Some(Refusal::new(
            Rule::HeadersSenderRequired,
            "Header forgery: Sender must name exactly one mailbox",
        ));
    }
    let mut checked: Vec<(&'static str, Vec<Mailbox>)> = vec![("From", from), ("Sender", sender)];
    if rules.check_reply_to {
        for value in headers.all("reply-to") {
            match originator(value, "Reply-To", true) {
                Ok(mailboxes) => checked.push(("Reply-To", mailboxes)),
                Err(refusal) => return Some(refusal),
            }
        }
    }
    if rules.check_resent_from {
        for (name, field) in [("Resent-From", "resent-from"), ("Resent-Sender", "resent-sender")] {
            for value in headers.all(field) {
                match originator(value, name, false) {
                    Ok(mailboxes) => checked.push((name, mailboxes)),
                    Err(refusal) => return Some(refusal),
                }
            }
        }
    }
    for (field, mailboxes) in &checked {
        for mailbox in mailboxes {
            if let Some(refusal) = display_name(field, mailbox, owns) {
                return Some(refusal);
            }
        }
    }
    for (field, mailboxes) in &checked {
        if let Some(refusal) = foreign(field, mailboxes, owns) {
            return Some(refusal);
        }
    }
    // In `remove` mode our own Authentication-Results are deleted before relaying (the
    // authentication stage); an ARC set cannot be edited without breaking it, so a forged
    // ARC-Authentication-Results is refused in both modes.
    let fields: &[(&str, bool)] = match rules.authentication_results {
        AuthResultsAction::Refuse => &[("authentication-results", false), ("arc-authentication-results", true)],
        AuthResultsAction::Remove => &[("arc-authentication-results", true)],
    };
    for &(field, skip_instance) in fields {
        for value in headers.all(field) {
            if authserv_id(value, skip_instance)
                .is_some_and(|id| crate::auth::results::same_id(&id, rules.authserv_id()))
            {
                return Some(Refusal::new(
                    Rule::HeadersAuthenticationResults,
                    format!(
                        "Header forgery: {field} claims this gateway's authserv-id {}",
                        shown(rules.authserv_id())
                    ),
                ));
            }
        }
    }
    None
}

/// What sender-domain ownership requires of the header block when a profile turns the header
/// checks off (`[headers] enabled = false`): every mailbox of every From and Sender field at a
/// domain the tenant owns. A field that cannot be read whole, or read one way only, is refused:
/// an address the gateway cannot read is not one it knows the tenant owns.
pub fn inspect_ownership(headers: &Headers, owns: &dyn Fn(&str) -> bool) -> Option<Refusal> {
    if let Some(refusal) = unreadable(headers) {
        return Some(refusal);
    }
    for (field, name) in [("From", "from"), ("Sender", "sender")] {
        for value in headers.all(name) {
            let mailboxes = match originator(value, field, false) {
                Ok(mailboxes) => mailboxes,
                Err(refusal) => return Some(refusal),
            };
            if let Some(refusal) = foreign(field, &mailboxes, owns) {
                return Some(refusal);
            }
        }
    }
    None
}

/// A header block the gateway cannot read as the receiver will: too large to read whole, or
/// with a line readers disagree on.
fn unreadable(headers: &Headers) -> Option<Refusal> {
    if headers.truncated() {
        return Some(Refusal::new(
            Rule::HeadersLimits,
            "Header section too large to check (more than 1000 fields or 256 KiB)",
        ));
    }
    headers.malformed().map(|line| {
        Refusal::new(
            Rule::HeadersMalformedField,
            format!(
                "Header forgery: a header line is not a well-formed field ({}...): whitespace before the colon or no colon",
                shown(line)
            ),
        )
    })
}

/// The first mailbox of an originator field at a domain the tenant does not own.
fn foreign(field: &str, mailboxes: &[Mailbox], owns: &dyn Fn(&str) -> bool) -> Option<Refusal> {
    mailboxes.iter().find(|mailbox| !owns(&mailbox.domain)).map(|mailbox| {
        Refusal::new(
            Rule::HeadersForeignOriginator,
            format!(
                "Header forgery: {field} domain {} is not one of your domains",
                shown(&mailbox.domain)
            ),
        )
    })
}

/// Parses an originator field; a refusal names why the field is ambiguous.
fn originator(value: &str, field: &str, allow_groups: bool) -> Result<Vec<Mailbox>, Refusal> {
    let mailboxes = parse_mailboxes(value, allow_groups).map_err(|error| {
        let rule = match error {
            AddressError::EncodedWordInAddress => Rule::HeadersEncodedFrom,
            _ => Rule::HeadersAmbiguousAddress,
        };
        Refusal::new(
            rule,
            format!("Header forgery: {field} is ambiguous ({})", error.describe()),
        )
    })?;
    if let Some(mailbox) = mailboxes.iter().find(|m| address_in_local_part(&m.local)) {
        return Err(Refusal::new(
            Rule::HeadersAmbiguousAddress,
            format!(
                "Header forgery: {field} is ambiguous (its quoted local part {} reads as another address)",
                shown(&mailbox.local)
            ),
        ));
    }
    Ok(mailboxes)
}

/// A local part holding an at-sign (only possible quoted, `"ceo@bank.example"@tenant.example`):
/// a reader shows the foreign address first. Fullwidth and small at-signs count too, as in
/// display names.
fn address_in_local_part(local: &str) -> bool {
    local.contains(['@', '\u{FF20}', '\u{FE6B}'])
}

/// A display name that shows an address other than the mailbox's own (or one at a tenant's
/// domain) misleads the reader; so does one whose decoded form carries control characters.
fn display_name(field: &str, mailbox: &Mailbox, owns: &dyn Fn(&str) -> bool) -> Option<Refusal> {
    if has_control(&mailbox.display) {
        return Some(Refusal::new(
            Rule::HeadersEncodedFrom,
            format!("Header forgery: the {field} display name decodes to control or bidirectional-override characters"),
        ));
    }
    let foreign = |text: &str| {
        addresses_in_text(text).into_iter().find(|(local, domain)| {
            let own_address = local.eq_ignore_ascii_case(&mailbox.local) && *domain == mailbox.domain;
            !own_address && !owns(domain)
        })
    };
    if let Some((local, domain)) = foreign(&mailbox.display_raw) {
        return Some(Refusal::new(
            Rule::HeadersDisplayNameAddress,
            format!(
                "Header forgery: the {field} display name shows another address ({}@{})",
                shown(&local),
                shown(&domain)
            ),
        ));
    }
    if let Some((local, domain)) = foreign(&mailbox.display) {
        return Some(Refusal::new(
            Rule::HeadersEncodedFrom,
            format!(
                "Header forgery: the {field} display name hides another address in an encoded-word ({}@{})",
                shown(&local),
                shown(&domain)
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owns(domain: &str) -> bool {
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        domain == "acme.example" || domain.ends_with(".acme.example")
    }

    fn run(headers: &str, rules: &HeaderRules) -> Option<&'static str> {
        let message = format!("{headers}\r\n\r\nbody\r\n");
        inspect(&Headers::parse(message.as_bytes()), rules, &owns).map(|r| r.rule.as_str())
    }

    #[test]
    fn forgery_table() {
        let received = |n: usize| "Received: from x by y\r\n".repeat(n);
        let cases: Vec<(String, Option<&str>)> = vec![
            ("From: a@acme.example".into(), None),
            ("From: Alice <a@acme.example>".into(), None),
            ("From: \"a@acme.example\" <a@acme.example>".into(), None),
            (
                "From: \"Support (help@acme.example)\" <noreply@mail.acme.example>".into(),
                None,
            ),
            ("From: =?utf-8?q?J=C3=BCrgen?= <j@acme.example>".into(), None),
            ("Subject: no from".into(), Some("headers.from_count")),
            (
                "From: a@acme.example\r\nFrom: b@acme.example".into(),
                Some("headers.from_count"),
            ),
            (
                "From: a@acme.example, b@acme.example".into(),
                Some("headers.sender_required"),
            ),
            (
                "From: a@acme.example, b@acme.example\r\nSender: a@acme.example".into(),
                None,
            ),
            (
                "From: a@acme.example, b@acme.example\r\nSender: a@acme.example, b@acme.example".into(),
                Some("headers.sender_required"),
            ),
            (
                "From: a@acme.example\r\nSender: x@acme.example\r\nSender: y@acme.example".into(),
                Some("headers.sender_count"),
            ),
            ("From: ceo@bank.example".into(), Some("headers.foreign_originator")),
            (
                "From: a@acme.example.evil.example".into(),
                Some("headers.foreign_originator"),
            ),
            (
                "From: a@acme.example\r\nSender: s@bank.example".into(),
                Some("headers.foreign_originator"),
            ),
            (
                "From: a@acme.example, b@bank.example\r\nSender: a@acme.example".into(),
                Some("headers.foreign_originator"),
            ),
            (
                "From: \"ceo@bank.example\" <x@acme.example>".into(),
                Some("headers.display_name_address"),
            ),
            (
                "From: ceo@bank.example <x@acme.example>".into(),
                Some("headers.display_name_address"),
            ),
            (
                "From: x@acme.example (ceo@bank.example)".into(),
                Some("headers.display_name_address"),
            ),
            (
                "From: \"ceo\u{FF20}bank.example\" <x@acme.example>".into(),
                Some("headers.display_name_address"),
            ),
            (
                "From: =?utf-8?B?Y2VvQGJhbmsuZXhhbXBsZQ==?= <x@acme.example>".into(),
                Some("headers.encoded_from"),
            ),
            (
                "From: =?iso-8859-1?Q?ceo=40bank.example?= <x@acme.example>".into(),
                Some("headers.encoded_from"),
            ),
            (
                "From: \"=?us-ascii?q?ceo=40bank.example?=\" <x@acme.example>".into(),
                Some("headers.encoded_from"),
            ),
            (
                "From: =?utf-8?q?Bob=0D=0AX?= <x@acme.example>".into(),
                Some("headers.encoded_from"),
            ),
            (
                "From: =?utf-16be?b?AGMAQABi?= <x@acme.example>".into(),
                Some("headers.encoded_from"),
            ),
            (
                "From: <=?utf-8?q?ceo?=@acme.example>".into(),
                Some("headers.encoded_from"),
            ),
            (
                "From: <a@evil.example> <b@acme.example>".into(),
                Some("headers.ambiguous_address"),
            ),
            ("From: <b@acme.example".into(), Some("headers.ambiguous_address")),
            (
                "From: a@evil.example@acme.example".into(),
                Some("headers.ambiguous_address"),
            ),
            (
                "From: <a(comment)@acme.example>".into(),
                Some("headers.ambiguous_address"),
            ),
            ("From: a\u{0}@acme.example".into(), Some("headers.ambiguous_address")),
            ("From: Group: a@acme.example;".into(), Some("headers.ambiguous_address")),
            (
                "From: \"ceo@bank.example\"@acme.example".into(),
                Some("headers.ambiguous_address"),
            ),
            (
                "From: CEO <\"ceo@bank.example\"@acme.example>".into(),
                Some("headers.ambiguous_address"),
            ),
            (
                "From: \"ceo\\@bank.example\"@acme.example".into(),
                Some("headers.ambiguous_address"),
            ),
            (
                "From: \"ceo\u{FF20}bank.example\"@acme.example".into(),
                Some("headers.ambiguous_address"),
            ),
            (
                "From: a@acme.example\r\nSender: \"ceo@bank.example\"@acme.example".into(),
                Some("headers.ambiguous_address"),
            ),
            (
                "From: a@acme.example\r\nResent-From: \"ceo@bank.example\"@acme.example".into(),
                Some("headers.ambiguous_address"),
            ),
            // A quoted local part without an at-sign is an ordinary (if rare) address.
            ("From: \"john doe\"@acme.example".into(), None),
            ("From: a@acme.example\r\nReply-To: r@bank.example".into(), None),
            (
                "From : ceo@bank.example\r\nFrom: a@acme.example".into(),
                Some("headers.malformed_field"),
            ),
            ("From: a@acme.example\r\nX-Ok-Name_1.2: v".into(), None),
            (
                "From: a@acme.example\r\nthis line has no colon".into(),
                Some("headers.malformed_field"),
            ),
            ("From\t: a@acme.example".into(), Some("headers.malformed_field")),
            (
                "From: a@acme.example\r\nResent-From: r@bank.example".into(),
                Some("headers.foreign_originator"),
            ),
            ("From: a@acme.example\r\nResent-From: r@acme.example".into(), None),
            // Removed before relaying by default (`remove`), so not a refusal here.
            (
                "From: a@acme.example\r\nAuthentication-Results: aupgate.localhost; dkim=pass".into(),
                None,
            ),
            (
                "From: a@acme.example\r\nARC-Authentication-Results: i=1; aupgate.localhost; dkim=pass".into(),
                Some("headers.authentication_results"),
            ),
            (
                "From: a@acme.example\r\nAuthentication-Results: mx.other.example; dkim=pass".into(),
                None,
            ),
            (format!("{}From: a@acme.example", received(30)), None),
            (
                format!("{}From: a@acme.example", received(31)),
                Some("headers.received_hops"),
            ),
        ];
        let rules = HeaderRules::default();
        for (headers, expected) in cases {
            assert_eq!(run(&headers, &rules), expected, "{headers:?}");
        }
    }

    #[test]
    fn optional_fields_follow_the_profile() {
        let strict = HeaderRules {
            check_reply_to: true,
            ..HeaderRules::default()
        };
        assert_eq!(
            run("From: a@acme.example\r\nReply-To: r@bank.example", &strict),
            Some("headers.foreign_originator")
        );
        assert_eq!(
            run(
                "From: a@acme.example\r\nReply-To: \"ceo@bank.example\" <r@acme.example>",
                &strict
            ),
            Some("headers.display_name_address")
        );
        assert_eq!(
            run(
                "From: a@acme.example\r\nReply-To: team: r@acme.example, s@acme.example;",
                &strict
            ),
            None
        );
        assert_eq!(
            run(
                "From: a@acme.example\r\nReply-To: \"ceo@bank.example\"@acme.example",
                &strict
            ),
            Some("headers.ambiguous_address")
        );
        let refuse = HeaderRules {
            authentication_results: AuthResultsAction::Refuse,
            ..HeaderRules::default()
        };
        assert_eq!(
            run(
                "From: a@acme.example\r\nAuthentication-Results: (x) AUPGATE.localhost 1; spf=pass",
                &refuse
            ),
            Some("headers.authentication_results")
        );
        assert_eq!(
            run(
                "From: a@acme.example\r\nAuthentication-Results: mx.other.example; spf=pass",
                &refuse
            ),
            None
        );
        let lax = HeaderRules {
            check_resent_from: false,
            ..HeaderRules::default()
        };
        assert_eq!(run("From: a@acme.example\r\nResent-From: r@bank.example", &lax), None);
        let loops = HeaderRules {
            max_received: 2,
            ..HeaderRules::default()
        };
        assert_eq!(
            run(
                "Received: a\r\nReceived: b\r\nReceived: c\r\nFrom: a@acme.example",
                &loops
            ),
            Some("headers.received_hops")
        );
    }

    #[test]
    fn replies_carry_the_code_and_rule() {
        let r = Refusal::new(Rule::HeadersReceivedHops, "loop").reply();
        assert_eq!(r.summary(), "554 5.4.0 loop [rule headers.received_hops]");
        let r = Refusal::new(Rule::HeadersFromCount, "x").reply();
        assert_eq!(r.summary(), "550 5.7.1 x [rule headers.from_count]");
    }

    #[test]
    fn garbage_never_panics_and_never_passes() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let alphabet: &[u8] = b"<>()\"\\@,;:=?. \tabAB\x00\x7f\xff\xc3=?utf-8?b?";
        for _ in 0..2_000 {
            let mut value = Vec::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                value.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let mut message = b"From: ".to_vec();
            message.extend_from_slice(&value);
            message.extend_from_slice(b"\r\n\r\nbody");
            let headers = Headers::parse(&message);
            // Garbage may only pass when it really is a plain mailbox at the tenant's domain.
            if inspect(&headers, &HeaderRules::default(), &owns).is_none() {
                let from = parse_mailboxes(headers.first("from").unwrap_or(""), false).expect("passed, so it parses");
                assert!(
                    from.iter().all(|m| owns(&m.domain)),
                    "{:?}",
                    String::from_utf8_lossy(&message)
                );
            }
        }
        assert!(authserv_id("", false).is_none());
        assert!(authserv_id("i=1", true).is_none());
    }
}
