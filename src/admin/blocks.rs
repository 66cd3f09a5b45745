//! Block endpoints: list, add and lift blocks. A tenant-scope block suspends the tenant at once
//! (every session sees the new state) and lifting it makes the tenant active again; the store
//! audits both with who, why and when.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::api::{AddBlock, LiftBlock};
use super::{AdminState, ApiResult};
use crate::queue::now_ms;
use crate::store::{Block, BlockScope, Lift, TenantChange, TenantField, TenantState};

#[derive(Deserialize)]
pub struct ListQuery {
    tenant: Option<String>,
}

/// `GET /api/v1/blocks[?tenant=T]`.
pub async fn list(State(state): State<AdminState>, Query(query): Query<ListQuery>) -> ApiResult<Vec<Block>> {
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

/// `POST /api/v1/blocks`.
pub async fn add(State(state): State<AdminState>, Json(request): Json<AddBlock>) -> ApiResult<Block> {
    let tenant = state
        .tenants
        .get(&request.tenant)
        .ok_or_else(|| super::error(StatusCode::NOT_FOUND, format!("no tenant `{}`", request.tenant)))?;
    validate(&request.by, &request.reason, request.scope, &request.target)?;
    let block = Block {
        tenant: request.tenant.clone(),
        scope: request.scope,
        target: target(request.scope, &request.target),
        by: request.by.clone(),
        reason: request.reason.clone(),
        at: now_ms(),
    };
    state.store.block_add(&block).await.map_err(super::internal)?;
    match block.scope {
        BlockScope::Tenant => {
            // The store first: a node following the store never reads the old state after
            // this node's live state changed.
            set_state(&state, &tenant.id, TenantState::Suspended, None).await?;
            tenant.state.set(TenantState::Suspended);
        }
        BlockScope::Sender => tenant.narrow_blocks.mark_sender(),
        BlockScope::Campaign => tenant.narrow_blocks.mark_campaign(&block.target),
    }
    tracing::warn!(tenant = %block.tenant, scope = ?block.scope, by = %block.by, reason = %block.reason, "block added");
    Ok(Json(block))
}

/// `POST /api/v1/blocks/lift`.
pub async fn lift(State(state): State<AdminState>, Json(request): Json<LiftBlock>) -> ApiResult<Block> {
    let tenant = state
        .tenants
        .get(&request.tenant)
        .ok_or_else(|| super::error(StatusCode::NOT_FOUND, format!("no tenant `{}`", request.tenant)))?;
    validate(&request.by, &request.reason, request.scope, &request.target)?;
    let lift = Lift {
        by: request.by.clone(),
        reason: request.reason.clone(),
        at: now_ms(),
    };
    let normalised = target(request.scope, &request.target);
    let mut lifted = state
        .store
        .block_lift(&request.tenant, request.scope, &normalised, &lift)
        .await
        .map_err(super::internal)?;
    if lifted.is_none() && normalised != request.target {
        // A sender block stored as typed, before targets were normalised.
        lifted = state
            .store
            .block_lift(&request.tenant, request.scope, &request.target, &lift)
            .await
            .map_err(super::internal)?;
    }
    let lifted = lifted.ok_or_else(|| super::error(StatusCode::NOT_FOUND, "no such block".to_string()))?;
    if lifted.scope == BlockScope::Tenant {
        // Active, and the escalation ladder starts afresh from the lift: one record write.
        set_state(&state, &tenant.id, TenantState::Active, Some(lift.at)).await?;
        tenant.state.set(TenantState::Active);
    } else {
        note_blocks(&state, &tenant).await;
    }
    tracing::warn!(tenant = %lifted.tenant, scope = ?lifted.scope, by = %lift.by, reason = %lift.reason, "block lifted");
    Ok(Json(lifted))
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
