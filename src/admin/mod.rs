//! The admin HTTP API (JSON) the CLI talks to: health, blocks, domain verification. Bearer-token auth when
//! a token is configured; otherwise only loopback clients are served. It never opens the
//! database itself: it uses the running gateway's store.

pub mod access;
pub mod api;
mod blocks;
pub mod domains;
mod tenant_input;
pub mod tenants;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};

use crate::store::RateStore;
use crate::tenant::TenantDirectory;

/// What the endpoints share.
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn RateStore>,
    pub tenants: Arc<TenantDirectory>,
    pub dns: crate::dns::Dns,
    pub token: Option<String>,
    /// The spool, for `/health` (and whether a tenant's mail is queued).
    pub queue: crate::queue::Queue,
    /// The policy engine, for the loaded profiles a tenant may be given.
    pub engine: Arc<crate::policy::Engine>,
}

pub(crate) type ApiResult<T> = Result<Json<T>, (StatusCode, Json<api::ApiError>)>;

pub(crate) fn error(status: StatusCode, message: String) -> (StatusCode, Json<api::ApiError>) {
    (status, Json(api::ApiError { error: message }))
}

pub(crate) fn internal(error: impl std::fmt::Display) -> (StatusCode, Json<api::ApiError>) {
    tracing::error!(%error, "admin API store failure");
    self::error(StatusCode::SERVICE_UNAVAILABLE, format!("store unavailable: {error}"))
}

/// Binds the admin API and serves it in the background; returns the bound address.
pub async fn start(state: AdminState, address: &str) -> std::io::Result<SocketAddr> {
    let app = Router::new()
        .route("/api/v1/blocks", get(blocks::list).post(blocks::add))
        .route("/api/v1/blocks/lift", post(blocks::lift))
        .route("/api/v1/tenants", get(tenants::list).post(tenants::create))
        .route(
            "/api/v1/tenants/{tenant}",
            get(tenants::show).patch(tenants::patch).delete(tenants::delete),
        )
        .route("/api/v1/tenants/{tenant}/credentials", put(tenants::set_credentials))
        .route(
            "/api/v1/tenants/{tenant}/domains",
            get(domains::list).post(domains::add),
        )
        .route(
            "/api/v1/tenants/{tenant}/domains/{domain}/verify",
            post(domains::verify),
        )
        .route(
            "/api/v1/tenants/{tenant}/domains/{domain}/mark-verified",
            post(domains::mark_verified),
        )
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize))
        .route("/health", get(health))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    tracing::info!(address = %bound, "admin API listening");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(error) = axum::serve(listener, service).await {
            tracing::error!(%error, "admin API stopped");
        }
    });
    Ok(bound)
}

/// `200 ok` while the queue and the store can write; `503 degraded: …` naming what fails and
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
    let (mut parts, body) = request.into_parts();
    let principal = access::identify(&state, &parts)?;
    parts.extensions.insert(principal);
    Ok(next.run(Request::from_parts(parts, body)).await)
}
