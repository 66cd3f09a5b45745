//! AUTH PLAIN and LOGIN. Only over TLS or on a trusted listener. A tenant with assigned networks
//! cannot authenticate from outside them (the AUPs forbid addresses not assigned to the customer).
//! Password checks run on a blocking thread (argon2id is slow on purpose).

use std::sync::Arc;

use super::{End, Session};
use crate::smtp::reply;
use crate::smtp::sasl::{self, Credentials};
use crate::tenant::{verify_password, Tenant, TenantDirectory};

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
                    Some(response) if response != "=" => response,
                    _ => match self.challenge("").await? {
                        Some(response) => response,
                        None => return self.error_reply(reply::auth_cancelled()),
                    },
                };
                sasl::decode_plain(&response)
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
        match verify(self.ctx.tenants.clone(), credentials).await {
            Some(tenant) if !tenant.networks.is_empty() && !tenant.in_networks(self.peer.ip()) => {
                tracing::warn!(tenant = %tenant.id, "authenticated from outside the tenant's networks");
                self.error_reply(reply::auth_outside_networks())
            }
            Some(tenant) => {
                tracing::Span::current().record("tenant", tenant.id.as_str());
                tracing::info!(tenant = %tenant.id, "authenticated");
                self.auth_tenant = Some(tenant);
                self.reply(reply::auth_ok());
                Ok(())
            }
            None => {
                tracing::info!("authentication failed");
                self.error_reply(reply::auth_failed())
            }
        }
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

/// Checks credentials on a blocking thread. Unknown users still pay for one hash, so timing does
/// not reveal which names exist.
async fn verify(tenants: Arc<TenantDirectory>, credentials: Credentials) -> Option<Arc<Tenant>> {
    {
        let record = tenants.credential(&credentials.username);
        let hash = record
            .as_ref()
            .map(|(_, hash)| hash.clone())
            .unwrap_or_else(|| DUMMY_HASH.to_string());
        let password = credentials.password;
        let matches = tokio::task::spawn_blocking(move || verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        match record {
            Some((tenant, _)) if matches => Some(tenant),
            _ => None,
        }
    }
}

/// A valid argon2id hash of a random string, verified for unknown user names.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$5GZx/1tutNK0pGdRyJv9Zw$Vm5VXcxN0NCcfIzdE5ieaF+EniQ+Xe65f0eGBfeaeJI";
