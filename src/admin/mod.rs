//! The admin HTTP API (JSON) the CLI talks to: health, blocks, domain verification, tenant API
//! tokens; and the dashboard (`dashboard`, `login`). Bearer tokens or dashboard sessions (see
//! `access`); without any staff token configured only loopback clients are served. It never opens the
//! database itself: it uses the running gateway's store.

pub mod access;
pub mod api;
pub mod api_tokens;
pub mod backup;
mod blocks;
pub mod complaint_resolve;
pub mod complaint_summary;
pub mod complaints;
pub mod dashboard;
mod dns_records;
pub mod domains;
mod extract;
mod listen;
pub mod login;
mod logs;
pub mod openapi;
pub mod session;
mod session_end;
mod suppression;
mod tenant_input;
pub mod tenants;
pub mod tokens;
mod unsubscribe;
pub mod usage;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::store::RateStore;
use crate::tenant::TenantDirectory;

/// What the endpoints share.
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn RateStore>,
    pub tenants: Arc<TenantDirectory>,
    pub dns: crate::dns::Dns,
    /// Who may ask: staff tokens, sessions, the login guard.
    pub access: Arc<access::Access>,
    /// The spool, for `/health`.
    pub queue: crate::queue::Queue,
    /// The policy engine: each tenant's effective profile (the usage view's limits).
    pub engine: Arc<crate::policy::Engine>,
    /// The one-click unsubscribe (`/u/{token}`); `None` answers every link `404`.
    pub unsubscribe: Option<Arc<crate::complaints::unsubscribe::Unsubscriber>>,
    /// Where online backups go (`POST /api/v1/backup`).
    pub backups: Arc<crate::backup::Backups>,
    /// Complaint intake (`POST /api/v1/complaints`) and the stored complaints.
    pub intake: Arc<crate::complaints::intake::Intake>,
    pub complaints: Arc<crate::complaints::book::ComplaintBook>,
}

pub(crate) type ApiResult<T> = Result<Json<T>, (StatusCode, Json<api::ApiError>)>;

pub(crate) fn error(status: StatusCode, message: String) -> (StatusCode, Json<api::ApiError>) {
    (status, Json(api::ApiError { error: message }))
}

pub(crate) fn internal(error: impl std::fmt::Display) -> (StatusCode, Json<api::ApiError>) {
    tracing::error!(%error, "admin API store failure");
    self::error(StatusCode::SERVICE_UNAVAILABLE, format!("store unavailable: {error}"))
}

/// A path that is none: `{"error": ...}` under `/api/`, a page elsewhere (a browser's mistyped
/// link), never an empty body.
async fn not_found(uri: axum::http::Uri) -> axum::response::Response {
    use axum::response::IntoResponse;
    let message = format!("There is no page at {}.", uri.path());
    if uri.path().starts_with("/api/") {
        error(StatusCode::NOT_FOUND, message).into_response()
    } else {
        dashboard::error_page(StatusCode::NOT_FOUND, &message)
    }
}

/// Binds the admin API and serves it in the background (HTTPS with `tls`); returns the bound
/// address.
pub async fn start(
    state: AdminState,
    address: &str,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> std::io::Result<SocketAddr> {
    let mut api = Router::new();
    for route in openapi::routes() {
        api = api.route(&route.path, route.router);
    }
    let app = api
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .merge(dashboard::routes(state.clone()))
        .merge(unsubscribe::routes())
        .route("/health", get(health))
        .route("/healthz", get(alive))
        .route("/readyz", get(health))
        .fallback(not_found)
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, tls = tls.is_some(), "admin API listening");
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(acceptor) => {
            // `tap_io` only so that axum hands the peer address to `ConnectInfo`.
            let listener = axum::serve::ListenerExt::tap_io(listen::TlsListener::new(listener, acceptor)?, |_| {});
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, service).await {
                    tracing::error!(%error, "admin API stopped");
                }
            });
        }
        None => {
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, service).await {
                    tracing::error!(%error, "admin API stopped");
                }
            });
        }
    }
    Ok(bound)
}

/// `GET /metrics`: the Prometheus text exposition, for the provider's staff (a bearer token in
/// the scrape config: the labels name tenants). The queue gauges are read at the scrape.
async fn metrics(principal: access::Principal, State(state): State<AdminState>) -> Result<Response, access::Refusal> {
    principal.require_staff()?;
    let now = crate::queue::now_ms();
    let oldest = state.queue.oldest_waiting_ms().map_or(0, |at| now.saturating_sub(at));
    crate::telemetry::queue(state.queue.scheduled(), std::time::Duration::from_millis(oldest));
    let body = crate::telemetry::install()
        .map(|handle| handle.render())
        .unwrap_or_default();
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// `GET /healthz`: `200 ok` while the admin listener serves (liveness; no auth, for probes).
async fn alive() -> &'static str {
    "ok"
}

/// `GET /health` and `GET /readyz` (readiness; no auth, for probes): `200 ok` while the queue and the store can write; `503 degraded: …` naming what fails and
/// for how long (a full disk) until they can again.
async fn health(State(state): State<AdminState>) -> (StatusCode, String) {
    let problems: Vec<String> = [state.queue.health().describe(), state.store.degraded()]
        .into_iter()
        .flatten()
        .collect();
    if problems.is_empty() {
        (StatusCode::OK, "ok".into())
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("degraded: {}", problems.join("; ")),
        )
    }
}

/// Identifies the caller of every `/api/v1` request (`401` when it cannot be) and hands the
/// [`access::Principal`] to the handler.
async fn authorize(State(state): State<AdminState>, request: Request, next: Next) -> Result<Response, access::Refusal> {
    let request = access::authorize_request(&state, request).await?;
    Ok(next.run(request).await)
}
