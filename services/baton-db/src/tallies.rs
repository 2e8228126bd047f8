//! Tallies: the counters behind the organizer console's figures, kept as events are stored.
//!
//! [`Db::apply_events`] counts every event it stores for the first time, in the same
//! transaction, into small tables (see the migration `…_tallies.sql`): per place and minute
//! ([`Db::tally_minutes`]), per place in all ([`Db::tally_totals`]), per place and question
//! ([`Db::tally_questions`]) and per place and share-chain depth ([`Db::tally_depths`]). The
//! place `*` is the whole campaign; any other place counts everybody at it or under it. A
//! console figure is then a read of a few rows, however many participants there are.
//!
//! # Exact whatever the order
//! An event is counted for the places of its participant, which the participant's join names.
//! A join arrives first in practice (a participant's events share one stream, in order), but an
//! entry claimed late after an archiver crash may arrive after later events of the same
//! participant. Such an event is counted for the whole campaign at once and remembered in
//! `tally_deferred`; the join, when it arrives, counts the remembered events for its places.
//! So once every join is stored the tallies are a function of the set of events stored, like
//! the projections, and [`Db::rebuild_tallies`] (which counts them again from the event log)
//! gives the same rows: the tests hold the two equal over shuffled batches.

use crate::error::{self, DbError};
use crate::sql::{Val, Values};
use crate::{Db, Engine};
use baton_core::events::{Event, EventBody};
use baton_core::ids::{CampaignId, PlaceId};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The place key of the whole campaign.
pub const WHOLE: &str = "*";

/// How long a tally minute is.
pub const MINUTE_MS: i64 = 60_000;

/// The counters of a place, per minute or in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Participants who joined.
    pub joins: u64,
    /// Of those, who joined through someone's relay link.
    pub relayed: u64,
    /// Attempts started and finished.
    pub attempts: u64,
    pub finishes: u64,
    /// Questions answered (a timed-out answer included), answered right, timed out, and the
    /// answering time in all.
    pub answers: u64,
    pub correct: u64,
    pub timed_out: u64,
    pub answer_ms: u64,
    /// Shares reported, participants who shared at least once, and opened relay links.
    pub shares: u64,
    pub sharers: u64,
    pub clicks: u64,
}

/// The columns of [`Counts`], in order.
const COUNT_COLUMNS: [&str; 11] = [
    "joins",
    "relayed",
    "attempts",
    "finishes",
    "answers",
    "correct",
    "timed_out",
    "answer_ms",
    "shares",
    "sharers",
    "clicks",
];

impl Counts {
    fn values(&self) -> [u64; 11] {
        [
            self.joins,
            self.relayed,
            self.attempts,
            self.finishes,
            self.answers,
            self.correct,
            self.timed_out,
            self.answer_ms,
            self.shares,
            self.sharers,
            self.clicks,
        ]
    }

    fn from_values(v: [u64; 11]) -> Self {
        let [joins, relayed, attempts, finishes, answers, correct, timed_out, answer_ms, shares, sharers, clicks] = v;
        Counts { joins, relayed, attempts, finishes, answers, correct, timed_out, answer_ms, shares, sharers, clicks }
    }

    fn add(&mut self, other: &Counts) {
        let mut v = self.values();
        for (a, b) in v.iter_mut().zip(other.values()) {
            *a += b;
        }
        *self = Counts::from_values(v);
    }

    /// What one event adds (nothing for an event that counts nowhere here).
    fn of(e: &Event) -> Counts {
        let mut c = Counts::default();
        match &e.body {
            EventBody::Joined { inviter, .. } => {
                c.joins = 1;
                c.relayed = u64::from(inviter.is_some());
            }
            EventBody::AttemptStarted { .. } => c.attempts = 1,
            EventBody::AttemptFinished { .. } => c.finishes = 1,
            EventBody::Answered { judged, .. } => {
                c.answers = 1;
                c.correct = u64::from(judged.correct);
                c.timed_out = u64::from(judged.timed_out);
                c.answer_ms = judged.elapsed_ms;
            }
            EventBody::Shared { n, .. } => {
                c.shares = 1;
                c.sharers = u64::from(*n == 1);
            }
            EventBody::Clicked { .. } => c.clicks = 1,
        }
        c
    }
}

/// The counters of one question at a place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuestionCounts {
    pub answers: u64,
    pub correct: u64,
    pub timed_out: u64,
    pub answer_ms: u64,
}

