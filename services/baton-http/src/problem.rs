//! RFC 9457 problem documents: every error any Baton endpoint returns.
//!
//! `code` is a stable machine-readable word clients switch on; `detail` is safe to show to a
//! person. Server faults are logged once here, with their cause, and answer with an opaque
//! detail: no internals leave the process.
//!
//! A problem may carry extension members (RFC 9457 §3.2) next to the standard ones, e.g. the
//! `errors` list of a refused import ([`Problem::with_extension`]).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;

/// The media type of problem documents.
pub const CONTENT_TYPE: &str = "application/problem+json";

/// The members every problem document has; extensions never replace them.
const STANDARD_MEMBERS: [&str; 5] = ["type", "title", "status", "detail", "code"];

/// The body of an error response. Some problems add extension members (RFC 9457 §3.2), each
/// documented with the operation that sends it (e.g. `errors`, a list of what to fix).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProblemDoc {
    /// `urn:baton:problem:<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable: e.g. `already_answered`, `invalid_choice`.
    pub code: String,
}

/// An error answer.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Extension members, serialized next to the standard ones (never replacing one).
    pub extensions: Vec<(&'static str, serde_json::Value)>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, title, detail: detail.into(), headers: Vec::new(), extensions: Vec::new() }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, "Bad request", detail)
    }

    pub fn not_found(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, "Not found", detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// A fault of ours: logged here with its cause; the client sees an opaque detail.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "The service could not complete the request. Please try again.",
        )
    }

    /// A backend we need is down: logged; the client may retry.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "backend unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "The service is busy or briefly unavailable. Please try again in a moment.",
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Adds an extension member `name` (a name chosen by Baton's code, never by a client; the
    /// standard members `type`, `title`, `status`, `detail` and `code` cannot be replaced).
    pub fn with_extension(mut self, name: &'static str, value: serde_json::Value) -> Self {
        debug_assert!(!STANDARD_MEMBERS.contains(&name), "{name} is a standard member");
        self.extensions.push((name, value));
        self
    }

    pub fn doc(&self) -> ProblemDoc {
        ProblemDoc {
            type_: format!("urn:baton:problem:{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_owned(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        for (k, v) in &self.headers {
            res.insert_header((k.clone(), v.clone()));
        }
        let mut body = serde_json::to_string(&self.doc()).expect("problem documents serialize");
        // Extensions go after the standard members, which keep their order.
        for (name, value) in self.extensions.iter().filter(|(n, _)| !STANDARD_MEMBERS.contains(n)) {
            body.pop(); // the closing brace
            body.push(',');
            body.push_str(&serde_json::to_string(name).expect("a name serializes"));
            body.push(':');
            body.push_str(&value.to_string());
            body.push('}');
        }
        res.body(body)
    }
}

/// The hot store failed: unavailable (the client may retry), or data this version cannot read
/// (a fault of ours).
impl From<baton_hot::HotError> for Problem {
    fn from(e: baton_hot::HotError) -> Self {
        match e {
            baton_hot::HotError::Unavailable(m) => Problem::unavailable(m),
            baton_hot::HotError::Corrupt(m) => Problem::internal(m),
        }
    }
}

/// The database failed: unavailable (the client may retry), or stored data this version cannot
/// read (a fault of ours). Handlers that can blame the request map the variants they expect
/// themselves first.
impl From<baton_db::DbError> for Problem {
    fn from(e: baton_db::DbError) -> Self {
        match e {
            baton_db::DbError::Corrupt(_) => Problem::internal(e),
            other => Problem::unavailable(format!("database: {other}")),
        }
    }
}

impl From<baton_core::ids::IdError> for Problem {
    fn from(e: baton_core::ids::IdError) -> Self {
        Problem::bad_request("invalid_id", e.0)
    }
}

/// The answer for paths no route serves.
pub async fn route_not_found() -> Result<actix_web::HttpResponse, Problem> {
    Err(Problem::not_found("route_not_found", "No such endpoint. See /api/v1/openapi.json for the API."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_follow_the_standard_members() {
        let p = Problem::bad_request("invalid_questions", "2 problems.")
            .with_extension("errors", serde_json::json!([{"line": 3, "field": "answer"}]));
        let body = p.error_response().into_body();
        let bytes = actix_web::body::to_bytes(body);
        let bytes = futures_util::FutureExt::now_or_never(bytes).expect("ready").expect("a body");
        let text = std::str::from_utf8(&bytes).unwrap();
        assert!(text.starts_with(r#"{"type":"urn:baton:problem:invalid_questions","title":"Bad request""#), "{text}");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["errors"][0]["line"], 3, "{v}");
        assert_eq!(v["code"], "invalid_questions");
        // Without extensions the document is exactly the standard one.
        let plain = Problem::bad_request("x", "y").error_response().into_body();
        let plain = futures_util::FutureExt::now_or_never(actix_web::body::to_bytes(plain)).unwrap().unwrap();
        assert_eq!(plain, serde_json::to_string(&Problem::bad_request("x", "y").doc()).unwrap());
    }
}
