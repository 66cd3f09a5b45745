//! `GET /api/v1/tenants/{tenant}/complaints/summary`: the tenant's complaint counts (exact
//! windows, per calendar month for a per-complaint fee), its rates against its profile's bands
//! and its open cases (`complaints::summary`). A tenant sees its own. Only reads.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::access::Principal;
use super::{AdminState, ApiResult};
use crate::complaints::summary::{summarize, ComplaintSummary};

/// `GET /api/v1/tenants/{tenant}/complaints/summary`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/complaints/summary",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Complaint counts, rates and open cases", body = ComplaintSummary),
        (status = 404, description = "No such tenant (or not yours)", body = super::api::ApiError),
        (status = 503, description = "Store unavailable", body = super::api::ApiError),
    ),
    tag = "complaints"
)]
pub async fn get(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
) -> ApiResult<ComplaintSummary> {
    principal.tenant(&tenant)?;
    let Some(found) = state.tenants.get(&tenant) else {
        return Err(super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`")));
    };
    let profile = state.engine.profile_for(&found);
    summarize(
        state.store.as_ref(),
        &tenant,
        &profile.complaints,
        crate::queue::now_ms(),
    )
    .await
    .map(Json)
    .map_err(super::internal)
}
