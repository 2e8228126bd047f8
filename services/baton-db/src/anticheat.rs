//! Anti-cheat flags and hidden participants: the signals of [`baton_core::anticheat`] applied in
//! SQL as events are stored, and organizers' decisions to hide a participant from the public
//! boards.
//!
//! [`Db::apply_events`] calls [`flag`] after the projections, in the same transaction, with the
//! new events only. Each signal is recomputed from the projections for the keys the new events
//! touched, so a flag is a function of the set of events stored, whatever the order and
//! batching — the same argument as the projections':
//! - `fast_answers`: for every participant with a new answer, its fast answers are counted in
//!   `answers` (kinds from the campaign's bank; an answer of a question the bank no longer has
//!   is held to the stricter floor). Answers are only ever added, so the count only grows.
//! - `same_timing`: every attempt a new event touched (start, answer or finish) gets its timing
//!   print once it is finished and complete in SQL (`timing_prints`, written once). Prints
//!   only ever join a group, so a group only grows; every time one grows, all its members'
//!   evidence is raised to its size (`evidence` merges by maximum).
//! - `shared_device`: every client fingerprint a new join carried is counted in
//!   `participants`; at the threshold all participants behind it are flagged, with the count.
//!
//! Flags are never removed by the archiver: every count behind them only grows.

use crate::Db;
use crate::error::{self, DbError};
use crate::sql::{Val, Values};
use baton_core::anticheat::{
    FAST_ANSWERS_MIN, JUDGE_READING_FLOOR_MS, READING_FLOOR_MS, Reason, SAME_TIMING_MIN_PARTICIPANTS,
    SHARED_DEVICE_MIN_PARTICIPANTS, timing_print,
};
use baton_core::events::{Event, EventBody};
use baton_core::ids::{CampaignId, ParticipantId, PlaceId};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, BTreeSet};

/// An attempt's answers for [`timing_print`]: one slot per question.
type Answers = Vec<Option<(u64, bool)>>;

/// Raises a flag's evidence (never lowers it).
const UPSERT_TAIL: &str = " ON CONFLICT (campaign_id, participant_id, reason) DO UPDATE SET evidence = \
                           CASE WHEN excluded.evidence > suspicions.evidence THEN excluded.evidence \
                           ELSE suspicions.evidence END";

/// Applies the signals to what `new` (events stored for the first time) changed.
pub(crate) async fn flag(conn: &mut AnyConnection, new: &[&Event]) -> Result<(), DbError> {
    let mut answered: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut attempts: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    let mut clients: BTreeSet<(&str, &str)> = BTreeSet::new();
    for e in new {
        let c = e.campaign.as_str();
        match &e.body {
            EventBody::Answered { participant, attempt, .. } => {
                answered.insert((c, participant.as_str()));
                attempts.insert((c, participant.as_str(), attempt.as_str()));
            }
            EventBody::AttemptStarted { participant, attempt, .. }
            | EventBody::AttemptFinished { participant, attempt, .. } => {
                attempts.insert((c, participant.as_str(), attempt.as_str()));
            }
            EventBody::Joined { client: Some(fp), .. } => {
                clients.insert((c, fp.as_str()));
            }
            _ => {}
        }
    }
    fast_answers(conn, &answered).await?;
    same_timing(conn, &attempts).await?;
    shared_device(conn, &clients).await
}

fn query(what: &str) -> impl Fn(sqlx::Error) -> DbError + '_ {
    move |e| error::query(format!("flagging {what}"))(e)
}