/// What a batch of events adds, combined per row before anything is written.
#[derive(Debug, Default)]
struct Deltas {
    minutes: HashMap<(String, String, i64), Counts>,
    totals: HashMap<(String, String), Counts>,
    questions: HashMap<(String, String, String), QuestionCounts>,
    depths: HashMap<(String, String, i64), u64>,
}

impl Deltas {
    /// Counts `e` for `places` and, when `whole`, for the whole campaign.
    fn add(&mut self, e: &Event, places: &[String], whole: bool) {
        let counts = Counts::of(e);
        let minute = e.at.div_euclid(MINUTE_MS) * MINUTE_MS;
        let c = e.campaign.as_str();
        let scopes = whole.then_some(WHOLE).into_iter().chain(places.iter().map(String::as_str));
        for place in scopes {
            self.minutes.entry((c.to_owned(), place.to_owned(), minute)).or_default().add(&counts);
            self.totals.entry((c.to_owned(), place.to_owned())).or_default().add(&counts);
            match &e.body {
                EventBody::Answered { question, judged, .. } => {
                    let q = self.questions.entry((c.to_owned(), place.to_owned(), question.to_string())).or_default();
                    q.answers += 1;
                    q.correct += u64::from(judged.correct);
                    q.timed_out += u64::from(judged.timed_out);
                    q.answer_ms += judged.elapsed_ms;
                }
                EventBody::Joined { depth, .. } => {
                    *self.depths.entry((c.to_owned(), place.to_owned(), i64::from(*depth))).or_default() += 1;
                }
                _ => {}
            }
        }
    }

    async fn write(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let int = |v: u64| Val::Int(i64::try_from(v).unwrap_or(i64::MAX));
        if !self.minutes.is_empty() {
            let rows: Vec<Vec<Val>> = self
                .minutes
                .iter()
                .map(|((c, p, m), n)| {
                    let mut row = vec![Val::Str(c), Val::Str(p), Val::Int(*m)];
                    row.extend(n.values().into_iter().map(int));
                    row
                })
                .collect();
            let (head, tail) = upsert_sql("tally_minutes", "campaign_id, place_id, minute_ms", &COUNT_COLUMNS);
            Values { head: &head, tail: &tail, width: 3 + COUNT_COLUMNS.len() }.execute(conn, &rows).await?;
        }
        if !self.totals.is_empty() {
            let rows: Vec<Vec<Val>> = self
                .totals
                .iter()
                .map(|((c, p), n)| {
                    let mut row = vec![Val::Str(c), Val::Str(p)];
                    row.extend(n.values().into_iter().map(int));
                    row
                })
                .collect();
            let (head, tail) = upsert_sql("tally_totals", "campaign_id, place_id", &COUNT_COLUMNS);
            Values { head: &head, tail: &tail, width: 2 + COUNT_COLUMNS.len() }.execute(conn, &rows).await?;
        }
        if !self.questions.is_empty() {
            let rows: Vec<Vec<Val>> = self
                .questions
                .iter()
                .map(|((c, p, q), n)| {
                    vec![
                        Val::Str(c),
                        Val::Str(p),
                        Val::Str(q),
                        int(n.answers),
                        int(n.correct),
                        int(n.timed_out),
                        int(n.answer_ms),
                    ]
                })
                .collect();
            let columns = ["answers", "correct", "timed_out", "answer_ms"];
            let (head, tail) = upsert_sql("tally_questions", "campaign_id, place_id, question_id", &columns);
            Values { head: &head, tail: &tail, width: 7 }.execute(conn, &rows).await?;
        }
        if !self.depths.is_empty() {
            let rows: Vec<Vec<Val>> = self
                .depths
                .iter()
                .map(|((c, p, d), n)| vec![Val::Str(c), Val::Str(p), Val::Int(*d), int(*n)])
                .collect();
            let (head, tail) = upsert_sql("tally_depths", "campaign_id, place_id, depth", &["participants"]);
            Values { head: &head, tail: &tail, width: 4 }.execute(conn, &rows).await?;
        }
        Ok(())
    }
}

