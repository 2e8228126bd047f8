//! The console's figures: overview, time series, breakdown by region or unit, question
//! statistics and relay analytics, each limited to the caller's scope by [`Console::scoped`].
//!
//! None of them reads participants one by one. The overview, the time series, the question
//! statistics and the chain depths read the tallies the archiver keeps as events are stored
//! (`baton_db::tallies`: a few rows per place, minute or question); the breakdown reads the
//! hot store's counters per place and unit, which every join and finish updates; the top
//! relayers read the relay totals' index in order. So a read costs the same with a hundred
//! participants or millions.
//!
//! A region-limited viewer's figures count only its subtree: every participant counts towards
//! its place and every place above it, so the tallies of the region are its subtree's.

use crate::Console;
use crate::scope::Scoped;
use crate::tokens::Organizer;
use actix_web::{get, web};
use baton_core::Millis;
use baton_core::campaign::{Campaign, PlaceDoc};
use baton_core::ids::PlaceId;
use baton_core::rfc3339;
use baton_hot::Aggregate;
use baton_http::Problem;
use baton_http::problem::ProblemDoc;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};

/// Registers the figures' routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(overview).service(timeseries).service(breakdown).service(questions).service(relay);
}

/// `a / b` to six decimals, or `None` when `b` is zero.
fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 1e6).round() / 1e6)
}

/// `a / b` to one decimal, or `None` when `b` is zero.
fn mean1(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 10.0).round() / 10.0)
}

/// The target headcount of a place: its own, else the sum of its children's (`None` if no
/// place below it has one either).
fn target_of(p: &PlaceDoc) -> Option<u64> {
    p.target.or_else(|| {
        let known: Vec<u64> = p.children.iter().filter_map(target_of).collect();
        (!known.is_empty()).then(|| known.iter().sum())
    })
}

/// The place `id` in the campaign's tree.
fn find<'a>(places: &'a [PlaceDoc], id: &PlaceId) -> Option<&'a PlaceDoc> {
    places.iter().find_map(|p| if &p.id == id { Some(p) } else { find(&p.children, id) })
}

