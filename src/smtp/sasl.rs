//! SASL PLAIN (RFC 4616) and LOGIN decoding. Pure functions; the session drives the exchange.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Decoded credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Why a PLAIN response gives no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainError {
    /// Not `authzid NUL authcid NUL password` in base64 (`501`).
    Malformed,
    /// An authorization identity other than the user (named): proxy authentication, which no
    /// user may do here (`535`, a failed login of that user).
    OtherIdentity(String),
}

/// Decodes a PLAIN response: base64 of `authzid NUL authcid NUL password`. An authorization
/// identity different from the user is refused (no proxy authentication).
pub fn decode_plain(response: &str) -> Result<Credentials, PlainError> {
    let parsed = || {
        let bytes = STANDARD.decode(response.trim()).ok()?;
        let mut parts = bytes.split(|&b| b == 0);
        let authzid = parts.next()?.to_vec();
        let username = String::from_utf8(parts.next()?.to_vec()).ok()?;
        let password = String::from_utf8(parts.next()?.to_vec()).ok()?;
        (parts.next().is_none() && !username.is_empty()).then_some((authzid, username, password))
    };
    let (authzid, username, password) = parsed().ok_or(PlainError::Malformed)?;
    if !authzid.is_empty() && authzid != username.as_bytes() {
        return Err(PlainError::OtherIdentity(username));
    }
    Ok(Credentials { username, password })
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
            Ok(Credentials {
                username: "demo".into(),
                password: "pw".into()
            })
        );
        assert_eq!(
            decode_plain(&STANDARD.encode(b"demo\0demo\0pw")).map(|c| c.username),
            Ok("demo".into())
        );
        assert_eq!(
            decode_plain(&STANDARD.encode(b"admin\0demo\0pw")),
            Err(PlainError::OtherIdentity("demo".into()))
        );
        assert_eq!(decode_plain(""), Err(PlainError::Malformed));
        assert_eq!(decode_plain(&STANDARD.encode(b"\0\0pw")), Err(PlainError::Malformed));
        assert_eq!(decode_plain("!!!"), Err(PlainError::Malformed));
        assert_eq!(decode_plain(&STANDARD.encode(b"\0a\0b\0c")), Err(PlainError::Malformed));
    }

    #[test]
    fn login() {
        assert_eq!(decode_login_step("ZGVtbw=="), Some("demo".into()));
        assert_eq!(decode_login_step("%%%"), None);
    }
}
