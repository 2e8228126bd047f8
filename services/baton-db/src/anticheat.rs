//! Anti-cheat flags and hidden participants: the signals of [`baton_core::anticheat`] applied in
//! SQL as events are stored, and organizers' decisions to hide a participant from the public
//! boards.
//!
//! [`Db::apply_events`] calls [`flag`] after the projections, in the same transaction, with the
//! new events only. Each signal is worked out from the projections for the keys the new events
//! touched, so a flag is a function of the set of events stored, whatever the order and
//! batching — the same argument as the projections':
//! - `fast_answers`: a participant's fast answers are counted in `fast_answer_counts`, which a
//!   batch raises by its new answers that were fast (kinds from the campaign's bank as the
//!   batch is stored; an answer of a question the bank no longer has is held to the stricter
//!   floor), and the count is stored as the flag's evidence (merged by maximum). An answer event
//!   is new once, so it is counted once; the count only grows. (Counting each participant's
//!   answers again in `answers` for every batch with one of its answers read all of them, spread
//!   over as many pages, about ten times an attempt: a quarter of the archiver's statement time.)
//! - `same_timing` and `shared_device` flag *groups*: the participants with a finished attempt
//!   of one timing print (`timing_prints`, written once per complete finished attempt), and
//!   the participants whose join carried one client fingerprint (`participants.client_fp`).
//!   Members only ever join a group, so a group only grows. Its size is kept in a row of its
//!   own (`timing_groups`, `client_groups`), which a batch raises by the members it added:
//!   once per group it touched, whatever the group's size. Then, for a group at the threshold
//!   after the batch:
//!   - if the batch took it there, every member is flagged (a one-off, as big as the group);
//!   - if it was there already, only the batch's new members are: the others were flagged by
//!     the batch that took it there or by the one that added them since.
//!
//!   So a batch costs the same behind a group of 10 as behind one of 10,000 (raising every
//!   member's evidence each time its group grew cost a write per member per join: 51 ms a join
//!   behind one fingerprint of 10,000, against 3 ms behind one of 500).
//!
//!   A member is counted exactly once, by the batch that makes it one. A participant joins a
//!   fingerprint's group when its row is written with that `client_fp`, which only its join
//!   event does (id `j:{participant}`, stored once; a row written by the older API carries no
//!   fingerprint, and its join event adds none). It joins a print's group with its first
//!   attempt of that print: a batch counts the participants whose only rows of the print are
//!   the ones it wrote.
//!
//!   The evidence of a group flag is the size of the group *now*, read with the flag
//!   ([`Db::flagged`], [`Db::suspicions`]) from the group's row (for `same_timing`, the
//!   largest group among the participant's prints); `suspicions.evidence` holds 0 for these
//!   reasons. Counting the group at read time instead would cost a scan of the group for every
//!   flagged participant listed; the group row costs a key lookup.
//!
//! Flags are never removed by the archiver: every count behind them only grows.

use crate::Db;
use crate::error::{self, DbError};
use crate::sql::{Val, Values};
use baton_core::anticheat::{
    FAST_ANSWERS_MIN, Reason, SAME_TIMING_MIN_PARTICIPANTS, SHARED_DEVICE_MIN_PARTICIPANTS, is_fast, timing_print,
};
use baton_core::campaign::QuestionKind;
use baton_core::events::{Event, EventBody};
use baton_core::ids::{CampaignId, ParticipantId, PlaceId};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// An attempt's answers for [`timing_print`]: one slot per question.
type Answers = Vec<Option<(u64, bool)>>;

/// Raises a flag's evidence (never lowers it).
const UPSERT_TAIL: &str = " ON CONFLICT (campaign_id, participant_id, reason) DO UPDATE SET evidence = \
                           CASE WHEN excluded.evidence > suspicions.evidence THEN excluded.evidence \
                           ELSE suspicions.evidence END";

/// A signal that flags the members of a group once it has enough of them.
struct GroupSignal {
    reason: Reason,
    /// Members that flag a group.
    min: u64,
    /// The table of group sizes: `(campaign_id, <key>, participants)`.
    table: &'static str,
    /// The column naming a group.
    key: &'static str,
    /// Flags every member of a group (`$1` campaign, `$2` key) with reason `$3`.
    flag_all: &'static str,
}

const SAME_TIMING: GroupSignal = GroupSignal {
    reason: Reason::SameTiming,
    min: SAME_TIMING_MIN_PARTICIPANTS,
    table: "timing_groups",
    key: "print",
    flag_all: "INSERT INTO suspicions (campaign_id, participant_id, reason, evidence) \
               SELECT DISTINCT campaign_id, participant_id, $3, 0 FROM timing_prints WHERE campaign_id = $1 AND print = $2 \
               ON CONFLICT (campaign_id, participant_id, reason) DO NOTHING",
};

