//! Block endpoints: list, add and lift blocks. A tenant-scope block suspends the tenant at once
//! (every session sees the new state) and lifting it makes the tenant active again; the store
//! audits both with who, why and when. A block may carry an `expires_at` after which the checks
//! no longer apply it. Per tenant under `/api/v1/tenants/{tenant}/blocks` (who acts is the
//! caller); the older provider-wide `/api/v1/blocks` routes stay for scripts.

use super::extract::{ApiJson, ApiQuery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::access::Principal;
use super::api::{AddBlock, ApiError, BlockLift, LiftBlock, NewBlock};
use super::{AdminState, ApiResult};
use crate::queue::now_ms;
use crate::store::{Block, BlockScope, Lift, TenantChange, TenantField, TenantState};

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this tenant's blocks.
    tenant: Option<String>,
}

type Refused = (StatusCode, Json<ApiError>);

/// `GET /api/v1/blocks[?tenant=T]`: the blocks of every tenant (staff only).
#[utoipa::path(
    get,
    path = "/api/v1/blocks",
    params(ListQuery),
    responses((status = 200, description = "Blocks", body = Vec<Block>), (status = 404, description = "Not staff", body = ApiError)),
    tag = "blocks"
)]
pub async fn list(
    principal: Principal,
    State(state): State<AdminState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<Vec<Block>> {
    principal.require_staff()?;
    let tenants: Vec<String> = match query.tenant {
        Some(tenant) => vec![tenant],
        None => state
            .store
            .tenant_list()
            .await
            .map_err(super::internal)?
            .into_iter()
            .map(|t| t.id)
            .collect(),
    };
    let mut blocks = Vec::new();
    for tenant in tenants {
        blocks.extend(state.store.blocks_list(&tenant).await.map_err(super::internal)?);
    }
    Ok(Json(blocks))
}

/// `POST /api/v1/blocks`: place a block on any tenant (admin only; `by` from the body).
#[utoipa::path(
    post,
    path = "/api/v1/blocks",
    request_body = AddBlock,
    responses((status = 200, description = "The block placed", body = Block), (status = 400, description = "Bad request", body = ApiError), (status = 404, description = "No such tenant", body = ApiError)),
    tag = "blocks"
)]
pub async fn add(
    principal: Principal,
    State(state): State<AdminState>,
    ApiJson(request): ApiJson<AddBlock>,
) -> ApiResult<Block> {
    principal.require_admin()?;
    if request.expires_at.is_some_and(|expiry| expiry <= now_ms()) {
        return Err(super::error(
            StatusCode::BAD_REQUEST,
            "`expires_at` is in the past".into(),
        ));
    }
    place(
        &state,
        &request.tenant,
        request.scope,
        &request.target,
        &request.by,
        &request.reason,
        request.expires_at,
    )
    .await
    .map(Json)
}

/// `POST /api/v1/blocks/lift`: lift a block of any tenant (admin only; `by` from the body).
#[utoipa::path(
    post,
    path = "/api/v1/blocks/lift",
    request_body = LiftBlock,
    responses((status = 200, description = "The block lifted", body = Block), (status = 404, description = "No such block or tenant", body = ApiError)),
    tag = "blocks"
)]
pub async fn lift(
    principal: Principal,
    State(state): State<AdminState>,
    ApiJson(request): ApiJson<LiftBlock>,
) -> ApiResult<Block> {
    principal.require_admin()?;
    remove(
        &state,
        &request.tenant,
        request.scope,
        &request.target,
        &request.by,
        &request.reason,
    )
    .await
    .map(Json)
}

/// `GET /api/v1/tenants/{tenant}/blocks`: the tenant's blocks (a tenant sees its own).
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/blocks",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "The tenant's blocks", body = Vec<Block>), (status = 404, description = "No such tenant (or not yours)", body = ApiError)),
    tag = "blocks"
)]
pub async fn tenant_list(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
) -> ApiResult<Vec<Block>> {
    principal.tenant(&tenant)?;
    live(&state, &tenant)?;
    state
        .store
        .blocks_list(&tenant)
        .await
        .map(Json)
        .map_err(super::internal)
}

/// `POST /api/v1/tenants/{tenant}/blocks`: place a block; `by` is the caller (admin only).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/blocks",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = NewBlock,
    responses((status = 200, description = "The block placed", body = Block), (status = 400, description = "Bad request", body = ApiError), (status = 403, description = "Read-only token", body = ApiError), (status = 404, description = "No such tenant", body = ApiError)),
    tag = "blocks"
)]
pub async fn tenant_add(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    ApiJson(request): ApiJson<NewBlock>,
) -> ApiResult<Block> {
    principal.tenant(&tenant)?;
    principal.require_admin()?;
    if request.expires_at.is_some_and(|expiry| expiry <= now_ms()) {
        return Err(super::error(
            StatusCode::BAD_REQUEST,
            "`expires_at` is in the past".into(),
        ));
    }
    place(
        &state,
        &tenant,
        request.scope,
        &request.target,
        &principal.name(),
        &request.reason,
        request.expires_at,
    )
    .await
    .map(Json)
}

/// `POST /api/v1/tenants/{tenant}/blocks/lift`: lift a block; `by` is the caller (admin only).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/blocks/lift",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = BlockLift,
    responses((status = 200, description = "The block lifted", body = Block), (status = 403, description = "Read-only token", body = ApiError), (status = 404, description = "No such block or tenant", body = ApiError)),
    tag = "blocks"
)]
pub async fn tenant_lift(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    ApiJson(request): ApiJson<BlockLift>,
) -> ApiResult<Block> {
    principal.tenant(&tenant)?;
    principal.require_admin()?;
    remove(
        &state,
        &tenant,
        request.scope,
        &request.target,
        &principal.name(),
        &request.reason,
    )
    .await
    .map(Json)
}