/// The target of the scope: its region's, or the sum of the roots' for the whole campaign.
fn scope_target(c: &Campaign, region: Option<&PlaceId>) -> Option<u64> {
    let regions = &c.doc().regions;
    match region {
        Some(r) => find(regions, r).and_then(target_of),
        None => {
            let known: Vec<u64> = regions.iter().filter_map(target_of).collect();
            (!known.is_empty()).then(|| known.iter().sum())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Overview

/// `GET …/overview` and the live stream's `overview` events.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct OverviewView {
    pub campaign_id: String,
    /// The region the figures are limited to (null: the whole campaign).
    pub region_id: Option<String>,
    /// When the figures were read (RFC 3339, UTC).
    pub as_of: String,
    /// Participants who joined.
    pub participants: u64,
    /// The scope's target headcount (its own, or the sum of the places under it), if known.
    pub target: Option<u64>,
    /// `participants / target`.
    pub rate: Option<f64>,
    /// Attempts started, and finished.
    pub attempts: u64,
    pub finishes: u64,
    /// Questions answered (timed-out answers included).
    pub answers: u64,
    /// Share of answers that were right (null before any answer).
    pub correct_rate: Option<f64>,
    /// Mean seconds per answer.
    pub avg_seconds: Option<f64>,
    /// Shares reported by participants, and how many participants shared at least once.
    pub shares: u64,
    pub sharers: u64,
    /// Relay links opened.
    pub clicks: u64,
    /// Participants who joined through someone's relay link.
    pub relayed_joins: u64,
    /// Participants who started an attempt in the last five minutes: estimated from the
    /// per-minute counts (the current minute, the four before, and the part of the fifth that
    /// still lies in the window); a second start by the same person in that time counts again.
    pub active_last_5m: u64,
    /// Joins in the last 60 seconds, estimated the same way from the current and last minute.
    pub joins_last_minute: u64,
}

/// The count over the sliding window of `minutes` minutes ending at `now`, from per-minute
/// counts: whole minutes inside it, plus the oldest minute weighted by the part of it still
/// inside (the sliding-window counter estimate).
fn sliding(per_minute: &BTreeMap<Millis, u64>, now: Millis, minutes: i64) -> u64 {
    let current = now.div_euclid(baton_db::tallies::MINUTE_MS) * baton_db::tallies::MINUTE_MS;
    let into = (now - current) as f64 / baton_db::tallies::MINUTE_MS as f64;
    let mut sum = 0.0;
    for k in 0..=minutes {
        let m = current - k * baton_db::tallies::MINUTE_MS;
        let n = per_minute.get(&m).copied().unwrap_or(0) as f64;
        sum += if k == minutes { n * (1.0 - into) } else { n };
    }
    sum.round() as u64
}

impl Console {
    /// The overview of a scope, as the endpoint and the live stream send it.
    pub async fn overview_of(&self, s: &Scoped) -> Result<OverviewView, Problem> {
        let now = self.clock.now_ms();
        let c = s.campaign.id();
        let totals = self.db.tally_totals(c, s.region()).await.map_err(Problem::from)?;
        let recent = self
            .db
            .tally_minutes(c, s.region(), now - 6 * baton_db::tallies::MINUTE_MS, now + 1)
            .await
            .map_err(Problem::from)?;
        let attempts: BTreeMap<Millis, u64> = recent.iter().map(|(m, n)| (*m, n.attempts)).collect();
        let joins: BTreeMap<Millis, u64> = recent.iter().map(|(m, n)| (*m, n.joins)).collect();
        let target = scope_target(&s.campaign, s.region());
        Ok(OverviewView {
            campaign_id: c.to_string(),
            region_id: s.region().map(ToString::to_string),
            as_of: rfc3339(now),
            participants: totals.joins,
            target,
            rate: target.and_then(|t| ratio(totals.joins, t)),
            attempts: totals.attempts,
            finishes: totals.finishes,
            answers: totals.answers,
            correct_rate: ratio(totals.correct, totals.answers),
            avg_seconds: ratio(totals.answer_ms, totals.answers * 1000).map(|s| (s * 10.0).round() / 10.0),
            shares: totals.shares,
            sharers: totals.sharers,
            clicks: totals.clicks,
            relayed_joins: totals.relayed,
            active_last_5m: sliding(&attempts, now, 5),
            joins_last_minute: sliding(&joins, now, 1),
        })
    }
}

/// A drill-down region.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RegionQuery {
    /// Limit the figures to this place and everything under it (within the caller's scope).
    pub region_id: Option<String>,
}

/// Totals now, for the caller's scope (or the region asked for).
#[utoipa::path(tag = "console", params(RegionQuery), security(("organizer" = [])), responses(
    (status = 200, body = OverviewView),
    (status = 400, description = "invalid_region, invalid_query", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden: outside the caller's scope", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/campaigns/{cid}/overview")]
async fn overview(
    c: web::Data<Console>,
    who: Organizer,
    cid: web::Path<String>,
    q: web::Query<RegionQuery>,
) -> Result<web::Json<OverviewView>, Problem> {
    let s = c.scoped(&who, &cid, q.region_id.as_deref())?;
    Ok(web::Json(c.overview_of(&s).await?))
}

// ---------------------------------------------------------------------------------------------
// Time series

/// What a time series counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Joins,
    Relayed,
    Attempts,
    Finishes,
    Answers,
    Correct,
    Shares,
    Clicks,
}

impl Metric {
    /// The tally counter it reads.
    fn counter(self) -> &'static str {
        match self {
            Metric::Joins => "joins",
            Metric::Relayed => "relayed",
            Metric::Attempts => "attempts",
            Metric::Finishes => "finishes",
            Metric::Answers => "answers",
            Metric::Correct => "correct",
            Metric::Shares => "shares",
            Metric::Clicks => "clicks",
        }
    }
}

