//! The one-click unsubscribe endpoint of the gateway's List-Unsubscribe (RFC 8058), public (no
//! token, no session: the link in the mail is the credential):
//!
//! - `POST /u/{token}` carries the unsubscribe out (`complaints::unsubscribe`) and answers `200`
//!   with a short page; whatever the body (mailbox providers send
//!   `List-Unsubscribe=One-Click`, the confirmation page's button the same);
//! - `GET /u/{token}` only shows a page asking to confirm, with a button that POSTs: link
//!   scanners that follow every URL must not unsubscribe anyone (RFC 8058 section 3.2);
//! - a forged or altered token answers `404` and changes nothing; a store failure `503`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::AdminState;
use crate::complaints::unsubscribe::{UnsubscribeError, Via};

/// The routes, outside the API's authorization.
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/u/{token}", get(confirm).post(unsubscribe))
        // The dashboard's headers: above all, the one-click form may not be framed by another
        // site (a click on a disguised button would unsubscribe the reader).
        .layer(axum::middleware::map_response(|mut response: Response| async move {
            super::dashboard::page::secure_headers(&mut response);
            response
        }))
}

/// The form posts to the page's own URL (no `action`), so it works behind a proxy that serves
/// the routes under another path.
async fn confirm(State(state): State<AdminState>, Path(token): Path<String>) -> Response {
    let Some(claims) = state.unsubscribe.as_ref().and_then(|u| u.claims(&token)) else {
        return not_found();
    };
    page(
        StatusCode::OK,
        "Unsubscribe",
        &format!(
            "<p>Stop the bulk mail of this sender to <strong>{}</strong>?</p>\
             <form method=\"post\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">Unsubscribe</button></form>",
            escape(&claims.recipient),
        ),
    )
}

async fn unsubscribe(State(state): State<AdminState>, Path(token): Path<String>) -> Response {
    let Some(unsubscriber) = state.unsubscribe.as_ref() else {
        return not_found();
    };
    match unsubscriber.unsubscribe(&token, Via::OneClick).await {
        Ok(hit) => page(
            StatusCode::OK,
            "Unsubscribed",
            &format!(
                "<p><strong>{}</strong> is unsubscribed: this sender's bulk mail to it is stopped.</p>",
                escape(&hit.recipient)
            ),
        ),
        Err(UnsubscribeError::InvalidToken) => not_found(),
        Err(UnsubscribeError::Store(error)) => {
            tracing::error!(%error, "unsubscribe: store failure");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                "<p>The unsubscribe could not be recorded just now. Please try again in a few minutes.</p>",
            )
        }
    }
}

fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Unknown link",
        "<p>This unsubscribe link is not valid.</p>",
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        Html(format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{title}</h1>{body}</body></html>"
        )),
    )
        .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
