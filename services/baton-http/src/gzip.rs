//! Gzip for answers worth compressing.
//!
//! [`compress`] is a middleware that gzips a response when the client accepts gzip, the body
//! is complete (not a stream: the live event stream and CSV exports pass untouched, so
//! nothing is held back from a listener), at least [`MIN_SIZE`] bytes and of a textual type
//! (JSON, problem documents, HTML, SVG, JavaScript, CSS, plain text). Small answers — the
//! bulk of the quiz traffic — are not touched: gzip would make them larger and cost a
//! compressor per request. A response that already names its `Content-Encoding` (the web
//! apps' files, compressed once and kept) is left as it is.
//!
//! Level 1 ("fast"): on JSON it gets most of what level 6 gets for a fraction of the time.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use std::io::Write as _;

/// Bodies smaller than this are sent as they are.
pub const MIN_SIZE: usize = 1024;

/// Does a request with these headers accept gzip? (`Accept-Encoding` lists `gzip` or `*`
/// without `q=0`.)
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or_default();
        let refused = parts
            .any(|p| p.strip_prefix("q=").is_some_and(|q| q.trim().parse::<f32>().map(|q| q <= 0.0).unwrap_or(false)));
        (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
    })
}

/// Is a body of this content type worth compressing?
pub fn compressible(content_type: &str) -> bool {
    let t = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    (t.starts_with("text/") && t != "text/event-stream")
        || t.ends_with("+json")
        || t.ends_with("+xml")
        || matches!(t.as_str(), "application/json" | "application/javascript" | "image/svg+xml")
}

/// `bytes` gzipped at `level` (1 fast … 9 best).
pub fn gzip(bytes: &[u8], level: u32) -> Vec<u8> {
    let mut enc =
        flate2::write::GzEncoder::new(Vec::with_capacity(bytes.len() / 3 + 64), flate2::Compression::new(level));
    enc.write_all(bytes).expect("writing to a Vec cannot fail");
    enc.finish().expect("writing to a Vec cannot fail")
}

/// The middleware (see the module documentation).
pub async fn compress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let req = res.request().clone();
    Ok(res.map_body(|head, body| {
        let textual = head.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(compressible);
        let large = matches!(body.size(), BodySize::Sized(n) if n >= MIN_SIZE as u64);
        // Most answers (the quiz's) stop here: small, so nothing else is read or written.
        if !(textual && large) {
            return body.boxed();
        }
        if !head.headers.get_all(header::VARY).any(|v| v.as_bytes().eq_ignore_ascii_case(b"accept-encoding")) {
            // Whatever the client sent, caches must keep the two forms apart.
            head.headers.append(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if head.headers.contains_key(header::CONTENT_ENCODING) || !accepts_gzip(req.headers()) {
            return body.boxed();
        }
        match body.try_into_bytes() {
            Ok(bytes) => {
                head.headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                BoxBody::new(gzip(&bytes, 1))
            }
            Err(body) => body.boxed(),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::HeaderName;

    fn headers(accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HeaderName::from_static("accept-encoding"), HeaderValue::from_str(accept).unwrap());
        h
    }

    #[test]
    fn reads_accept_encoding() {
        assert!(accepts_gzip(&headers("gzip, deflate, br")));
        assert!(accepts_gzip(&headers("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&headers("*")));
        assert!(!accepts_gzip(&headers("gzip;q=0")));
        assert!(!accepts_gzip(&headers("br, deflate")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn textual_types_only() {
        for t in
            ["application/json", "application/problem+json", "text/html; charset=utf-8", "image/svg+xml", "text/csv"]
        {
            assert!(compressible(t), "{t}");
        }
        for t in ["image/png", "text/event-stream", "application/octet-stream"] {
            assert!(!compressible(t), "{t}");
        }
    }

    #[test]
    fn round_trips() {
        let text = "排行榜".repeat(1000);
        let gz = gzip(text.as_bytes(), 1);
        assert!(gz.len() < text.len() / 10);
        let mut out = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, text);
    }
}
