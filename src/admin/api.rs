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
