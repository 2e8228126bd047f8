//! The relay role's route table and handlers.

use crate::Relay;
use crate::card::{CardInfo, app_page, campaign_page, card_image_svg};
use crate::poster::{PosterInfo, poster_svg};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use baton_core::campaign::{Campaign, Status};
use baton_core::events::ShareChannel;
use baton_core::ids::CampaignId;
use baton_core::relay::RelayCode;
use baton_http::Problem;
use baton_http::auth::ParticipantAuth;
use baton_http::extract::JsonBody;
use baton_http::problem::ProblemDoc;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

/// Registers the relay role's routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(short_link)
        .service(front_page)
        .service(campaign_card_page)
        .service(card_image)
        .service(app_screen)
        .service(app_result_screen)
        .service(my_relay)
        .service(poster)
        .service(share);
}

fn redirect(to: String) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, to))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

fn campaign_of(r: &Relay, id: &str) -> Result<Arc<Campaign>, Problem> {
    let none = || Problem::not_found("campaign_not_found", "There is no such campaign.");
    let id = CampaignId::parse(id).map_err(|_| none())?;
    r.campaigns.get(&id).ok_or_else(none)
}

/// The participant a token names, as the hot store has it.
async fn caller(r: &Relay, auth: &ParticipantAuth) -> Result<baton_hot::ParticipantState, Problem> {
    let p = r.store.participant(&auth.campaign, &auth.participant).await.map_err(Problem::from)?;
    p.ok_or_else(|| Problem::unauthorized("This participant is not known here. Join the campaign again."))
}

