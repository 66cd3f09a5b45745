//! `POST /api/v1/backup`: the running gateway writes a consistent copy of its queue and rate
//! store into a new directory under the backup root (`crate::backup`). Admin only; audited in
//! the gateway's own log (tenant `""`).

use super::extract::ApiJson;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::access::{Principal, Refusal};
use super::api::ApiError;
use super::AdminState;
use crate::backup::{BackupError, BackupReport};
use crate::queue::now_ms;
use crate::store::AuditRecord;

/// `POST /api/v1/backup`: where to write the backup.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupRequest {
    /// A new directory: a relative path is taken under `[admin] backup_dir`, an absolute one must
    /// lie under it.
    pub directory: String,
}

/// `POST /api/v1/backup`: back up the queue and the store while serving.
#[utoipa::path(
    post,
    path = "/api/v1/backup",
    request_body = BackupRequest,
    responses(
        (status = 201, description = "The backup was written", body = BackupReport),
        (status = 400, description = "Not a directory under the backup root", body = ApiError),
        (status = 403, description = "Read-only token", body = ApiError),
        (status = 404, description = "Not staff", body = ApiError),
        (status = 409, description = "The directory exists", body = ApiError),
        (status = 500, description = "The backup could not be written (nothing is left behind)", body = ApiError),
    ),
    tag = "operations"
)]
pub async fn create(
    principal: Principal,
    State(state): State<AdminState>,
    ApiJson(request): ApiJson<BackupRequest>,
) -> Result<(StatusCode, Json<BackupReport>), Refusal> {
    principal.require_admin()?;
    let report = state
        .backups
        .write(&request.directory, &state.queue, state.store.as_ref())
        .await
        .map_err(|error| {
            let status = match &error {
                BackupError::BadTarget { .. } => StatusCode::BAD_REQUEST,
                BackupError::Exists(_) => StatusCode::CONFLICT,
                BackupError::Io { .. } | BackupError::Queue(_) | BackupError::Store(_) => {
                    tracing::error!(%error, "backup failed");
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            };
            super::error(status, error.to_string())
        })?;
    let record = AuditRecord {
        at: now_ms(),
        actor: principal.name(),
        action: "backup".into(),
        target: report.directory.clone(),
        reason: String::new(),
        detail: serde_json::to_value(&report).unwrap_or_default(),
    };
    if let Err(error) = state.store.audit_append("", &record).await {
        // The backup exists; failing the request now would only hide it.
        tracing::warn!(%error, "the backup's audit record could not be written");
    }
    Ok((StatusCode::CREATED, Json(report)))
}
