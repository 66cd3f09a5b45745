//! Who is asking: the principal behind an admin-plane request, and what it may see and do.
//!
//! Every handler takes a [`Principal`] and asks it before touching a tenant:
//! [`Principal::tenant`] answers `404` for a tenant the caller may not see (a tenant never learns
//! that another tenant exists), [`Principal::require_write`] answers `403` to read-only callers,
//! [`Principal::require_admin`] keeps provider-wide views (every tenant, blocks of all tenants)
//! to the provider's staff.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;

use super::api::ApiError;
use super::AdminState;

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

/// Who a request comes from, by its bearer token; without a configured token, a loopback client
/// is the admin. Anything else is `401`.
pub(crate) fn identify(state: &AdminState, parts: &Parts) -> Result<Principal, Refusal> {
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match (&state.token, bearer) {
        (Some(token), Some(given)) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
            Ok(Principal::Admin { name: "admin".into() })
        }
        (None, _) => {
            let loopback = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
            if loopback {
                Ok(Principal::Admin { name: "admin".into() })
            } else {
                Err(unauthorized())
            }
        }
        _ => Err(unauthorized()),
    }
}

fn unauthorized() -> Refusal {
    super::error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token".into())
}

impl FromRequestParts<AdminState> for Principal {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &AdminState) -> Result<Principal, Refusal> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        identify(state, parts)
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
