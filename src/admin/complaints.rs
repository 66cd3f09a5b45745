//! Complaints over the API: `POST /api/v1/complaints` takes a raw feedback report
//! (`Content-Type: message/rfc822`) or a complaint the abuse desk types in (JSON), through the
//! same intake as the feedback addresses (`complaints::intake`); `GET /api/v1/complaints` lists
//! them newest first (by tenant, or the unattributed ones), in pages; `GET
//! /api/v1/complaints/{id}` shows one with the returned message. Staff with write rights may
//! post; a tenant sees only its own complaints (another's, or an unattributed one, is `404`).
//! The request and response types are shared with the CLI.

use super::extract::ApiQuery;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::access::{Principal, Refusal};
use super::api::{ApiError, Page};
use super::AdminState;
use crate::complaints::book::StoredEntry;
use crate::complaints::intake::{IntakeError, ManualComplaint, Outcome};
use crate::complaints::report::ReportError;
use crate::complaints::{AttributedBy, ComplaintSource};
use crate::queue::now_ms;
use crate::store::ComplaintScope;

/// Complaints per page unless the query says otherwise, and at most.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;
/// The JSON form is small; anything longer is not one.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// One stored complaint as the API shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ComplaintView {
    pub id: String,
    /// `null` for an unattributed complaint.
    pub tenant: Option<String>,
    pub campaign: Option<String>,
    pub queue_id: Option<String>,
    pub attributed_by: Option<AttributedBy>,
    pub recipient: Option<String>,
    pub reporter: Option<String>,
    pub feedback_type: String,
    /// Unix ms.
    pub received_at: u64,
    /// The reported message's Message-ID.
    pub message_id: Option<String>,
    pub source: ComplaintSource,
    pub urgent: bool,
    pub note: Option<String>,
    /// The returned message (or header) as text; only in `GET /api/v1/complaints/{id}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
}

impl ComplaintView {
    fn of(entry: StoredEntry, with_original: bool) -> ComplaintView {
        let c = entry.complaint;
        ComplaintView {
            id: entry.id,
            tenant: c.tenant,
            campaign: c.campaign,
            queue_id: c.queue_id,
            attributed_by: c.attributed_by,
            recipient: c.recipient,
            reporter: c.reporter,
            feedback_type: c.feedback_type,
            received_at: c.received_at,
            message_id: c.original_message_id,
            source: c.source,
            urgent: c.urgent,
            note: c.note,
            original: with_original.then(|| String::from_utf8_lossy(&c.original).into_owned()),
        }
    }
}

/// Query of `GET /api/v1/complaints`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ComplaintQuery {
    /// Only this tenant's complaints (a tenant's token: always its own).
    pub tenant: Option<String>,
    /// Only the complaints attributed to no tenant (staff only).
    pub unattributed: Option<bool>,
    /// Complaints per page (default 100, at most 1000).
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
}

/// Query of `POST /api/v1/complaints`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PostQuery {
    /// `cli` when `aupgate admin complaints import` posts a report (recorded as its source);
    /// default `http`.
    pub source: Option<String>,
}

fn bad(message: String) -> Refusal {
    super::error(StatusCode::BAD_REQUEST, message)
}

fn refusal(error: IntakeError) -> Refusal {
    match error {
        IntakeError::Report(ReportError::TooBig { size, limit }) => super::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the report is {size} bytes, over [feedback] max_report_size ({limit})"),
        ),
        IntakeError::Invalid(why) => bad(why),
        IntakeError::Complaint(error) => super::internal(error),
    }
}

