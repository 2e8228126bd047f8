//! Leaderboards: individual boards (`score`, `score-region-{place}`, `score-unit-{unit}`) read
//! from the hot store's sorted sets, and collective boards (`regions`, `units`) from its
//! counters. The individual `relay` board is off: WeChat's platform rules forbid rewarding
//! people for shares and invites, so relays are ranked only collectively.

use crate::Quiz;
use crate::routes::{campaign, participant_of};
use crate::views::*;
use actix_web::{HttpRequest, get, web};
use baton_core::campaign::{Campaign, Level};
use baton_core::ids::{PlaceId, UnitId};
use baton_hot::{Aggregate, Board, BoardPage};
use baton_http::Problem;
use baton_http::auth::ParticipantAuth;
use baton_http::problem::ProblemDoc;

/// Deepest page a board serves (ten times the seed campaign's participants).
pub const MAX_OFFSET: u64 = 100_000_000;

/// What a board name names.
enum Named {
    Individual(Board),
    Regions,
    Units,
    /// Individuals by people who joined through them (only where the campaign turns it on).
    Relay,
}

fn parse_board(c: &Campaign, name: &str) -> Result<Named, Problem> {
    let unknown = || Problem::not_found("board_not_found", "There is no such leaderboard.");
    Ok(match name {
        "score" => Named::Individual(Board::Score),
        "regions" => Named::Regions,
        "units" => Named::Units,
        "relay" if c.rules().relay_board => Named::Relay,
        "relay" => {
            return Err(Problem::not_found("board_disabled", "This campaign does not rank individuals by relays."));
        }
        other => {
            if let Some(id) = other.strip_prefix("score-region-") {
                let id = PlaceId::parse(id).ok().filter(|p| c.place(p).is_some()).ok_or_else(unknown)?;
                Named::Individual(Board::Region(id))
            } else if let Some(id) = other.strip_prefix("score-unit-") {
                let id = UnitId::parse(id).ok().filter(|u| c.unit(u).is_some()).ok_or_else(unknown)?;
                Named::Individual(Board::Unit(id))
            } else {
                return Err(unknown());
            }
        }
    })
}

fn collective(rank: u64, id: String, name: String, target: Option<u64>, a: Aggregate) -> EntryView {
    EntryView {
        rank,
        id,
        name,
        value: a.participants,
        seconds: None,
        target,
        rate: target.filter(|&t| t > 0).map(|t| (a.participants as f64 / t as f64 * 1e6).round() / 1e6),
        avg_best_score: (a.best_count > 0).then(|| (a.best_sum as f64 / a.best_count as f64 * 10.0).round() / 10.0),
        relayed: Some(a.relayed),
    }
}

/// A leaderboard page.
#[utoipa::path(tag = "participant", params(BoardQuery), responses(
    (status = 200, body = BoardView),
    (status = 400, description = "invalid_query", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "around=me without a participant token", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "board_not_found, board_disabled, campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/campaigns/{cid}/leaderboards/{board}")]
