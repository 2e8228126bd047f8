//! The console's route table and handlers. Handlers are thin: the login flow lives in
//! [`crate::login`], scope in [`crate::scope`].

use crate::Console;
use crate::tokens::Organizer;
use crate::views::{LoginRequest, LoginResponse, MeResponse, ScopeView, rfc3339_secs};
use actix_web::{HttpRequest, get, post, web};
use baton_http::Problem;
use baton_http::extract::JsonBody;
use baton_http::limits::Limit;
use baton_http::problem::ProblemDoc;

/// Registers the console role's routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(login).service(me);
    crate::figures::configure(cfg);
    crate::live::configure(cfg);
    crate::exports::configure(cfg);
    crate::admin::configure(cfg);
    crate::moderation::configure(cfg);
}

/// Log in to the organizer console. Wrong credentials get the same answer, in about the same
/// time, whether or not the username exists; repeated failures are slowed down per username and
/// per client address.
#[utoipa::path(tag = "console", request_body = LoginRequest, responses(
    (status = 200, description = "Logged in", body = LoginResponse),
    (status = 400, description = "malformed_json, unknown_field, missing_field, invalid_type", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "invalid_credentials: the username or password is wrong (or the account is disabled)", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 415, description = "unsupported_media_type", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 429, description = "too_many_logins: too many failed logins for this username or address; rate_limited: too many logins from this address (login_ip); see Retry-After", body = ProblemDoc, content_type = "application/problem+json",
        headers(("Retry-After" = i64, description = "seconds until logins are accepted again"))),
    (status = 503, description = "unavailable", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[post("/api/v1/console/login")]
async fn login(
    c: web::Data<Console>,
    req: HttpRequest,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<web::Json<LoginResponse>, Problem> {
    let client = c.trusted_proxies.client_ip(&req);
    // Every login costs a password hash: attempts per network are limited in this process too.
    if let Some(ip) = client {
        c.rate_limits.check(Limit::LoginIp, baton_http::client::network(ip))?;
    }
    let done = c.login(&body.username, &body.password, client).await.inspect_err(|p| {
        if p.code == "too_many_logins" {
            c.rate_limits.count_refusal("login_throttle");
        }
    })?;
    Ok(web::Json(LoginResponse {
        token: done.token,
        role: done.role,
        scope: ScopeView::from(&done.scope),
        expires_at: rfc3339_secs(done.expires_at),
    }))
}

/// The caller's account: username, role and scope.
#[utoipa::path(tag = "console", security(("organizer" = [])), responses(
    (status = 200, body = MeResponse),
    (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/me")]
async fn me(who: Organizer) -> web::Json<MeResponse> {
    web::Json(MeResponse {
        username: who.username.to_string(),
        role: who.role,
        scope: ScopeView::from(&who.scope),
        expires_at: rfc3339_secs(who.expires_at),
    })
}