/// `INSERT INTO table (keys, counters) VALUES … ON CONFLICT (keys) DO UPDATE` adding each
/// counter to the stored one. Built from constant names only.
fn upsert_sql(table: &str, keys: &str, counters: &[&str]) -> (String, String) {
    let head = format!("INSERT INTO {table} ({keys}, {}) ", counters.join(", "));
    let sets: Vec<String> = counters.iter().map(|c| format!("{c} = {table}.{c} + excluded.{c}")).collect();
    let tail = format!(" ON CONFLICT ({keys}) DO UPDATE SET {}", sets.join(", "));
    (head, tail)
}

/// Counts `new` (events stored for the first time, in this transaction) into the tallies.
/// The participants of this batch's joins are stored already (the projections run first).
pub(crate) async fn count(conn: &mut AnyConnection, new: &[&Event]) -> Result<(), DbError> {
    if new.is_empty() {
        return Ok(());
    }
    let action = || format!("counting {} new events", new.len());
    let q = |e| error::query(action())(e);

    // The places of every participant concerned: from this batch's joins, else from its row.
    let mut places: HashMap<(String, String), Vec<String>> = HashMap::new();
    for e in new {
        if let EventBody::Joined { participant, places: p, .. } = &e.body {
            let p = p.iter().map(ToString::to_string).collect();
            places.insert((e.campaign.as_str().to_owned(), participant.as_str().to_owned()), p);
        }
    }
    let unknown: HashSet<(&str, &str)> = new
        .iter()
        .map(|e| (e.campaign.as_str(), e.body.participant().as_str()))
        .filter(|(c, p)| !places.contains_key(&((*c).to_owned(), (*p).to_owned())))
        .collect();
    if !unknown.is_empty() {
        let rows: Vec<Vec<Val>> = unknown.iter().map(|(c, p)| vec![Val::Str(c), Val::Str(p)]).collect();
        let stored: Vec<(String, String, Option<String>)> = Values {
            head: "SELECT p.campaign_id, p.id, p.places_json FROM participants p JOIN (",
            tail: ") AS v ON p.campaign_id = v.column1 AND p.id = v.column2",
            width: 2,
        }
        .fetch(conn, &rows)
        .await
        .map_err(q)?;
        for (c, p, json) in stored {
            // A row stored by the older API has no places yet: its join event will bring them.
            let Some(json) = json else { continue };
            let list: Vec<String> = serde_json::from_str(&json)
                .map_err(|e| DbError::Corrupt(format!("places of participant {p} in campaign {c}: {e}")))?;
            places.insert((c, p), list);
        }
    }

    let mut deltas = Deltas::default();
    let mut deferred = Vec::new();
    for e in new {
        let key = (e.campaign.as_str().to_owned(), e.body.participant().as_str().to_owned());
        match places.get(&key) {
            Some(p) => deltas.add(e, p, true),
            None => {
                deltas.add(e, &[], true);
                deferred.push(vec![
                    Val::Str(e.campaign.as_str()),
                    Val::Str(e.body.participant().as_str()),
                    Val::Str(&e.id),
                ]);
            }
        }
    }

    // Joins count what their participant did before they arrived.
    let joined: Vec<Vec<Val>> = new
        .iter()
        .filter(|e| matches!(e.body, EventBody::Joined { .. }))
        .map(|e| vec![Val::Str(e.campaign.as_str()), Val::Str(e.body.participant().as_str())])
        .collect();
    if !joined.is_empty() {
        let waiting: Vec<(String, String, String)> = Values {
            head: "SELECT d.participant_id, d.event_id, e.body FROM tally_deferred d \
                   JOIN events e ON e.campaign_id = d.campaign_id AND e.event_id = d.event_id JOIN (",
            tail: ") AS v ON d.campaign_id = v.column1 AND d.participant_id = v.column2",
            width: 2,
        }
        .fetch(conn, &joined)
        .await
        .map_err(q)?;
        if !waiting.is_empty() {
            for (_, _, body) in &waiting {
                let e = Event::from_json(body).map_err(|err| DbError::Corrupt(format!("stored event: {err}")))?;
                let key = (e.campaign.as_str().to_owned(), e.body.participant().as_str().to_owned());
                if let Some(p) = places.get(&key) {
                    deltas.add(&e, p, false);
                }
            }
            Values { head: "DELETE FROM tally_deferred WHERE (campaign_id, participant_id) IN (", tail: ")", width: 2 }
                .execute(conn, &joined)
                .await
                .map_err(q)?;
        }
    }
    if !deferred.is_empty() {
        Values {
            head: "INSERT INTO tally_deferred (campaign_id, participant_id, event_id) ",
            tail: " ON CONFLICT (campaign_id, participant_id, event_id) DO NOTHING",
            width: 3,
        }
        .execute(conn, &deferred)
        .await
        .map_err(q)?;
    }
    deltas.write(conn).await.map_err(q)?;
    Ok(())
}

