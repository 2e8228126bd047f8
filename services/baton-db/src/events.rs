//! The event log and its projections: every change arrives as a [`baton_core::events::Event`],
//! is kept once in `events` (by campaign and event id), and, when new, is applied to the tables
//! the rest of Baton reads (`participants`, `attempts`, `answers`, `shares`, `clicks`). The relay
//! totals (`relay_counts`) are not built here but by [`Db::roll_up_relays`], from the joins these
//! projections store; the console's counters are counted from the same new events, in the same
//! transaction, by [`crate::tallies`], and so are the anti-cheat flags, by [`crate::anticheat`].
//!
//! # Idempotent and order-independent
//! The archiver may deliver an event twice (a redelivery after a crash), and events of one
//! participant may arrive in any order across batches (a pending entry claimed late). So:
//! - An event's projection is applied only when inserting the event inserted a row: applying
//!   the same events again, or a batch that overlaps an earlier one, changes nothing.
//! - Every projection is a merge that does not depend on order: a row is created once, by the
//!   event that creates it (join → participant, start → attempt, answer → answer), and the
//!   values that events move only forward are merged by maximum: a finished attempt's score,
//!   and a participant's best result (in the published order: score desc, time asc, reached
//!   asc). Events that arrive before the row they update leave their effect in a table that
//!   has no such dependency (`events`); the row's creator folds it in when it arrives (a start
//!   folds in its stored finish, a join the finished attempts).
//! - An answer changes only its own row: the clock and running score of an attempt in progress
//!   are its answers' (the latest `cursor_ms`, the highest `attempt_score`), read from them when
//!   the hot store is rebuilt, not copied into the attempt's row by every answer (which rewrote
//!   that row ten times an attempt).
//!
//! So the projections are a function of the set of events stored, whatever the order and the
//! batching (the tests apply one set in many orders and compare).
//!
//! # Batches
//! [`Db::apply_events`] writes a batch in one transaction with one multi-row statement per few
//! hundred rows and kind. Batches are serialized (the write lock on SQLite, a table lock on
//! PostgreSQL): two archivers applying at once could otherwise each miss the other's
//! uncommitted rows while folding.

use crate::error::{self, DbError};
use crate::sql::{Val, Values};
use crate::{Db, Engine};
use baton_core::events::{Event, EventBody, VERSION};
use baton_core::ids::CampaignId;
use baton_core::leader::LeaderResult;
use baton_core::relay::RelayCode;
use baton_core::scoring::Totals;
use sqlx::AnyConnection;
use std::collections::{BTreeSet, HashMap, HashSet};

/// What [`Db::apply_events`] did: how many events were new (stored and applied) and how many
/// were already stored (or repeated within the batch) and changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    pub new: usize,
    pub duplicates: usize,
}