const SHARED_DEVICE: GroupSignal = GroupSignal {
    reason: Reason::SharedDevice,
    min: SHARED_DEVICE_MIN_PARTICIPANTS,
    table: "client_groups",
    key: "client_fp",
    flag_all: "INSERT INTO suspicions (campaign_id, participant_id, reason, evidence) \
               SELECT campaign_id, id, $3, 0 FROM participants WHERE campaign_id = $1 AND client_fp = $2 \
               ON CONFLICT (campaign_id, participant_id, reason) DO NOTHING",
};

/// Applies the signals to what `new` (events stored for the first time) changed.
pub(crate) async fn flag(conn: &mut AnyConnection, new: &[&Event]) -> Result<(), DbError> {
    let mut answered: Vec<(&str, &str, &str, u64, bool)> = Vec::new();
    let mut attempts: BTreeSet<(&str, &str, &str)> = BTreeSet::new();
    let mut joined: BTreeSet<(&str, &str)> = BTreeSet::new();
    for e in new {
        let c = e.campaign.as_str();
        match &e.body {
            EventBody::Answered { participant, attempt, question, judged, .. } => {
                answered.push((c, participant.as_str(), question.as_str(), judged.elapsed_ms, judged.timed_out));
                attempts.insert((c, participant.as_str(), attempt.as_str()));
            }
            EventBody::AttemptStarted { participant, attempt, .. }
            | EventBody::AttemptFinished { participant, attempt, .. } => {
                attempts.insert((c, participant.as_str(), attempt.as_str()));
            }
            EventBody::Joined { participant, client: Some(_), .. } => {
                joined.insert((c, participant.as_str()));
            }
            _ => {}
        }
    }
    fast_answers(conn, &answered).await?;
    same_timing(conn, &attempts).await?;
    shared_device(conn, &joined).await
}

fn query(what: &str) -> impl Fn(sqlx::Error) -> DbError + '_ {
    move |e| error::query(format!("flagging {what}"))(e)
}

/// Raises the fast answer counts of the participants of `answered` — `(campaign, participant,
/// question, elapsed_ms, timed_out)`, every new answer — by their fast ones, and flags those it
/// takes to [`FAST_ANSWERS_MIN`] or beyond with their count.
async fn fast_answers(conn: &mut AnyConnection, answered: &[(&str, &str, &str, u64, bool)]) -> Result<(), DbError> {
    if answered.is_empty() {
        return Ok(());
    }
    let asked: BTreeSet<(&str, &str)> = answered.iter().map(|(c, _, q, _, _)| (*c, *q)).collect();
    let rows: Vec<Vec<Val>> = asked.iter().map(|(c, q)| vec![Val::Str(c), Val::Str(q)]).collect();
    let kinds: Vec<(String, String, String)> = Values {
        head: "SELECT q.campaign_id, q.id, q.kind FROM questions q JOIN (",
        tail: ") AS v ON q.campaign_id = v.column1 AND q.id = v.column2",
        width: 2,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("fast answers"))?;
    let kinds: HashMap<(&str, &str), QuestionKind> =
        kinds.iter().filter_map(|(c, q, k)| Some(((c.as_str(), q.as_str()), QuestionKind::parse(k)?))).collect();
    let mut fast: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for &(c, p, q, elapsed, timed_out) in answered {
        // A question the bank no longer has is held to the true/false floor, the lower one.
        let kind = kinds.get(&(c, q)).copied().unwrap_or(QuestionKind::Judge);
        if is_fast(kind, elapsed, timed_out) {
            *fast.entry((c, p)).or_default() += 1;
        }
    }
    if fast.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> = fast.iter().map(|((c, p), n)| vec![Val::Str(c), Val::Str(p), Val::Int(*n)]).collect();
    let counts: Vec<(String, String, i64)> = Values {
        head: "INSERT INTO fast_answer_counts (campaign_id, participant_id, answers) ",
        tail: " ON CONFLICT (campaign_id, participant_id) DO UPDATE SET \
               answers = fast_answer_counts.answers + excluded.answers RETURNING campaign_id, participant_id, answers",
        width: 3,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("fast answers"))?;
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
    let added: Vec<(String, String, String)> = Values {
        head: "INSERT INTO timing_prints (campaign_id, participant_id, attempt_id, print) ",
        tail: " ON CONFLICT (campaign_id, participant_id, attempt_id) DO NOTHING \
               RETURNING campaign_id, participant_id, print",
        width: 4,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("timing"))?;
    // How many rows of its print each participant got here: it joins the print's group unless it
    // has other rows of that print (an earlier attempt timed alike).
    let mut written: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    for (c, p, print) in added {
        *written.entry((c, p, print)).or_default() += 1;
    }
    if written.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> =
        written.keys().map(|(c, p, print)| vec![Val::Str(c), Val::Str(p), Val::Str(print)]).collect();
    let held: Vec<(String, String, String, i64)> = Values {
        head: "SELECT t.campaign_id, t.participant_id, t.print, COUNT(*) FROM timing_prints t JOIN (",
        tail: ") AS v ON t.campaign_id = v.column1 AND t.participant_id = v.column2 AND t.print = v.column3 \
               GROUP BY t.campaign_id, t.participant_id, t.print",
        width: 3,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("timing"))?;
    let members: Vec<(String, String, String)> = held
        .into_iter()
        .filter(|(c, p, print, n)| written.get(&(c.clone(), p.clone(), print.clone())) == Some(n))
        .map(|(c, p, print, _)| (c, print, p))
        .collect();
    grow(conn, &SAME_TIMING, &members).await
}

