//! The campaign's participant counter, cheap enough for every landing page to poll, and the
//! counters of every place and unit behind the `regions` and `units` boards.
//!
//! The hot store's campaign-wide counters are read at most once per [`FRESH_MS`] per campaign
//! and process, whatever the number of pollers, and the answer may be cached by the browser and
//! any proxy for [`MAX_AGE_S`] seconds. (The campaign page, read once per visit, counts exactly.)
//!
//! The counters of every place and unit (`HotStore::aggregates`: in a city campaign some 12,500
//! fields a shard, a millisecond of Redis and several of Baton's CPU to read) are likewise read
//! at most once per [`FRESH_MS`] per campaign and process, and shared by every reader of the
//! collective boards: a board of counties or units is then at most two seconds old, and costs
//! the same whether ten citizens look at it or ten thousand.

use crate::Quiz;
use crate::routes::campaign;
use crate::views::StatsView;
use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use baton_core::Millis;
use baton_core::ids::CampaignId;
use baton_hot::Aggregates;
use baton_http::Problem;
use baton_http::problem::ProblemDoc;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How long one reading of the hot store is used.
pub const FRESH_MS: Millis = 2_000;
/// How long browsers and proxies may keep the answer.
pub const MAX_AGE_S: u32 = 5;

/// A reading and when it was taken, per campaign.
type Readings<T> = Arc<Mutex<HashMap<CampaignId, (Millis, T)>>>;

/// Readings of the counters, per campaign, shared by the process's workers.
#[derive(Clone, Default)]
pub struct StatsCache {
    totals: Readings<StatsView>,
    aggregates: Readings<Arc<Aggregates>>,
}

/// The reading of `id` in `readings` if it is younger than [`FRESH_MS`] at `now`.
fn fresh<T: Clone>(readings: &Readings<T>, id: &CampaignId, now: Millis) -> Option<T> {
    match readings.lock().expect("not poisoned").get(id) {
        Some((at, v)) if (*at..*at + FRESH_MS).contains(&now) => Some(v.clone()),
        _ => None,
    }
}

impl StatsCache {
    /// The campaign's counters, read from the hot store unless a reading younger than
    /// [`FRESH_MS`] is kept.
    pub async fn get(&self, q: &Quiz, id: &CampaignId) -> Result<StatsView, Problem> {
        let now = q.clock.now_ms();
        if let Some(v) = fresh(&self.totals, id, now) {
            return Ok(v);
        }
        let agg = q.store.totals(id).await.map_err(Problem::from)?;
        let v = StatsView { participants: agg.participants, relayed: agg.relayed };
        self.totals.lock().expect("not poisoned").insert(id.clone(), (now, v.clone()));
        Ok(v)
    }

    /// The counters of every place and unit of the campaign, read from the hot store unless a
    /// reading younger than [`FRESH_MS`] is kept.
    pub async fn aggregates(&self, q: &Quiz, id: &CampaignId) -> Result<Arc<Aggregates>, Problem> {
        let now = q.clock.now_ms();
        if let Some(v) = fresh(&self.aggregates, id, now) {
            return Ok(v);
        }
        let v = Arc::new(q.store.aggregates(id).await.map_err(Problem::from)?);
        self.aggregates.lock().expect("not poisoned").insert(id.clone(), (now, v.clone()));
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