impl Db {
    /// Stores `events` and applies the new ones to the projections, in one transaction. Events
    /// already stored (same campaign and id) are counted as duplicates and change nothing, so
    /// a redelivered batch, or one overlapping an earlier batch, is harmless. Every campaign
    /// named must be stored ([`DbError::UnknownCampaign`] otherwise, and nothing is written);
    /// an event whose id does not name its change, or of another version, is refused
    /// ([`DbError::Invalid`]).
    pub async fn apply_events(&self, events: &[Event]) -> Result<Applied, DbError> {
        if events.is_empty() {
            return Ok(Applied::default());
        }
        for e in events {
            if e.v != VERSION || e.id != e.body.event_id() {
                return Err(DbError::Invalid(format!(
                    "event {:?} of campaign {}: version {} with id {:?} (this version stores version {VERSION}, \
                     ids named by their change)",
                    e.id,
                    e.campaign,
                    e.v,
                    e.body.event_id()
                )));
            }
        }
        let mut seen = HashSet::with_capacity(events.len());
        let unique: Vec<&Event> = events.iter().filter(|e| seen.insert((&e.campaign, e.id.as_str()))).collect();

        let action = || format!("storing {} events", events.len());
        let mut tx = self.write_tx().await.map_err(error::query(action()))?;
        if self.engine == Engine::Postgres {
            // Conflicts with itself only (readers are not blocked): one batch at a time.
            sqlx::query("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .map_err(error::query(action()))?;
        }

        let campaigns: BTreeSet<&CampaignId> = unique.iter().map(|e| &e.campaign).collect();
        let rows: Vec<Vec<Val>> = campaigns.iter().map(|c| vec![Val::Str(c.as_str())]).collect();
        let known: Vec<(String,)> =
            Values { head: "SELECT c.id FROM campaigns c JOIN (", tail: ") AS v ON c.id = v.column1", width: 1 }
                .fetch(&mut tx, &rows)
                .await
                .map_err(error::query(action()))?;
        let known: HashSet<String> = known.into_iter().map(|(c,)| c).collect();
        if let Some(missing) = campaigns.iter().find(|c| !known.contains(c.as_str())) {
            return Err(DbError::UnknownCampaign((*missing).clone()));
        }

        let bodies: Vec<String> = unique.iter().map(|e| e.to_json()).collect();
        let rows: Vec<Vec<Val>> = unique
            .iter()
            .zip(&bodies)
            .map(|(e, body)| {
                vec![
                    Val::Str(e.campaign.as_str()),
                    Val::Str(&e.id),
                    Val::Str(e.body.kind()),
                    Val::Int(e.at),
                    Val::Str(body),
                ]
            })
            .collect();
        let inserted: Vec<(String, String)> = Values {
            head: "INSERT INTO events (campaign_id, event_id, kind, at_ms, body) ",
            tail: " ON CONFLICT (campaign_id, event_id) DO NOTHING RETURNING campaign_id, event_id",
            width: 5,
        }
        .fetch(&mut tx, &rows)
        .await
        .map_err(error::query(action()))?;
        let inserted: HashSet<(String, String)> = inserted.into_iter().collect();
        let new: Vec<&Event> =
            unique.into_iter().filter(|e| inserted.contains(&(e.campaign.as_str().to_owned(), e.id.clone()))).collect();

        project(&mut tx, &new).await?;
        tx.commit().await.map_err(error::query(action()))?;
        let applied = Applied { new: new.len(), duplicates: events.len() - new.len() };
        tracing::debug!(events.new = applied.new, events.duplicates = applied.duplicates, "applied events");
        Ok(applied)
    }

    /// How many events of a campaign are stored.
    pub async fn event_count(&self, campaign: &CampaignId) -> Result<i64, DbError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE campaign_id = $1")
            .bind(campaign.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(error::query(format!("counting events of campaign {campaign}")))?;
        Ok(n)
    }

    /// Up to `limit` stored events of a campaign in order of time, then id (bytewise), starting
    /// after the event `after` (the last of the previous page) or at the beginning. An empty
    /// page means the end. For tests and audits.
    pub async fn events(&self, campaign: &CampaignId, after: Option<&str>, limit: u32) -> Result<Vec<Event>, DbError> {
        let action = || format!("listing events of campaign {campaign}");
        let (at, after) = match after {
            None => (i64::MIN, ""),
            Some(id) => {
                let at: Option<(i64,)> =
                    sqlx::query_as("SELECT at_ms FROM events WHERE campaign_id = $1 AND event_id = $2")
                        .bind(campaign.as_str())
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(error::query(action()))?;
                let Some((at,)) = at else {
                    return Err(DbError::UnknownEvent { campaign: campaign.clone(), event_id: id.to_owned() });
                };
                (at, id)
            }
        };
        let bodies: Vec<(String,)> = sqlx::query_as(
            "SELECT body FROM events WHERE campaign_id = $1 AND (at_ms > $2 OR (at_ms = $2 AND event_id > $3)) \
             ORDER BY at_ms, event_id LIMIT $4",
        )
        .bind(campaign.as_str())
        .bind(at)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(action()))?;
        bodies
            .into_iter()
            .map(|(body,)| Event::from_json(&body).map_err(|e| DbError::Corrupt(format!("campaign {campaign}: {e}"))))
            .collect()
    }
}

