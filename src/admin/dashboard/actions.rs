//! The admin's forms on a tenant page: place and lift a block. They go through the API's own
//! handlers (`blocks::tenant_add`, `blocks::tenant_lift`: the same checks, validation, audit
//! and live state change, the logged-in admin as `by`); the CSRF token was checked before they
//! run.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::refused;
use crate::admin::access::Principal;
use crate::admin::api::{BlockLift, NewBlock};
use crate::admin::extract::ApiJson;
use crate::admin::{blocks, AdminState};
use crate::store::BlockScope;

/// The block and lift forms' fields.
#[derive(Debug, Deserialize)]
pub struct BlockForm {
    scope: BlockScope,
    #[serde(default)]
    target: String,
    #[serde(default)]
    reason: String,
}

/// `POST /admin/tenants/{tenant}/block`.
pub async fn block(
    Extension(principal): Extension<Principal>,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    Form(form): Form<BlockForm>,
) -> Response {
    if let Err(refusal) = require_reason(&form.reason) {
        return refused(refusal);
    }
    let request = NewBlock {
        scope: form.scope,
        target: form.target,
        reason: form.reason,
        expires_at: None,
    };
    match blocks::tenant_add(principal, State(state), Path(tenant.clone()), ApiJson(request)).await {
        Ok(_) => back_to(&tenant),
        Err(refusal) => refused(refusal),
    }
}

/// `POST /admin/tenants/{tenant}/lift`.
pub async fn lift(
    Extension(principal): Extension<Principal>,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    Form(form): Form<BlockForm>,
) -> Response {
    if let Err(refusal) = require_reason(&form.reason) {
        return refused(refusal);
    }
    let request = BlockLift {
        scope: form.scope,
        target: form.target,
        reason: form.reason,
    };
    match blocks::tenant_lift(principal, State(state), Path(tenant.clone()), ApiJson(request)).await {
        Ok(_) => back_to(&tenant),
        Err(refusal) => refused(refusal),
    }
}

fn require_reason(reason: &str) -> Result<(), crate::admin::access::Refusal> {
    if reason.trim().is_empty() {
        return Err(crate::admin::error(
            StatusCode::BAD_REQUEST,
            "a reason is required".into(),
        ));
    }
    Ok(())
}

/// After the form: the tenant's page again (303, so a reload does not post twice).
fn back_to(tenant: &str) -> Response {
    Redirect::to(&format!("/dashboard/tenants/{}", super::page::url_encode(tenant))).into_response()
}
