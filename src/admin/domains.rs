//! Domain verification endpoints. The admin adds a domain for a tenant and the gateway issues a
//! token; the tenant publishes `_aupgate.<domain> TXT "aupgate-verify=<token>"`; a verify call
//! looks it up with the gateway's resolver. An admin may also mark a domain verified by hand.
//! Every step is audited. Verified domains cover their subdomains (see `Tenant::owns_domain`).
//! State lives in the tenant's store record, one field per domain (written alone, so a
//! verification never overwrites another change of the tenant), so it survives restarts.

use super::extract::ApiJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::access::Principal;
use super::api::ApiError;
use super::{AdminState, ApiResult};
use crate::dns::DnsError;
use crate::queue::now_ms;
use crate::store::{AuditRecord, TenantChange, TenantDomain, TenantRecord};
use crate::tenant::normalize_domain;

/// One domain of a tenant and its verification state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DomainStatus {
    pub domain: String,
    pub token: String,
    pub verified: bool,
    /// The TXT record the tenant must publish.
    pub record: String,
}

/// `POST /api/v1/tenants/{tenant}/domains` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AddDomain {
    pub domain: String,
    pub by: String,
}

/// `POST /api/v1/tenants/{tenant}/domains/{domain}/mark-verified` body.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MarkVerified {
    pub by: String,
    pub reason: String,
}

pub(super) fn record_name(domain: &str) -> String {
    format!("_aupgate.{domain}")
}

pub(crate) fn status(domain: &str, token: &str, verified: bool) -> DomainStatus {
    DomainStatus {
        domain: domain.to_string(),
        token: token.to_string(),
        verified,
        // A domain vouched for (no token) has nothing to publish.
        record: if token.is_empty() {
            String::new()
        } else {
            format!("{} TXT \"aupgate-verify={token}\"", record_name(domain))
        },
    }
}

pub(super) async fn load(
    state: &AdminState,
    tenant: &str,
) -> Result<TenantRecord, (StatusCode, Json<super::api::ApiError>)> {
    let missing = || super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`"));
    state.tenants.get(tenant).ok_or_else(missing)?;
    state
        .store
        .tenant_get(tenant)
        .await
        .map_err(super::internal)?
        .ok_or_else(missing)
}

pub(super) fn domains(record: &TenantRecord) -> Vec<DomainStatus> {
    record
        .domains
        .iter()
        .map(|d| status(&d.domain, &d.token, d.verified))
        .collect()
}

/// Writes one domain entry (field-level: nothing else of the tenant is rewritten).
async fn store_domain(
    state: &AdminState,
    tenant: &str,
    entry: &DomainStatus,
) -> Result<(), (StatusCode, Json<super::api::ApiError>)> {
    let change = TenantChange::PutDomain(TenantDomain {
        domain: entry.domain.clone(),
        token: entry.token.clone(),
        verified: entry.verified,
    });
    let written = state
        .store
        .tenant_update(tenant, &[change])
        .await
        .map_err(super::internal)?;
    if written {
        Ok(())
    } else {
        Err(super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`")))
    }
}

async fn audit(
    state: &AdminState,
    tenant: &str,
    actor: &str,
    action: &str,
    domain: &str,
    reason: &str,
) -> Result<(), (StatusCode, Json<super::api::ApiError>)> {
    let record = AuditRecord {
        at: now_ms(),
        actor: actor.to_string(),
        action: action.to_string(),
        target: domain.to_string(),
        reason: reason.to_string(),
        detail: serde_json::Value::Null,
    };
    state.store.audit_append(tenant, &record).await.map_err(super::internal)
}

/// `GET /api/v1/tenants/{tenant}/domains`.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}/domains",
    params(("tenant" = String, Path, description = "Tenant id")),
    responses((status = 200, description = "The tenant's domains", body = Vec<DomainStatus>), (status = 404, description = "No such tenant (or not yours)", body = ApiError)),
    tag = "domains"
)]
pub async fn list(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
) -> ApiResult<Vec<DomainStatus>> {
    principal.tenant(&tenant)?;
    let record = load(&state, &tenant).await?;
    Ok(Json(domains(&record)))
}

/// `POST /api/v1/tenants/{tenant}/domains`: issue (or re-show) the token for a domain.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/domains",
    params(("tenant" = String, Path, description = "Tenant id")),
    request_body = AddDomain,
    responses((status = 200, description = "The domain and its token", body = DomainStatus), (status = 400, description = "Not a domain name", body = ApiError), (status = 404, description = "No such tenant (or not yours)", body = ApiError)),
    tag = "domains"
)]
pub async fn add(
    principal: Principal,
    State(state): State<AdminState>,
    Path(tenant): Path<String>,
    ApiJson(request): ApiJson<AddDomain>,
) -> ApiResult<DomainStatus> {
    principal.tenant(&tenant)?;
    principal.require_write()?;
    let domain = normalize_domain(&request.domain).ok_or_else(|| {
        super::error(
            StatusCode::BAD_REQUEST,
            format!("`{}` is not a domain name", request.domain),
        )
    })?;
    let record = load(&state, &tenant).await?;
    let list = domains(&record);
    if let Some(existing) = list.iter().find(|d| d.domain == domain) {
        return Ok(Json(existing.clone()));
    }
    let token: String = (0..24).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
    let entry = status(&domain, &token, false);
    store_domain(&state, &tenant, &entry).await?;
    // A tenant acts as itself, whatever `by` says; staff name the person acting.
    let actor = if principal.is_staff() {
        request.by.clone()
    } else {
        principal.name()
    };
    audit(&state, &tenant, &actor, "domain.add", &domain, "token issued").await?;
    Ok(Json(entry))
}

