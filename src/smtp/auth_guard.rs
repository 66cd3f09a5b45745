//! Defence against password guessing over AUTH, shared by every session (Postfix's `anvil` job).
//!
//! - Failures are counted in the rate store, per client address (an IPv6 client by its /64) and
//!   per user name, with the store's exact event logs, so every node sharing a Redis store sees
//!   the same counts.
//! - An address that reaches `[limits] auth_failures` is locked for `auth_lockout` (one event in
//!   a lock log whose window is the lockout): `421 4.7.0` at connect and at AUTH, even with the
//!   right password.
//! - A user name that reaches `auth_user_failures` (from any addresses) is answered `535 5.7.8`
//!   without its password being checked until its failures age out of the window. The rule is
//!   the same for names that do not exist, so the answer never reveals which names do.
//! - Each attempt is counted as a failure before its password is checked, and a success gives
//!   the slot back: parallel sessions cannot all pass the gate before the first failure lands.
//! - A successful AUTH resets nothing else: failures only age out of their window. Otherwise an
//!   attacker holding one valid login (a tenant of ours, or a stolen one) could interleave it
//!   with guesses at another name and never reach the limit. The price: a legitimate client that
//!   mistypes its password `auth_failures` times is locked out for `auth_lockout` too.
//! - argon2 verification runs on the blocking pool, at most one per CPU at a time, so a flood
//!   of AUTH queues on a semaphore instead of filling the blocking pool and the CPUs.
//!
//! It never fails open: a store error is an error for the caller to defer with, never "no
//! failures". It decides nothing about tenants and sends no replies; the AUTH stage does.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::Semaphore;

use crate::config::{LimitsConfig, Rate};
use crate::queue::now_ms;
use crate::store::{AuditRecord, Key, RateStore, StoreError};
use crate::tenant::verify_password;

/// Rule ids of the two lockouts (logs and audit records).
pub const RULE_ADDRESS: &str = "auth.address_lockout";
pub const RULE_USER: &str = "auth.user_lockout";

/// A valid argon2id hash of a random string, verified for unknown user names (SMTP AUTH and
/// the dashboard login), so timing does not reveal which names exist.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$5GZx/1tutNK0pGdRyJv9Zw$Vm5VXcxN0NCcfIzdE5ieaF+EniQ+Xe65f0eGBfeaeJI";

/// The audit log lockouts of addresses are written to: the gateway's own, not a tenant's (an
/// address is not a tenant). A locked user name of a tenant is audited in that tenant's log too.
pub const GATEWAY_AUDIT: &str = "";

/// Why the guard could not answer.
#[derive(Debug, Error)]
pub enum GuardError {
    #[error("rate store: {0}")]
    Store(#[from] StoreError),
    #[error("password verification did not finish: {0}")]
    Verify(String),
}

/// What may happen with an AUTH attempt before its password is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Check the password; the attempt already holds its failure slots (see [`Attempt`]).
    Open(Attempt),
    /// The client's address is locked out.
    AddressLocked,
    /// The user name is being guessed: fail without checking the password.
    UserLocked,
}

/// An attempt admitted to have its password checked. It was counted as a failure before the
/// check (for its address and its user name), so parallel sessions cannot all pass the gate
/// before the first failure lands: at most `auth_failures` passwords are ever checked per
/// window. A success gives both slots back ([`AuthGuard::succeeded`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    ip: IpAddr,
    user: String,
    at: u64,
    address_failures: u32,
    user_failures: u32,
}

/// The shared guard; one per gateway.
pub struct AuthGuard {
    store: Arc<dyn RateStore>,
    address_rate: Rate,
    user_rate: Rate,
    lockout: Duration,
    verify_slots: Arc<Semaphore>,
}

impl AuthGuard {
    pub fn new(store: Arc<dyn RateStore>, limits: &LimitsConfig) -> AuthGuard {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        AuthGuard {
            store,
            address_rate: limits.auth_failures,
            user_rate: limits.auth_user_failures,
            lockout: limits.auth_lockout.get(),
            verify_slots: Arc::new(Semaphore::new(cpus)),
        }
    }

    /// Whether `ip` is locked out (one store read: what every connection costs).
    pub async fn address_locked(&self, ip: IpAddr) -> Result<bool, StoreError> {
        let locks = self.store.events_count(&lock_key(ip), now_ms(), self.lockout).await?;
        Ok(locks > 0)
    }

    /// The gate for an AUTH attempt from `ip` as `user`. An open gate has already counted the
    /// attempt as a failure; report its outcome with [`Self::succeeded`] or [`Self::failed`].
    pub async fn gate(&self, ip: IpAddr, user: &str) -> Result<Gate, StoreError> {
        if self.address_locked(ip).await? {
            return Ok(Gate::AddressLocked);
        }
        let now = now_ms();
        let user_log = self
            .store
            .events_check_and_add(&user_key(user), now, self.user_rate.window, self.user_rate.count)
            .await?;
        if !user_log.admitted {
            // Not counted against the address: no password was checked, and a locked name
            // must not get its own tenant's clients locked out too.
            return Ok(Gate::UserLocked);
        }
        let address = match self
            .store
            .events_check_and_add(&address_key(ip), now, self.address_rate.window, self.address_rate.count)
            .await
        {
            Ok(address) => address,
            Err(error) => {
                self.release_user(user, now).await;
                return Err(error);
            }
        };
        if !address.admitted {
            self.release_user(user, now).await;
            self.lock(ip, user, address.count, now).await?;
            return Ok(Gate::AddressLocked);
        }
        Ok(Gate::Open(Attempt {
            ip,
            user: user.to_string(),
            at: now,
            address_failures: address.count,
            user_failures: user_log.count,
        }))
    }

