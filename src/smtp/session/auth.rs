//! AUTH PLAIN and LOGIN: the SASL exchange. Only over TLS or on a trusted listener. What is done
//! with the credentials (lockouts, the password check) is in `auth_check`.

use super::{End, Session};
use crate::smtp::reply;
use crate::smtp::sasl::{self, Credentials};

impl Session {
    pub(super) async fn auth(&mut self, mechanism: String, initial: Option<String>) -> Result<(), End> {
        if !self.auth_allowed() {
            return self.error_reply(reply::encryption_required());
        }
        if self.helo.is_none() || !self.esmtp {
            return self.error_reply(reply::bad_sequence("Send EHLO first"));
        }
        if self.auth_tenant.is_some() {
            return self.error_reply(reply::already_authenticated());
        }
        if self.envelope.sender.is_some() {
            return self.error_reply(reply::bad_sequence("AUTH not allowed during a mail transaction"));
        }
        let credentials = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    // `=` is an initial response of zero length (RFC 4954), not none.
                    Some(response) if response == "=" => String::new(),
                    Some(response) => response,
                    None => match self.challenge("").await? {
                        Some(response) => response,
                        None => return self.error_reply(reply::auth_cancelled()),
                    },
                };
                match sasl::decode_plain(&response) {
                    Ok(credentials) => Some(credentials),
                    // Logging in as one user to act as another is not allowed: a failed login of
                    // that user, through the lockout gate and counted like a wrong password (NUL
                    // is a password no PLAIN response can carry, so it matches none).
                    Err(sasl::PlainError::OtherIdentity(username)) => Some(Credentials {
                        username,
                        password: "\0".into(),
                    }),
                    Err(sasl::PlainError::Malformed) => None,
                }
            }
            "LOGIN" => {
                let username = match initial {
                    Some(initial) => sasl::decode_login_step(&initial),
                    None => match self.challenge(sasl::LOGIN_USERNAME).await? {
                        Some(response) => sasl::decode_login_step(&response),
                        None => return self.error_reply(reply::auth_cancelled()),
                    },
                };
                match username {
                    Some(username) => match self.challenge(sasl::LOGIN_PASSWORD).await? {
                        Some(response) => {
                            sasl::decode_login_step(&response).map(|password| Credentials { username, password })
                        }
                        None => return self.error_reply(reply::auth_cancelled()),
                    },
                    None => None,
                }
            }
            _ => return self.error_reply(reply::auth_mechanism_unsupported()),
        };
        let Some(credentials) = credentials else {
            return self.error_reply(reply::syntax("Malformed authentication response"));
        };
        self.authenticate(credentials).await
    }

    /// Sends a `334` challenge and reads the client's response line; `None` if it cancelled (`*`).
    async fn challenge(&mut self, challenge: &'static str) -> Result<Option<String>, End> {
        self.reply(reply::auth_challenge(challenge));
        self.flush().await?;
        loop {
            if let Some(line) = self.take_line() {
                let Ok(line) = line else {
                    return Ok(None);
                };
                let text = String::from_utf8_lossy(&line).into_owned();
                return Ok(if text.trim() == "*" { None } else { Some(text) });
            }
            self.read_command_input().await?;
        }
    }
}
