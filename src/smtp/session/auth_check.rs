//! What AUTH does with credentials, behind the guessing defence (`smtp::auth_guard`): a locked
//! address gets `421 4.7.0` (at connect too), a locked user name `535 5.7.8` without a password
//! check, every failure is counted and answered after `[limits] auth_failure_delay`. A tenant with
//! assigned networks cannot authenticate from outside them (the AUPs forbid addresses not
//! assigned to the customer). A store error never lets a guess through unchecked or uncounted:
//! the attempt gets `454 4.7.0` (RFC 4954's temporary authentication failure).

use std::sync::Arc;

use super::{End, Session};
use crate::smtp::auth_guard::{Gate, GuardError, DUMMY_HASH, RULE_ADDRESS, RULE_USER};
use crate::smtp::listener::SmtpContext;
use crate::smtp::reply;
use crate::smtp::sasl::Credentials;
use crate::tenant::Tenant;

impl Session {
    /// At connect: a locked-out address is refused before the greeting. When the store cannot
    /// say, the session goes on: nothing is granted at connect, AUTH asks again and defers
    /// (`454 4.7.0`), and the mail checks defer or disconnect as the profile's `[on_error]` says,
    /// so a store outage is not turned into refusing every connection.
    pub(super) async fn admit_address(&mut self) -> Result<(), End> {
        let ip = self.peer.ip();
        match self.ctx.auth_guard.address_locked(ip).await {
            Ok(false) => Ok(()),
            Ok(true) => {
                tracing::info!(peer = %ip, rule = RULE_ADDRESS, "connection refused: address locked out");
                self.reply(reply::auth_address_locked());
                Err(End::AfterReply)
            }
            Err(error) => {
                tracing::warn!(peer = %ip, rule = RULE_ADDRESS, %error, "lockout check failed at connect; AUTH will check again");
                Ok(())
            }
        }
    }

    /// Checks decoded credentials and answers the AUTH command.
    pub(super) async fn authenticate(&mut self, credentials: Credentials) -> Result<(), End> {
        let ctx = self.ctx.clone();
        let ip = self.peer.ip();
        let username = credentials.username.clone();
        let gate = match ctx.auth_guard.gate(ip, &username).await {
            Ok(gate) => gate,
            Err(error) => return self.auth_deferred(&username, &GuardError::Store(error)),
        };
        let (tenant, attempt) = match gate {
            Gate::AddressLocked => {
                tracing::info!(peer = %ip, user = ?username, rule = RULE_ADDRESS, "AUTH refused: address locked out");
                self.reply(reply::auth_address_locked());
                return Err(End::AfterReply);
            }
            Gate::UserLocked => {
                tracing::info!(peer = %ip, user = ?username, rule = RULE_USER, "AUTH failed unchecked: user name locked");
                (None, None)
            }
            Gate::Open(attempt) => match verify(&ctx, credentials).await {
                Ok(tenant) => (tenant, Some(attempt)),
                Err(error) => return self.auth_deferred(&username, &error),
            },
        };
        match (tenant, attempt) {
            (Some(tenant), attempt) => {
                if let Some(attempt) = attempt {
                    ctx.auth_guard.succeeded(attempt).await;
                }
                if !tenant.settings().networks.is_empty() && !tenant.in_networks(ip) {
                    tracing::warn!(tenant = %tenant.id, "authenticated from outside the tenant's networks");
                    return self.error_reply(reply::auth_outside_networks());
                }
                tracing::Span::current().record("tenant", tenant.id.as_str());
                tracing::info!(tenant = %tenant.id, "authenticated");
                self.auth_tenant = Some(tenant);
                self.reply(reply::auth_ok());
                Ok(())
            }
            (None, attempt) => {
                if let Some(attempt) = attempt {
                    let owner = ctx.tenants.credential(&username).map(|(tenant, _)| tenant.id.clone());
                    if let Err(error) = ctx.auth_guard.failed(attempt, owner.as_deref()).await {
                        return self.auth_deferred(&username, &GuardError::Store(error));
                    }
                }
                tokio::time::sleep(ctx.config.limits.auth_failure_delay.get()).await;
                self.error_reply(reply::auth_failed())
            }
        }
    }

    fn auth_deferred(&mut self, username: &str, error: &GuardError) -> Result<(), End> {
        tracing::warn!(peer = %self.peer.ip(), user = ?username, rule = "auth.failures", %error, "AUTH deferred: the failure counts could not be used");
        self.error_reply(reply::auth_temporary_failure())
    }
}

/// Checks credentials (argon2id, on the guard's bounded blocking slots). Unknown users still pay
/// for one hash, so timing does not reveal which names exist.
async fn verify(ctx: &Arc<SmtpContext>, credentials: Credentials) -> Result<Option<Arc<Tenant>>, GuardError> {
    let record = ctx.tenants.credential(&credentials.username);
    let hash = record
        .as_ref()
        .map(|(_, hash)| hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.to_string());
    let matches = ctx.auth_guard.verify(credentials.password, hash).await?;
    Ok(match record {
        Some((tenant, _)) if matches => Some(tenant),
        _ => None,
    })
}
