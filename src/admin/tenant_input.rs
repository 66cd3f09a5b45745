//! Tenant API input made into record fields, and records made into the API's view: validation
//! (every problem named in one `400`, by the rules `[[tenant]]` entries obey), argon2id hashing
//! on the blocking pool, domain lists as verified entries. The view never carries a hash.

use axum::http::StatusCode;

use super::access::Refusal;
use super::api::{NewCredential, TenantDomainView, TenantView};
use super::AdminState;
use crate::store::{TenantCredential, TenantDomain, TenantRecord};
use crate::tenant::validate;

fn bad_request(message: String) -> Refusal {
    super::error(StatusCode::BAD_REQUEST, message)
}

/// The API's view of a record: user names without their hashes.
pub(crate) fn view(record: &TenantRecord) -> TenantView {
    TenantView {
        id: record.id.clone(),
        name: record.name.clone(),
        contact: record.contact.clone(),
        profile: record.profile.clone(),
        limits: record.limits,
        networks: record.networks.clone(),
        domains: record
            .domains
            .iter()
            .map(|d| {
                let status = super::domains::status(&d.domain, &d.token, d.verified);
                TenantDomainView {
                    domain: status.domain,
                    verified: status.verified,
                    token: status.token,
                    record: status.record,
                }
            })
            .collect(),
        usernames: record.credentials.iter().map(|c| c.username.clone()).collect(),
        state: record.state,
    }
}

/// Checks the fields a create or a patch sets, all at once: every problem in one `400`.
pub(super) fn check_fields(
    state: &AdminState,
    profile: Option<&str>,
    limits: Option<&crate::store::TenantLimits>,
    networks: Option<&[String]>,
    domains: Option<&[String]>,
) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(profile) = profile {
        if !state.engine.has_profile(profile) {
            errors.push(format!("profile: `{profile}` is not a loaded policy profile"));
        }
    }
    if let Some(limits) = limits {
        for (field, message) in validate::limits(limits) {
            errors.push(format!("limits.{field}: {message}"));
        }
    }
    for (i, network) in networks.unwrap_or_default().iter().enumerate() {
        if let Err(message) = validate::network(network) {
            errors.push(format!("networks[{i}]: {message}"));
        }
    }
    for (i, domain) in domains.unwrap_or_default().iter().enumerate() {
        if let Err(message) = validate::domain(domain) {
            errors.push(format!("domains[{i}]: {message}"));
        }
    }
    errors
}

/// Checks credentials to set for `tenant`: syntax, and user names unique across tenants.
pub(super) fn check_credentials(state: &AdminState, tenant: &str, credentials: &[NewCredential]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, credential) in credentials.iter().enumerate() {
        if let Err(message) = validate::username(&credential.username) {
            errors.push(format!("credentials[{i}].username: {message}"));
        } else if !seen.insert(credential.username.as_str()) {
            errors.push(format!(
                "credentials[{i}].username: user name `{}` is used twice",
                credential.username
            ));
        } else if let Some(owner) = state.tenants.username_owner(&credential.username) {
            if owner != tenant {
                errors.push(format!(
                    "credentials[{i}].username: user name `{}` belongs to another tenant",
                    credential.username
                ));
            }
        }
        if let Err(message) = validate::password(&credential.password) {
            errors.push(format!("credentials[{i}].password: {message}"));
        }
    }
    errors
}

pub(super) fn refuse_if_any(errors: Vec<String>) -> Result<(), Refusal> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(bad_request(errors.join("; ")))
    }
}

/// Hashes passwords with argon2id on the blocking pool (slow on purpose).
pub(super) async fn hash_all(credentials: Vec<NewCredential>) -> Result<Vec<TenantCredential>, Refusal> {
    tokio::task::spawn_blocking(move || {
        credentials
            .into_iter()
            .map(|c| {
                crate::tenant::hash_password(&c.password).map(|password_hash| TenantCredential {
                    username: c.username,
                    password_hash,
                })
            })
            .collect::<Result<Vec<_>, String>>()
    })
    .await
    .map_err(super::internal)?
    .map_err(super::internal)
}

pub(super) fn domain_entries(domains: &[String]) -> Vec<TenantDomain> {
    let mut names: Vec<String> = domains.iter().filter_map(|d| validate::domain(d).ok()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|domain| TenantDomain {
            domain,
            token: String::new(),
            verified: true,
        })
        .collect()
}