/// `POST /api/v1/complaints`: a raw feedback report (`message/rfc822`) or the abuse desk's form
/// (`application/json`).
#[utoipa::path(
    post,
    path = "/api/v1/complaints",
    params(PostQuery),
    request_body(
        content(
            (ManualComplaint = "application/json"),
            (String = "message/rfc822"),
        ),
        description = "A feedback report as received (ARF or a Microsoft-style report), or a complaint typed in"
    ),
    responses(
        (status = 201, description = "Stored as a new complaint", body = Outcome),
        (status = 200, description = "A duplicate of a stored complaint, or not a complaint (`ignored`)", body = Outcome),
        (status = 400, description = "Not JSON of the form, or nothing to attribute by", body = ApiError),
        (status = 403, description = "Read-only token", body = ApiError),
        (status = 404, description = "A tenant token, or the named tenant does not exist", body = ApiError),
        (status = 413, description = "Over `[feedback] max_report_size`", body = ApiError),
        (status = 415, description = "Neither `message/rfc822` nor `application/json`", body = ApiError),
        (status = 503, description = "The store failed: try again, nothing was stored", body = ApiError),
    ),
    tag = "complaints"
)]
pub async fn post(
    principal: Principal,
    State(state): State<AdminState>,
    ApiQuery(query): ApiQuery<PostQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Outcome>), Refusal> {
    principal.require_staff()?;
    principal.require_write()?;
    let source = match query.source.as_deref() {
        None | Some("http") => ComplaintSource::Http,
        Some("cli") => ComplaintSource::Cli,
        Some(other) => return Err(bad(format!("`source` is `http` or `cli`, not `{other}`"))),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let json = match content_type.as_str() {
        "message/rfc822" => false,
        "application/json" => true,
        other => {
            return Err(super::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("`{other}`: send message/rfc822 (a report) or application/json (the form)"),
            ))
        }
    };
    let limit = if json { MAX_FORM_BYTES } else { state.intake.max_size() };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(size) = declared.filter(|size| *size > limit) {
        return Err(super::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is {size} bytes, over the limit of {limit} ([feedback] max_report_size for reports)"),
        ));
    }
    let bytes = axum::body::to_bytes(body, limit.saturating_add(1))
        .await
        .map_err(|e| bad(format!("reading the body: {e}")))?;
    let now = now_ms();
    let outcome = if json {
        let form: ManualComplaint =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a complaint form: {e}")))?;
        if let Some(tenant) = form.tenant.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
            if state.tenants.get(tenant).is_none() {
                return Err(super::error(StatusCode::NOT_FOUND, format!("no tenant `{tenant}`")));
            }
        }
        state.intake.manual(&form, now).await.map_err(refusal)?
    } else {
        state.intake.report(&bytes, source, now).await.map_err(refusal)?
    };
    let status = match outcome {
        Outcome::Recorded { .. } => StatusCode::CREATED,
        Outcome::Duplicate { .. } | Outcome::Ignored { .. } => StatusCode::OK,
    };
    Ok((status, Json(outcome)))
}

/// `GET /api/v1/complaints`: complaints, newest first, in pages.
#[utoipa::path(
    get,
    path = "/api/v1/complaints",
    params(ComplaintQuery),
    responses(
        (status = 200, description = "A page of complaints, newest first", body = Page<ComplaintView>),
        (status = 400, description = "Bad limit or cursor, or both filters", body = ApiError),
        (status = 404, description = "Another tenant's (or the unattributed) complaints asked by a tenant", body = ApiError),
    ),
    tag = "complaints"
)]
pub async fn list(
    principal: Principal,
    State(state): State<AdminState>,
    ApiQuery(query): ApiQuery<ComplaintQuery>,
) -> Result<Json<Page<ComplaintView>>, Refusal> {
    let unattributed = query.unattributed.unwrap_or(false);
    if unattributed && query.tenant.is_some() {
        return Err(bad("give `tenant` or `unattributed`, not both".into()));
    }
    let own;
    let scope = match (&principal, &query.tenant) {
        (Principal::Tenant { id }, asked) => {
            if unattributed {
                return Err(super::error(StatusCode::NOT_FOUND, "not found".into()));
            }
            if let Some(asked) = asked {
                principal.tenant(asked)?;
            }
            own = id.clone();
            ComplaintScope::Tenant(&own)
        }
        (_, Some(tenant)) => ComplaintScope::Tenant(tenant),
        (_, None) if unattributed => ComplaintScope::Unattributed,
        (_, None) => ComplaintScope::All,
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(format!("`limit` must be 1..={MAX_LIMIT}")));
    }
    let before = query.cursor.clone().unwrap_or_default();
    if !before.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') || before.len() > 64 {
        return Err(bad(format!("`{before}` is not a cursor of this API")));
    }
    let mut entries = state
        .complaints
        .page(scope, &before, limit + 1)
        .await
        .map_err(super::internal)?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next = if more {
        entries.last().map(|e| e.id.clone())
    } else {
        None
    };
    Ok(Json(Page {
        items: entries.into_iter().map(|e| ComplaintView::of(e, false)).collect(),
        next,
    }))
}

/// `GET /api/v1/complaints/{id}`: one complaint, with the returned message.
#[utoipa::path(
    get,
    path = "/api/v1/complaints/{id}",
    params(("id" = String, Path, description = "Complaint id")),
    responses(
        (status = 200, description = "The complaint", body = ComplaintView),
        (status = 404, description = "No such complaint (or not yours)", body = ApiError),
    ),
    tag = "complaints"
)]
pub async fn show(
    principal: Principal,
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<ComplaintView>, Refusal> {
    let not_found = || super::error(StatusCode::NOT_FOUND, format!("no complaint `{id}`"));
    let entry = state
        .complaints
        .get(&id)
        .await
        .map_err(super::internal)?
        .ok_or_else(not_found)?;
    let visible = match &entry.complaint.tenant {
        Some(tenant) => principal.sees(tenant),
        None => principal.is_staff(),
    };
    if !visible {
        return Err(not_found());
    }
    Ok(Json(ComplaintView::of(entry, true)))
}
