//! What every dashboard page shares: the header data (who is logged in, the CSRF token for the
//! logout form), when its figures were taken, and the response headers that keep the page
//! script-free (a strict Content-Security-Policy) and out of other sites' frames and caches.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::charts::timestamp;
use crate::admin::access::Principal;

/// No script from anywhere, styles only from our stylesheet, forms only to us, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The header of a page.
pub struct Page {
    pub title: String,
    /// Who is logged in (`None` on the login page).
    pub who: Option<String>,
    /// Staff see the provider-wide links.
    pub staff: bool,
    /// The session's CSRF token, for every form the page holds.
    pub csrf: String,
    /// When the page's figures were read.
    pub taken_at: String,
}

impl Page {
    pub fn anonymous(title: &str) -> Page {
        Page {
            title: title.into(),
            who: None,
            staff: false,
            csrf: String::new(),
            taken_at: String::new(),
        }
    }

    pub fn new(title: String, principal: &Principal, csrf: &str, taken_at: u64) -> Page {
        Page {
            title,
            who: Some(match principal {
                Principal::Admin { name } => format!("{name} (admin)"),
                Principal::Operator { name } => format!("{name} (operator, read-only)"),
                Principal::Tenant { id } => format!("tenant {id}"),
            }),
            staff: principal.is_staff(),
            csrf: csrf.into(),
            taken_at: timestamp(taken_at),
        }
    }
}

/// An HTML response (the dashboard's router adds the security headers); a template that fails to render is
/// a `500` with a plain message (never half a page).
pub fn html(status: StatusCode, rendered: Result<String, askama::Error>) -> Response {
    let (status, body) = match rendered {
        Ok(body) => (status, body),
        Err(error) => {
            tracing::error!(%error, "dashboard template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>error</title><p>The page could not be drawn.</p>".to_string(),
            )
        }
    };
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The headers every dashboard response carries (added by the dashboard's router).
pub fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: under it a browser sends `Origin: null` with the page's own forms, and
    // the Origin check would refuse them.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages hold tenants' figures: never cached, unless the handler said otherwise (the CSS).
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// Percent-encodes a URL path segment or query value (everything but unreserved characters).
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
