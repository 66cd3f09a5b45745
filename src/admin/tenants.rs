//! Tenant endpoints: list, show, create, patch, set credentials, delete. A provider's control
//! panel manages its tenants here at runtime; `[[tenant]]` entries only seed the store.
//!
//! Every write goes to the store first, field by field (never the whole record, so a block or a
//! domain verification made at the same time stays), then to this node's live directory; other
//! nodes sharing the store pick it up within two seconds (`tenant::follow`). Every
//! change is audited with the caller's name. Passwords are hashed (argon2id) on a blocking
//! thread and never stored, logged or returned; hashes never leave the server.

use super::extract::{ApiJson, ApiQuery};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::access::{Principal, Refusal};
use super::api::{CreateTenant, CredentialList, PatchTenant, SetCredential, TenantPage, TenantView};
use super::AdminState;
use crate::queue::now_ms;
use crate::store::{AuditRecord, TenantChange, TenantField, TenantRecord, TenantState};
use crate::tenant::{validate, TenantSpec};

use super::tenant_input::{check_credentials, check_fields, domain_entries, hash_all, refuse_if_any, view};

/// Page size when none is asked for, and the largest one served.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// `GET /api/v1/tenants` query.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
pub struct ListQuery {
    /// Page size (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Tenants to skip (ordered by id).
    pub offset: Option<usize>,
    /// Only tenants in this state.
    pub state: Option<TenantState>,
}

/// `DELETE /api/v1/tenants/{tenant}` query.
#[derive(Debug, Default, Deserialize, Serialize, utoipa::IntoParams)]
pub struct DeleteQuery {
    /// Delete even while mail of the tenant is queued (it is still delivered).
    #[serde(default)]
    pub force: bool,
}

fn no_tenant(id: &str) -> Refusal {
    super::error(StatusCode::NOT_FOUND, format!("no tenant `{id}`"))
}

async fn audit(state: &AdminState, principal: &Principal, tenant: &str, action: &str, detail: serde_json::Value) {
    let record = AuditRecord {
        at: now_ms(),
        actor: principal.name(),
        action: action.to_string(),
        target: tenant.to_string(),
        reason: String::new(),
        detail,
    };
    // The change is made: a failed audit write is logged, not turned into a failed request.
    if let Err(error) = state.store.audit_append(tenant, &record).await {
        tracing::error!(tenant, action, %error, "writing the audit record failed");
    }
}

async fn read(state: &AdminState, id: &str) -> Result<TenantRecord, Refusal> {
    state
        .store
        .tenant_get(id)
        .await
        .map_err(super::internal)?
        .ok_or_else(|| no_tenant(id))
}

/// Brings this node's live tenant in line with its store record (the state is the live one's:
/// blocks and the ladder own it).
async fn refresh_live(state: &AdminState, id: &str) -> Result<TenantRecord, Refusal> {
    let record = read(state, id).await?;
    let mut spec = TenantSpec::from_record(&record);
    if state.tenants.get(id).is_some() {
        spec.state = None;
    }
    upsert_live(state, spec).await;
    Ok(record)
}

/// Puts a tenant into this node's live directory. Rebuilding the index costs milliseconds with
/// thousands of tenants: on the blocking pool, never on a runtime worker that serves sessions.
async fn upsert_live(state: &AdminState, spec: TenantSpec) {
    let tenants = std::sync::Arc::clone(&state.tenants);
    if let Err(error) = tokio::task::spawn_blocking(move || tenants.upsert(spec)).await {
        tracing::error!(%error, "updating the live tenant directory failed");
    }
}

/// `GET /api/v1/tenants`: staff only.
#[utoipa::path(
    get,
    path = "/api/v1/tenants",
    tag = "tenants",
    params(ListQuery),
    responses(
        (status = 200, description = "one page of tenants, ordered by id", body = TenantPage),
        (status = 400, description = "a limit outside 1..=1000, or a query that does not parse", body = super::api::ApiError),
        (status = 404, description = "the caller is a tenant", body = super::api::ApiError)
    )
)]
pub async fn list(
    State(state): State<AdminState>,
    principal: Principal,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<TenantPage>, Refusal> {
    principal.require_staff()?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        // As the logs' pages: a page the caller did not ask for would look like the whole list.
        return Err(super::error(
            StatusCode::BAD_REQUEST,
            format!("`limit` must be 1..={MAX_PAGE}"),
        ));
    }
    let offset = query.offset.unwrap_or(0);
    let records: Vec<TenantRecord> = state
        .store
        .tenant_list()
        .await
        .map_err(super::internal)?
        .into_iter()
        .filter(|r| query.state.is_none_or(|s| r.state == s))
        .collect();
    let total = records.len();
    let tenants: Vec<TenantView> = records.iter().skip(offset).take(limit).map(view).collect();
    let next_offset = (offset + tenants.len() < total).then_some(offset + tenants.len());
    Ok(Json(TenantPage {
        tenants,
        total,
        next_offset,
    }))
}

