//! Extractor configuration whose failures answer in the problem format: malformed JSON,
//! unknown fields, wrong types, missing fields and oversized bodies each get their own `code`.
//! Request bodies are `#[serde(deny_unknown_fields)]` types, so a misspelt field is an error,
//! not silently ignored.

use crate::problem::Problem;
use actix_web::error::{JsonPayloadError, PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

/// Default largest request body (16 KiB).
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024;

fn too_large(limit: usize) -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "Payload too large",
        format!("The request body is larger than {limit} bytes."),
    )
}

/// What a serde error says, as a problem.
pub fn serde_problem(e: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let msg = e.to_string();
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => Problem::bad_request(
            "malformed_json",
            format!("The body is not valid JSON (line {}, column {}).", e.line(), e.column()),
        ),
        Category::Data => {
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_owned();
            let code = if msg.starts_with("unknown field") {
                "unknown_field"
            } else if msg.starts_with("invalid type") {
                "invalid_type"
            } else if msg.starts_with("missing field") {
                "missing_field"
            } else {
                "invalid_field"
            };
            Problem::bad_request(code, msg)
        }
    }
}

fn json_problem(err: &JsonPayloadError, limit: usize) -> Problem {
    match err {
        JsonPayloadError::Overflow { limit } | JsonPayloadError::OverflowKnownLength { limit, .. } => too_large(*limit),
        JsonPayloadError::Payload(PayloadError::Overflow) => too_large(limit),
        JsonPayloadError::ContentType => Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Unsupported media type",
            "Send the body as JSON with Content-Type: application/json.",
        ),
        JsonPayloadError::Deserialize(e) => serde_problem(e),
        other => Problem::bad_request("malformed_json", format!("The body could not be read: {other}")),
    }
}

/// JSON bodies: at most `limit` bytes, errors as problems.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(move |err, _req| json_problem(&err, limit).into())
}

/// Raw bodies (see [`EmptyBody`]): at most `limit` bytes.
pub fn payload_config(limit: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit)
}

/// Query strings: errors as problems.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let detail = match &err {
            QueryPayloadError::Deserialize(e) => format!("Bad query string: {e}"),
            other => format!("Bad query string: {other}"),
        };
        Problem::bad_request("invalid_query", detail).into()
    })
}

/// Path parameters: errors as problems.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let detail = match &err {
            PathError::Deserialize(e) => format!("Bad path: {e}"),
            other => format!("Bad path: {other}"),
        };
        Problem::bad_request("invalid_path", detail).into()
    })
}

/// The configured body limit, as app data (read by [`EmptyBody`] for its error message).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A body that must be empty or `{}` (starting or finishing an attempt).
#[derive(Debug, Clone, Copy)]
pub struct EmptyBody;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

impl FromRequest for EmptyBody {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let limit = req.app_data::<BodyLimit>().map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let bytes = bytes.await.map_err(|_| too_large(limit))?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(EmptyBody);
            }
            serde_json::from_slice::<NoFields>(&bytes).map_err(|e| serde_problem(&e))?;
            Ok(EmptyBody)
        })
    }
}
