//! Who is asking: the principal behind an admin-plane request, and what it may see and do.
//!
//! Every handler takes a [`Principal`] and asks it before touching a tenant:
//! [`Principal::tenant`] answers `404` for a tenant the caller may not see (a tenant never learns
//! that another tenant exists), [`Principal::require_write`] answers `403` to read-only callers,
//! [`Principal::require_admin`] keeps provider-wide views (every tenant, blocks of all tenants)
//! to the provider's staff.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;

use super::api::ApiError;
use super::session::{Holder, SessionKeyError, SessionKeys};
use super::tokens::{self, StaffTokens};
use super::AdminState;
use crate::config::{AdminRole, Config};
use crate::queue::now_ms;
use crate::smtp::auth_guard::AuthGuard;
use crate::store::RateStore;

/// The caller of an admin-plane request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The provider's staff with every right (the `[admin] token`).
    Admin {
        /// Who, for the audit trail (`admin` for the configured token).
        name: String,
    },
    /// The provider's staff, read-only.
    Operator {
        /// Who, for the audit trail.
        name: String,
    },
    /// A tenant: sees and changes only its own data.
    Tenant {
        /// The tenant's id.
        id: String,
    },
}

/// A refusal: status and JSON body.
pub type Refusal = (StatusCode, Json<ApiError>);

impl Principal {
    /// Who, as written into audit records and block `by` fields.
    pub fn name(&self) -> String {
        match self {
            Principal::Admin { name } | Principal::Operator { name } => name.clone(),
            Principal::Tenant { id } => format!("tenant:{id}"),
        }
    }

    /// The provider's staff (admin or operator).
    pub fn is_staff(&self) -> bool {
        !matches!(self, Principal::Tenant { .. })
    }

    /// Whether the caller may see tenant `id`.
    pub fn sees(&self, id: &str) -> bool {
        match self {
            Principal::Tenant { id: own } => own == id,
            _ => true,
        }
    }

    /// `Ok` when the caller may see tenant `id`; `404 no tenant` otherwise, the same answer as
    /// for a tenant that does not exist.
    pub fn tenant(&self, id: &str) -> Result<(), Refusal> {
        if self.sees(id) {
            Ok(())
        } else {
            Err(super::error(StatusCode::NOT_FOUND, format!("no tenant `{id}`")))
        }
    }

    /// `Ok` for the provider's staff; `404` for a tenant (a provider-wide view does not exist
    /// for it).
    pub fn require_staff(&self) -> Result<(), Refusal> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(super::error(StatusCode::NOT_FOUND, "not found".into()))
        }
    }

    /// `Ok` for an admin; `403` for a read-only operator, `404` for a tenant.
    pub fn require_admin(&self) -> Result<(), Refusal> {
        match self {
            Principal::Admin { .. } => Ok(()),
            Principal::Operator { .. } => Err(super::error(StatusCode::FORBIDDEN, "read-only token".into())),
            Principal::Tenant { .. } => Err(super::error(StatusCode::NOT_FOUND, "not found".into())),
        }
    }

    /// `Ok` when the caller may change things (an admin, or a tenant acting on its own data);
    /// `403` for a read-only operator.
    pub fn require_write(&self) -> Result<(), Refusal> {
        match self {
            Principal::Operator { .. } => Err(super::error(StatusCode::FORBIDDEN, "read-only token".into())),
            _ => Ok(()),
        }
    }
}

/// What the admin plane knows about who may ask: the staff's tokens, the session key, the
/// login guard.
pub struct Access {
    pub staff: StaffTokens,
    pub sessions: SessionKeys,
    /// How long a dashboard login lasts.
    pub session_lifetime: Duration,
    /// Session cookies are `Secure` (the listener serves TLS).
    pub secure_cookies: bool,
    /// Login attempts are throttled by the SMTP AUTH guard (the same counts, per client address
    /// and per user name: a password guessed over HTTP is the SMTP password).
    pub guard: AuthGuard,
    /// How long an address that guessed too often waits (`[limits] auth_lockout`).
    pub login_lockout: Duration,
    /// The window of a user name's failures (`[limits] auth_user_failures`).
    pub login_user_window: Duration,
}