/// `GET /api/v1/tenants/{tenant}`: staff, or the tenant itself.
#[utoipa::path(
    get,
    path = "/api/v1/tenants/{tenant}",
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    responses(
        (status = 200, body = TenantView),
        (status = 404, description = "no such tenant, or not the caller's", body = super::api::ApiError)
    )
)]
pub async fn show(
    State(state): State<AdminState>,
    principal: Principal,
    Path(tenant): Path<String>,
) -> Result<Json<TenantView>, Refusal> {
    principal.tenant(&tenant)?;
    Ok(Json(view(&read(&state, &tenant).await?)))
}

/// `POST /api/v1/tenants`: admin only. The tenant can send at once.
#[utoipa::path(
    post,
    path = "/api/v1/tenants",
    tag = "tenants",
    request_body = CreateTenant,
    responses(
        (status = 201, description = "created", body = TenantView),
        (status = 400, description = "invalid fields (all named)", body = super::api::ApiError),
        (status = 409, description = "the id exists", body = super::api::ApiError)
    )
)]
pub async fn create(
    State(state): State<AdminState>,
    principal: Principal,
    ApiJson(request): ApiJson<CreateTenant>,
) -> Result<(StatusCode, Json<TenantView>), Refusal> {
    principal.require_admin()?;
    let profile = request.profile.clone().unwrap_or_else(|| "default".into());
    let mut errors = Vec::new();
    if let Err(message) = validate::id(&request.id) {
        errors.push(format!("id: {message}"));
    }
    errors.extend(check_fields(
        &state,
        Some(&profile),
        Some(&request.limits),
        Some(&request.networks),
        Some(&request.domains),
    ));
    errors.extend(check_credentials(&state, &request.id, &request.credentials));
    refuse_if_any(errors)?;
    let mut record = TenantRecord::new(&request.id, &request.name);
    record.contact = request.contact.filter(|c| !c.trim().is_empty());
    record.profile = profile;
    record.limits = request.limits;
    record.networks = request.networks.clone();
    record.domains = domain_entries(&request.domains);
    let usernames: Vec<String> = request.credentials.iter().map(|c| c.username.clone()).collect();
    record.credentials = hash_all(request.credentials).await?;
    record.credentials.sort_by(|a, b| a.username.cmp(&b.username));
    if !state.store.tenant_create(&record).await.map_err(super::internal)? {
        return Err(super::error(
            StatusCode::CONFLICT,
            format!("tenant `{}` exists", record.id),
        ));
    }
    upsert_live(&state, TenantSpec::from_record(&record)).await;
    let detail = serde_json::json!({
        "name": record.name,
        "profile": record.profile,
        "networks": record.networks,
        "domains": record.domains.iter().map(|d| &d.domain).collect::<Vec<_>>(),
        "usernames": usernames,
    });
    audit(&state, &principal, &record.id, "tenant.create", detail).await;
    tracing::info!(tenant = %record.id, by = %principal.name(), "tenant created");
    Ok((StatusCode::CREATED, Json(view(&record))))
}

/// `PATCH /api/v1/tenants/{tenant}`: admin only; each field given is written on its own.
#[utoipa::path(
    patch,
    path = "/api/v1/tenants/{tenant}",
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body = PatchTenant,
    responses(
        (status = 200, description = "the tenant after the change", body = TenantView),
        (status = 400, description = "invalid fields (all named)", body = super::api::ApiError),
        (status = 404, body = super::api::ApiError)
    )
)]
pub async fn patch(
    State(state): State<AdminState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(request): ApiJson<PatchTenant>,
) -> Result<Json<TenantView>, Refusal> {
    principal.require_admin()?;
    refuse_if_any(check_fields(
        &state,
        request.profile.as_deref(),
        request.limits.as_ref(),
        request.networks.as_deref(),
        request.domains.as_deref(),
    ))?;
    let mut changes = Vec::new();
    if let Some(name) = &request.name {
        changes.push(TenantChange::Set(TenantField::Name(name.clone())));
    }
    if let Some(contact) = &request.contact {
        let contact = Some(contact.clone()).filter(|c| !c.trim().is_empty());
        changes.push(TenantChange::Set(TenantField::Contact(contact)));
    }
    if let Some(profile) = &request.profile {
        changes.push(TenantChange::Set(TenantField::Profile(profile.clone())));
    }
    if let Some(limits) = request.limits {
        changes.push(TenantChange::Set(TenantField::Limits(limits)));
    }
    if let Some(networks) = &request.networks {
        changes.push(TenantChange::Set(TenantField::Networks(networks.clone())));
    }
    if let Some(domains) = &request.domains {
        // Only the domain entries that change are written: a verification of another domain
        // made meanwhile stays.
        let wanted = domain_entries(domains);
        let current = read(&state, &tenant).await?;
        for old in &current.domains {
            if !wanted.iter().any(|d| d.domain == old.domain) {
                changes.push(TenantChange::RemoveDomain(old.domain.clone()));
            }
        }
        for new in wanted {
            if !current.domains.iter().any(|d| d.domain == new.domain && d.verified) {
                changes.push(TenantChange::PutDomain(new));
            }
        }
    }
    if !changes.is_empty()
        && !state
            .store
            .tenant_update(&tenant, &changes)
            .await
            .map_err(super::internal)?
    {
        return Err(no_tenant(&tenant));
    }
    let record = refresh_live(&state, &tenant).await?;
    let detail = serde_json::to_value(&request).unwrap_or_default();
    audit(&state, &principal, &tenant, "tenant.update", detail).await;
    Ok(Json(view(&record)))
}

