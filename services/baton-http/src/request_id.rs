//! Every request has an id, and every log line written while it is handled carries it.
//!
//! [`request_span`] takes the `X-Request-Id` the ingress (or client) sent when it is sane (1 to
//! [`MAX_LEN`] characters of `A–Z a–z 0–9 - _ . :`), otherwise makes one (32 hex digits),
//! returns it in the response's `X-Request-Id`, and runs the request inside a `request` span
//! whose `request_id` field the log formatter prints on every line (the JSON format lists the
//! span's fields). When the request is answered it logs one line: route pattern, method,
//! status and milliseconds — never the path or query (they carry attempt ids, relay codes and
//! WeChat sign-in codes), nor any header or body.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;
use tracing::Instrument;

/// The header, lowercase.
pub const HEADER: &str = "x-request-id";

/// The longest request id taken from a request.
pub const MAX_LEN: usize = 64;

/// Whether a client-sent request id is used as it is.
pub fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A fresh request id: 128 random bits as 32 lowercase hex digits.
pub fn generate() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Routes probed by machines (health checks, scrapes): their completion is logged at `debug`,
/// so probes do not drown the log.
fn is_probe(route: &str) -> bool {
    matches!(route, "/healthz" | "/readyz" | "/metrics")
}

/// Middleware: the request's id, its span, and one log line when it is answered. Wrap it
/// outermost so every other middleware runs inside the span.
pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
        .map(str::to_owned)
        .unwrap_or_else(generate);
    let span = tracing::info_span!("request", request_id = %id);
    let start = Instant::now();
    let method = req.method().clone();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(HEADER), v);
    }
    let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if is_probe(&route) {
            tracing::debug!(http.route = %route, http.method = %method, http.status = status, http.ms = ms, "answered");
        } else {
            tracing::info!(http.route = %route, http.method = %method, http.status = status, http.ms = ms, "answered");
        }
    });
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        assert!(is_sane("3f2b6c1e-8a1d-4c2e-9b7a-1234567890ab"));
        assert!(is_sane("req.1:2_3"));
        assert!(!is_sane(""));
        assert!(!is_sane(&"a".repeat(MAX_LEN + 1)));
        assert!(!is_sane("has space"));
        assert!(!is_sane("换行\n"));
        let g = generate();
        assert_eq!(g.len(), 32);
        assert!(is_sane(&g));
        assert_ne!(g, generate());
    }
}