/// An attempt: campaign, participant, attempt.
type AttemptKey = (String, String, String);
/// A participant: campaign, participant.
type ParticipantKey = (String, String);

/// Applies new events to the projections. Rows are created first (participants, attempts,
/// answers), then the merges run, each once per row with the batch's values combined.
async fn project(conn: &mut AnyConnection, new: &[&Event]) -> Result<(), DbError> {
    let action = || format!("applying {} new events", new.len());
    let q = |e| error::query(action())(e);

    // What the merges will write: an attempt's finish, a participant's best.
    let mut finishes: HashMap<AttemptKey, (Totals, i64)> = HashMap::new();
    let mut bests: HashMap<ParticipantKey, LeaderResult> = HashMap::new();

    // Joins: the participant row, unless stored already (by an earlier API, without places).
    let mut joins = Vec::new();
    for e in new {
        if let EventBody::Joined { participant, region, unit, nickname, places, relay_code, inviter, depth, client } =
            &e.body
        {
            let places = serde_json::to_string(places).map_err(|err| invalid(e, err))?;
            let depth = i32::try_from(*depth)
                .map_err(|_| DbError::Invalid(format!("event {} of campaign {}: depth {depth}", e.id, e.campaign)))?;
            joins.push(Join {
                e,
                participant: participant.as_str(),
                region: region.as_str(),
                unit: unit.as_ref().map(|u| u.as_str()),
                nickname,
                places,
                code: relay_code.as_ref().map(RelayCode::as_str),
                inviter: inviter.as_ref().map(|i| i.as_str()),
                depth,
                client: client.as_deref(),
            });
        }
    }
    if !joins.is_empty() {
        drop_clashing_codes(conn, &mut joins).await?;
        let rows: Vec<Vec<Val>> = joins
            .iter()
            .map(|j| {
                vec![
                    Val::Str(j.e.campaign.as_str()),
                    Val::Str(j.participant),
                    Val::Str(j.region),
                    Val::OptStr(j.unit),
                    Val::Str(j.nickname),
                    Val::Int(j.e.at),
                    Val::Str(&j.places),
                    Val::OptStr(j.code),
                    Val::OptStr(j.inviter),
                    Val::Int(i64::from(j.depth)),
                    Val::OptStr(j.client),
                ]
            })
            .collect();
        let created: Vec<ParticipantKey> = Values {
            head: "INSERT INTO participants (campaign_id, id, region_id, unit_id, nickname, joined_at_ms, places_json, \
                   relay_code, inviter_id, depth, client_fp) ",
            tail: " ON CONFLICT (campaign_id, id) DO NOTHING RETURNING campaign_id, id",
            width: 11,
        }
        .fetch(conn, &rows)
        .await
        .map_err(q)?;
        let created_set: HashSet<&ParticipantKey> = created.iter().collect();
        for j in &joins {
            if !created_set.contains(&(j.e.campaign.as_str().to_owned(), j.participant.to_owned())) {
                // Stored before by the older API: the event adds the places and the code, and
                // keeps the rest (an inviter is fixed when the row is first written, and the
                // relay counts may already include it).
                sqlx::query(
                    "UPDATE participants SET places_json = COALESCE(places_json, $3), \
                     relay_code = COALESCE(relay_code, $4) WHERE campaign_id = $1 AND id = $2",
                )
                .bind(j.e.campaign.as_str())
                .bind(j.participant)
                .bind(j.places.as_str())
                .bind(j.code)
                .execute(&mut *conn)
                .await
                .map_err(q)?;
            }
        }
        // Attempts finished before the join arrived.
        let rows: Vec<Vec<Val>> = created.iter().map(|(c, p)| vec![Val::Str(c), Val::Str(p)]).collect();
        let finished: Vec<(String, String, i64, i64, i64)> = Values {
            head: "SELECT t.campaign_id, t.participant_id, t.score, t.total_ms, t.finished_at_ms FROM attempts t JOIN (",
            tail: ") AS v ON t.campaign_id = v.column1 AND t.participant_id = v.column2 \
                   WHERE t.finished_at_ms IS NOT NULL",
            width: 2,
        }
        .fetch(conn, &rows)
        .await
        .map_err(q)?;
        for (c, p, score, total_ms, reached_ms) in finished {
            let r = LeaderResult { score: unsigned(score)?, total_ms: unsigned(total_ms)?, reached_ms };
            merge_best(&mut bests, (c, p), r);
        }
    }

    // Starts: the attempt row, then its finish if that arrived before it.
    let mut starts = Vec::new();
    for e in new {
        if let EventBody::AttemptStarted { participant, attempt, expires_at, limit_ms, day, questions } = &e.body {
            let questions = serde_json::to_string(questions).map_err(|err| invalid(e, err))?;
            starts.push(vec![
                Val::Str(e.campaign.as_str()),
                Val::Str(participant.as_str()),
                Val::Str(attempt.as_str()),
                Val::Int(i64::from(*day)),
                Val::Int(e.at),
                Val::Int(*expires_at),
                Val::Int(*limit_ms),
                Val::Owned(questions),
                Val::Int(0),
                Val::Int(0),
                Val::Int(0),
            ]);
        }
    }
    if !starts.is_empty() {
        let created: Vec<AttemptKey> = Values {
            head: "INSERT INTO attempts (campaign_id, participant_id, id, day, started_at_ms, expires_at_ms, limit_ms, \
                   questions_json, score, correct_count, total_ms) ",
            tail: " ON CONFLICT (campaign_id, participant_id, id) DO NOTHING RETURNING campaign_id, participant_id, id",
            width: 11,
        }
        .fetch(conn, &starts)
        .await
        .map_err(q)?;
        // Finishes stored earlier; this batch's own are applied below anyway.
        let in_batch: HashSet<(&str, &str)> = new
            .iter()
            .filter(|e| matches!(e.body, EventBody::AttemptFinished { .. }))
            .map(|e| (e.campaign.as_str(), e.id.as_str()))
            .collect();
        let finish_ids: Vec<(&str, String)> = created
            .iter()
            .map(|(c, p, a)| (c.as_str(), format!("f:{p}:{a}")))
            .filter(|(c, id)| !in_batch.contains(&(*c, id.as_str())))
            .collect();
        let rows: Vec<Vec<Val>> = finish_ids.iter().map(|(c, id)| vec![Val::Str(c), Val::Str(id)]).collect();
        let stored: Vec<(String,)> = Values {
            head: "SELECT e.body FROM events e JOIN (",
            tail: ") AS v ON e.campaign_id = v.column1 AND e.event_id = v.column2",
            width: 2,
        }
        .fetch(conn, &rows)
        .await
        .map_err(q)?;
        for (body,) in stored {
            let e = Event::from_json(&body).map_err(|err| DbError::Corrupt(format!("stored event: {err}")))?;
            add_finish(&mut finishes, &mut bests, &e);
        }
    }

    // Answers: the answer row.
    let mut answers = Vec::new();
    for e in new {
        if let EventBody::Answered { participant, attempt, question, index, judged, cursor } = &e.body {
            let score = signed(judged.attempt_score, e)?;
            answers.push(vec![
                Val::Str(e.campaign.as_str()),
                Val::Str(participant.as_str()),
                Val::Str(attempt.as_str()),
                Val::Str(question.as_str()),
                Val::Int(i64::from(*index)),
                Val::Int(i64::from(judged.choice_mask)),
                Val::Int(i64::from(judged.correct)),
                Val::Int(i64::from(judged.points)),
                Val::Int(i64::from(judged.timed_out)),
                Val::Int(signed(judged.elapsed_ms, e)?),
                Val::Int(score),
                Val::Int(*cursor),
                Val::Int(e.at),
            ]);
        }
    }
    if !answers.is_empty() {
        Values {
            head: "INSERT INTO answers (campaign_id, participant_id, attempt_id, question_id, idx, choice_mask, correct, \
                   points, timed_out, elapsed_ms, attempt_score, cursor_ms, at_ms) ",
            tail: " ON CONFLICT (campaign_id, participant_id, attempt_id, idx) DO NOTHING",
            width: 13,
        }
        .execute(conn, &answers)
        .await
        .map_err(q)?;
    }

    // Shares and clicks: a row each.
    let mut shares = Vec::new();
    let mut clicks = Vec::new();
    for e in new {
        match &e.body {
            EventBody::Shared { participant, channel, n } => shares.push(vec![
                Val::Str(e.campaign.as_str()),
                Val::Str(participant.as_str()),
                Val::Int(signed(*n, e)?),
                Val::Str(channel.as_str()),
                Val::Int(e.at),
            ]),
            EventBody::Clicked { participant, n } => clicks.push(vec![
                Val::Str(e.campaign.as_str()),
                Val::Str(participant.as_str()),
                Val::Int(signed(*n, e)?),
                Val::Int(e.at),
            ]),
            _ => {}
        }
    }
    if !shares.is_empty() {
        Values {
            head: "INSERT INTO shares (campaign_id, participant_id, n, channel, at_ms) ",
            tail: " ON CONFLICT (campaign_id, participant_id, n) DO NOTHING",
            width: 5,
        }
        .execute(conn, &shares)
        .await
        .map_err(q)?;
    }
    if !clicks.is_empty() {
        Values {
            head: "INSERT INTO clicks (campaign_id, participant_id, n, at_ms) ",
            tail: " ON CONFLICT (campaign_id, participant_id, n) DO NOTHING",
            width: 4,
        }
        .execute(conn, &clicks)
        .await
        .map_err(q)?;
    }

    for e in new {
        add_finish(&mut finishes, &mut bests, e);
    }

    // The merges. Each row appears once per statement (values combined above), so the result
    // does not depend on which source row an engine would pick.
    if !finishes.is_empty() {
        let mut rows = Vec::with_capacity(finishes.len());
        for ((c, p, a), (t, reached)) in &finishes {
            let what = || format!("attempt {a} of participant {p} in campaign {c}");
            rows.push(vec![
                Val::Str(c),
                Val::Str(p),
                Val::Str(a),
                Val::Int(i64::try_from(t.score).map_err(|_| DbError::Invalid(format!("{}: score", what())))?),
                Val::Int(i64::from(t.correct_count)),
                Val::Int(i64::try_from(t.total_ms).map_err(|_| DbError::Invalid(format!("{}: total_ms", what())))?),
                Val::Int(*reached),
            ]);
        }
        Values {
            head: "UPDATE attempts SET score = CASE WHEN v.column4 > score THEN v.column4 ELSE score END, \
                   correct_count = v.column5, total_ms = v.column6, finished_at_ms = v.column7 FROM (",
            tail: ") AS v WHERE attempts.campaign_id = v.column1 AND attempts.participant_id = v.column2 \
                   AND attempts.id = v.column3",
            width: 7,
        }
        .execute(conn, &rows)
        .await
        .map_err(q)?;
    }
    if !bests.is_empty() {
        let mut rows = Vec::with_capacity(bests.len());
        for ((c, p), r) in &bests {
            let what = || format!("best of participant {p} in campaign {c}");
            rows.push(vec![
                Val::Str(c),
                Val::Str(p),
                Val::Int(i64::try_from(r.score).map_err(|_| DbError::Invalid(format!("{}: score", what())))?),
                Val::Int(i64::try_from(r.total_ms).map_err(|_| DbError::Invalid(format!("{}: total_ms", what())))?),
                Val::Int(r.reached_ms),
            ]);
        }
        // Written only when better in the published order: score desc, time asc, reached asc.
        Values {
            head: "UPDATE participants SET best_score = v.column3, best_ms = v.column4, best_at_ms = v.column5 FROM (",
            tail: ") AS v WHERE participants.campaign_id = v.column1 AND participants.id = v.column2 \
                   AND (participants.best_score IS NULL OR v.column3 > participants.best_score \
                   OR (v.column3 = participants.best_score AND (v.column4 < participants.best_ms \
                   OR (v.column4 = participants.best_ms AND v.column5 < participants.best_at_ms))))",
            width: 5,
        }
        .execute(conn, &rows)
        .await
        .map_err(q)?;
    }
    crate::tallies::count(conn, new).await?;
    crate::anticheat::flag(conn, new).await
}