impl Access {
    pub fn new(config: &Config, store: Arc<dyn RateStore>) -> Result<Access, SessionKeyError> {
        Ok(Access {
            staff: StaffTokens::from_config(&config.admin),
            sessions: SessionKeys::load(config.admin.session_key_file.as_deref(), &config.data_dir())?,
            session_lifetime: config.admin.session_lifetime.get(),
            secure_cookies: config.admin.tls,
            guard: AuthGuard::new(store, &config.limits),
            login_lockout: config.limits.auth_lockout.get(),
            login_user_window: config.limits.auth_user_failures.window,
        })
    }
}

/// How a request proved who it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer`: the CLI and scripts (no CSRF token needed: a browser never
    /// sends one on its own).
    Bearer,
    /// The dashboard's session cookie, with the session's CSRF token.
    Session { csrf: String },
    /// No staff token is configured and the client is on loopback.
    Loopback,
}

/// Who a request comes from: its bearer token, else its session cookie; without any configured
/// staff token, a loopback client is the admin. Anything else is `401`.
pub(crate) async fn identify(state: &AdminState, parts: &Parts) -> Result<(Principal, Via), Refusal> {
    let access = &state.access;
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if let Some(given) = bearer {
        return bearer_principal(state, given.trim())
            .await?
            .map(|principal| (principal, Via::Bearer))
            .ok_or_else(unauthorized);
    }
    let cookie = parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(super::session::cookie_value);
    if let Some(session) = cookie.and_then(|value| access.sessions.open(value, now_ms())) {
        // A session its holder logged out of is over, on every node.
        let ended = super::session_end::ended(state.store.as_ref(), &session.csrf, now_ms(), access.session_lifetime)
            .await
            .map_err(super::internal)?;
        if ended {
            return Err(unauthorized());
        }
        if let Some(principal) = session_principal(state, &session.holder, &session.proof).await? {
            return Ok((principal, Via::Session { csrf: session.csrf }));
        }
    }
    let loopback = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
    // A request a proxy forwarded comes from elsewhere, whatever its socket says: the loopback
    // shortcut is for a local operator only.
    let forwarded = ["forwarded", "x-forwarded-for", "x-real-ip"]
        .iter()
        .any(|name| parts.headers.contains_key(*name));
    if !access.staff.any() && loopback && !forwarded {
        return Ok((Principal::Admin { name: "admin".into() }, Via::Loopback));
    }
    Err(unauthorized())
}

/// The holder of a bearer token: a tenant token (looked up in the store) or a staff token.
pub(crate) async fn bearer_principal(state: &AdminState, given: &str) -> Result<Option<Principal>, Refusal> {
    if tokens::is_tenant_token(given) {
        let record = tokens::verify(state.store.as_ref(), given)
            .await
            .map_err(super::internal)?;
        // A token of a tenant that no longer exists acts for nobody.
        return Ok(record
            .filter(|r| state.tenants.get(&r.tenant).is_some())
            .map(|r| Principal::Tenant { id: r.tenant }));
    }
    Ok(state.access.staff.identify(given))
}

/// The principal of a valid session, if what it was granted on still exists: the staff token,
/// the tenant, the tenant's API token.
/// The session's `proof` must still match the credential it was granted on (a rotated token, a
/// changed password or a tenant created again under the id ends it).
async fn session_principal(state: &AdminState, holder: &Holder, proof: &str) -> Result<Option<Principal>, Refusal> {
    Ok(match holder {
        Holder::Admin { name } => state
            .access
            .staff
            .holds(name, AdminRole::Admin, proof)
            .then(|| Principal::Admin { name: name.clone() }),
        Holder::Operator { name } => state
            .access
            .staff
            .holds(name, AdminRole::Operator, proof)
            .then(|| Principal::Operator { name: name.clone() }),
        Holder::Tenant { id, token } => {
            if state.tenants.get(id).is_none() {
                return Ok(None);
            }
            match token {
                Some(token) => {
                    let live = state.store.api_token_get(id, token).await.map_err(super::internal)?;
                    if live.is_none() {
                        return Ok(None);
                    }
                }
                None => {
                    // Granted on SMTP credentials: the same user name must still be this
                    // tenant's, with the same password hash.
                    let username = proof.split_once('\0').map(|(username, _)| username).unwrap_or("");
                    let still = state.tenants.credential(username).is_some_and(|(tenant, hash)| {
                        tenant.id == *id
                            && constant_time_eq(
                                super::session::password_proof(username, &hash).as_bytes(),
                                proof.as_bytes(),
                            )
                    });
                    if !still {
                        return Ok(None);
                    }
                }
            }
            Some(Principal::Tenant { id: id.clone() })
        }
    })
}

