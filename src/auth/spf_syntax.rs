//! A strict syntax check of an SPF record against the grammar of RFC 7208 section 12. The
//! evaluator we use (mail-auth) is lenient (it reads `ip4:999.1.1.1` as `255.1.1.1`); strict
//! receivers answer such a record with permerror, so the gateway must not predict a pass for it.
//! Pure and linear; never panics.

/// Checks `record`; the error names the first offending term.
pub fn check(record: &str) -> Result<(), String> {
    let mut terms = record.split(' ').filter(|t| !t.is_empty());
    match terms.next() {
        Some(version) if version.eq_ignore_ascii_case("v=spf1") => {}
        _ => return Err("the record does not start with v=spf1".into()),
    }
    let (mut redirects, mut explanations) = (0, 0);
    for term in terms {
        let lower = term.to_ascii_lowercase();
        if let Some((name, value)) = modifier(term) {
            let name = name.to_ascii_lowercase();
            match name.as_str() {
                "redirect" => {
                    redirects += 1;
                    domain_spec(value).map_err(|e| format!("`{term}`: {e}"))?;
                }
                "exp" => {
                    explanations += 1;
                    domain_spec(value).map_err(|e| format!("`{term}`: {e}"))?;
                }
                _ => macro_string(value).map_err(|e| format!("`{term}`: {e}"))?,
            }
            continue;
        }
        let body = lower.trim_start_matches(['+', '-', '~', '?']);
        if body.len() + 1 < lower.len() {
            return Err(format!("`{term}`: more than one qualifier"));
        }
        directive(body, &term[term.len() - body.len()..]).map_err(|e| format!("`{term}`: {e}"))?;
    }
    if redirects > 1 || explanations > 1 {
        return Err("redirect= and exp= may appear at most once".into());
    }
    Ok(())
}

/// `name=value` when the term is a modifier (a name, then `=`).
fn modifier(term: &str) -> Option<(&str, &str)> {
    let (name, value) = term.split_once('=')?;
    let mut chars = name.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    valid.then_some((name, value))
}

/// One mechanism; `lower` is lower-cased, `original` keeps the case of macro text.
fn directive(lower: &str, original: &str) -> Result<(), String> {
    let (name, rest) = match lower.find([':', '/']) {
        Some(at) => (&lower[..at], &original[at..]),
        None => (lower, ""),
    };
    match name {
        "all" if rest.is_empty() => Ok(()),
        "include" | "exists" => match rest.strip_prefix(':') {
            Some(spec) => domain_spec(spec),
            None => Err(format!("{name} needs a domain")),
        },
        "a" | "mx" => {
            let (spec, cidr) = split_cidr(rest);
            if let Some(spec) = spec.strip_prefix(':') {
                domain_spec(spec)?;
            } else if !spec.is_empty() {
                return Err("unexpected text".into());
            }
            dual_cidr(cidr)
        }
        "ptr" => match rest.strip_prefix(':') {
            Some(spec) => domain_spec(spec),
            None if rest.is_empty() => Ok(()),
            None => Err("unexpected text".into()),
        },
        "ip4" => ip_network::<std::net::Ipv4Addr>(rest, "IPv4", 32),
        "ip6" => ip_network::<std::net::Ipv6Addr>(rest, "IPv6", 128),
        _ => Err("unknown mechanism".into()),
    }
}

/// `:address[/length]` of an `ip4` or `ip6` mechanism.
fn ip_network<A: std::str::FromStr>(rest: &str, family: &str, max_length: u32) -> Result<(), String> {
    let network = rest
        .strip_prefix(':')
        .ok_or_else(|| format!("needs an {family} address"))?;
    let (address, length) = network.split_once('/').map_or((network, None), |(a, l)| (a, Some(l)));
    address
        .parse::<A>()
        .map_err(|_| format!("`{address}` is not an {family} address"))?;
    length.map_or(Ok(()), |l| prefix_length(l, max_length))
}

/// Splits `:domain/24//64` into the domain part and the CIDR part (from the first `/`).
fn split_cidr(rest: &str) -> (&str, &str) {
    match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, ""),
    }
}

/// `""`, `/n`, `//m` or `/n//m`.
fn dual_cidr(cidr: &str) -> Result<(), String> {
    if cidr.is_empty() {
        return Ok(());
    }
    let (v4, v6) = match cidr.split_once("//") {
        Some((v4, v6)) => (v4, Some(v6)),
        None => (cidr, None),
    };
    if !v4.is_empty() {
        prefix_length(v4.strip_prefix('/').ok_or("bad prefix length")?, 32)?;
    }
    v6.map_or(Ok(()), |l| prefix_length(l, 128))
}

