//! The live feed: `GET /api/v1/console/campaigns/{cid}/live`, server-sent events limited to
//! the caller's scope like every other console answer.
//!
//! Every tick (2 s by default, [`Console::with_live_interval`]) the stream sends the latest
//! `join` and `finish` samples since the last tick, then an `overview` event with the same JSON
//! as the overview endpoint. Samples are samples: at most [`SAMPLES_PER_TICK`] of each kind per
//! tick, the latest ones, so a flash crowd cannot flood an organizer's browser.
//!
//! # Resuming
//! Events are archived a moment after they happen (at once in the all-in-one process, within
//! about a second from Redis), so a tick only reports what happened up to [`SETTLE_MS`] ago:
//! by then it is stored. Each `overview` event carries that watermark as its `id`; a client
//! that reconnects (browsers do by themselves, sending `Last-Event-ID`) gets the samples after
//! it, without repeats or gaps (a client away more than [`RESUME_WINDOW_MS`] resumes with the
//! samples of that last stretch). A new connection starts at the watermark of its first tick.
//! The stream ends when the organizer token expires (an `expired` event first), so a revoked
//! or stale login does not keep reading.
//!
//! # Shared readings
//! Every dashboard of a scope (campaign and region) shows the same figures, so the streams of a
//! scope share their readings ([`LiveReadings`]): a tick uses the scope's last reading when its
//! window ends less than one tick before this tick's would, and it covers what the stream has not
//! had yet (it starts at or before the stream's watermark). The samples of a reading are the
//! latest of its window, and the windows share their end, so the latest after a later watermark
//! are those of the reading after it. However many organizers watch a scope, its figures are then
//! read about once per tick, at the price of samples and an overview up to one tick older.

use crate::Console;
use crate::figures::OverviewView;
use crate::scope::Scoped;
use crate::tokens::Organizer;
use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use baton_core::Millis;
use baton_core::ids::{CampaignId, PlaceId};
use baton_core::rfc3339;
use baton_db::Sample;
use baton_http::Problem;
use baton_http::problem::ProblemDoc;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// How far behind now a tick reports: events older than this are stored.
pub const SETTLE_MS: Millis = 2_000;

/// Most samples of each kind one tick sends.
pub const SAMPLES_PER_TICK: u32 = 20;

/// How far back a resumed stream samples: a client away longer starts from this far back.
pub const RESUME_WINDOW_MS: Millis = 5 * 60_000;

/// The default time between ticks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(2);

/// How soon a browser reconnects after the stream drops (the SSE `retry` field).
const RETRY_MS: u64 = 2_000;

/// Registers the live feed's route.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(live);
}

/// A `join` or `finish` event.
#[derive(Debug, Serialize, ToSchema)]
pub struct SampleView {
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    pub participant_id: String,
    pub nickname: String,
    pub region_id: String,
    pub unit_id: Option<String>,
    /// Joins: whether through someone's relay link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayed: Option<bool>,
    /// Finishes: the attempt's score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<u64>,
}

/// One reading of a scope's live figures.
#[derive(Debug)]
struct Reading {
    /// The samples are the latest of `(after, until]`; `None`: none were read (a stream's first
    /// tick has nothing to sample).
    after: Option<Millis>,
    until: Millis,
    joins: Vec<Sample>,
    finishes: Vec<Sample>,
    overview: OverviewView,
}

impl Reading {
    /// Whether a stream that has had everything up to `watermark` can take its next tick from
    /// this reading.
    fn covers(&self, watermark: Option<Millis>) -> bool {
        match (watermark, self.after) {
            (None, _) => true,
            (Some(w), Some(after)) => after <= w && w <= self.until,
            (Some(w), None) => w == self.until,
        }
    }

    /// Whether this reading serves more streams than `other`: it reaches further, or as far
    /// from further back.
    fn better_than(&self, other: &Reading) -> bool {
        let further_back = match (self.after, other.after) {
            (Some(a), Some(b)) => a < b,
            (Some(_), None) => true,
            (None, _) => false,
        };
        self.until > other.until || (self.until == other.until && further_back)
    }
}

/// A scope: the campaign, and the region its figures are limited to (`None`: all of it).
type ScopeKey = (CampaignId, Option<PlaceId>);

/// The scope's readings, shared by every live stream of the process (see the module docs).
#[derive(Clone, Default)]
pub struct LiveReadings {
    last: Arc<Mutex<HashMap<ScopeKey, Arc<Reading>>>>,
    made: Arc<AtomicU64>,
}

impl LiveReadings {
    /// The scope's last reading if a tick of a stream at `watermark` that would read up to
    /// `until` can use it: it ends less than `slack` before `until` and covers the stream.
    fn usable(
        &self,
        scope: &ScopeKey,
        watermark: Option<Millis>,
        until: Millis,
        slack: Millis,
    ) -> Option<Arc<Reading>> {
        let r = self.last.lock().unwrap_or_else(|p| p.into_inner()).get(scope).cloned()?;
        (r.until > until - slack && r.covers(watermark)).then_some(r)
    }