async fn fast_answers(conn: &mut AnyConnection, participants: &BTreeSet<(&str, &str)>) -> Result<(), DbError> {
    if participants.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> = participants.iter().map(|(c, p)| vec![Val::Str(c), Val::Str(p)]).collect();
    let head = "SELECT a.campaign_id, a.participant_id, COUNT(*) FROM answers a \
                LEFT JOIN questions q ON q.campaign_id = a.campaign_id AND q.id = a.question_id JOIN (";
    let tail = format!(
        ") AS v ON a.campaign_id = v.column1 AND a.participant_id = v.column2 \
         WHERE a.timed_out = 0 AND a.elapsed_ms < CASE WHEN q.kind IS NULL OR q.kind = 'judge' \
         THEN {JUDGE_READING_FLOOR_MS} ELSE {READING_FLOOR_MS} END \
         GROUP BY a.campaign_id, a.participant_id"
    );
    let counts: Vec<(String, String, i64)> =
        Values { head, tail: &tail, width: 2 }.fetch(conn, &rows).await.map_err(query("fast answers"))?;
    let reason = Reason::FastAnswers.as_str();
    let flagged: Vec<Vec<Val>> = counts
        .iter()
        .filter(|(_, _, n)| *n >= FAST_ANSWERS_MIN as i64)
        .map(|(c, p, n)| vec![Val::Str(c), Val::Str(p), Val::Str(reason), Val::Int(*n)])
        .collect();
    if !flagged.is_empty() {
        Values {
            head: "INSERT INTO suspicions (campaign_id, participant_id, reason, evidence) ",
            tail: UPSERT_TAIL,
            width: 4,
        }
        .execute(conn, &flagged)
        .await
        .map_err(query("fast answers"))?;
    }
    Ok(())
}

async fn same_timing(conn: &mut AnyConnection, attempts: &BTreeSet<(&str, &str, &str)>) -> Result<(), DbError> {
    if attempts.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> = attempts.iter().map(|(c, p, a)| vec![Val::Str(c), Val::Str(p), Val::Str(a)]).collect();
    // Finished attempts, with how many questions they have.
    let finished: Vec<(String, String, String, String)> = Values {
        head: "SELECT t.campaign_id, t.participant_id, t.id, t.questions_json FROM attempts t JOIN (",
        tail: ") AS v ON t.campaign_id = v.column1 AND t.participant_id = v.column2 AND t.id = v.column3 \
               WHERE t.finished_at_ms IS NOT NULL",
        width: 3,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("timing"))?;
    if finished.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> = finished.iter().map(|(c, p, a, _)| vec![Val::Str(c), Val::Str(p), Val::Str(a)]).collect();
    let answers: Vec<(String, String, String, i32, i64, i32)> = Values {
        head: "SELECT a.campaign_id, a.participant_id, a.attempt_id, a.idx, a.elapsed_ms, a.timed_out FROM answers a \
               JOIN (",
        tail: ") AS v ON a.campaign_id = v.column1 AND a.participant_id = v.column2 AND a.attempt_id = v.column3",
        width: 3,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("timing"))?;
    let mut slots: BTreeMap<(&str, &str, &str), Answers> = BTreeMap::new();
    for (c, p, a, questions) in &finished {
        let n = serde_json::from_str::<Vec<serde_json::Value>>(questions)
            .map_err(|e| DbError::Corrupt(format!("attempt {a} of participant {p} in campaign {c}: {e}")))?
            .len();
        slots.insert((c, p, a), vec![None; n]);
    }
    for (c, p, a, idx, elapsed, timed_out) in &answers {
        if let Some(slot) = slots
            .get_mut(&(c.as_str(), p.as_str(), a.as_str()))
            .and_then(|s| usize::try_from(*idx).ok().and_then(|i| s.get_mut(i)))
        {
            *slot = Some((u64::try_from(*elapsed).unwrap_or(0), *timed_out != 0));
        }
    }
    let prints: Vec<(&str, &str, &str, String)> =
        slots.iter().filter_map(|(&(c, p, a), answers)| timing_print(answers).map(|print| (c, p, a, print))).collect();
    if prints.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> =
        prints.iter().map(|(c, p, a, print)| vec![Val::Str(c), Val::Str(p), Val::Str(a), Val::Str(print)]).collect();
    let added: Vec<(String, String)> = Values {
        head: "INSERT INTO timing_prints (campaign_id, participant_id, attempt_id, print) ",
        tail: " ON CONFLICT (campaign_id, participant_id, attempt_id) DO NOTHING RETURNING campaign_id, print",
        width: 4,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("timing"))?;
    let grown: BTreeSet<(String, String)> = added.into_iter().collect();
    if grown.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> = grown.iter().map(|(c, print)| vec![Val::Str(c), Val::Str(print)]).collect();
    let sizes: Vec<(String, String, i64)> = Values {
        head: "SELECT t.campaign_id, t.print, COUNT(DISTINCT t.participant_id) FROM timing_prints t JOIN (",
        tail: ") AS v ON t.campaign_id = v.column1 AND t.print = v.column2 GROUP BY t.campaign_id, t.print",
        width: 2,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("timing"))?;
    for (c, print, n) in sizes.into_iter().filter(|(_, _, n)| *n >= SAME_TIMING_MIN_PARTICIPANTS as i64) {
        sqlx::query(
            "INSERT INTO suspicions (campaign_id, participant_id, reason, evidence) \
             SELECT DISTINCT campaign_id, participant_id, $3, $4 FROM timing_prints \
             WHERE campaign_id = $1 AND print = $2 ON CONFLICT (campaign_id, participant_id, reason) DO UPDATE SET \
             evidence = CASE WHEN excluded.evidence > suspicions.evidence THEN excluded.evidence \
             ELSE suspicions.evidence END",
        )
        .bind(c.as_str())
        .bind(print.as_str())
        .bind(Reason::SameTiming.as_str())
        .bind(n)
        .execute(&mut *conn)
        .await
        .map_err(query("timing"))?;
    }
    Ok(())
}

