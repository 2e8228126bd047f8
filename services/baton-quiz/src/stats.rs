//! The campaign's participant counter, cheap enough for every landing page to poll.
//!
//! The hot store's aggregates are read at most once per [`FRESH_MS`] per campaign and process,
//! whatever the number of pollers, and the answer may be cached by the browser and any proxy
//! for [`MAX_AGE_S`] seconds. (The campaign page, read once per visit, counts exactly.)

use crate::Quiz;
use crate::routes::campaign;
use crate::views::StatsView;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use baton_core::Millis;
use baton_core::ids::CampaignId;
use baton_http::Problem;
use baton_http::problem::ProblemDoc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long one reading of the hot store is used.
pub const FRESH_MS: Millis = 2_000;
/// How long browsers and proxies may keep the answer.
pub const MAX_AGE_S: u32 = 5;

/// Readings of the counters, per campaign, shared by the process's workers.
#[derive(Clone, Default)]
pub struct StatsCache(Arc<Mutex<HashMap<CampaignId, (Millis, StatsView)>>>);

impl StatsCache {
    /// The campaign's counters, read from the hot store unless a reading younger than
    /// [`FRESH_MS`] is kept.
    pub async fn get(&self, q: &Quiz, id: &CampaignId) -> Result<StatsView, Problem> {
        let now = q.clock.now_ms();
        if let Some((at, v)) = self.0.lock().expect("not poisoned").get(id)
            && (*at..*at + FRESH_MS).contains(&now)
        {
            return Ok(v.clone());
        }
        let agg = q.store.totals(id).await.map_err(Problem::from)?;
        let v = StatsView { participants: agg.participants, relayed: agg.relayed };
        self.0.lock().expect("not poisoned").insert(id.clone(), (now, v.clone()));
        Ok(v)
    }
}

/// The campaign's participant counter (at most a few seconds old), for pages that poll it.
#[utoipa::path(tag = "participant", responses(
    (status = 200, body = StatsView, headers(("Cache-Control" = String, description = "public, max-age=5"))),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/campaigns/{cid}/stats")]
pub(crate) async fn campaign_stats(q: web::Data<Quiz>, cid: web::Path<String>) -> Result<HttpResponse, Problem> {
    let c = campaign(&q, &cid)?;
    let v = q.stats.get(&q, c.id()).await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, format!("public, max-age={MAX_AGE_S}"))).json(v))
}