/// `PUT /api/v1/tenants/{tenant}/credentials`: admin only; creates or replaces one SMTP AUTH
/// identity. Answers the tenant's user names.
#[utoipa::path(
    put,
    path = "/api/v1/tenants/{tenant}/credentials",
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id")),
    request_body = SetCredential,
    responses(
        (status = 200, description = "the tenant's user names", body = CredentialList),
        (status = 400, body = super::api::ApiError),
        (status = 404, body = super::api::ApiError)
    )
)]
pub async fn set_credentials(
    State(state): State<AdminState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiJson(request): ApiJson<SetCredential>,
) -> Result<Json<CredentialList>, Refusal> {
    principal.require_admin()?;
    if state.tenants.get(&tenant).is_none() {
        return Err(no_tenant(&tenant));
    }
    let username = request.username.clone();
    refuse_if_any(check_credentials(&state, &tenant, std::slice::from_ref(&request)))?;
    let credentials = hash_all(vec![request]).await?;
    let changes: Vec<TenantChange> = credentials.into_iter().map(TenantChange::PutCredential).collect();
    if !state
        .store
        .tenant_update(&tenant, &changes)
        .await
        .map_err(super::internal)?
    {
        return Err(no_tenant(&tenant));
    }
    let record = refresh_live(&state, &tenant).await?;
    audit(
        &state,
        &principal,
        &tenant,
        "tenant.credentials",
        serde_json::json!({ "username": username }),
    )
    .await;
    Ok(Json(CredentialList {
        usernames: record.credentials.iter().map(|c| c.username.clone()).collect(),
    }))
}

