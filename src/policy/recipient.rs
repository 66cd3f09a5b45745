//! Recipient identity for counting (DESIGN.md): domain lower-cased and IDNA-encoded, trailing dot
//! dropped, local part case-folded, quotes removed, `+tag` subaddress stripped. `bob@x`,
//! `"Bob"@X.` and `bob+1@x` are one recipient, so nobody escapes a limit by spelling.

/// The counting identity of an address (`local@domain`), or the lower-cased input when it has
/// no `@` (never empty for a non-empty input).
pub fn identity(address: &str, strip_subaddress: bool) -> String {
    let Some(at) = address.rfind('@') else {
        return address.to_lowercase();
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    let domain = literal(domain)
        .or_else(|| crate::tenant::normalize_domain(domain))
        .unwrap_or_else(|| domain.trim_end_matches('.').to_lowercase());
    let mut out = String::with_capacity(address.len() + 1);
    if local.starts_with('"') && local.ends_with('"') && local.len() >= 2 {
        let mut escaped = false;
        for c in local[1..local.len() - 1].chars() {
            if escaped || c != '\\' {
                out.push(c);
                escaped = false;
            } else {
                escaped = true;
            }
        }
    } else {
        out.push_str(local);
    }
    if out.is_ascii() {
        out.make_ascii_lowercase();
    } else {
        out = out.to_lowercase();
    }
    if strip_subaddress {
        if let Some(plus) = out.find('+') {
            if plus > 0 {
                out.truncate(plus);
            }
        }
    }
    out.push('@');
    out.push_str(&domain);
    out
}

/// An address literal in one spelling (`[IPv6:2001:DB8:0::1]` is `[IPv6:2001:db8::1]`).
fn literal(domain: &str) -> Option<String> {
    let inner = domain.strip_prefix('[')?.strip_suffix(']')?;
    match inner.get(..5) {
        Some(tag) if tag.eq_ignore_ascii_case("IPv6:") => inner[5..]
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| format!("[IPv6:{ip}]")),
        _ => inner.parse::<std::net::Ipv4Addr>().ok().map(|ip| format!("[{ip}]")),
    }
}

#[cfg(test)]
mod tests {
    use super::identity;

    #[test]
    fn spellings_of_one_recipient_are_one_identity() {
        for spelling in [
            "bob@x.example",
            "\"Bob\"@X.example.",
            "bob+1@x.example",
            "BOB+news@X.EXAMPLE",
            "\"b\\ob\"@x.example",
        ] {
            assert_eq!(identity(spelling, true), "bob@x.example", "{spelling}");
        }
        assert_eq!(identity("bob+1@x.example", false), "bob+1@x.example");
        assert_eq!(identity("jörg@bücher.example", true), "jörg@xn--bcher-kva.example");
        assert_eq!(identity("+tag@x.example", true), "+tag@x.example");
        assert_ne!(identity("alice@x.example", true), identity("bob@x.example", true));
        assert_eq!(
            identity("v@[IPv6:2001:DB8:0::1]", true),
            identity("V@[ipv6:2001:db8::1]", true)
        );
        assert_eq!(identity("v@[192.0.2.1]", true), "v@[192.0.2.1]");
    }
}