/// The tables [`Db::rebuild_tallies`] empties and fills again.
const TALLY_TABLES: [&str; 5] = ["tally_minutes", "tally_totals", "tally_questions", "tally_depths", "tally_deferred"];

/// Events counted per transaction page while rebuilding.
const REBUILD_PAGE: i64 = 2_000;

fn place_key(place: Option<&PlaceId>) -> &str {
    place.map_or(WHOLE, PlaceId::as_str)
}

fn count_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

type CountRow = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
/// A place, then its counters.
type PlaceCountRow = (String, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);
/// A minute, then its counters.
type MinuteCountRow = (i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64, i64);

fn counts_of(r: CountRow) -> Counts {
    Counts::from_values([r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10].map(count_of))
}

impl Db {
    /// The counters of a place and everything under it (`None`: the whole campaign), in all.
    pub async fn tally_totals(&self, campaign: &CampaignId, place: Option<&PlaceId>) -> Result<Counts, DbError> {
        let row: Option<CountRow> = sqlx::query_as(
            "SELECT joins, relayed, attempts, finishes, answers, correct, timed_out, answer_ms, shares, sharers, clicks \
             FROM tally_totals WHERE campaign_id = $1 AND place_id = $2",
        )
        .bind(campaign.as_str())
        .bind(place_key(place))
        .fetch_optional(&self.pool)
        .await
        .map_err(error::query(format!("reading the totals of campaign {campaign}")))?;
        Ok(row.map(counts_of).unwrap_or_default())
    }

