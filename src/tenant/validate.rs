//! The rules a tenant's fields obey, one place for both the `[[tenant]]` config entries and the
//! admin API, so a tenant the API accepts is one the config would accept too. Each check returns
//! the message a person reads; the caller adds where the value was (a config path, a JSON field).

use ipnet::IpNet;

use super::TenantLimits;

/// Longest tenant id the API accepts (ids appear in URLs, logs and store keys).
pub const MAX_ID_LEN: usize = 64;

/// A tenant id the admin API accepts: 1 to 64 letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit (it appears in URL paths).
pub fn id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a tenant id (1 to {MAX_ID_LEN} letters, digits, `.`, `_` or `-`, starting with a letter or digit)"
        ))
    }
}

/// A network: `10.0.0.0/8` or a bare address.
pub fn network(text: &str) -> Result<IpNet, String> {
    super::parse_network(text).ok_or_else(|| format!("`{text}` is not a CIDR network"))
}

/// A domain name, normalised.
pub fn domain(text: &str) -> Result<String, String> {
    super::normalize_domain(text).ok_or_else(|| format!("`{text}` is not a domain name"))
}

/// The single-limit overrides: `(field, message)` for each one out of range.
pub fn limits(limits: &TenantLimits) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    for (name, value) in [
        ("bulk_max_recipients", limits.bulk_max_recipients),
        ("mail_bomb_max_messages", limits.mail_bomb_max_messages),
    ] {
        if value.is_some_and(|v| v == 0 || v > 10_000) {
            errors.push((name, "must be between 1 and 10000".to_string()));
        }
    }
    errors
}

/// An SMTP AUTH user name: not empty, at most 255 bytes, no spaces or control characters.
pub fn username(name: &str) -> Result<(), String> {
    if name.is_empty() {
        Err("must not be empty".into())
    } else if name.len() > 255 || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(format!("`{name}` is not a user name (at most 255 bytes, no spaces)"))
    } else {
        Ok(())
    }
}

/// A password given to the API: not empty, at most 1024 bytes.
pub fn password(password: &str) -> Result<(), String> {
    if password.is_empty() || password.len() > 1024 {
        Err("must be 1 to 1024 bytes".into())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for good in ["acme", "a", "acme-2.eu_west", "0day"] {
            assert!(id(good).is_ok(), "{good}");
        }
        for bad in ["", "-acme", "a b", "a/b", "ä", &"x".repeat(65)] {
            assert!(id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn limits_out_of_range() {
        let mut l = TenantLimits {
            bulk_max_recipients: Some(0),
            ..Default::default()
        };
        l.mail_bomb_max_messages = Some(10_001);
        let fields: Vec<_> = limits(&l).into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec!["bulk_max_recipients", "mail_bomb_max_messages"]);
        assert!(limits(&TenantLimits::default()).is_empty());
    }
}