/// Most points one time series answers with.
pub const MAX_POINTS: i64 = 20_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// `joins`, `answers` or `shares` (also `relayed`, `attempts`, `finishes`, `correct`,
    /// `clicks`).
    pub metric: Metric,
    /// Seconds per point: a multiple of 60 from 60 to 86400 (default 60). Points start at the
    /// campaign's start, so a step of 86400 gives the campaign's days.
    pub step: Option<i64>,
    /// Limit to this place and everything under it (within the caller's scope).
    pub region_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PointView {
    /// The start of the step (RFC 3339, UTC).
    pub at: String,
    pub value: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesView {
    pub campaign_id: String,
    pub region_id: Option<String>,
    pub metric: Metric,
    pub step: i64,
    /// The start of the first point and the end of the last (RFC 3339, UTC).
    pub from: String,
    pub until: String,
    /// From the campaign's start to now (or its end), one point per step, zeros included;
    /// the last point is the step in progress. At most [`MAX_POINTS`]: the latest ones, when
    /// the campaign so far has more steps.
    pub points: Vec<PointView>,
    /// The sum of the points.
    pub total: u64,
}

/// Counts per step over the campaign so far.
#[utoipa::path(tag = "console", params(SeriesQuery), security(("organizer" = [])), responses(
    (status = 200, body = SeriesView),
    (status = 400, description = "invalid_query (metric, step), invalid_region", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/campaigns/{cid}/timeseries")]
async fn timeseries(
    c: web::Data<Console>,
    who: Organizer,
    cid: web::Path<String>,
    q: web::Query<SeriesQuery>,
) -> Result<web::Json<SeriesView>, Problem> {
    let s = c.scoped(&who, &cid, q.region_id.as_deref())?;
    let step = q.step.unwrap_or(60);
    if !(60..=86_400).contains(&step) || step % 60 != 0 {
        return Err(Problem::bad_request("invalid_query", "step must be a multiple of 60 from 60 to 86400 seconds."));
    }
    let step_ms = step * 1000;
    let start = s.campaign.starts_ms();
    let until = c.clock.now_ms().min(s.campaign.ends_ms());
    let steps = if until < start { 0 } else { (until - start) / step_ms + 1 };
    // The latest MAX_POINTS steps at most.
    let first = (steps - MAX_POINTS).max(0);
    let from = start + first * step_ms;
    let end = start + steps * step_ms;
    let mut values = vec![0u64; usize::try_from(steps - first).unwrap_or(0)];
    if !values.is_empty() {
        // A minute counts in the step its start falls in (the first step also takes the
        // minute the campaign starts inside of).
        let lower = if first == 0 { from - 59_999 } else { from };
        let rows =
            c.db.tally_series(s.campaign.id(), s.region(), q.metric.counter(), (lower, from, end), step_ms)
                .await
                .map_err(Problem::from)?;
        for (i, n) in rows {
            if let Some(v) = usize::try_from(i).ok().and_then(|i| values.get_mut(i)) {
                *v += n;
            }
        }
    }
    let total = values.iter().sum();
    let points = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| PointView { at: rfc3339(from + i as i64 * step_ms), value })
        .collect();
    Ok(web::Json(SeriesView {
        campaign_id: s.campaign.id().to_string(),
        region_id: s.region().map(ToString::to_string),
        metric: q.metric,
        step,
        from: rfc3339(from),
        until: rfc3339(end.max(from)),
        points,
        total,
    }))
}

// ---------------------------------------------------------------------------------------------
// Breakdown

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum By {
    Region,
    Unit,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BreakdownQuery {
    /// `region`: every place of the scope, in tree order; `unit`: every unit in it.
    pub by: By,
    /// Drill down to this place and everything under it (within the caller's scope).
    pub region_id: Option<String>,
}

/// One place or unit of a breakdown.
#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownRow {
    pub id: String,
    pub name: String,
    /// Places: `city`, `county` or `township`; units: `school`, `company`, … as configured.
    pub level: String,
    /// Places: the place above (null at the top); units: the place the unit hangs from.
    pub parent_id: Option<String>,
    /// Participants at the place or under it, or in the unit.
    pub participants: u64,
    /// Target headcount: configured, or for a place without one the sum of the places under it.
    pub target: Option<u64>,
    /// `participants / target`.
    pub rate: Option<f64>,
    /// Mean best score of those who finished an attempt.
    pub avg_best_score: Option<f64>,
    /// Participants who joined through someone's relay link.
    pub relayed_joins: u64,
    /// Places only: answers and the share right, and shares (null for units).
    pub answers: Option<u64>,
    pub correct_rate: Option<f64>,
    pub shares: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BreakdownView {
    pub campaign_id: String,
    pub region_id: Option<String>,
    pub by: By,
    pub rows: Vec<BreakdownRow>,
}

fn row(
    id: String,
    name: String,
    level: String,
    parent: Option<String>,
    target: Option<u64>,
    a: Aggregate,
) -> BreakdownRow {
    BreakdownRow {
        id,
        name,
        level,
        parent_id: parent,
        participants: a.participants,
        target,
        rate: target.and_then(|t| ratio(a.participants, t)),
        avg_best_score: mean1(a.best_sum, a.best_count),
        relayed_joins: a.relayed,
        answers: None,
        correct_rate: None,
        shares: None,
    }
}

/// Every place of `places` (and under them) in pre-order, with its parent.
fn preorder<'a>(
    places: &'a [PlaceDoc],
    parent: Option<&'a PlaceId>,
    out: &mut Vec<(&'a PlaceDoc, Option<&'a PlaceId>)>,
) {
    for p in places {
        out.push((p, parent));
        preorder(&p.children, Some(&p.id), out);
    }
}

/// Participation by place (rolled up the tree) or unit, against targets.
#[utoipa::path(tag = "console", params(BreakdownQuery), security(("organizer" = [])), responses(
    (status = 200, body = BreakdownView),
    (status = 400, description = "invalid_query, invalid_region", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/campaigns/{cid}/breakdown")]
async fn breakdown(
    c: web::Data<Console>,
    who: Organizer,
    cid: web::Path<String>,
    q: web::Query<BreakdownQuery>,
) -> Result<web::Json<BreakdownView>, Problem> {
    let s = c.scoped(&who, &cid, q.region_id.as_deref())?;
    let camp = &s.campaign;
    let aggs = c.store.aggregates(camp.id()).await.map_err(Problem::from)?;
    let regions = &camp.doc().regions;
    let rows = match q.by {
        By::Region => {
            let roots: Vec<PlaceDoc> = match s.region() {
                Some(r) => find(regions, r).cloned().into_iter().collect(),
                None => regions.clone(),
            };
            let parent_of_root = s.region().and_then(|r| camp.place(r)).and_then(|p| p.parent.clone());
            let mut flat = Vec::new();
            preorder(&roots, parent_of_root.as_ref(), &mut flat);
            let tallies = c.db.tally_totals_by_place(camp.id()).await.map_err(Problem::from)?;
            flat.into_iter()
                .map(|(p, parent)| {
                    let a = aggs.places.get(&p.id).copied().unwrap_or_default();
                    let mut r = row(
                        p.id.to_string(),
                        p.name.clone(),
                        p.level.as_str().to_owned(),
                        parent.map(ToString::to_string),
                        target_of(p),
                        a,
                    );
                    let t = tallies.get(p.id.as_str()).copied().unwrap_or_default();
                    r.answers = Some(t.answers);
                    r.correct_rate = ratio(t.correct, t.answers);
                    r.shares = Some(t.shares);
                    r
                })
                .collect()
        }
        By::Unit => camp
            .doc()
            .units
            .iter()
            .filter(|u| s.covers(&u.region_id))
            .map(|u| {
                let a = aggs.units.get(&u.id).copied().unwrap_or_default();
                row(
                    u.id.to_string(),
                    u.name.clone(),
                    u.kind.as_str().to_owned(),
                    Some(u.region_id.to_string()),
                    u.target,
                    a,
                )
            })
            .collect(),
    };
    Ok(web::Json(BreakdownView {
        campaign_id: camp.id().to_string(),
        region_id: s.region().map(ToString::to_string),
        by: q.by,
        rows,
    }))
}

// ---------------------------------------------------------------------------------------------
// Questions

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionStat {
    pub id: String,
    /// Null for a question the bank no longer has (answered before it was removed).
    pub stem: Option<String>,
    pub kind: Option<String>,
    pub category: Option<String>,
    pub difficulty: Option<u8>,
    pub answers: u64,
    pub correct: u64,
    /// Null before anyone answered it.
    pub correct_rate: Option<f64>,
    pub timed_out: u64,
    /// Mean seconds taken to answer.
    pub avg_seconds: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryStat {
    pub id: String,
    pub name: String,
    pub answers: u64,
    pub correct_rate: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionsView {
    pub campaign_id: String,
    pub region_id: Option<String>,
    /// Weakest first: answered questions by correct rate (lowest first; more answers first on
    /// a tie), then the questions nobody answered yet.
    pub questions: Vec<QuestionStat>,
    /// The knowledge points (categories), weakest first.
    pub categories: Vec<CategoryStat>,
}

/// Orders answered items by correct rate, lowest first, then by answers, most first; the
/// unanswered last, by id.
fn weakest_first(a: (u64, u64, &str), b: (u64, u64, &str)) -> std::cmp::Ordering {
    let ((ac, an, aid), (bc, bn, bid)) = (a, b);
    match (an, bn) {
        (0, 0) => aid.cmp(bid),
        (0, _) => std::cmp::Ordering::Greater,
        (_, 0) => std::cmp::Ordering::Less,
        // ac/an < bc/bn ⇔ ac·bn < bc·an, exactly.
        _ => (u128::from(ac) * u128::from(bn))
            .cmp(&(u128::from(bc) * u128::from(an)))
            .then(bn.cmp(&an))
            .then(aid.cmp(bid)),
    }
}

/// Per question: answers, correct rate and time, weakest first; and per knowledge point.
#[utoipa::path(tag = "console", params(RegionQuery), security(("organizer" = [])), responses(
    (status = 200, body = QuestionsView),
    (status = 400, description = "invalid_region, invalid_query", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/campaigns/{cid}/questions")]
async fn questions(
    c: web::Data<Console>,
    who: Organizer,
    cid: web::Path<String>,
    q: web::Query<RegionQuery>,
) -> Result<web::Json<QuestionsView>, Problem> {
    let s = c.scoped(&who, &cid, q.region_id.as_deref())?;
    let camp = &s.campaign;
    let mut tallies = c.db.tally_questions(camp.id(), s.region()).await.map_err(Problem::from)?;
    let mut stats = Vec::new();
    let mut by_category: HashMap<&str, (u64, u64)> = HashMap::new();
    for question in camp.questions() {
        let t = tallies.remove(question.id.as_str()).unwrap_or_default();
        let cat = by_category.entry(question.category.as_str()).or_default();
        cat.0 += t.correct;
        cat.1 += t.answers;
        stats.push(QuestionStat {
            id: question.id.to_string(),
            stem: Some(question.stem.clone()),
            kind: Some(question.kind.as_str().to_owned()),
            category: Some(question.category.clone()),
            difficulty: Some(question.difficulty),
            answers: t.answers,
            correct: t.correct,
            correct_rate: ratio(t.correct, t.answers),
            timed_out: t.timed_out,
            avg_seconds: mean1(t.answer_ms, t.answers * 1000),
        });
    }
    // Answered once, removed from the bank since.
    for (id, t) in tallies {
        stats.push(QuestionStat {
            id,
            stem: None,
            kind: None,
            category: None,
            difficulty: None,
            answers: t.answers,
            correct: t.correct,
            correct_rate: ratio(t.correct, t.answers),
            timed_out: t.timed_out,
            avg_seconds: mean1(t.answer_ms, t.answers * 1000),
        });
    }
    stats.sort_by(|a, b| weakest_first((a.correct, a.answers, &a.id), (b.correct, b.answers, &b.id)));
    let mut categories: Vec<CategoryStat> = camp
        .doc()
        .categories
        .iter()
        .map(|cat| {
            let (correct, answers) = by_category.get(cat.id.as_str()).copied().unwrap_or_default();
            CategoryStat { id: cat.id.clone(), name: cat.name.clone(), answers, correct_rate: ratio(correct, answers) }
        })
        .collect();
    let key = |c: &CategoryStat| (c.correct_rate.map(|r| (r * 1e6) as u64), c.answers);
    categories.sort_by(|a, b| {
        let ((ar, an), (br, bn)) = (key(a), key(b));
        match (ar, br) {
            (Some(x), Some(y)) => x.cmp(&y).then(bn.cmp(&an)).then(a.id.cmp(&b.id)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        }
    });
    Ok(web::Json(QuestionsView {
        campaign_id: camp.id().to_string(),
        region_id: s.region().map(ToString::to_string),
        questions: stats,
        categories,
    }))
}

// ---------------------------------------------------------------------------------------------
// Relay

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RelayQuery {
    /// Limit to this place and everything under it (within the caller's scope).
    pub region_id: Option<String>,
    /// How many top relayers (1–100, default 20).
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DepthView {
    /// 0: joined without a relay link; n: n links from a chain's origin.
    pub depth: u32,
    pub participants: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RelayerView {
    pub rank: u64,
    pub participant_id: String,
    pub nickname: String,
    pub region_id: String,
    pub unit_id: Option<String>,
    /// People who joined through this participant's link, and everybody below it.
    pub direct: u64,
    pub descendants: u64,
}

/// Named `RelayFiguresView` in the OpenAPI document: the relay role's `RelayView` (a
/// participant's own relay) has the Rust name too, and two schemas of one name would overwrite
/// each other there.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RelayFiguresView)]
pub struct RelayView {
    pub campaign_id: String,
    pub region_id: Option<String>,
    pub participants: u64,
    pub relayed_joins: u64,
    pub shares: u64,
    pub sharers: u64,
    pub clicks: u64,
    /// Mean joins through a link per participant who shared: relayed joins ÷ sharers (both
    /// counted in the scope; null before anyone shared).
    pub viral_coefficient: Option<f64>,
    pub max_depth: u32,
    pub depth_histogram: Vec<DepthView>,
    /// Individuals by joins through their link (organizers see these even where the public
    /// relay board is off; totals may lag a few seconds).
    pub top_relayers: Vec<RelayerView>,
}

/// Chain depths, top relayers and the viral coefficient.
#[utoipa::path(tag = "console", params(RelayQuery), security(("organizer" = [])), responses(
    (status = 200, body = RelayView),
    (status = 400, description = "invalid_query, invalid_region", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/campaigns/{cid}/relay")]
async fn relay(
    c: web::Data<Console>,
    who: Organizer,
    cid: web::Path<String>,
    q: web::Query<RelayQuery>,
) -> Result<web::Json<RelayView>, Problem> {
    let s = c.scoped(&who, &cid, q.region_id.as_deref())?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request("invalid_query", "limit must be 1 to 100."));
    }
    let id = s.campaign.id();
    let totals = c.db.tally_totals(id, s.region()).await.map_err(Problem::from)?;
    let depths = c.db.tally_depths(id, s.region()).await.map_err(Problem::from)?;
    let places = s.places();
    let top = c.db.top_relayers_within(id, places.as_deref(), limit).await.map_err(Problem::from)?;
    Ok(web::Json(RelayView {
        campaign_id: id.to_string(),
        region_id: s.region().map(ToString::to_string),
        participants: totals.joins,
        relayed_joins: totals.relayed,
        shares: totals.shares,
        sharers: totals.sharers,
        clicks: totals.clicks,
        viral_coefficient: ratio(totals.relayed, totals.sharers).map(|v| (v * 1000.0).round() / 1000.0),
        max_depth: depths.last().map_or(0, |(d, _)| *d),
        depth_histogram: depths.into_iter().map(|(depth, participants)| DepthView { depth, participants }).collect(),
        top_relayers: top
            .into_iter()
            .enumerate()
            .map(|(i, r)| RelayerView {
                rank: i as u64 + 1,
                participant_id: r.participant,
                nickname: r.nickname,
                region_id: r.region,
                unit_id: r.unit,
                direct: r.direct,
                descendants: r.descendants,
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sliding_window_weighs_the_oldest_minute_by_what_is_left_of_it() {
        let m = baton_db::tallies::MINUTE_MS;
        let per: BTreeMap<Millis, u64> = [(0, 60), (m, 30), (2 * m, 10)].into_iter().collect();
        // 15 s into the third minute: all of it, all of the second, 3/4 of the first.
        assert_eq!(sliding(&per, 2 * m + 15_000, 1), 10 + 23);
        assert_eq!(sliding(&per, 2 * m + 15_000, 2), 10 + 30 + 45);
        assert_eq!(sliding(&per, 2 * m, 1), 10 + 30);
        assert_eq!(sliding(&per, 10 * m, 5), 0);
    }

    #[test]
    fn weakest_first_compares_rates_exactly() {
        let mut v = vec![(1, 3, "a"), (2, 6, "b"), (0, 0, "c"), (1, 2, "d"), (0, 1, "e"), (0, 0, "b0")];
        v.sort_by(|a, b| weakest_first(*a, *b));
        assert_eq!(v, vec![(0, 1, "e"), (2, 6, "b"), (1, 3, "a"), (1, 2, "d"), (0, 0, "b0"), (0, 0, "c")]);
    }

    #[test]
    fn targets_roll_up_where_a_place_has_none() {
        let doc = crate::test_campaign("demo");
        let mut regions = doc.regions.clone();
        assert_eq!(target_of(&regions[0]), None);
        regions[0].children[0].children[0].target = Some(100);
        regions[0].children[0].children[1].target = Some(50);
        regions[0].children[1].target = Some(30);
        assert_eq!(target_of(&regions[0].children[0]), Some(150));
        assert_eq!(target_of(&regions[0]), Some(180));
        regions[0].target = Some(1000);
        assert_eq!(target_of(&regions[0]), Some(1000), "a configured target wins");
    }
}
