//! The dashboard: server-rendered HTML (askama templates in `templates/dashboard/`, escaped by
//! default) and inline SVG, no JavaScript at all, under a strict Content-Security-Policy.
//!
//! - `/login`, `/logout` — [`crate::admin::login`];
//! - `/dashboard` — a tenant's own page; `/dashboard/tenants/{tenant}` — any tenant's page for
//!   the staff, the tenant's own for a tenant (every other tenant answers `404`);
//! - `/admin` — the staff's overview of every tenant, sortable and filterable by query;
//! - `/admin/tenants/{tenant}/block|lift` — the block and lift forms (admins only, CSRF-checked
//!   by the `authorize` step like every state-changing request);
//! - `/static/dashboard.css` — the one stylesheet.
//!
//! Pages need a login (a session cookie) or a bearer token: the API's loopback shortcut for
//! installations without staff tokens does not open them.
//!
//! It reads what the API reads (usage, audit, events, blocks, domains, suppressions) and
//! computes no figure of its own beyond counting audit records per hour and day.

pub mod actions;
pub mod charts;
pub mod gauges;
pub mod overview;
pub mod page;
pub mod rules;
pub mod tenant;

use askama::Template;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::access::{self, Principal, Via};
use super::AdminState;
use page::{html, Page};

/// The stylesheet (served, never inlined: the CSP allows styles only from this origin).
const STYLESHEET: &str = include_str!("../../../templates/dashboard/dashboard.css");

/// The dashboard's routes: the login pages are open, the rest need a principal.
pub fn routes(state: AdminState) -> Router<AdminState> {
    let signed_in = Router::new()
        .route("/dashboard", get(tenant::own))
        .route("/dashboard/tenants/{tenant}", get(tenant::show))
        .route("/admin", get(overview::show))
        .route("/admin/tenants/{tenant}/block", post(actions::block))
        .route("/admin/tenants/{tenant}/lift", post(actions::lift))
        .route("/logout", post(super::login::logout))
        .route_layer(middleware::from_fn_with_state(state, sign_in));
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/login", get(super::login::form).post(super::login::submit))
        .route("/static/dashboard.css", get(stylesheet))
        .merge(signed_in)
        .layer(middleware::map_response(|mut response: Response| async move {
            page::secure_headers(&mut response);
            response
        }))
}

/// The session's CSRF token, for the forms of a page (empty for bearer callers, whose requests
/// need none).
pub fn csrf_of(via: &Via) -> String {
    match via {
        Via::Session { csrf } => csrf.clone(),
        Via::Bearer | Via::Loopback => String::new(),
    }
}

/// Identifies the caller as `authorize` does for the API (session cookie or bearer token, the
/// CSRF check on forms); a page without one sends the browser to `/login`.
async fn sign_in(State(state): State<AdminState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let request = access::authorize_request(&state, request).await.and_then(|request| {
        // The loopback shortcut (no staff token configured) is the CLI's; a browser logs in.
        match request.extensions().get::<Via>() {
            Some(Via::Loopback) | None => Err(access::unauthorized()),
            Some(_) => Ok(request),
        }
    });
    match request {
        Ok(request) => next.run(request).await,
        Err((StatusCode::UNAUTHORIZED, _)) if method == Method::GET => Redirect::to("/login").into_response(),
        Err((status, body)) => error_page(status, &body.0.error),
    }
}

#[derive(Template)]
#[template(path = "dashboard/error.html")]
struct ErrorPage {
    page: Page,
    status: u16,
    message: String,
}

/// A refusal as a page: the same status and words as the API's.
pub fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        ErrorPage {
            page: Page::anonymous(status.canonical_reason().unwrap_or("error")),
            status: status.as_u16(),
            message: message.to_string(),
        }
        .render(),
    )
}

/// A refusal of a handler (`404` for a tenant that may not be seen, `403` for a read-only
/// token) as a page.
pub fn refused(refusal: access::Refusal) -> Response {
    error_page(refusal.0, &refusal.1 .0.error)
}

async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    response
}

/// The principal and the page header of a signed-in request.
pub fn page_for(principal: &Principal, via: &Via, title: String, taken_at: u64) -> Page {
    Page::new(title, principal, &csrf_of(via), taken_at)
}