fn prefix_length(text: &str, max: u32) -> Result<(), String> {
    let valid = !text.is_empty()
        && text.len() <= 3
        && text.chars().all(|c| c.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'))
        && text.parse::<u32>().is_ok_and(|n| n <= max);
    if valid {
        Ok(())
    } else {
        Err(format!("`/{text}` is not a prefix length (0-{max})"))
    }
}

/// A domain-spec: a macro-string that ends in a top label (or a macro).
fn domain_spec(spec: &str) -> Result<(), String> {
    if spec.is_empty() {
        return Err("empty domain".into());
    }
    macro_string(spec)?;
    if spec.contains('%') {
        return Ok(());
    }
    let name = spec.strip_suffix('.').unwrap_or(spec);
    let labels: Vec<&str> = name.split('.').collect();
    let valid_labels = labels.iter().all(|l| {
        !l.is_empty() && l.len() <= 63 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    });
    let top = labels.last().copied().unwrap_or("");
    let top_ok = labels.len() >= 2
        && top.chars().any(|c| c.is_ascii_alphabetic())
        && !top.starts_with('-')
        && !top.ends_with('-');
    if valid_labels && top_ok && name.len() <= 253 {
        Ok(())
    } else {
        Err(format!("`{spec}` is not a domain name"))
    }
}

/// Visible characters, with `%` only in `%%`, `%_`, `%-` or `%{...}` (RFC 7208 7.1).
fn macro_string(text: &str) -> Result<(), String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(0x21..=0x7e).contains(&b) {
            return Err("invisible or non-ASCII character".into());
        }
        if b != b'%' {
            i += 1;
            continue;
        }
        match bytes.get(i + 1) {
            Some(b'%' | b'_' | b'-') => i += 2,
            Some(b'{') => {
                let end = text[i..].find('}').ok_or("unclosed macro")? + i;
                let inner = &text[i + 2..end].to_ascii_lowercase();
                let mut chars = inner.chars();
                if !chars.next().is_some_and(|c| "slodiphcrtv".contains(c)) {
                    return Err(format!("bad macro `%{{{inner}}}`"));
                }
                let rest: String = chars.collect();
                let digits = rest.chars().take_while(char::is_ascii_digit).count();
                let after = &rest[digits..];
                let after = after.strip_prefix('r').unwrap_or(after);
                if !after.chars().all(|c| ".-+,/_=".contains(c)) {
                    return Err(format!("bad macro `%{{{inner}}}`"));
                }
                i = end + 1;
            }
            _ => return Err("a lone `%`".into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn valid_records_pass() {
        for record in [
            "v=spf1 -all",
            "v=spf1 include:_spf.google.com ~all",
            "V=SPF1 ip4:192.0.2.0/24 ip6:2001:db8::/32 a mx:mail.example.com/24//64 ?ptr -all",
            "v=spf1 a:%{d}.example.com exists:%{ir}.%{v}._spf.%{d} redirect=_spf.example.com",
            "v=spf1 +a/24 -mx//64 exp=explain.%{d} unknown-mod=whatever",
            "v=spf1  ip4:10.0.0.1  ",
        ] {
            assert_eq!(check(record), Ok(()), "{record}");
        }
    }

    #[test]
    fn syntax_errors_are_found() {
        for record in [
            "v=spf2 -all",
            "spf1 -all",
            "v=spf1 ip4:999.1.1.1 -all",
            "v=spf1 ip4:10.0.0.0/33",
            "v=spf1 ip6:2001:db8::/129",
            "v=spf1 ip4:10.0.0.0/024",
            "v=spf1 include: -all",
            "v=spf1 include:nodot -all",
            "v=spf1 foo:bar -all",
            "v=spf1 --all",
            "v=spf1 all/24",
            "v=spf1 a:%{z}.example.com",
            "v=spf1 a:%example.com",
            "v=spf1 redirect=a.example redirect=b.example",
            "v=spf1 include:exa\u{e9}mple.com",
            "v=spf1 mx:example.com/",
        ] {
            assert!(check(record).is_err(), "{record}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let alphabet = [
            "v=spf1", " ", "%", "{", "}", "/", ":", "ip4", "a", "=", ".", "é", "-", "1",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5_000 {
            let mut record = String::new();
            for _ in 0..(seed % 20) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                record.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let _ = check(&record);
        }
    }
}
