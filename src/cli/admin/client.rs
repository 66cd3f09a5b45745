//! The admin API as the CLI calls it: one request, its answer or the exit code its failure
//! means. Exit codes: `1` the API refused or found nothing (4xx), `2` bad input (400, as a
//! usage error), `3` the gateway cannot be reached, `75` (EX_TEMPFAIL) the gateway says "not
//! now" (503: a DNS or store failure) — the command may succeed if run again.

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::admin::api::ApiError;

/// Not found, or refused (a 4xx other than 400).
pub const EXIT_REFUSED: i32 = 1;
/// Bad command-line input, or a request the API calls bad (400).
pub const EXIT_USAGE: i32 = 2;
/// The admin API cannot be reached.
pub const EXIT_UNREACHABLE: i32 = 3;
/// The gateway says "try again later" (503). EX_TEMPFAIL from sysexits.h, as sendmail and
/// Postfix use it.
pub const EXIT_TEMPFAIL: i32 = 75;

/// Why a command failed, and its exit code.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }
}

/// A client of one gateway's admin API.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    pub fn new(base: String, token: Option<String>) -> Api {
        Api {
            http: reqwest::Client::new(),
            base,
            token,
        }
    }

    /// Sends `method path` (a path under the base URL, already percent-encoded) with an
    /// optional JSON body; the decoded answer or the failure.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, Failure> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        self.answer(request).await
    }

    /// POSTs `bytes` as `content_type` (a raw report) to `path`; the decoded answer.
    pub async fn post_bytes<T: DeserializeOwned>(
        &self,
        path: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<T, Failure> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        self.answer(request).await
    }

    /// Sends the request; the decoded answer or the failure.
    async fn answer<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, Failure> {
        let response = request.send().await.map_err(|error| Failure {
            code: EXIT_UNREACHABLE,
            message: format!(
                "cannot reach the admin API at {} (is the gateway running?): {error}",
                self.base
            ),
        })?;
        let status = response.status();
        if !status.is_success() {
            // The API's `{"error": ...}`; else whatever text came (a proxy's page), else nothing.
            let text = response.text().await.unwrap_or_default();
            let message = match serde_json::from_str::<ApiError>(&text) {
                Ok(error) => error.error,
                Err(_) if !text.trim().is_empty() => text.trim().to_string(),
                Err(_) => "no explanation came with it".to_string(),
            };
            let code = match status {
                StatusCode::SERVICE_UNAVAILABLE => EXIT_TEMPFAIL,
                StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => EXIT_USAGE,
                _ => EXIT_REFUSED,
            };
            return Err(Failure {
                code,
                message: format!("{status}: {message}"),
            });
        }
        if status == StatusCode::NO_CONTENT {
            // Done, nothing to say (a delete): read as JSON `null`.
            return serde_json::from_value(serde_json::Value::Null).map_err(|error| Failure {
                code: EXIT_REFUSED,
                message: format!("the admin API answered 204 where this CLI expects a body: {error}"),
            });
        }
        response.json().await.map_err(|error| Failure {
            code: EXIT_REFUSED,
            message: format!("the admin API answered something this CLI does not understand: {error}"),
        })
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        self.call(Method::GET, path, None::<&()>).await
    }
}

/// `text` as one percent-encoded path segment or query value.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `?a=1&b=x` from the pairs that have a value (empty when none do).
pub fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| format!("{name}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_hold_only_given_values_encoded() {
        assert_eq!(
            query(&[
                ("rule", Some("quota.x y".into())),
                ("limit", None),
                ("since", Some("5".into()))
            ]),
            "?rule=quota.x%20y&since=5"
        );
        assert_eq!(query(&[("a", None)]), "");
    }
}