    /// The totals of every place of a campaign that has any (the whole campaign not included).
    pub async fn tally_totals_by_place(&self, campaign: &CampaignId) -> Result<HashMap<String, Counts>, DbError> {
        let rows: Vec<PlaceCountRow> = sqlx::query_as(
            "SELECT place_id, joins, relayed, attempts, finishes, answers, correct, timed_out, answer_ms, shares, \
             sharers, clicks FROM tally_totals WHERE campaign_id = $1 AND place_id <> $2",
        )
        .bind(campaign.as_str())
        .bind(WHOLE)
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("reading the place totals of campaign {campaign}")))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.0, counts_of((r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11))))
            .collect())
    }

    /// The counters of a place (`None`: the whole campaign) per minute, for the minutes that
    /// start in `[from_ms, until_ms)` and have anything counted, in order.
    pub async fn tally_minutes(
        &self,
        campaign: &CampaignId,
        place: Option<&PlaceId>,
        from_ms: i64,
        until_ms: i64,
    ) -> Result<Vec<(i64, Counts)>, DbError> {
        let rows: Vec<MinuteCountRow> = sqlx::query_as(
            "SELECT minute_ms, joins, relayed, attempts, finishes, answers, correct, timed_out, answer_ms, shares, \
             sharers, clicks FROM tally_minutes WHERE campaign_id = $1 AND place_id = $2 \
             AND minute_ms >= $3 AND minute_ms < $4 ORDER BY minute_ms",
        )
        .bind(campaign.as_str())
        .bind(place_key(place))
        .bind(from_ms)
        .bind(until_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("reading the minutes of campaign {campaign}")))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.0, counts_of((r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11))))
            .collect())
    }

    /// One counter of a place (`None`: the whole campaign) summed per step of `step_ms` from
    /// `from_ms`, over the minutes that start in `[lower_ms, until_ms)`: `(step index, sum)`
    /// for the steps with anything counted, in order. A minute before `from_ms` counts in the
    /// first step. `counter` is one of [`Counts`]' fields by name (`joins`, `answers`, …).
    pub async fn tally_series(
        &self,
        campaign: &CampaignId,
        place: Option<&PlaceId>,
        counter: &str,
        (lower_ms, from_ms, until_ms): (i64, i64, i64),
        step_ms: i64,
    ) -> Result<Vec<(i64, u64)>, DbError> {
        let Some(column) = COUNT_COLUMNS.iter().find(|c| **c == counter) else {
            return Err(DbError::Invalid(format!("there is no counter {counter:?}")));
        };
        let sql = format!(
            "SELECT (CASE WHEN minute_ms < $3 THEN 0 ELSE (minute_ms - $3) / $5 END) AS k, CAST(SUM({column}) AS BIGINT) \
             FROM tally_minutes WHERE campaign_id = $1 AND place_id = $2 AND minute_ms >= $4 AND minute_ms < $6 \
             GROUP BY k ORDER BY k"
        );
        let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .bind(place_key(place))
            .bind(from_ms)
            .bind(lower_ms)
            .bind(step_ms)
            .bind(until_ms)
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(format!("reading the {counter} of campaign {campaign} per step")))?;
        Ok(rows.into_iter().map(|(k, n)| (k, count_of(n))).collect())
    }

    /// Per question answered at a place (`None`: the whole campaign): its counters, by id.
    pub async fn tally_questions(
        &self,
        campaign: &CampaignId,
        place: Option<&PlaceId>,
    ) -> Result<BTreeMap<String, QuestionCounts>, DbError> {
        let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT question_id, answers, correct, timed_out, answer_ms FROM tally_questions \
             WHERE campaign_id = $1 AND place_id = $2",
        )
        .bind(campaign.as_str())
        .bind(place_key(place))
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("reading the question tallies of campaign {campaign}")))?;
        Ok(rows
            .into_iter()
            .map(|(q, a, c, t, ms)| {
                let counts = QuestionCounts {
                    answers: count_of(a),
                    correct: count_of(c),
                    timed_out: count_of(t),
                    answer_ms: count_of(ms),
                };
                (q, counts)
            })
            .collect())
    }

    /// Participants at a place (`None`: the whole campaign) by share-chain depth, in order of
    /// depth (depths with nobody left out).
    pub async fn tally_depths(
        &self,
        campaign: &CampaignId,
        place: Option<&PlaceId>,
    ) -> Result<Vec<(u32, u64)>, DbError> {
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT depth, participants FROM tally_depths WHERE campaign_id = $1 AND place_id = $2 ORDER BY depth",
        )
        .bind(campaign.as_str())
        .bind(place_key(place))
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("reading the chain depths of campaign {campaign}")))?;
        Ok(rows
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(d, n)| (u32::try_from(d).unwrap_or(0), count_of(n)))
            .collect())
    }

    /// Counts a campaign's tallies again from its event log, replacing what is there; returns
    /// how many events were counted. Runs in one transaction that holds off the archiver (its
    /// batches wait, nothing is lost), reporting progress through `progress(counted)`.
    pub async fn rebuild_tallies(&self, campaign: &CampaignId, mut progress: impl FnMut(u64)) -> Result<u64, DbError> {
        let action = || format!("rebuilding the tallies of campaign {campaign}");
        let q = |e| error::query(action())(e);
        let mut tx = self.write_tx().await.map_err(q)?;
        if self.engine == Engine::Postgres {
            // The lock event batches take: no batch is counted twice or missed meanwhile.
            sqlx::query("LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await.map_err(q)?;
        }
        for table in TALLY_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE campaign_id = $1")))
                .bind(campaign.as_str())
                .execute(&mut *tx)
                .await
                .map_err(q)?;
        }
        let mut after = String::new();
        let mut counted = 0u64;
        loop {
            let page: Vec<(String, String)> = sqlx::query_as(
                "SELECT event_id, body FROM events WHERE campaign_id = $1 AND event_id > $2 ORDER BY event_id LIMIT $3",
            )
            .bind(campaign.as_str())
            .bind(after.as_str())
            .bind(REBUILD_PAGE)
            .fetch_all(&mut *tx)
            .await
            .map_err(q)?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            let events = page
                .iter()
                .map(|(_, body)| Event::from_json(body).map_err(|e| DbError::Corrupt(format!("{}: {e}", action()))))
                .collect::<Result<Vec<_>, _>>()?;
            // Joins first, so a page's own events find their places.
            let mut refs: Vec<&Event> = events.iter().collect();
            refs.sort_by_key(|e| !matches!(e.body, EventBody::Joined { .. }));
            count(&mut tx, &refs).await?;
            counted += refs.len() as u64;
            progress(counted);
        }
        tx.commit().await.map_err(q)?;
        Ok(counted)
    }
}