async fn shared_device(conn: &mut AnyConnection, clients: &BTreeSet<(&str, &str)>) -> Result<(), DbError> {
    if clients.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> = clients.iter().map(|(c, fp)| vec![Val::Str(c), Val::Str(fp)]).collect();
    let sizes: Vec<(String, String, i64)> = Values {
        head: "SELECT p.campaign_id, p.client_fp, COUNT(*) FROM participants p JOIN (",
        tail: ") AS v ON p.campaign_id = v.column1 AND p.client_fp = v.column2 GROUP BY p.campaign_id, p.client_fp",
        width: 2,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("shared clients"))?;
    for (c, fp, n) in sizes.into_iter().filter(|(_, _, n)| *n >= SHARED_DEVICE_MIN_PARTICIPANTS as i64) {
        sqlx::query(
            "INSERT INTO suspicions (campaign_id, participant_id, reason, evidence) \
             SELECT campaign_id, id, $3, $4 FROM participants WHERE campaign_id = $1 AND client_fp = $2 \
             ON CONFLICT (campaign_id, participant_id, reason) DO UPDATE SET \
             evidence = CASE WHEN excluded.evidence > suspicions.evidence THEN excluded.evidence \
             ELSE suspicions.evidence END",
        )
        .bind(c.as_str())
        .bind(fp.as_str())
        .bind(Reason::SharedDevice.as_str())
        .bind(n)
        .execute(&mut *conn)
        .await
        .map_err(query("shared clients"))?;
    }
    Ok(())
}

/// A flagged participant as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flagged {
    pub participant: ParticipantId,
    /// From the participant's join (None while its join is not stored yet).
    pub nickname: Option<String>,
    pub region: Option<PlaceId>,
    /// Each signal that flags it, with its evidence, in reason order.
    pub reasons: Vec<(Reason, u64)>,
    /// Whether an organizer hid it from the public boards.
    pub hidden: bool,
}

/// A page of flagged participants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlaggedPage {
    pub participants: Vec<Flagged>,
    /// The last participant of this page when more may follow (pass it as `after`).
    pub next: Option<ParticipantId>,
}

type FlagSql = (String, String, i64, Option<String>, Option<String>, i64);

