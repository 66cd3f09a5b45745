//! The API's request extractors: axum's `Json` and `Query`, with a body or query that does not
//! parse answered like every other refusal of the API — `400` with `{"error": "..."}` naming the
//! problem — instead of axum's plain-text `400`, `415` or `422`.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;

use super::access::Refusal;
use super::api::ApiError;

/// A JSON request body (`axum::Json`), refused with a JSON `400`.
pub struct ApiJson<T>(pub T);

/// A query string (`axum::extract::Query`), refused with a JSON `400`.
pub struct ApiQuery<T>(pub T);

fn bad_request(message: String) -> Refusal {
    (StatusCode::BAD_REQUEST, Json(ApiError { error: message }))
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request(request: Request, state: &S) -> Result<Self, Refusal> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(bad_request(rejection.body_text())),
        }
    }
}

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Refusal> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(ApiQuery(value)),
            Err(rejection) => Err(bad_request(rejection.body_text())),
        }
    }
}
