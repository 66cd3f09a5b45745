//! SASL PLAIN (RFC 4616) and LOGIN decoding. Pure functions; the session drives the exchange.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Decoded credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Decodes a PLAIN response: base64 of `authzid NUL authcid NUL password`. An authorization
/// identity different from the user is refused (no proxy authentication).
pub fn decode_plain(response: &str) -> Option<Credentials> {
    let bytes = STANDARD.decode(response.trim()).ok()?;
    let mut parts = bytes.split(|&b| b == 0);
    let authzid = parts.next()?;
    let username = std::str::from_utf8(parts.next()?).ok()?;
    let password = std::str::from_utf8(parts.next()?).ok()?;
    if parts.next().is_some() || username.is_empty() {
        return None;
    }
    if !authzid.is_empty() && authzid != username.as_bytes() {
        return None;
    }
    Some(Credentials {
        username: username.to_string(),
        password: password.to_string(),
    })
}

/// Decodes one base64 LOGIN step.
pub fn decode_login_step(response: &str) -> Option<String> {
    let bytes = STANDARD.decode(response.trim()).ok()?;
    String::from_utf8(bytes).ok()
}

/// `334` challenge texts for LOGIN.
pub const LOGIN_USERNAME: &str = "VXNlcm5hbWU6";
pub const LOGIN_PASSWORD: &str = "UGFzc3dvcmQ6";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain() {
        let encoded = STANDARD.encode(b"\0demo\0pw");
        assert_eq!(
            decode_plain(&encoded),
            Some(Credentials {
                username: "demo".into(),
                password: "pw".into()
            })
        );
        assert_eq!(
            decode_plain(&STANDARD.encode(b"demo\0demo\0pw")).map(|c| c.username),
            Some("demo".into())
        );
        assert_eq!(decode_plain(&STANDARD.encode(b"other\0demo\0pw")), None);
        assert_eq!(decode_plain(&STANDARD.encode(b"\0\0pw")), None);
        assert_eq!(decode_plain("!!!"), None);
        assert_eq!(decode_plain(&STANDARD.encode(b"\0a\0b\0c")), None);
    }

    #[test]
    fn login() {
        assert_eq!(decode_login_step("ZGVtbw=="), Some("demo".into()));
        assert_eq!(decode_login_step("%%%"), None);
    }
}