impl Db {
    /// Up to `limit` flagged participants of a campaign in id order, after `after`, limited to
    /// participants who joined at one of `places` when given (a participant whose join is not
    /// stored yet is then left out).
    pub async fn flagged(
        &self,
        campaign: &CampaignId,
        places: Option<&[PlaceId]>,
        after: Option<&ParticipantId>,
        limit: u32,
    ) -> Result<FlaggedPage, DbError> {
        let filter = match places {
            None => String::new(),
            Some([]) => " AND 1 = 0".to_owned(),
            Some(list) => {
                let marks: Vec<String> = (0..list.len()).map(|i| format!("${}", i + 4)).collect();
                format!(" AND p.region_id IN ({})", marks.join(", "))
            }
        };
        let sql = format!(
            "SELECT s.participant_id, s.reason, s.evidence, p.nickname, p.region_id, \
             CAST(CASE WHEN h.participant_id IS NULL THEN 0 ELSE 1 END AS BIGINT) FROM suspicions s \
             LEFT JOIN participants p ON p.campaign_id = s.campaign_id AND p.id = s.participant_id \
             LEFT JOIN hidden_participants h ON h.campaign_id = s.campaign_id AND h.participant_id = s.participant_id \
             WHERE s.campaign_id = $1 AND s.participant_id > $2{filter} ORDER BY s.participant_id, s.reason LIMIT $3"
        );
        // Every participant has at most one row per reason.
        let rows_wanted = (i64::from(limit) + 1) * Reason::ALL.len() as i64;
        let mut q = sqlx::query_as::<_, FlagSql>(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .bind(after.map_or("", ParticipantId::as_str))
            .bind(rows_wanted);
        for p in places.unwrap_or_default() {
            q = q.bind(p.as_str());
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(format!("listing flagged participants of campaign {campaign}")))?;
        let mut out: Vec<Flagged> = Vec::new();
        for (pid, reason, evidence, nickname, region, hidden) in rows {
            let corrupt = |what: String| DbError::Corrupt(format!("suspicions of campaign {campaign}: {what}"));
            let reason = Reason::parse(&reason).ok_or_else(|| corrupt(format!("unknown reason {reason:?}")))?;
            let evidence = u64::try_from(evidence).unwrap_or(0);
            if out.last().is_none_or(|f| f.participant.as_str() != pid) {
                out.push(Flagged {
                    participant: ParticipantId::parse(&pid).map_err(|e| corrupt(e.0))?,
                    nickname,
                    region: region.map(|r| PlaceId::parse(&r)).transpose().map_err(|e| corrupt(e.0))?,
                    reasons: Vec::new(),
                    hidden: hidden != 0,
                });
            }
            out.last_mut().expect("just pushed").reasons.push((reason, evidence));
        }
        // The last participant may be cut short by the row limit: it starts the next page.
        let full = out.len() > limit as usize;
        out.truncate(limit as usize);
        let next = if full { out.last().map(|f| f.participant.clone()) } else { None };
        Ok(FlaggedPage { participants: out, next })
    }

    /// Records that `participant` is hidden (`hidden`) or shown again, by `by` at `at_ms`.
    /// Returns whether that changed anything.
    pub async fn set_hidden(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        hidden: bool,
        by: &str,
        at_ms: i64,
    ) -> Result<bool, DbError> {
        let action = || format!("recording whether participant {participant} of campaign {campaign} is hidden");
        let q = if hidden {
            sqlx::query(
                "INSERT INTO hidden_participants (campaign_id, participant_id, hidden_at_ms, hidden_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (campaign_id, participant_id) DO NOTHING",
            )
            .bind(campaign.as_str())
            .bind(participant.as_str())
            .bind(at_ms)
            .bind(by)
        } else {
            sqlx::query("DELETE FROM hidden_participants WHERE campaign_id = $1 AND participant_id = $2")
                .bind(campaign.as_str())
                .bind(participant.as_str())
        };
        let done = q.execute(&self.pool).await.map_err(error::query(action()))?;
        Ok(done.rows_affected() > 0)
    }

    /// Every hidden participant of a campaign, in id order (a rebuild hides them again).
    pub async fn hidden_participants(&self, campaign: &CampaignId) -> Result<Vec<ParticipantId>, DbError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT participant_id FROM hidden_participants WHERE campaign_id = $1 ORDER BY participant_id",
        )
        .bind(campaign.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("listing hidden participants of campaign {campaign}")))?;
        rows.into_iter()
            .map(|(p,)| ParticipantId::parse(&p).map_err(|e| DbError::Corrupt(format!("hidden participant: {}", e.0))))
            .collect()
    }

    /// The flags of a campaign as `(participant, reason, evidence)`, sorted (tests and audits).
    pub async fn suspicions(&self, campaign: &CampaignId) -> Result<Vec<(String, String, i64)>, DbError> {
        sqlx::query_as(
            "SELECT participant_id, reason, evidence FROM suspicions WHERE campaign_id = $1 \
             ORDER BY participant_id, reason",
        )
        .bind(campaign.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("listing the flags of campaign {campaign}")))
    }
}
