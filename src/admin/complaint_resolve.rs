//! `POST /api/v1/complaints/{id}/resolve`: an operator resolves a complaint case
//! (`complaints::cases::resolve`): recorded as an event and audited, by the caller, with a
//! reason. A suspension the case caused is not lifted by it (lift the block for that).

use super::extract::ApiJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::access::Principal;
use super::{AdminState, ApiResult};
use crate::complaints::cases::{resolve as resolve_case, Case, ResolveError};

/// The body of a resolution.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ResolveCase {
    /// Why the case is resolved (what the tenant corrected).
    pub reason: String,
}

/// `POST /api/v1/complaints/{id}/resolve` (admin only; `by` is the caller).
#[utoipa::path(
    post,
    path = "/api/v1/complaints/{id}/resolve",
    params(("id" = String, Path, description = "Case id")),
    request_body = ResolveCase,
    responses(
        (status = 200, description = "The case, resolved", body = Case),
        (status = 400, description = "No reason", body = super::api::ApiError),
        (status = 403, description = "Read-only token", body = super::api::ApiError),
        (status = 404, description = "No such case", body = super::api::ApiError),
        (status = 409, description = "Already resolved", body = super::api::ApiError),
        (status = 503, description = "Store unavailable", body = super::api::ApiError),
    ),
    tag = "complaints"
)]
pub async fn resolve(
    principal: Principal,
    State(state): State<AdminState>,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ResolveCase>,
) -> ApiResult<Case> {
    principal.require_admin()?;
    let now = crate::queue::now_ms();
    match resolve_case(state.store.as_ref(), &id, &principal.name(), &request.reason, now).await {
        Ok(case) => Ok(Json(case)),
        Err(ResolveError::Store(error)) => Err(super::internal(error)),
        Err(error @ ResolveError::NotFound(_)) => Err(super::error(StatusCode::NOT_FOUND, error.to_string())),
        Err(error @ ResolveError::AlreadyResolved(_)) => Err(super::error(StatusCode::CONFLICT, error.to_string())),
        Err(error @ ResolveError::Incomplete) => Err(super::error(StatusCode::BAD_REQUEST, error.to_string())),
    }
}