/// The short share link: records the open and leads to the campaign page with the code.
/// Unknown codes lead to the front page.
#[utoipa::path(tag = "relay", responses(
    (status = 302, description = "To /c/{campaign}?invite={code}, or to / for an unknown code"),
))]
#[get("/r/{code}")]
async fn short_link(r: web::Data<Relay>, code: web::Path<String>) -> Result<HttpResponse, Problem> {
    let Some(code) = RelayCode::parse(&code) else { return Ok(redirect("/".into())) };
    let owner = r.store.resolve_code(&code).await.map_err(Problem::from)?;
    let Some(owner) = owner.filter(|o| r.campaigns.get(&o.campaign).is_some()) else { return Ok(redirect("/".into())) };
    // The open is counted, but a failure to count it must not stop a citizen on the way in.
    if let Err(e) = r.store.click(&owner, r.clock.now_ms()).await {
        tracing::warn!(error = %e, "recording a relay link open failed");
    }
    Ok(redirect(format!("/c/{}?invite={}", owner.campaign, code)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The relay code the visitor came with.
    pub invite: Option<String>,
}

/// The front page: the page of the campaign citizens should see now — the live one that
/// started last, else the next to start, else the one that ended last.
#[utoipa::path(tag = "relay", responses(
    (status = 200, description = "HTML: that campaign's page (as /c/{cid})", content_type = "text/html"),
    (status = 404, description = "campaign_not_found: there is no campaign (a browser asking for text/html gets the web app's page, which says so)", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/")]
async fn front_page(r: web::Data<Relay>, req: HttpRequest) -> Result<HttpResponse, Problem> {
    let now = r.clock.now_ms();
    let all: Vec<_> = r.campaigns.ids().iter().filter_map(|id| r.campaigns.get(id)).collect();
    let pick = all
        .iter()
        .filter(|c| c.status(now) == Status::Live)
        .max_by_key(|c| c.starts_ms())
        .or_else(|| all.iter().filter(|c| c.status(now) == Status::Upcoming).min_by_key(|c| c.starts_ms()))
        .or_else(|| all.iter().max_by_key(|c| c.ends_ms()));
    let id = pick.map(|c| c.id().to_string()).unwrap_or_default();
    page(&r, &req, &id, None)
}

/// The campaign page, with the metadata WeChat and other apps read for a share card: the
/// citizen web app's page when it is built (history mode: its screens under `/c/{cid}/…` are
/// the same page), else a small page of its own.
#[utoipa::path(tag = "relay", params(PageQuery), responses(
    (status = 200, description = "HTML", content_type = "text/html"),
    (status = 404, description = "campaign_not_found (a browser asking for text/html gets the web app's page, which says so)", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/c/{cid}")]
async fn campaign_card_page(
    r: web::Data<Relay>,
    req: HttpRequest,
    cid: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    page(&r, &req, &cid, query.invite.as_deref())
}

/// A screen of the citizen web app (`join`, `quiz`, `share`, `boards`): the campaign page.
#[utoipa::path(tag = "relay", params(
    ("cid" = String, Path, description = "The campaign"),
    ("screen" = String, Path, description = "join, quiz, share or boards"),
    PageQuery,
), responses(
    (status = 200, description = "HTML: the campaign page", content_type = "text/html"),
    (status = 404, description = "campaign_not_found (a browser asking for text/html gets the web app's page, which says so), page_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/c/{cid}/{screen}")]
async fn app_screen(
    r: web::Data<Relay>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    let (cid, screen) = path.into_inner();
    if !SCREENS.contains(&screen.as_str()) {
        return Err(Problem::not_found("page_not_found", "There is no such page."));
    }
    page(&r, &req, &cid, query.invite.as_deref())
}

/// The citizen web app's result screen of an attempt: the campaign page.
#[utoipa::path(tag = "relay", params(PageQuery), responses(
    (status = 200, description = "HTML: the campaign page", content_type = "text/html"),
    (status = 404, description = "campaign_not_found (a browser asking for text/html gets the web app's page, which says so)", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/c/{cid}/result/{aid}")]
async fn app_result_screen(
    r: web::Data<Relay>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, Problem> {
    page(&r, &req, &path.0, query.invite.as_deref())
}

/// The citizen app's screens under `/c/{cid}/` (besides `result/{aid}`).
const SCREENS: [&str; 4] = ["join", "quiz", "share", "boards"];

fn page(r: &Relay, req: &HttpRequest, cid: &str, invite: Option<&str>) -> Result<HttpResponse, Problem> {
    let c = match (campaign_of(r, cid), &r.app_shell) {
        (Ok(c), _) => c,
        // A browser following a dead link gets the app, which says so in the person's language.
        (Err(_), Some(shell)) if wants_html(req) => {
            return Ok(HttpResponse::NotFound()
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CACHE_CONTROL, "no-cache"))
                .body(shell.to_string()));
        }
        (Err(e), _) => return Err(e),
    };
    let d = c.doc();
    let card = CardInfo {
        title: d.title.clone(),
        description: d.description.clone(),
        page_url: format!("{}/c/{}", r.public_url, c.id()),
        image_url: format!("{}/c/{}/card.svg", r.public_url, c.id()),
        invite_code: invite.and_then(RelayCode::parse).map(|c| c.to_string()),
        campaign_id: Some(c.id().to_string()),
    };
    let html = match &r.app_shell {
        Some(shell) => app_page(shell, &card),
        None => campaign_page(&card),
    };
    // Revalidated at every visit, so a new release of the app reaches phones at once.
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(html))
}

/// Does the client ask for HTML (a browser navigating) rather than anything at all?
fn wants_html(req: &HttpRequest) -> bool {
    req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"))
}

/// The image of the campaign's share card.
#[utoipa::path(tag = "relay", responses(
    (status = 200, description = "SVG", content_type = "image/svg+xml"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/c/{cid}/card.svg")]
async fn card_image(r: web::Data<Relay>, cid: web::Path<String>) -> Result<HttpResponse, Problem> {
    let c = campaign_of(&r, &cid)?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(card_image_svg(&c.doc().title, "全民禁毒 · 接力传递")))
}

/// The caller's relay, privately.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelayView {
    /// People who joined through my link.
    pub direct: u64,
    /// Everyone downstream (may lag a few seconds).
    pub descendants: u64,
    /// 0 for a chain's origin.
    pub depth: u32,
    /// My ancestors' nicknames, nearest first, at most 20.
    pub chain: Vec<String>,
    /// The latest direct joiners' nicknames, newest first.
    pub recent: Vec<String>,
    pub relay_code: String,
    pub share_url: String,
}

/// My relay: direct joins, everyone downstream, depth, the chain above me, recent joiners.
#[utoipa::path(tag = "relay", security(("participant" = [])), responses(
    (status = 200, body = RelayView),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/me/relay")]
async fn my_relay(r: web::Data<Relay>, auth: ParticipantAuth) -> Result<web::Json<RelayView>, Problem> {
    let p = caller(&r, &auth).await?;
    // The SQL record may not have this participant yet (the archiver lags a little): zeros then.
    let stats = r.db.relay_stats(&auth.campaign, &auth.participant).await.map_err(Problem::from)?;
    let (direct, descendants, chain, recent) = match stats {
        Some(s) => (s.direct, s.descendants, s.chain, s.recent),
        None => (0, 0, Vec::new(), Vec::new()),
    };
    Ok(web::Json(RelayView {
        direct,
        descendants,
        depth: p.depth,
        chain,
        recent,
        share_url: format!("{}/r/{}", r.public_url, p.relay_code),
        relay_code: p.relay_code.to_string(),
    }))
}

/// My share poster, with the QR code of my link, for when a share card does not show.
#[utoipa::path(tag = "relay", security(("participant" = [])), responses(
    (status = 200, description = "SVG", content_type = "image/svg+xml"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/me/poster.svg")]
async fn poster(r: web::Data<Relay>, auth: ParticipantAuth) -> Result<HttpResponse, Problem> {
    let p = caller(&r, &auth).await?;
    let c = r
        .campaigns
        .get(&auth.campaign)
        .ok_or_else(|| Problem::not_found("campaign_not_found", "There is no such campaign."))?;
    let svg = poster_svg(&PosterInfo {
        campaign_title: c.doc().title.clone(),
        nickname: p.nickname,
        share_url: format!("{}/r/{}", r.public_url, p.relay_code),
        relay_code: p.relay_code.to_string(),
        line: "我已参加禁毒知识答题，邀你一起接力！".into(),
    });
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "private, max-age=60"))
        .body(svg))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareRequest {
    /// `wechat_friend`, `wechat_moments`, `link`, `qr` or `other`.
    pub channel: String,
}

