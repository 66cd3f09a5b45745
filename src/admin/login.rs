//! Logging in to the dashboard and out of it. A tenant logs in with its SMTP credentials (or a
//! tenant API token), the staff with their token; success sets the signed session cookie (see
//! [`super::session`]). Attempts pass the SMTP AUTH guard first: per client address and per
//! user name, so guessing over HTTP is throttled exactly like guessing over SMTP, and a locked
//! client gets `429` with how long it waits.
//!
//! It never says which part of a login was wrong, and unknown user names cost one password
//! hash like known ones.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use serde::Deserialize;

use super::access::{bearer_principal, same_origin, Principal, Via};
use super::dashboard::page::{html, Page};
use super::session::{random_text, set_cookie, Holder, Session};
use super::tokens;
use super::AdminState;
use crate::queue::now_ms;
use crate::smtp::auth_guard::{Gate, DUMMY_HASH};

/// The login page.
#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    page: Page,
    message: Option<String>,
    username: String,
}

/// The login form: a user name and password (a tenant's SMTP credentials), or no user name
/// and a token in `secret`.
#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

/// `GET /login`.
pub async fn form() -> Response {
    render(StatusCode::OK, None, String::new())
}

/// `POST /login`.
pub async fn submit(
    State(state): State<AdminState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers) {
        return render(
            StatusCode::FORBIDDEN,
            Some("Cross-origin login refused.".into()),
            String::new(),
        );
    }
    let username = form.username.trim().to_string();
    let guard = &state.access.guard;
    // A token login is counted against the address only (a shared name would let anyone lock
    // every token login out).
    let guard_user = if username.is_empty() {
        format!("token@{}", peer.ip())
    } else {
        username.clone()
    };
    let attempt = match guard.gate(peer.ip(), &guard_user).await {
        Ok(Gate::Open(attempt)) => attempt,
        Ok(Gate::AddressLocked) => {
            let minutes = state.access.login_lockout.as_secs().div_ceil(60);
            return render(
                StatusCode::TOO_MANY_REQUESTS,
                Some(format!(
                    "Too many failed logins from your address: try again in {minutes} minutes."
                )),
                username,
            );
        }
        Ok(Gate::UserLocked) => {
            let minutes = state.access.login_user_window.as_secs().div_ceil(60);
            return render(
                StatusCode::TOO_MANY_REQUESTS,
                Some(format!(
                    "Too many failed logins for this user name: try again in up to {minutes} minutes."
                )),
                username,
            );
        }
        Err(error) => return unavailable(error, username),
    };
    let holder = if username.is_empty() {
        let given = form.secret.trim().to_string();
        token_holder(&state, &given)
            .await
            .map(|found| found.map(|holder| (holder, super::session::proof(given.as_bytes()))))
    } else {
        password_holder(&state, &username, form.secret).await
    };
    match holder {
        Ok(Some((holder, proof))) => {
            guard.succeeded(attempt).await;
            let lifetime = state.access.session_lifetime;
            let session = Session {
                holder,
                expires: now_ms().saturating_add(u64::try_from(lifetime.as_millis()).unwrap_or(u64::MAX)),
                csrf: random_text(24),
                proof,
            };
            let cookie = set_cookie(
                &state.access.sessions.seal(&session),
                lifetime.as_secs(),
                state.access.secure_cookies,
            );
            tracing::info!(peer = %peer.ip(), holder = ?session.holder, "dashboard login");
            let home = match session.holder {
                Holder::Tenant { .. } => "/dashboard",
                Holder::Admin { .. } | Holder::Operator { .. } => "/admin",
            };
            ([(header::SET_COOKIE, cookie)], Redirect::to(home)).into_response()
        }
        Ok(None) => {
            let owner = state.tenants.credential(&username).map(|(tenant, _)| tenant.id.clone());
            if let Err(error) = guard.failed(attempt, owner.as_deref()).await {
                return unavailable(error, username);
            }
            tracing::info!(peer = %peer.ip(), user = ?username, "dashboard login failed");
            render(
                StatusCode::UNAUTHORIZED,
                Some("Wrong user name, password or token.".into()),
                username,
            )
        }
        Err(error) => {
            // The slot stays counted: stricter, never more lenient.
            unavailable(error, username)
        }
    }
}

/// `POST /logout` (behind the CSRF check): ends the session in the store (`session_end`: a copy
/// of the cookie is no good any more, on any node) and forgets the cookie.
pub async fn logout(State(state): State<AdminState>, Extension(via): Extension<Via>) -> Response {
    if let Via::Session { csrf } = &via {
        let lifetime = state.access.session_lifetime;
        if let Err(error) = super::session_end::end(state.store.as_ref(), csrf, now_ms(), lifetime).await {
            tracing::error!(%error, "cannot end a dashboard session");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "The session could not be ended just now; try again.",
            )
                .into_response();
        }
    }
    (
        [(header::SET_COOKIE, set_cookie("", 0, state.access.secure_cookies))],
        Redirect::to("/login"),
    )
        .into_response()
}

/// The holder of a staff or tenant token.
async fn token_holder(state: &AdminState, given: &str) -> Result<Option<Holder>, String> {
    if given.is_empty() {
        return Ok(None);
    }
    if tokens::is_tenant_token(given) {
        let record = tokens::verify(state.store.as_ref(), given)
            .await
            .map_err(|e| e.to_string())?;
        return Ok(record.map(|r| Holder::Tenant {
            id: r.tenant,
            token: Some(r.id),
        }));
    }
    let principal = bearer_principal(state, given).await.map_err(|(_, body)| body.0.error)?;
    Ok(principal.map(|p| match p {
        Principal::Admin { name } => Holder::Admin { name },
        Principal::Operator { name } => Holder::Operator { name },
        Principal::Tenant { id } => Holder::Tenant { id, token: None },
    }))
}

/// The tenant whose SMTP credentials these are (argon2id on the guard's blocking slots), with
/// the session's proof of them.
async fn password_holder(
    state: &AdminState,
    username: &str,
    password: String,
) -> Result<Option<(Holder, String)>, String> {
    let record = state.tenants.credential(username);
    let hash = record
        .as_ref()
        .map_or_else(|| DUMMY_HASH.to_string(), |(_, hash)| hash.clone());
    let matches = state
        .access
        .guard
        .verify(password, hash)
        .await
        .map_err(|e| e.to_string())?;
    Ok(match record {
        Some((tenant, hash)) if matches => Some((
            Holder::Tenant {
                id: tenant.id.clone(),
                token: None,
            },
            super::session::password_proof(username, &hash),
        )),
        _ => None,
    })
}

fn unavailable(error: impl std::fmt::Display, username: String) -> Response {
    tracing::error!(%error, "dashboard login could not be checked");
    render(
        StatusCode::SERVICE_UNAVAILABLE,
        Some("Logins cannot be checked right now; try again in a minute.".into()),
        username,
    )
}

fn render(status: StatusCode, message: Option<String>, username: String) -> Response {
    html(
        status,
        LoginPage {
            page: Page::anonymous("Log in"),
            message,
            username,
        }
        .render(),
    )
}