async fn shared_device(conn: &mut AnyConnection, joined: &BTreeSet<(&str, &str)>) -> Result<(), DbError> {
    if joined.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> = joined.iter().map(|(c, p)| vec![Val::Str(c), Val::Str(p)]).collect();
    // The fingerprint each new join wrote on its participant's row: none when the row was
    // written before, by the older API (the join event then keeps it as it was).
    let members: Vec<(String, String, String)> = Values {
        head: "SELECT p.campaign_id, p.client_fp, p.id FROM participants p JOIN (",
        tail: ") AS v ON p.campaign_id = v.column1 AND p.id = v.column2 WHERE p.client_fp IS NOT NULL",
        width: 2,
    }
    .fetch(conn, &rows)
    .await
    .map_err(query("shared clients"))?;
    grow(conn, &SHARED_DEVICE, &members).await
}

/// Adds `members` — `(campaign, group, participant)`, each new to its group — to their groups'
/// sizes, then flags every member of a group this took to the threshold, and the new members
/// of a group that was there already. Writes a row per group touched and a flag per member
/// flagged: nothing for the members a group had.
async fn grow(conn: &mut AnyConnection, s: &GroupSignal, members: &[(String, String, String)]) -> Result<(), DbError> {
    let what = s.reason.as_str();
    let mut groups: BTreeMap<(&str, &str), Vec<&str>> = BTreeMap::new();
    for (c, key, p) in members {
        groups.entry((c, key)).or_default().push(p);
    }
    if groups.is_empty() {
        return Ok(());
    }
    let rows: Vec<Vec<Val>> =
        groups.iter().map(|((c, key), ps)| vec![Val::Str(c), Val::Str(key), Val::Int(ps.len() as i64)]).collect();
    let (table, key) = (s.table, s.key);
    let head = format!("INSERT INTO {table} (campaign_id, {key}, participants) ");
    let tail = format!(
        " ON CONFLICT (campaign_id, {key}) DO UPDATE SET participants = {table}.participants + excluded.participants \
         RETURNING campaign_id, {key}, participants"
    );
    let sizes: Vec<(String, String, i64)> =
        Values { head: &head, tail: &tail, width: 3 }.fetch(conn, &rows).await.map_err(query(what))?;
    let min = s.min as i64;
    let mut flags: Vec<Vec<Val>> = Vec::new();
    for (c, key, n) in sizes.iter().filter(|(_, _, n)| *n >= min) {
        let Some((&(c, key), ps)) = groups.get_key_value(&(c.as_str(), key.as_str())) else {
            continue;
        };
        if n - (ps.len() as i64) < min {
            // Reached the threshold with this batch: every member, once.
            sqlx::query(s.flag_all).bind(c).bind(key).bind(what).execute(&mut *conn).await.map_err(query(what))?;
        } else {
            flags.extend(ps.iter().map(|p| vec![Val::Str(c), Val::Str(p), Val::Str(what), Val::Int(0)]));
        }
    }
    if !flags.is_empty() {
        Values {
            head: "INSERT INTO suspicions (campaign_id, participant_id, reason, evidence) ",
            tail: " ON CONFLICT (campaign_id, participant_id, reason) DO NOTHING",
            width: 4,
        }
        .execute(conn, &flags)
        .await
        .map_err(query(what))?;
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

/// A flag's evidence as organizers see it, over `suspicions s` joined to the flagged
/// participant's row `p`: for a group flag the size of its group now (for `same_timing` the
/// largest group of the participant's prints), each a lookup by key; else the stored count.
fn evidence_sql() -> String {
    format!(
        "COALESCE(CASE s.reason \
         WHEN '{device}' THEN (SELECT g.participants FROM client_groups g \
         WHERE g.campaign_id = s.campaign_id AND g.client_fp = p.client_fp) \
         WHEN '{timing}' THEN (SELECT MAX(g.participants) FROM timing_prints t \
         JOIN timing_groups g ON g.campaign_id = t.campaign_id AND g.print = t.print \
         WHERE t.campaign_id = s.campaign_id AND t.participant_id = s.participant_id) \
         END, s.evidence)",
        device = Reason::SharedDevice.as_str(),
        timing = Reason::SameTiming.as_str(),
    )
}

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
        let evidence = evidence_sql();
        let sql = format!(
            "SELECT s.participant_id, s.reason, {evidence}, p.nickname, p.region_id, \
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
        let sql = format!(
            "SELECT s.participant_id, s.reason, {} FROM suspicions s \
             LEFT JOIN participants p ON p.campaign_id = s.campaign_id AND p.id = s.participant_id \
             WHERE s.campaign_id = $1 ORDER BY s.participant_id, s.reason",
            evidence_sql()
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(format!("listing the flags of campaign {campaign}")))
    }
}
