//! Tenant API tokens: `POST /api/v1/tenants/{tenant}/tokens` issues one (its text is in this
//! answer and nowhere else, ever: the store keeps its SHA-256), `GET` lists them without
//! secrets, `DELETE /api/v1/tenants/{tenant}/tokens/{id}` revokes one (and every dashboard
//! session opened with it). Issuing and revoking are the admin's, audited; a tenant may list
//! its own.

use super::extract::ApiJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::Principal;
use super::api::ApiError;
use super::{tokens, AdminState, ApiResult};
use crate::queue::now_ms;
use crate::store::{ApiToken, AuditRecord};

/// `POST /api/v1/tenants/{tenant}/tokens` body.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssueToken {
    /// What the token is for ("deploy script").
    pub label: String,
}

/// The answer to issuing: the only time the token's text is shown.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IssuedToken {
    pub id: String,
    pub label: String,
    /// The bearer token; keep it, it cannot be shown again.
    pub token: String,
    pub created_at: u64,
}

/// A token as listed: never its text or hash.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
pub struct TokenInfo {
    pub id: String,
    pub label: String,
    pub by: String,
    pub created_at: u64,
}

impl From<&ApiToken> for TokenInfo {
    fn from(token: &ApiToken) -> TokenInfo {
        TokenInfo {
            id: token.id.clone(),
            label: token.label.clone(),
            by: token.by.clone(),
            created_at: token.created_at,
        }
    }
}

fn known(state: &AdminState, tenant: &str) -> Result<(), super::access::Refusal> {
    state
        .tenants
        .get(tenant)
        .map(|_| ())
        .ok_or_else(|| super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`")))
}

/// `POST /api/v1/tenants/{tenant}/tokens`.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/tokens",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = IssueToken,
    responses(
        (status = 201, description = "The token, shown this once", body = IssuedToken),
        (status = 400, description = "No label", body = ApiError),
        (status = 403, description = "Read-only token", body = ApiError),
        (status = 404, description = "No such tenant (or the caller is a tenant)", body = ApiError),
    ),
    tag = "tokens"
)]
pub async fn issue(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    ApiJson(request): ApiJson<IssueToken>,
) -> Result<(StatusCode, Json<IssuedToken>), super::access::Refusal> {
    principal.tenant(&tenant)?;
    principal.require_admin()?;
    known(&state, &tenant)?;
    let label = request.label.trim();
    if label.is_empty() || label.len() > 200 {
        return Err(super::error(
            StatusCode::BAD_REQUEST,
            "`label` is required (at most 200 bytes)".into(),
        ));
    }
    let now = now_ms();
    let issued = tokens::issue(&tenant, label, &principal.name(), now);
    state
        .store
        .api_token_put(&issued.record)
        .await
        .map_err(super::internal)?;
    audit(&state, &tenant, &principal, "token.issue", &issued.record).await?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            id: issued.record.id,
            label: issued.record.label,
            token: issued.text,
            created_at: now,
        }),
    ))
}

/// `GET /api/v1/tenants/{tenant}/tokens`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/tokens",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "The tenant's tokens, without their text", body = Vec<TokenInfo>),
        (status = 404, description = "No such tenant (or not yours)", body = ApiError),
    ),
    tag = "tokens"
)]
pub async fn list(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
) -> ApiResult<Vec<TokenInfo>> {
    principal.tenant(&tenant)?;
    known(&state, &tenant)?;
    let tokens = state.store.api_token_list(&tenant).await.map_err(super::internal)?;
    Ok(Json(tokens.iter().map(TokenInfo::from).collect()))
}

/// `DELETE /api/v1/tenants/{tenant}/tokens/{id}`.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/tokens/{id}",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("id" = String, Path, description = "Token id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Read-only token", body = ApiError),
        (status = 404, description = "No such token or tenant", body = ApiError),
    ),
    tag = "tokens"
)]
pub async fn revoke(
    principal: Principal,
    State(state): State<AdminState>,
    Path((tenant, id)): Path<(String, String)>,
) -> Result<StatusCode, super::access::Refusal> {
    principal.tenant(&tenant)?;
    principal.require_admin()?;
    known(&state, &tenant)?;
    let Some(record) = state.store.api_token_get(&tenant, &id).await.map_err(super::internal)? else {
        return Err(super::error(StatusCode::NOT_FOUND, format!("no token `{id}`")));
    };
    state
        .store
        .api_token_remove(&tenant, &id)
        .await
        .map_err(super::internal)?;
    audit(&state, &tenant, &principal, "token.revoke", &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn audit(
    state: &AdminState,
    tenant: &str,
    principal: &Principal,
    action: &str,
    token: &ApiToken,
) -> Result<(), super::access::Refusal> {
    let record = AuditRecord {
        at: now_ms(),
        actor: principal.name(),
        action: action.into(),
        target: format!("token:{}", token.id),
        reason: token.label.clone(),
        detail: serde_json::Value::Null,
    };
    state.store.audit_append(tenant, &record).await.map_err(super::internal)
}