/// `POST /api/v1/tenants/{tenant}/domains/{domain}/verify`: look the token up in DNS.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/domains/{domain}/verify",
    params(("tenant" = String, Path, description = "Tenant id"), ("domain" = String, Path, description = "Domain")),
    responses((status = 200, description = "Verified", body = DomainStatus), (status = 404, description = "Domain not added, or no such tenant", body = ApiError), (status = 409, description = "The TXT record is not there yet", body = ApiError), (status = 503, description = "Temporary DNS failure", body = ApiError)),
    tag = "domains"
)]
pub async fn verify(
    principal: Principal,
    State(state): State<AdminState>,
    Path((tenant, domain)): Path<(String, String)>,
) -> ApiResult<DomainStatus> {
    principal.tenant(&tenant)?;
    principal.require_write()?;
    let domain =
        normalize_domain(&domain).ok_or_else(|| super::error(StatusCode::BAD_REQUEST, "not a domain name".into()))?;
    let record = load(&state, &tenant).await?;
    let mut list = domains(&record);
    let index = list.iter().position(|d| d.domain == domain).ok_or_else(|| {
        super::error(
            StatusCode::NOT_FOUND,
            format!("`{domain}` was not added for `{tenant}`"),
        )
    })?;
    let expected = format!("aupgate-verify={}", list[index].token);
    let found = match state.dns.txt_fresh(&record_name(&domain)).await {
        Ok(texts) => texts.iter().any(|t| t.trim() == expected),
        Err(DnsError::NotFound { .. }) => false,
        Err(error) => {
            // A temporary DNS failure is never a "no": the domain stays as it was and the caller
            // retries. HTTP 503 says "later" to HTTP clients; the text carries the SMTP-style
            // temporary code operators' scripts match on.
            return Err(super::error(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("451 4.4.3 temporary DNS failure, try again later: {error}"),
            ));
        }
    };
    if !found {
        return Err(super::error(
            StatusCode::CONFLICT,
            format!(
                "{} does not carry the expected TXT record yet ({})",
                record_name(&domain),
                list[index].record
            ),
        ));
    }
    list[index].verified = true;
    store_domain(&state, &tenant, &list[index]).await?;
    if let Some(live) = state.tenants.get(&tenant) {
        live.add_domain(&domain);
    }
    audit(&state, &tenant, "dns", "domain.verify", &domain, "TXT token found").await?;
    Ok(Json(list[index].clone()))
}

/// `POST /api/v1/tenants/{tenant}/domains/{domain}/mark-verified`: an operator vouches for it.
#[utoipa::path(
    post,
    path = "/api/v1/tenants/{tenant}/domains/{domain}/mark-verified",
    params(("tenant" = String, Path, description = "Tenant id"), ("domain" = String, Path, description = "Domain")),
    request_body = MarkVerified,
    responses((status = 200, description = "Marked verified", body = DomainStatus), (status = 400, description = "Bad request", body = ApiError), (status = 404, description = "No such tenant", body = ApiError)),
    tag = "domains"
)]
pub async fn mark_verified(
    principal: Principal,
    State(state): State<AdminState>,
    Path((tenant, domain)): Path<(String, String)>,
    ApiJson(request): ApiJson<MarkVerified>,
) -> ApiResult<DomainStatus> {
    principal.tenant(&tenant)?;
    principal.require_admin()?;
    let domain =
        normalize_domain(&domain).ok_or_else(|| super::error(StatusCode::BAD_REQUEST, "not a domain name".into()))?;
    if request.by.trim().is_empty() || request.reason.trim().is_empty() {
        return Err(super::error(
            StatusCode::BAD_REQUEST,
            "`by` and `reason` are required".into(),
        ));
    }
    let record = load(&state, &tenant).await?;
    let entry = match domains(&record).into_iter().find(|d| d.domain == domain) {
        Some(entry) => status(&entry.domain, &entry.token, true),
        None => status(&domain, "", true),
    };
    store_domain(&state, &tenant, &entry).await?;
    if let Some(live) = state.tenants.get(&tenant) {
        live.add_domain(&domain);
    }
    audit(
        &state,
        &tenant,
        &request.by,
        "domain.mark_verified",
        &domain,
        &request.reason,
    )
    .await?;
    Ok(Json(entry))
}
