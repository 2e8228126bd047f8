//! Request extractors whose failures answer in the problem format: malformed JSON, a body that
//! is not a JSON object, unknown fields, wrong types, missing fields, wrong content types and
//! oversized bodies each get their own `code`. Request bodies are
//! `#[serde(deny_unknown_fields)]` types read through [`JsonBody`], which takes only a JSON
//! object, so a misspelt field is an error and serde's "a struct may be an array" leniency
//! never applies.

use crate::problem::Problem;
use actix_web::error::{PathError, PayloadError, QueryPayloadError};
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;

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

/// The configured body limit, as app data (the raw body is read under [`payload_config`];
/// this value names the limit in the error message).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Reads the raw body under the configured limit.
async fn read_body(req: HttpRequest, payload: &mut actix_web::dev::Payload) -> Result<web::Bytes, Problem> {
    let limit = req.app_data::<BodyLimit>().map_or(DEFAULT_BODY_LIMIT, |l| l.0);
    web::Bytes::from_request(&req, payload).await.map_err(|e| match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) | None => too_large(limit),
        Some(other) => Problem::bad_request("malformed_json", format!("The body could not be read: {other}")),
    })
}

/// Parses a body that must be a JSON object.
fn object(bytes: &[u8]) -> Result<serde_json::Value, Problem> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| serde_problem(&e))?;
    if !v.is_object() {
        return Err(Problem::bad_request("invalid_type", "The body must be a JSON object."));
    }
    Ok(v)
}

fn is_json(req: &HttpRequest) -> bool {
    let ct = req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// A JSON object body deserialized into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            if !is_json(&req) {
                return Err(Problem::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Unsupported media type",
                    "Send the body as JSON with Content-Type: application/json.",
                ));
            }
            let bytes = read_body(req, &mut payload).await?;
            let v = object(&bytes)?;
            serde_json::from_value(v).map(JsonBody).map_err(|e| serde_problem(&e))
        })
    }
}

/// A body that must be empty or `{}` (starting or finishing an attempt).
#[derive(Debug, Clone, Copy)]
pub struct EmptyBody;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoFields {}

impl FromRequest for EmptyBody {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_body(req, &mut payload).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(EmptyBody);
            }
            serde_json::from_value::<NoFields>(object(&bytes)?).map_err(|e| serde_problem(&e))?;
            Ok(EmptyBody)
        })
    }
}
