//! Request and response types of the admin API, shared by the server and the CLI.

use serde::{Deserialize, Serialize};

use crate::store::BlockScope;

/// `POST /api/v1/blocks`: place a block.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddBlock {
    pub tenant: String,
    pub scope: BlockScope,
    /// Campaign id or sender address; empty for a tenant block.
    #[serde(default)]
    pub target: String,
    /// Operator placing it.
    pub by: String,
    pub reason: String,
    /// When the block stops applying by itself (unix ms); none: until lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// `POST /api/v1/blocks/lift`: lift a block.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
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

/// A page of a list answered newest first: `next` is the cursor of the following page (absent
/// on the last one).
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next (older) page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Query of `GET /api/v1/tenants/{tenant}/events` and `.../audit`. Times are unix ms.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Oldest record to include (unix ms; default: 24 h before now).
    pub since: Option<u64>,
    /// Newest record to include (unix ms; default: now).
    pub until: Option<u64>,
    /// Only records naming this rule id (`quota.messages_per_hour`).
    pub rule: Option<String>,
    /// Audit only: only policy decisions with this verdict (`accept`, `reject`, `defer`, ...).
    pub verdict: Option<String>,
    /// Records per page (default 100, at most 1000).
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// `POST /api/v1/tenants/{tenant}/blocks`: place a block; who places it is the caller.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewBlock {
    pub scope: BlockScope,
    /// Campaign id or sender address; empty for a tenant block.
    #[serde(default)]
    pub target: String,
    pub reason: String,
    /// When the block stops applying by itself (unix ms); none: until lifted.
    #[serde(default)]
    pub expires_at: Option<u64>,
}

/// `POST /api/v1/tenants/{tenant}/blocks/lift`: lift a block; who lifts it is the caller.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BlockLift {
    pub scope: BlockScope,
    #[serde(default)]
    pub target: String,
    pub reason: String,
}

/// `POST /api/v1/tenants/{tenant}/suppression`: suppress an address.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddSuppression {
    pub address: String,
    pub reason: String,
}

/// `DELETE /api/v1/tenants/{tenant}/suppression/{address}?reason=...`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveSuppression {
    /// Why (audited); required.
    pub reason: String,
}

/// A DNS record a tenant must publish.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DnsRecord {
    /// Fully qualified owner name.
    pub name: String,
    /// `TXT`.
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
    /// What it is for: `ownership`, `spf`, `dkim`.
    pub purpose: String,
}

/// `GET /api/v1/tenants/{tenant}/domains/{domain}/records`: the records of one domain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DomainRecords {
    pub domain: String,
    pub verified: bool,
    pub records: Vec<DnsRecord>,
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
    /// The TXT record the tenant publishes to prove ownership (empty when there is no token).
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
