//! What the hot store is rebuilt from after it was lost: every participant (paged) with its best
//! result and its relay code, inviter and depth (what a registry of relay codes needs), and the
//! attempts that still matter (those of the current campaign day, which count towards the daily
//! limit, and every unfinished one, which a participant may still answer). Both are read from
//! the projections [`crate::events`] maintains.

use crate::Db;
use crate::error::{self, DbError};
use baton_core::Millis;
use baton_core::draw::DrawnQuestion;
use baton_core::ids::{AttemptId, CampaignId, ParticipantId, PlaceId, UnitId};
use baton_core::leader::LeaderResult;
use baton_core::relay::RelayCode;
use baton_core::scoring::{Judged, Totals};
use futures_util::TryStreamExt;
use std::collections::HashMap;

/// A participant as the hot store needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuiltParticipant {
    pub id: ParticipantId,
    pub region: PlaceId,
    pub unit: Option<UnitId>,
    pub nickname: String,
    /// Who passed the baton to this participant, if anybody (fixed at join).
    pub inviter: Option<ParticipantId>,
    /// The participant's own relay code, if its join event gave one (events written before
    /// relays existed did not).
    pub relay_code: Option<RelayCode>,
    /// Depth in its share chain, as the join event said (0 for an origin).
    pub depth: u32,
    /// The places the participant counts towards, nearest first, as its join event said. Empty
    /// for a participant stored without a join event ([`Db::put_participant`]): derive them
    /// from the campaign (`Campaign::ancestors` of the region) then.
    pub places: Vec<PlaceId>,
    pub joined_at_ms: Millis,
    /// The best result so far, if an attempt was finished.
    pub best: Option<LeaderResult>,
}

/// An attempt as the hot store needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuiltAttempt {
    pub participant: ParticipantId,
    pub id: AttemptId,
    /// The campaign day it was started on.
    pub day: i32,
    pub started_at: Millis,
    pub expires_at: Millis,
    pub limit_ms: Millis,
    pub questions: Vec<DrawnQuestion>,
    /// One slot per question, by index: how it was judged, or `None` if not answered (yet).
    pub answers: Vec<Option<Judged>>,
    /// The attempt's clock: its start, or the cursor after its latest answer.
    pub cursor: Millis,
    /// The totals and when it was finished, if it was.
    pub finished: Option<(Totals, Millis)>,
}

type ParticipantSql = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    i32,
);
type AttemptSql = (String, String, i32, i64, i64, i64, String, i64, i64, i64, Option<i64>);
type AnswerSql = (String, String, i32, i64, i32, i64, i32, i64, i64, i64);

const ATTEMPT_COLUMNS: &str = "participant_id, id, day, started_at_ms, expires_at_ms, limit_ms, questions_json, \
                               score, correct_count, total_ms, finished_at_ms";

impl Db {
    /// Up to `limit` participants of a campaign in id order, starting after `after` (the last
    /// id of the previous page) or at the beginning. An empty page means the end.
    pub async fn rebuild_participants(
        &self,
        campaign: &CampaignId,
        after: Option<&ParticipantId>,
        limit: u32,
    ) -> Result<Vec<RebuiltParticipant>, DbError> {
        let rows: Vec<ParticipantSql> = sqlx::query_as(
            "SELECT id, region_id, unit_id, nickname, inviter_id, places_json, joined_at_ms, best_score, best_ms, \
             best_at_ms, relay_code, depth FROM participants WHERE campaign_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(campaign.as_str())
        // Every id is longer than the empty string.
        .bind(after.map_or("", ParticipantId::as_str))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("reading participants of campaign {campaign}")))?;
        rows.into_iter().map(|row| participant(campaign, row)).collect()
    }

    /// Every attempt of a campaign started on campaign day `day`, and every unfinished attempt
    /// (of any day), ordered by participant and attempt id, each with its answers. Attempts and
    /// answers are read on one snapshot.
    pub async fn rebuild_attempts(&self, campaign: &CampaignId, day: i32) -> Result<Vec<RebuiltAttempt>, DbError> {
        let action = || format!("reading attempts of campaign {campaign} for day {day}");
        let mut tx = self.read_tx().await.map_err(error::query(action()))?;
        // Two arms so that each uses its index (by day; unfinished), without duplicates.
        let sql = format!(
            "SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = $1 AND day = $2 UNION ALL \
             SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE campaign_id = $1 AND finished_at_ms IS NULL AND day <> $2"
        );
        let mut attempts = Vec::new();
        let mut index = HashMap::new();
        {
            let mut rows = sqlx::query_as::<_, AttemptSql>(sqlx::AssertSqlSafe(sql))
                .bind(campaign.as_str())
                .bind(day)
                .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(error::query(action()))? {
                let a = attempt(campaign, row)?;
                index.insert((a.participant.as_str().to_owned(), a.id.as_str().to_owned()), attempts.len());
                attempts.push(a);
            }
        }
        {
            let answers = "SELECT an.participant_id, an.attempt_id, an.idx, an.choice_mask, an.correct, an.points, \
                           an.timed_out, an.elapsed_ms, an.attempt_score, an.cursor_ms FROM attempts t JOIN answers an \
                           ON an.campaign_id = t.campaign_id AND an.participant_id = t.participant_id \
                           AND an.attempt_id = t.id WHERE t.campaign_id = $1";
            let sql =
                format!("{answers} AND t.day = $2 UNION ALL {answers} AND t.finished_at_ms IS NULL AND t.day <> $2");
            let mut rows = sqlx::query_as::<_, AnswerSql>(sqlx::AssertSqlSafe(sql))
                .bind(campaign.as_str())
                .bind(day)
                .fetch(&mut *tx);
            while let Some(row) = rows.try_next().await.map_err(error::query(action()))? {
                let (p, a, idx, choice_mask, correct, points, timed_out, elapsed_ms, attempt_score, cursor) = row;
                let what = || format!("answer {idx} of attempt {a} of participant {p} in campaign {campaign}");
                let bad = |field: &str| DbError::Corrupt(format!("{}: {field}", what()));
                let Some(&i) = index.get(&(p.clone(), a.clone())) else {
                    return Err(DbError::Corrupt(format!("{}: its attempt was not read", what())));
                };
                // The attempt's clock is its latest answer's cursor (its start if none).
                let attempt = &mut attempts[i];
                attempt.cursor = attempt.cursor.max(cursor);
                let slot = usize::try_from(idx)
                    .ok()
                    .and_then(|idx| attempt.answers.get_mut(idx))
                    .ok_or_else(|| bad("index beyond the attempt's questions"))?;
                *slot = Some(Judged {
                    choice_mask: u32::try_from(choice_mask).map_err(|_| bad("choice_mask"))?,
                    correct: correct != 0,
                    points: u32::try_from(points).map_err(|_| bad("points"))?,
                    timed_out: timed_out != 0,
                    elapsed_ms: u64::try_from(elapsed_ms).map_err(|_| bad("elapsed_ms"))?,
                    attempt_score: u64::try_from(attempt_score).map_err(|_| bad("attempt_score"))?,
                });
            }
        }
        tx.commit().await.map_err(error::query(action()))?;
        attempts.sort_by(|a, b| (&a.participant, &a.id).cmp(&(&b.participant, &b.id)));
        Ok(attempts)
    }
}