/// Largest form body the CSRF check reads (the dashboard's forms are a few fields).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Identifies the caller of `request` and protects state-changing requests against forgery:
/// a cross-origin `Origin` is refused whatever the credentials, and a request authenticated
/// by the session cookie must carry the session's CSRF token (`X-CSRF-Token` header, or a
/// `csrf` form field). Returns the request with its [`Principal`] and [`Via`] in the extensions.
pub(crate) async fn authorize_request(state: &AdminState, request: Request) -> Result<Request, Refusal> {
    let (mut parts, body) = request.into_parts();
    let (principal, via) = identify(state, &parts).await?;
    let mut body = body;
    if !parts.method.is_safe() {
        check_origin(&parts)?;
        if let Via::Session { csrf } = &via {
            let (given, restored) = csrf_token(&parts, body).await?;
            body = restored;
            if !given.is_some_and(|given| constant_time_eq(given.as_bytes(), csrf.as_bytes())) {
                return Err(super::error(
                    StatusCode::FORBIDDEN,
                    "missing or wrong CSRF token: reload the page and try again".into(),
                ));
            }
        }
    }
    parts.extensions.insert(principal);
    parts.extensions.insert(via);
    Ok(Request::from_parts(parts, body))
}

/// `403` when the request names an `Origin` other than the host it was sent to.
fn check_origin(parts: &Parts) -> Result<(), Refusal> {
    if same_origin(&parts.headers) {
        Ok(())
    } else {
        Err(super::error(
            StatusCode::FORBIDDEN,
            "cross-origin request refused".into(),
        ))
    }
}

/// No `Origin` header (not a browser's cross-site request), or the very host the request was
/// sent to.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest.trim_end_matches('/'));
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

/// The CSRF token a request carries, and its body (read and put back when it is a form).
async fn csrf_token(parts: &Parts, body: Body) -> Result<(Option<String>, Body), Refusal> {
    if let Some(given) = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()) {
        return Ok((Some(given.to_string()), body));
    }
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, body));
    }
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| super::error(StatusCode::PAYLOAD_TOO_LARGE, "form too large".into()))?;
    let given = std::str::from_utf8(&bytes).ok().and_then(|text| {
        text.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "csrf")
            .map(|(_, value)| value.to_string())
    });
    Ok((given, Body::from(bytes)))
}

pub(crate) fn unauthorized() -> Refusal {
    super::error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into())
}

impl FromRequestParts<AdminState> for Principal {
    type Rejection = Refusal;

    /// The principal the `authorize` middleware found. A route outside it identifies its
    /// caller here, but never by session cookie for a state-changing request (that one would
    /// have no CSRF check).
    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Principal, Refusal> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        match identify(state, parts).await? {
            (_, Via::Session { .. }) if !parts.method.is_safe() => Err(unauthorized()),
            (principal, _) => Ok(principal),
        }
    }
}

/// Compares two secrets in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_sees_only_itself_and_gets_404_elsewhere() {
        let tenant = Principal::Tenant { id: "a".into() };
        assert!(tenant.tenant("a").is_ok());
        assert_eq!(tenant.tenant("b").unwrap_err().0, StatusCode::NOT_FOUND);
        assert_eq!(tenant.require_staff().unwrap_err().0, StatusCode::NOT_FOUND);
        assert!(tenant.require_write().is_ok());
    }

    #[test]
    fn an_operator_reads_everything_and_changes_nothing() {
        let operator = Principal::Operator { name: "desk".into() };
        assert!(operator.tenant("any").is_ok());
        assert_eq!(operator.require_write().unwrap_err().0, StatusCode::FORBIDDEN);
        assert_eq!(operator.require_admin().unwrap_err().0, StatusCode::FORBIDDEN);
    }

    #[test]
    fn secrets_compare_by_content() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