/// Record that I shared my link.
#[utoipa::path(tag = "relay", security(("participant" = [])), request_body = ShareRequest, responses(
    (status = 204, description = "Recorded"),
    (status = 400, description = "invalid_channel, malformed_json, unknown_field, invalid_type, missing_field", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 415, description = "unsupported_media_type", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 429, description = "rate_limited: too many shares recorded for this participant (share); see Retry-After", body = ProblemDoc, content_type = "application/problem+json",
        headers(("Retry-After" = i64, description = "seconds to wait"))),
))]
#[post("/api/v1/shares")]
async fn share(
    r: web::Data<Relay>,
    auth: ParticipantAuth,
    JsonBody(body): JsonBody<ShareRequest>,
) -> Result<HttpResponse, Problem> {
    r.limits.check(baton_http::limits::Limit::Share, (&auth.campaign, &auth.participant))?;
    let channel = ShareChannel::parse(&body.channel).ok_or_else(|| {
        Problem::bad_request("invalid_channel", "channel must be wechat_friend, wechat_moments, link, qr or other.")
    })?;
    let n = r.store.share(&auth.campaign, &auth.participant, channel, r.clock.now_ms()).await.map_err(Problem::from)?;
    match n {
        Some(_) => Ok(HttpResponse::NoContent().finish()),
        None => Err(Problem::unauthorized("This participant is not known here. Join the campaign again.")),
    }
}