fn participant(
    campaign: &CampaignId,
    (
        id,
        region,
        unit,
        nickname,
        inviter,
        places_json,
        joined_at_ms,
        best_score,
        best_ms,
        best_at_ms,
        relay_code,
        depth,
    ): ParticipantSql,
) -> Result<RebuiltParticipant, DbError> {
    let what = |field: &str| format!("participant {id} of campaign {campaign}: {field}");
    let bad = |e: baton_core::ids::IdError| DbError::Corrupt(what(&e.0));
    let best = match (best_score, best_ms, best_at_ms) {
        (Some(score), Some(total_ms), Some(reached_ms)) => Some(LeaderResult {
            score: u64::try_from(score).map_err(|_| DbError::Corrupt(what("best_score")))?,
            total_ms: u64::try_from(total_ms).map_err(|_| DbError::Corrupt(what("best_ms")))?,
            reached_ms,
        }),
        (None, None, None) => None,
        _ => return Err(DbError::Corrupt(what("best_score, best_ms and best_at_ms are not set together"))),
    };
    Ok(RebuiltParticipant {
        id: ParticipantId::parse(&id).map_err(bad)?,
        region: PlaceId::parse(&region).map_err(bad)?,
        unit: unit.as_deref().map(UnitId::parse).transpose().map_err(bad)?,
        nickname,
        inviter: inviter.as_deref().map(ParticipantId::parse).transpose().map_err(bad)?,
        relay_code: match relay_code {
            Some(code) => Some(RelayCode::parse(&code).ok_or_else(|| DbError::Corrupt(what("relay_code")))?),
            None => None,
        },
        depth: u32::try_from(depth).map_err(|_| DbError::Corrupt(what("depth")))?,
        places: match places_json {
            Some(text) => {
                serde_json::from_str(&text).map_err(|e| DbError::Corrupt(what(&format!("places_json: {e}"))))?
            }
            None => Vec::new(),
        },
        joined_at_ms,
        best,
    })
}

fn attempt(
    campaign: &CampaignId,
    (p, id, day, started_at, expires_at, limit_ms, questions_json, score, correct_count, total_ms, finished): AttemptSql,
) -> Result<RebuiltAttempt, DbError> {
    let what = |field: &str| format!("attempt {id} of participant {p} in campaign {campaign}: {field}");
    let bad = |e: baton_core::ids::IdError| DbError::Corrupt(what(&e.0));
    let questions: Vec<DrawnQuestion> =
        serde_json::from_str(&questions_json).map_err(|e| DbError::Corrupt(what(&format!("questions_json: {e}"))))?;
    let finished = match finished {
        None => None,
        Some(at) => Some((
            Totals {
                score: u64::try_from(score).map_err(|_| DbError::Corrupt(what("score")))?,
                correct_count: u32::try_from(correct_count).map_err(|_| DbError::Corrupt(what("correct_count")))?,
                total_ms: u64::try_from(total_ms).map_err(|_| DbError::Corrupt(what("total_ms")))?,
            },
            at,
        )),
    };
    Ok(RebuiltAttempt {
        participant: ParticipantId::parse(&p).map_err(bad)?,
        id: AttemptId::parse(&id).map_err(bad)?,
        day,
        started_at,
        expires_at,
        limit_ms,
        answers: vec![None; questions.len()],
        questions,
        cursor: started_at,
        finished,
    })
}