    /// Keeps `r` as the scope's last reading unless the one kept serves more streams.
    fn keep(&self, scope: ScopeKey, r: Arc<Reading>) {
        self.made.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if last.get(&scope).is_none_or(|old| r.better_than(old)) {
            last.insert(scope, r);
        }
    }

    /// How many readings the streams of this process have made.
    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }
}

impl SampleView {
    fn of(s: &Sample, join: bool) -> Self {
        SampleView {
            at: rfc3339(s.at_ms),
            participant_id: s.participant.clone(),
            nickname: s.nickname.clone(),
            region_id: s.region.clone(),
            unit_id: s.unit.clone(),
            relayed: join.then_some(s.relayed),
            score: s.score,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveQuery {
    /// Limit to this place and everything under it (within the caller's scope).
    pub region_id: Option<String>,
}

/// One server-sent event.
fn event(name: &str, id: Option<Millis>, data: &impl Serialize) -> String {
    let mut out = format!("event: {name}\n");
    if let Some(id) = id {
        out.push_str(&format!("id: {id}\n"));
    }
    // JSON has no raw newlines, so the data is one line.
    out.push_str("data: ");
    out.push_str(&serde_json::to_string(data).expect("views serialize"));
    out.push_str("\n\n");
    out
}

/// Where a stream stands between ticks.
struct Feed {
    console: Console,
    scoped: Scoped,
    places: Option<Vec<baton_core::ids::PlaceId>>,
    /// Samples up to here were sent.
    watermark: Option<Millis>,
    expires_at: i64,
    first: bool,
    done: bool,
}

impl Feed {
    /// The next tick's bytes.
    async fn tick(&mut self) -> Result<Bytes, Problem> {
        let now = self.console.clock.now_ms();
        let mut out = String::new();
        if self.first {
            out.push_str(&format!("retry: {RETRY_MS}\n\n"));
        }
        if now.div_euclid(1000) >= self.expires_at {
            out.push_str(&event(
                "expired",
                None,
                &serde_json::json!({"detail": "The organizer token expired: log in again."}),
            ));
            self.done = true;
            return Ok(Bytes::from(out));
        }
        let until = now - SETTLE_MS;
        let scope = (self.scoped.campaign.id().clone(), self.scoped.region().cloned());
        let slack = Millis::try_from(self.console.live_interval.as_millis()).unwrap_or(Millis::MAX).max(1);
        let reading = match self.console.live_readings.usable(&scope, self.watermark, until, slack) {
            Some(r) => r,
            None => {
                let r = Arc::new(self.read(until).await?);
                self.console.live_readings.keep(scope, r.clone());
                r
            }
        };
        let fresh = |s: &&Sample| self.watermark.is_some_and(|w| s.at_ms > w);
        for s in reading.joins.iter().filter(fresh) {
            out.push_str(&event("join", None, &SampleView::of(s, true)));
        }
        for s in reading.finishes.iter().filter(fresh) {
            out.push_str(&event("finish", None, &SampleView::of(s, false)));
        }
        let watermark = self.watermark.map_or(reading.until, |w| w.max(reading.until));
        self.watermark = Some(watermark);
        out.push_str(&event("overview", Some(watermark), &reading.overview));
        self.first = false;
        Ok(Bytes::from(out))
    }

    /// Reads the scope's figures: the samples after the stream's watermark up to `until` (none
    /// on its first tick), and the overview.
    async fn read(&self, until: Millis) -> Result<Reading, Problem> {
        let after = self.watermark.filter(|w| *w < until);
        let (joins, finishes) = match after {
            Some(after) => {
                let c = self.scoped.campaign.id();
                let places = self.places.as_deref();
                let db = &self.console.db;
                let joins = db.recent_joins(c, places, after, until, SAMPLES_PER_TICK).await.map_err(Problem::from)?;
                let finishes =
                    db.recent_finishes(c, places, after, until, SAMPLES_PER_TICK).await.map_err(Problem::from)?;
                (joins, finishes)
            }
            None => (Vec::new(), Vec::new()),
        };
        let overview = self.console.overview_of(&self.scoped).await?;
        // A watermark at or past `until` had everything up to it: the empty window read is
        // `(until, until]`.
        let after = after.or(self.watermark.map(|w| w.min(until)));
        Ok(Reading { after, until, joins, finishes, overview })
    }
}

/// Live figures as server-sent events: `overview` at every tick (2 s), `join` and `finish`
/// samples, `expired` when the token runs out; resumes after `Last-Event-ID`.
#[utoipa::path(tag = "console", params(LiveQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The `id` of the last event received: the stream resumes after it.")),
    security(("organizer" = [])), responses(
    (status = 200, description = "A stream of server-sent events (`text/event-stream`): `overview` (data: the overview), `join`, `finish` (data: a sample), `expired`.", body = SampleView, content_type = "text/event-stream"),
    (status = 400, description = "invalid_region, invalid_query, invalid_last_event_id", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/campaigns/{cid}/live")]
async fn live(
    c: web::Data<Console>,
    who: Organizer,
    req: HttpRequest,
    cid: web::Path<String>,
    q: web::Query<LiveQuery>,
) -> Result<HttpResponse, Problem> {
    let scoped = c.scoped(&who, &cid, q.region_id.as_deref())?;
    let watermark = match req.headers().get("last-event-id") {
        None => None,
        Some(v) => Some(v.to_str().ok().and_then(|s| s.trim().parse::<Millis>().ok()).ok_or_else(|| {
            Problem::bad_request("invalid_last_event_id", "Last-Event-ID must be an id this stream sent.")
        })?),
    };
    // A resumed stream reaches back at most RESUME_WINDOW_MS, and never into the future.
    let now = c.clock.now_ms();
    let watermark = watermark.map(|w| w.clamp(now - SETTLE_MS - RESUME_WINDOW_MS, now - SETTLE_MS));
    let feed = Feed {
        console: c.get_ref().clone(),
        places: scoped.places(),
        scoped,
        watermark,
        expires_at: who.expires_at,
        first: true,
        done: false,
    };
    let interval = c.live_interval;
    let stream = futures_util::stream::unfold(feed, move |mut feed| async move {
        if feed.done {
            return None;
        }
        if !feed.first {
            tokio::time::sleep(interval).await;
        }
        match feed.tick().await {
            Ok(bytes) => Some((Ok::<_, std::io::Error>(bytes), feed)),
            // The status is sent already: end the stream; the browser reconnects and resumes.
            Err(p) => {
                tracing::warn!(error = %p, "live feed tick failed; ending the stream");
                feed.done = true;
                Some((Err(std::io::Error::other(p.to_string())), feed))
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Proxies (nginx) must pass each event on at once.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(after: Option<Millis>, until: Millis) -> Arc<Reading> {
        Arc::new(Reading { after, until, joins: Vec::new(), finishes: Vec::new(), overview: OverviewView::default() })
    }

    fn scope(region: Option<&str>) -> ScopeKey {
        (CampaignId::parse("demo").unwrap(), region.map(|r| PlaceId::parse(r).unwrap()))
    }

    #[test]
    fn a_reading_serves_the_streams_whose_watermark_it_starts_at_or_before() {
        let r = reading(Some(1_000), 3_000);
        assert!(r.covers(None), "a new stream takes any reading");
        assert!(r.covers(Some(1_000)) && r.covers(Some(2_000)) && r.covers(Some(3_000)));
        assert!(!r.covers(Some(999)), "a stream further back would miss samples");
        assert!(!r.covers(Some(3_001)), "a stream further on has more already");
        let first = reading(None, 3_000);
        assert!(first.covers(None) && first.covers(Some(3_000)));
        assert!(!first.covers(Some(2_999)), "no samples were read for it");
    }

    #[test]
    fn the_streams_of_a_scope_share_a_reading_for_one_tick() {
        let readings = LiveReadings::default();
        let city = scope(None);
        assert!(readings.usable(&city, None, 10_000, 2_000).is_none());
        readings.keep(city.clone(), reading(Some(8_000), 10_000));
        // Another stream of the scope, at the same watermark, up to one tick later.
        assert_eq!(readings.usable(&city, Some(8_000), 10_000, 2_000).map(|r| r.until), Some(10_000));
        assert_eq!(readings.usable(&city, Some(8_000), 11_999, 2_000).map(|r| r.until), Some(10_000));
        assert!(readings.usable(&city, Some(8_000), 12_000, 2_000).is_none(), "a tick later it reads again");
        assert!(readings.usable(&city, Some(7_000), 10_000, 2_000).is_none(), "a stream further back reads its own");
        assert!(readings.usable(&scope(Some("liling")), Some(8_000), 10_000, 2_000).is_none(), "another scope");
        // The one that serves more streams is kept: further on, or as far from further back.
        readings.keep(city.clone(), reading(Some(9_000), 10_000));
        assert_eq!(readings.usable(&city, Some(8_000), 10_000, 2_000).map(|r| r.after), Some(Some(8_000)));
        readings.keep(city.clone(), reading(Some(7_000), 10_000));
        assert_eq!(readings.usable(&city, Some(7_000), 10_000, 2_000).map(|r| r.after), Some(Some(7_000)));
        readings.keep(city.clone(), reading(Some(10_000), 11_000));
        assert_eq!(readings.usable(&city, Some(10_000), 11_500, 2_000).map(|r| r.until), Some(11_000));
        assert_eq!(readings.made(), 4);
    }
}