/// `DELETE /api/v1/tenants/{tenant}`: admin only; refused while mail of the tenant is queued,
/// unless `?force=true` (the queued mail is still delivered). Its API tokens are revoked; its
/// logs and blocks stay.
#[utoipa::path(
    delete,
    path = "/api/v1/tenants/{tenant}",
    tag = "tenants",
    params(("tenant" = String, Path, description = "tenant id"), DeleteQuery),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, body = super::api::ApiError),
        (status = 409, description = "mail of the tenant is queued", body = super::api::ApiError)
    )
)]
pub async fn delete(
    State(state): State<AdminState>,
    principal: Principal,
    Path(tenant): Path<String>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> Result<StatusCode, Refusal> {
    principal.require_admin()?;
    read(&state, &tenant).await?;
    let queued = state.queue.stored_for_tenant(&tenant).await.map_err(super::internal)?;
    if queued > 0 && !query.force {
        return Err(super::error(
            StatusCode::CONFLICT,
            format!("{queued} message(s) of `{tenant}` are queued; delete with ?force=true to delete anyway"),
        ));
    }
    // Its API tokens go first (and with them the sessions opened with them): a tenant created
    // later under the same id must not be reachable with a departed customer's token.
    let tokens = state.store.api_token_list(&tenant).await.map_err(super::internal)?;
    for token in &tokens {
        state
            .store
            .api_token_remove(&tenant, &token.id)
            .await
            .map_err(super::internal)?;
    }
    if !state.store.tenant_delete(&tenant).await.map_err(super::internal)? {
        return Err(no_tenant(&tenant));
    }
    let tenants = std::sync::Arc::clone(&state.tenants);
    let id = tenant.clone();
    if let Err(error) = tokio::task::spawn_blocking(move || tenants.remove(&id)).await {
        tracing::error!(%error, "removing the tenant from the live directory failed");
    }
    audit(
        &state,
        &principal,
        &tenant,
        "tenant.delete",
        serde_json::json!({ "queued": queued, "force": query.force, "tokens_revoked": tokens.len() }),
    )
    .await;
    tracing::warn!(tenant = %tenant, by = %principal.name(), queued, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::policy::profile::Profile;
    use crate::store::RateStore;

    /// The admin state of a gateway with tenants `a` and `b`, on a fresh RocksDB and queue.
    async fn state(dir: &std::path::Path) -> AdminState {
        let store: Arc<dyn RateStore> = Arc::new(
            crate::store::rocks::RocksStore::open(&dir.join("store"), Duration::from_secs(86_400)).expect("store"),
        );
        for id in ["a", "b"] {
            assert!(store.tenant_create(&TenantRecord::new(id, id)).await.expect("create"));
        }
        let records = store.tenant_list().await.expect("list");
        let tenants = Arc::new(crate::tenant::TenantDirectory::from_specs(
            records.iter().map(TenantSpec::from_record).collect(),
        ));
        let default = Arc::new(Profile::default());
        let profiles = HashMap::from([("default".to_string(), default.clone())]);
        let mut config = crate::config::Config::default();
        config.server.data_dir = dir.display().to_string();
        let access = Arc::new(crate::admin::access::Access::new(&config, store.clone()).expect("access"));
        let keys = crate::complaints::TraceKeys::from_config(&[crate::complaints::attribution::generate_key()]);
        let complaints = Arc::new(crate::complaints::book::ComplaintBook::new(store.clone(), Vec::new()));
        let intake = Arc::new(crate::complaints::intake::Intake::new(
            keys.expect("trace key"),
            store.clone(),
            complaints.clone(),
            &[],
            1 << 20,
        ));
        AdminState {
            intake,
            complaints,
            engine: Arc::new(crate::policy::Engine::new(store.clone(), profiles, default)),
            store,
            tenants,
            dns: crate::dns::Dns::new(&crate::config::DnsConfig::default()).expect("dns"),
            access,
            queue: crate::queue::Queue::open(&dir.join("queue")).expect("queue"),
            unsubscribe: None,
            backups: Arc::new(crate::backup::Backups::new(&config)),
        }
    }

    fn status<T>(result: Result<T, Refusal>) -> Result<(), StatusCode> {
        result.map(|_| ()).map_err(|(status, _)| status)
    }

    #[tokio::test]
    async fn a_tenant_sees_only_itself_and_changes_nothing() {
        let dir = tempfile::tempdir().expect("tmp");
        let state = state(dir.path()).await;
        let tenant = Principal::Tenant { id: "a".into() };
        let listed = list(State(state.clone()), tenant.clone(), ApiQuery(ListQuery::default())).await;
        assert_eq!(status(listed), Err(StatusCode::NOT_FOUND));
        let own = show(State(state.clone()), tenant.clone(), Path("a".into())).await;
        assert_eq!(own.expect("own tenant").0.id, "a");
        let other = show(State(state.clone()), tenant.clone(), Path("b".into())).await;
        assert_eq!(status(other), Err(StatusCode::NOT_FOUND));
        let missing = show(State(state.clone()), tenant.clone(), Path("zz".into())).await;
        assert_eq!(
            status(missing),
            Err(StatusCode::NOT_FOUND),
            "the same answer as another's"
        );
        let request = CreateTenant {
            id: "c".into(),
            ..Default::default()
        };
        let created = create(State(state.clone()), tenant.clone(), ApiJson(request.clone())).await;
        assert_eq!(status(created), Err(StatusCode::NOT_FOUND));
        let patched = patch(
            State(state.clone()),
            tenant.clone(),
            Path("a".into()),
            ApiJson(PatchTenant::default()),
        )
        .await;
        assert_eq!(
            status(patched),
            Err(StatusCode::NOT_FOUND),
            "tenants do not edit their record"
        );
        let deleted = delete(
            State(state.clone()),
            tenant,
            Path("a".into()),
            ApiQuery(DeleteQuery::default()),
        )
        .await;
        assert_eq!(deleted.map_err(|(s, _)| s), Err(StatusCode::NOT_FOUND));

        let operator = Principal::Operator { name: "desk".into() };
        let listed = list(State(state.clone()), operator.clone(), ApiQuery(ListQuery::default())).await;
        assert_eq!(listed.expect("operator lists").0.total, 2);
        let created = create(State(state.clone()), operator, ApiJson(request)).await;
        assert_eq!(status(created), Err(StatusCode::FORBIDDEN), "read-only");
        assert!(state.store.tenant_get("c").await.expect("get").is_none());
    }
}
