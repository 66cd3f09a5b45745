//! Request and response types of the admin API, shared by the server and the CLI.

use serde::{Deserialize, Serialize};

use crate::store::BlockScope;

/// `POST /api/v1/blocks`: place a block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddBlock {
    pub tenant: String,
    pub scope: BlockScope,
    /// Campaign id or sender address; empty for a tenant block.
    #[serde(default)]
    pub target: String,
    /// Operator placing it.
    pub by: String,
    pub reason: String,
}

/// `POST /api/v1/blocks/lift`: lift a block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiftBlock {
    pub tenant: String,
    pub scope: BlockScope,
    #[serde(default)]
    pub target: String,
    /// Operator lifting it.
    pub by: String,
    pub reason: String,
}

/// An error answer: `{"error": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApiError {
    pub error: String,
}

/// A tenant as the API shows it. Credentials appear as user names only: a password hash never
/// leaves the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    pub contact: Option<String>,
    /// Policy profile.
    pub profile: String,
    /// Single limits overriding the profile's (unset = the profile's).
    pub limits: crate::store::TenantLimits,
    /// Assigned networks (CIDR): clients from them are the tenant.
    pub networks: Vec<String>,
    pub domains: Vec<TenantDomainView>,
    /// SMTP AUTH user names.
    pub usernames: Vec<String>,
    pub state: crate::store::TenantState,
}

/// A domain of a tenant and its verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantDomainView {
    pub domain: String,
    pub verified: bool,
    /// The ownership token (empty when an operator or the configuration vouched for the domain).
    pub token: String,
    /// The TXT record the tenant publishes to prove ownership.
    pub record: String,
}

/// `GET /api/v1/tenants`: one page of tenants, ordered by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantPage {
    pub tenants: Vec<TenantView>,
    /// Tenants matching the filter, over all pages.
    pub total: usize,
    /// `offset` of the next page; absent on the last one.
    pub next_offset: Option<usize>,
}

/// An SMTP AUTH identity to create: the password is hashed (argon2id) on the server and never
/// stored or shown.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewCredential {
    pub username: String,
    pub password: String,
}

/// `POST /api/v1/tenants`: create a tenant. Validated like a `[[tenant]]` entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    /// Stable id: letters, digits, `.`, `_`, `-`; at most 64.
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub contact: Option<String>,
    /// Policy profile (a loaded one); default `default`.
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub limits: crate::store::TenantLimits,
    #[serde(default)]
    pub networks: Vec<String>,
    /// Domains the tenant may send as, vouched for by the admin (verified, as in the config).
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub credentials: Vec<NewCredential>,
}

/// `PATCH /api/v1/tenants/{tenant}`: the fields given are changed, each on its own; the others
/// stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTenant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// An empty string removes the contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The complete set of single-limit overrides (a limit left out is the profile's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<crate::store::TenantLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub networks: Option<Vec<String>>,
    /// The domains the tenant may send as: new ones are vouched for by the admin (verified),
    /// those left out are removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domains: Option<Vec<String>>,
}

/// `PUT /api/v1/tenants/{tenant}/credentials`: set (create or replace) one SMTP AUTH identity.
pub type SetCredential = NewCredential;

/// The tenant's SMTP AUTH user names (never the hashes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CredentialList {
    pub usernames: Vec<String>,
}
