//! A tenant's suppression list over the API: list, add, remove (with a reason). The relay adds
//! hard-bounced recipients itself; here an operator (or the tenant, for its own list) adds or
//! removes an address by hand. Both changes are audited. Addresses are stored as the check
//! compares them: the mailbox with `+tag` and case folded (`policy::recipient::identity`).

use super::extract::{ApiJson, ApiQuery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::access::{Principal, Refusal};
use super::api::{AddSuppression, ApiError, RemoveSuppression};
use super::{AdminState, ApiResult};
use crate::policy::recipient::identity;
use crate::queue::now_ms;
use crate::store::{AuditRecord, Suppression};

fn known(state: &AdminState, tenant: &str) -> Result<(), Refusal> {
    match state.tenants.get(tenant) {
        Some(_) => Ok(()),
        None => Err(super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`"))),
    }
}

/// The mailbox as the list keeps it; `400` for anything that is not `local@domain`.
fn mailbox(address: &str) -> Result<String, Refusal> {
    let address = address.trim().trim_start_matches('<').trim_end_matches('>');
    match address.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !address.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(identity(address, true))
        }
        _ => Err(super::error(
            StatusCode::BAD_REQUEST,
            format!("`{address}` is not an email address"),
        )),
    }
}

fn reason_given(reason: &str) -> Result<(), Refusal> {
    if reason.trim().is_empty() {
        return Err(super::error(StatusCode::BAD_REQUEST, "`reason` is required".into()));
    }
    Ok(())
}

async fn audit(
    state: &AdminState,
    tenant: &str,
    actor: &str,
    action: &str,
    address: &str,
    reason: &str,
) -> Result<(), Refusal> {
    let record = AuditRecord {
        at: now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: address.to_string(),
        reason: reason.to_string(),
        detail: serde_json::Value::Null,
    };
    state.store.audit_append(tenant, &record).await.map_err(super::internal)
}

/// `GET /api/v1/tenants/{tenant}/suppression`: the list, ordered by address.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/suppression",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses(
        (status = 200, description = "Suppressed addresses", body = Vec<Suppression>),
        (status = 404, description = "No such tenant (or not yours)", body = ApiError),
    ),
    tag = "suppression"
)]
pub async fn list(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
) -> ApiResult<Vec<Suppression>> {
    principal.tenant(&tenant)?;
    known(&state, &tenant)?;
    state
        .store
        .suppression_list(&tenant)
        .await
        .map(Json)
        .map_err(super::internal)
}

/// `POST /api/v1/tenants/{tenant}/suppression`: suppress an address (audited).
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/suppression",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = AddSuppression,
    responses(
        (status = 200, description = "The entry added", body = Suppression),
        (status = 400, description = "Not an address, or no reason", body = ApiError),
        (status = 403, description = "Read-only token", body = ApiError),
        (status = 404, description = "No such tenant (or not yours)", body = ApiError),
    ),
    tag = "suppression"
)]
pub async fn add(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    ApiJson(request): ApiJson<AddSuppression>,
) -> ApiResult<Suppression> {
    principal.tenant(&tenant)?;
    principal.require_write()?;
    known(&state, &tenant)?;
    let address = mailbox(&request.address)?;
    reason_given(&request.reason)?;
    let entry = Suppression {
        address: address.clone(),
        at: now_ms(),
        reason: request.reason.trim().to_string(),
    };
    state
        .store
        .suppression_add(&tenant, &entry)
        .await
        .map_err(super::internal)?;
    audit(
        &state,
        &tenant,
        &principal.name(),
        "suppression.add",
        &address,
        &entry.reason,
    )
    .await?;
    Ok(Json(entry))
}

/// `DELETE /api/v1/tenants/{tenant}/suppression/{address}?reason=...`: take an address off the
/// list (audited); `404` when it was not on it.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}/suppression/{address}",
    params(
        ("tenant" = String, Path, description = "Tenant id"),
        ("address" = String, Path, description = "The suppressed address"),
        RemoveSuppression,
    ),
    responses(
        (status = 200, description = "The address removed", body = Suppression),
        (status = 400, description = "Not an address, or no reason", body = ApiError),
        (status = 403, description = "Read-only token", body = ApiError),
        (status = 404, description = "Not on the list, or no such tenant", body = ApiError),
    ),
    tag = "suppression"
)]
pub async fn remove(
    principal: Principal,
    State(state): State<AdminState>,
    Path((tenant, address)): Path<(String, String)>,
    ApiQuery(request): ApiQuery<RemoveSuppression>,
) -> ApiResult<Suppression> {
    principal.tenant(&tenant)?;
    principal.require_write()?;
    known(&state, &tenant)?;
    let address = mailbox(&address)?;
    reason_given(&request.reason)?;
    if !state
        .store
        .suppression_remove(&tenant, &address)
        .await
        .map_err(super::internal)?
    {
        return Err(super::error(
            StatusCode::NOT_FOUND,
            format!("`{address}` is not on the suppression list"),
        ));
    }
    let reason = request.reason.trim().to_string();
    audit(
        &state,
        &tenant,
        &principal.name(),
        "suppression.remove",
        &address,
        &reason,
    )
    .await?;
    Ok(Json(Suppression {
        address,
        at: now_ms(),
        reason,
    }))
}

#[cfg(test)]
mod tests {
    use super::mailbox;

    #[test]
    fn addresses_are_kept_as_the_check_compares_them() {
        assert_eq!(
            mailbox(" <Ann+News@Example.ORG> ").expect("ok"),
            mailbox("ann@example.org").expect("ok")
        );
        for bad in ["", "ann", "@example.org", "ann@", "a b@example.org"] {
            assert!(mailbox(bad).is_err(), "{bad:?}");
        }
    }
}