pub async fn leaderboard(
    q: web::Data<Quiz>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<BoardQuery>,
) -> Result<web::Json<BoardView>, Problem> {
    let (cid, name) = path.into_inner();
    let c = campaign(&q, &cid)?;
    let board = parse_board(&c, &name)?;
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(Problem::bad_request("invalid_query", "limit must be 1 to 100."));
    }
    let mut offset = query.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(Problem::bad_request("invalid_query", format!("offset must be at most {MAX_OFFSET}.")));
    }
    let me = match query.around.as_deref() {
        None => None,
        Some("me") => {
            let auth = ParticipantAuth::from_req(&req)?;
            if &auth.campaign != c.id() {
                return Err(Problem::unauthorized("This token belongs to another campaign."));
            }
            Some(participant_of(&q, &auth).await?.1)
        }
        Some(_) => return Err(Problem::bad_request("invalid_query", "around takes only the value me.")),
    };
    let view = match board {
        Named::Individual(b) => {
            // Around the participant, its rank and the page read in one step (finishes landing
            // in between would push it off its own page); a participant not on the board yet
            // gets the page asked for.
            let around = match &me {
                Some(p) => q.store.page_around(c.id(), &b, &p.id, limit).await.map_err(Problem::from)?,
                None => None,
            };
            let page = match around {
                Some((start, page)) => {
                    offset = start;
                    page
                }
                None => q.store.board_page(c.id(), &b, offset, limit).await.map_err(Problem::from)?,
            };
            let entries = individual(&q, &c, &page, offset).await?;
            let me = me.map(|p| {
                entries.iter().find(|e| e.id == p.id.as_str()).map(|e| EntryView {
                    rank: e.rank,
                    id: e.id.clone(),
                    name: e.name.clone(),
                    value: e.value,
                    seconds: e.seconds,
                    target: None,
                    rate: None,
                    avg_best_score: None,
                    relayed: None,
                })
            });
            BoardView { board: name, total: page.total, entries, me }
        }
        Named::Relay => {
            let db = |e: baton_db::DbError| Problem::unavailable(format!("database: {e}"));
            let total = q.db.relayer_count(c.id()).await.map_err(db)?;
            let rows = q.db.top_relayers(c.id(), limit as u32, offset).await.map_err(db)?;
            let entries: Vec<EntryView> = rows
                .into_iter()
                .enumerate()
                .map(|(i, (id, name, direct, descendants))| EntryView {
                    rank: offset + i as u64 + 1,
                    id: id.to_string(),
                    name,
                    value: direct,
                    seconds: None,
                    target: None,
                    rate: None,
                    avg_best_score: None,
                    relayed: Some(descendants),
                })
                .collect();
            let me = me.map(|p| entries.iter().find(|e| e.id == p.id.as_str()).cloned());
            BoardView { board: name, total, entries, me }
        }
        Named::Regions | Named::Units => {
            // At most FRESH_MS old, one reading per process shared by every viewer (`stats`).
            let agg = q.stats.aggregates(&q, c.id()).await?;
            let mut rows: Vec<(String, String, Option<u64>, Aggregate)> = if matches!(board, Named::Regions) {
                c.places()
                    .filter(|p| p.level == Level::County)
                    .map(|p| {
                        (p.id.to_string(), p.name.clone(), p.target, agg.places.get(&p.id).copied().unwrap_or_default())
                    })
                    .collect()
            } else {
                c.doc()
                    .units
                    .iter()
                    .map(|u| {
                        (u.id.to_string(), u.name.clone(), u.target, agg.units.get(&u.id).copied().unwrap_or_default())
                    })
                    .collect()
            };
            rows.sort_by(|a, b| b.3.participants.cmp(&a.3.participants).then_with(|| a.0.cmp(&b.0)));
            let mine = me.as_ref().and_then(|p| {
                let home = p.unit.as_ref().and_then(|u| c.unit(u)).map_or(&p.region, |u| &u.region_id);
                let id = if matches!(board, Named::Regions) {
                    c.county_of(home).map(|r| r.to_string())
                } else {
                    p.unit.as_ref().map(ToString::to_string)
                };
                id.and_then(|id| rows.iter().position(|r| r.0 == id))
            });
            if let Some(pos) = mine {
                offset = (pos as u64).saturating_sub(limit / 2);
            }
            let total = rows.len() as u64;
            let me = me.map(|_| {
                mine.map(|pos| {
                    let r = &rows[pos];
                    collective(pos as u64 + 1, r.0.clone(), r.1.clone(), r.2, r.3)
                })
            });
            let entries = rows
                .into_iter()
                .enumerate()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|(i, (id, name, target, a))| collective(i as u64 + 1, id, name, target, a))
                .collect();
            BoardView { board: name, total, entries, me }
        }
    };
    Ok(web::Json(view))
}

async fn individual(q: &Quiz, c: &Campaign, page: &BoardPage, offset: u64) -> Result<Vec<EntryView>, Problem> {
    let ids: Vec<_> = page.entries.iter().map(|(id, _)| id.clone()).collect();
    let names = q.store.nicknames(c.id(), &ids).await.map_err(Problem::from)?;
    Ok(page
        .entries
        .iter()
        .zip(names)
        .enumerate()
        .map(|(i, ((id, key), name))| {
            let r = c.leader().decode(*key);
            EntryView {
                rank: offset + i as u64 + 1,
                id: id.to_string(),
                name: name.unwrap_or_default(),
                value: r.score,
                seconds: Some(r.total_ms as f64 / 1000.0),
                target: None,
                rate: None,
                avg_best_score: None,
                relayed: None,
            }
        })
        .collect())
}