    /// The attempt's password was right: its failure slots are given back.
    pub async fn succeeded(&self, attempt: Attempt) {
        self.release_user(&attempt.user, attempt.at).await;
        if let Err(error) = self
            .store
            .events_release(&address_key(attempt.ip), attempt.at, self.address_rate.window)
            .await
        {
            // The slot stays counted: stricter, never more lenient.
            tracing::warn!(peer = %attempt.ip, %error, "could not give back an AUTH attempt's slot");
        }
    }

    /// The attempt's password was wrong (it is already counted): locks what reached its limit
    /// (logged and audited once per lockout). `tenant` owns the user name, if it exists.
    /// Returns true when the address is now locked out.
    pub async fn failed(&self, attempt: Attempt, tenant: Option<&str>) -> Result<bool, StoreError> {
        let Attempt {
            ip,
            user,
            at,
            address_failures,
            user_failures,
        } = attempt;
        tracing::info!(peer = %ip, user = ?user, rule = "auth.failed", failures = address_failures, "authentication failed");
        if user_failures >= self.user_rate.count {
            tracing::warn!(peer = %ip, user = ?user, rule = RULE_USER, failures = user_failures, "user name locked: too many failed authentications");
            let detail = serde_json::json!({ "peer": ip.to_string(), "failures": user_failures, "window_ms": self.user_rate.window.as_millis() as u64 });
            self.audit(GATEWAY_AUDIT, RULE_USER, &user, &detail, at).await;
            if let Some(tenant) = tenant {
                self.audit(tenant, RULE_USER, &user, &detail, at).await;
            }
        }
        if address_failures < self.address_rate.count {
            return Ok(false);
        }
        self.lock(ip, &user, address_failures, at).await?;
        Ok(true)
    }

    /// Locks `ip` out (audited once per lockout).
    async fn lock(&self, ip: IpAddr, user: &str, failures: u32, now: u64) -> Result<(), StoreError> {
        let lock = self
            .store
            .events_check_and_add(&lock_key(ip), now, self.lockout, 1)
            .await?;
        if lock.admitted {
            tracing::warn!(peer = %ip, user = ?user, rule = RULE_ADDRESS, failures, lockout_ms = self.lockout.as_millis() as u64, "address locked out: too many failed authentications");
            let detail = serde_json::json!({ "user": user, "failures": failures, "lockout_ms": self.lockout.as_millis() as u64 });
            self.audit(GATEWAY_AUDIT, RULE_ADDRESS, &ip.to_string(), &detail, now)
                .await;
        }
        Ok(())
    }

    async fn release_user(&self, user: &str, at: u64) {
        if let Err(error) = self
            .store
            .events_release(&user_key(user), at, self.user_rate.window)
            .await
        {
            tracing::warn!(user = ?user, %error, "could not give back an AUTH attempt's slot");
        }
    }

    /// Verifies a password against an argon2id hash on the blocking pool, one per CPU at a time.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, GuardError> {
        let permit = self
            .verify_slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| GuardError::Verify(e.to_string()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            verify_password(&password, &hash)
        })
        .await
        .map_err(|e| GuardError::Verify(e.to_string()))
    }

    async fn audit(&self, log: &str, rule: &str, target: &str, detail: &serde_json::Value, now: u64) {
        let record = AuditRecord {
            at: now,
            actor: "auth".into(),
            action: "lockout".into(),
            target: target.into(),
            reason: rule.into(),
            detail: detail.clone(),
        };
        if let Err(error) = self.store.audit_append(log, &record).await {
            tracing::error!(rule, %error, "audit of a lockout failed");
        }
    }
}

/// The address as counted: IPv4 whole, IPv6 by its /64 (one subscriber's usual allocation, so
/// an attacker cannot reset its count by moving within it).
fn address_part(ip: IpAddr) -> Vec<u8> {
    match crate::tenant::canonical_ip(ip) {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets()[..8].to_vec(),
    }
}

fn address_key(ip: IpAddr) -> Key {
    Key::new("auth.fail.addr", "").part(address_part(ip))
}

fn lock_key(ip: IpAddr) -> Key {
    Key::new("auth.lock.addr", "").part(address_part(ip))
}

fn user_key(user: &str) -> Key {
    Key::new("auth.fail.user", "").part(user.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_is_counted_by_its_64_and_ipv4_mapped_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_part(a), address_part(b));
        assert_ne!(address_part(a), address_part(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(address_part(mapped), address_part(v4));
        assert_ne!(address_key(v4), lock_key(v4));
    }
}