/// A join event's participant row.
struct Join<'a> {
    e: &'a Event,
    participant: &'a str,
    region: &'a str,
    unit: Option<&'a str>,
    nickname: &'a str,
    places: String,
    code: Option<&'a str>,
    inviter: Option<&'a str>,
    depth: i32,
    client: Option<&'a str>,
}

/// Relay codes are unique per campaign (the hot store hands each out once), and the unique
/// index on them would otherwise fail this batch, and so every retry of it, for good: a code
/// already stored for another participant, or given twice in the batch, is stored for the
/// first only (by time, then id, within a batch) and the clash logged. Batches are serialized,
/// so nothing can take a code between this check and the insert.
async fn drop_clashing_codes(conn: &mut AnyConnection, joins: &mut [Join<'_>]) -> Result<(), DbError> {
    let coded: Vec<Vec<Val>> =
        joins.iter().filter_map(|j| j.code.map(|code| vec![Val::Str(j.e.campaign.as_str()), Val::Str(code)])).collect();
    if coded.is_empty() {
        return Ok(());
    }
    let held: Vec<(String, String, String)> = Values {
        head: "SELECT p.campaign_id, p.relay_code, p.id FROM participants p JOIN (",
        tail: ") AS v ON p.campaign_id = v.column1 AND p.relay_code = v.column2",
        width: 2,
    }
    .fetch(conn, &coded)
    .await
    .map_err(error::query(format!("checking the relay codes of {} joins", coded.len())))?;
    let mut holders: HashMap<(String, String), String> = held.into_iter().map(|(c, code, p)| ((c, code), p)).collect();
    let mut order: Vec<usize> = (0..joins.len()).collect();
    order.sort_by_key(|&i| (joins[i].e.at, joins[i].participant));
    for i in order {
        let j = &mut joins[i];
        let Some(code) = j.code else { continue };
        let holder = holders
            .entry((j.e.campaign.as_str().to_owned(), code.to_owned()))
            .or_insert_with(|| j.participant.to_owned());
        if holder.as_str() != j.participant {
            tracing::warn!(
                campaign = %j.e.campaign,
                participant = j.participant,
                holder = holder.as_str(),
                relay_code = code,
                "relay code already belongs to another participant: stored without it"
            );
            j.code = None;
        }
    }
    Ok(())
}

/// Records a finish event's totals and best (any other event is ignored).
fn add_finish(
    finishes: &mut HashMap<AttemptKey, (Totals, i64)>,
    bests: &mut HashMap<ParticipantKey, LeaderResult>,
    e: &Event,
) {
    if let EventBody::AttemptFinished { participant, attempt, totals, reached_at, best } = &e.body {
        let c = e.campaign.as_str().to_owned();
        finishes
            .insert((c.clone(), participant.as_str().to_owned(), attempt.as_str().to_owned()), (*totals, *reached_at));
        merge_best(bests, (c, participant.as_str().to_owned()), LeaderResult::from(*best));
    }
}

/// Keeps the better of two results in the published order.
fn merge_best(bests: &mut HashMap<ParticipantKey, LeaderResult>, key: ParticipantKey, r: LeaderResult) {
    let rank = |r: &LeaderResult| (std::cmp::Reverse(r.score), r.total_ms, r.reached_ms);
    bests
        .entry(key)
        .and_modify(|b| {
            if rank(&r) < rank(b) {
                *b = r
            }
        })
        .or_insert(r);
}

fn invalid(e: &Event, err: serde_json::Error) -> DbError {
    DbError::Invalid(format!("event {} of campaign {}: {err}", e.id, e.campaign))
}

fn signed(v: u64, e: &Event) -> Result<i64, DbError> {
    i64::try_from(v)
        .map_err(|_| DbError::Invalid(format!("event {} of campaign {}: {v} is too large", e.id, e.campaign)))
}

fn unsigned(v: i64) -> Result<u64, DbError> {
    u64::try_from(v).map_err(|_| DbError::Corrupt(format!("negative value {v} in attempts")))
}
