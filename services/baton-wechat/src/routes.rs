//! The WeChat route table: `GET /api/v1/wechat/jssdk-config`.
//!
//! App data the handlers read: `web::Data<Option<WeChat>>` (`None` when WeChat is not
//! configured: the route answers `404 wechat_not_configured`) and `web::Data<Arc<dyn Clock>>`
//! (the signature's timestamp).

use crate::{JsSdkConfig, PageUrl, WeChat};
use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{CustomizeResponder, Responder, get, web};
use baton_http::Problem;
use baton_http::clock::Clock;
use baton_http::problem::ProblemDoc;
use serde::Deserialize;
use std::sync::Arc;

/// Registers the WeChat routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(jssdk_config);
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JsSdkQuery {
    /// The page's full URL (`location.href`), URL-encoded; required. Any `#fragment` is
    /// dropped before signing.
    pub url: Option<String>,
}

/// `wx.config` values for a page: app id, timestamp, nonce and signature.
#[utoipa::path(tag = "wechat", params(JsSdkQuery), responses(
    (status = 200, description = "Signed for the page (without its fragment)", body = JsSdkConfig),
    (status = 400, description = "missing_url, invalid_url, invalid_query", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "wechat_not_configured", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 502, description = "wechat_upstream: WeChat answered with an error", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 503, description = "wechat_unavailable: WeChat could not be reached (Retry-After); unavailable: the hot store is down", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/wechat/jssdk-config")]
async fn jssdk_config(
    wechat: web::Data<Option<WeChat>>,
    clock: web::Data<Arc<dyn Clock>>,
    query: web::Query<JsSdkQuery>,
) -> Result<CustomizeResponder<web::Json<JsSdkConfig>>, Problem> {
    let Some(wechat) = wechat.get_ref() else {
        return Err(Problem::not_found("wechat_not_configured", "WeChat is not configured on this server."));
    };
    let Some(raw) = query.url.as_deref() else {
        return Err(Problem::bad_request("missing_url", "The url query parameter (the page's URL) is required."));
    };
    let url = PageUrl::parse(raw).map_err(|e| Problem::bad_request("invalid_url", e.to_string()))?;
    let timestamp = clock.now_ms().div_euclid(1000);
    let config = wechat.jssdk_config(&url, timestamp).await?;
    // Each answer carries a fresh nonce and the current time: nothing on the way may cache it.
    Ok(web::Json(config).customize().insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store"))))
}