fn live(state: &AdminState, tenant: &str) -> Result<std::sync::Arc<crate::tenant::Tenant>, Refused> {
    state
        .tenants
        .get(tenant)
        .ok_or_else(|| super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`")))
}

/// Places a block (audited by the store) and tells the live tenant.
async fn place(
    state: &AdminState,
    tenant_id: &str,
    scope: BlockScope,
    target_text: &str,
    by: &str,
    reason: &str,
    expires_at: Option<u64>,
) -> Result<Block, Refused> {
    let tenant = live(state, tenant_id)?;
    validate(by, reason, scope, target_text)?;
    let block = Block {
        tenant: tenant_id.to_string(),
        scope,
        target: target(scope, target_text),
        by: by.to_string(),
        reason: reason.to_string(),
        at: now_ms(),
        expires_at,
    };
    state.store.block_add(&block).await.map_err(super::internal)?;
    match block.scope {
        BlockScope::Tenant => {
            // The store first: a node following the store never reads the old state after
            // this node's live state changed.
            set_state(state, &tenant.id, TenantState::Suspended, None).await?;
            tenant.state.set(TenantState::Suspended);
        }
        BlockScope::Sender => tenant.narrow_blocks.mark_sender(),
        BlockScope::Campaign => tenant.narrow_blocks.mark_campaign(&block.target),
    }
    tracing::warn!(tenant = %block.tenant, scope = ?block.scope, by = %block.by, reason = %block.reason, expires_at = ?block.expires_at, "block added");
    Ok(block)
}

/// Lifts a block (audited by the store) and tells the live tenant.
async fn remove(
    state: &AdminState,
    tenant_id: &str,
    scope: BlockScope,
    target_text: &str,
    by: &str,
    reason: &str,
) -> Result<Block, Refused> {
    let tenant = live(state, tenant_id)?;
    validate(by, reason, scope, target_text)?;
    let lift = Lift {
        by: by.to_string(),
        reason: reason.to_string(),
        at: now_ms(),
    };
    let normalised = target(scope, target_text);
    let mut lifted = state
        .store
        .block_lift(tenant_id, scope, &normalised, &lift)
        .await
        .map_err(super::internal)?;
    if lifted.is_none() && normalised != target_text {
        // A sender block stored as typed, before targets were normalised.
        lifted = state
            .store
            .block_lift(tenant_id, scope, target_text, &lift)
            .await
            .map_err(super::internal)?;
    }
    let lifted = lifted.ok_or_else(|| super::error(StatusCode::NOT_FOUND, "no such block".to_string()))?;
    if lifted.scope == BlockScope::Tenant {
        // Active, and the escalation ladder starts afresh from the lift: one record write.
        set_state(state, &tenant.id, TenantState::Active, Some(lift.at)).await?;
        tenant.state.set(TenantState::Active);
    } else {
        note_blocks(state, &tenant).await;
    }
    tracing::warn!(tenant = %lifted.tenant, scope = ?lifted.scope, by = %lift.by, reason = %lift.reason, "block lifted");
    Ok(lifted)
}

/// After a lift: tells the live tenant which kinds of block it still has (the block checks skip
/// the store when it has none). On a store error the flags stay set, which only costs lookups.
async fn note_blocks(state: &AdminState, tenant: &crate::tenant::Tenant) {
    let generation = tenant.narrow_blocks.generation();
    match state.store.blocks_list(&tenant.id).await {
        Ok(blocks) => tenant.narrow_blocks.note(&blocks, generation),
        Err(error) => tracing::warn!(tenant = %tenant.id, %error, "re-reading the tenant's blocks failed"),
    }
}

/// A block's target as the checks compare it: a sender address as its counting identity (case,
/// quotes and `+tag` folded), a campaign id lower-cased.
fn target(scope: BlockScope, target: &str) -> String {
    match scope {
        BlockScope::Tenant => String::new(),
        BlockScope::Sender => crate::policy::recipient::identity(target.trim(), true),
        BlockScope::Campaign => target.trim().to_ascii_lowercase(),
    }
}

fn validate(
    by: &str,
    reason: &str,
    scope: BlockScope,
    target: &str,
) -> Result<(), (StatusCode, Json<super::api::ApiError>)> {
    if by.trim().is_empty() || reason.trim().is_empty() {
        return Err(super::error(
            StatusCode::BAD_REQUEST,
            "`by` and `reason` are required".into(),
        ));
    }
    match (scope, target.trim().is_empty()) {
        (BlockScope::Tenant, false) => Err(super::error(
            StatusCode::BAD_REQUEST,
            "a tenant block takes no target".into(),
        )),
        (BlockScope::Campaign | BlockScope::Sender, true) => Err(super::error(
            StatusCode::BAD_REQUEST,
            "campaign and sender blocks need a target".into(),
        )),
        _ => Ok(()),
    }
}

/// Writes the tenant's state (one field, never the whole record); with `ladder_since`, the
/// escalation ladder counts only violations after that time (a lifted suspension is a fresh
/// start; the events and the audit log keep the history).
async fn set_state(
    state: &AdminState,
    id: &str,
    new: TenantState,
    ladder_since: Option<u64>,
) -> Result<(), (StatusCode, Json<super::api::ApiError>)> {
    let mut changes = vec![TenantChange::Set(TenantField::State(new))];
    if let Some(at) = ladder_since {
        changes.push(TenantChange::Set(TenantField::LadderSince(at)));
    }
    state.store.tenant_update(id, &changes).await.map_err(super::internal)?;
    Ok(())
}
