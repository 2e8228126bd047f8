//! Prometheus metrics, behind this one module (the `prometheus` crate's future is uncertain).
//! Labels stay low-cardinality: the route pattern (never a participant, unit or region id),
//! the method and the status. `baton_build_info{version, git_sha}` is always 1 (`git_sha` is
//! `BATON_GIT_SHA` at build time, or `unknown`).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::time::Instant;

/// The process's metrics.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new_custom(Some("baton".into()), None).expect("valid prefix");
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests answered, by route pattern, method and status."),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        // Millisecond-level APIs: fine buckets from 0.25 ms, coarse ones up to 5 s.
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer HTTP requests (to the response head), by route pattern, method and status.",
            )
            .buckets(vec![0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let build = IntGaugeVec::new(
            Opts::new("build_info", "Always 1: the version and commit of this build."),
            &["version", "git_sha"],
        )
        .expect("valid metric");
        build.with_label_values(&[env!("CARGO_PKG_VERSION"), option_env!("BATON_GIT_SHA").unwrap_or("unknown")]).set(1);
        registry.register(Box::new(requests.clone())).expect("registers once");
        registry.register(Box::new(durations.clone())).expect("registers once");
        registry.register(Box::new(build)).expect("registers once");
        Self { registry, requests, durations }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding does not fail");
        String::from_utf8(buf).expect("text exposition is UTF-8")
    }
}

/// A method as a label: the standard ones by name, anything a client invents as `other`, so a
/// client cannot add series.
fn method_label(m: &actix_web::http::Method) -> &'static str {
    match m.as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        "PATCH" => "PATCH",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        "TRACE" => "TRACE",
        "CONNECT" => "CONNECT",
        _ => "other",
    }
}

/// Middleware: counts and times every request by its route pattern (the template, such as
/// `/api/v1/attempts/{aid}`, never the path itself; `unmatched` for requests no route took).
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = method_label(req.method());
    let start = Instant::now();
    let res = next.call(req).await?;
    if let Some(m) = metrics {
        let route = res.request().match_pattern().unwrap_or_else(|| "unmatched".into());
        let status = res.status().as_u16().to_string();
        let labels = [route.as_str(), method, status.as_str()];
        m.requests.with_label_values(&labels).inc();
        m.durations.with_label_values(&labels).observe(start.elapsed().as_secs_f64());
    }
    Ok(res)
}

/// `GET /metrics`.
pub async fn endpoint(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(metrics.render())
}

/// `baton_rate_limited_total{limiter}`: requests a rate limit refused (or, for `relay_code`,
/// invite codes it ignored), by the limit's name — a short fixed list ([`crate::limits`]).
#[derive(Clone)]
pub struct RateLimited(IntCounterVec);

impl RateLimited {
    /// The counter, registered on `registry` (the process's).
    pub fn register(registry: &Registry) -> Self {
        let c = IntCounterVec::new(
            Opts::new("rate_limited_total", "Requests refused by a rate limit, by limit."),
            &["limiter"],
        )
        .expect("valid metric");
        registry.register(Box::new(c.clone())).expect("registers once");
        Self(c)
    }

    pub fn inc(&self, limiter: &'static str) {
        self.0.with_label_values(&[limiter]).inc();
    }
}
