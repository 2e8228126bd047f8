//! Relays: the share chains. Every participant who joined through someone's link has an inviter
//! (fixed at join, so the share graph is a forest), and everybody's totals are kept in
//! `relay_counts`: `direct` (joins it passed the baton to) and `descendants` (everybody below it
//! in its chains, direct joiners included).
//!
//! # The roll-up
//! The join projections ([`crate::events`]) only store who invited whom; the totals are added by
//! [`Db::roll_up_relays`], a batch job that takes relayed joins not counted yet
//! (`relay_rolled = 0`) and adds each to its inviter's `direct` and to the `descendants` of
//! every ancestor, in the same transaction that marks it counted: each join is counted exactly
//! once, whichever process runs the job, as often as it likes. A batch reads the ancestors of
//! all its joins with one recursive query and aggregates the deltas per ancestor in memory, so
//! it writes one row per distinct ancestor, not one per join and level.
//!
//! A join is counted only when its whole chain up to an origin is stored: join events arrive
//! in any order (another shard's archiver may be behind), and a join counted while an ancestor
//! is missing would never reach that ancestor's totals. Such a join waits, uncounted, and is
//! counted by a later batch once the missing joins arrived.
//!
//! Totals therefore lag the joins by as long as the job's period; [`Db::relay_stats`] reads
//! the latest direct joiners from the joins themselves, so they show before the totals count
//! them.

use crate::error::{self, DbError};
use crate::sql::{Val, Values};
use crate::{Db, Engine};
use baton_core::events::ShareChannel;
use baton_core::ids::{CampaignId, ParticipantId};
use std::collections::HashMap;

/// What one [`Db::roll_up_relays`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RolledUp {
    /// Joins counted (and marked counted).
    pub joins: usize,
    /// `relay_counts` rows written: the distinct participants whose totals changed.
    pub touched: usize,
    /// Joins of the batch left uncounted because an ancestor's join is not stored yet.
    pub waiting: usize,
}

/// A participant's place in the share chains, for `GET /api/v1/me/relay`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayStats {
    /// Joins this participant passed the baton to (counted so far).
    pub direct: u64,
    /// Everybody below it in its chains, direct joiners included (counted so far).
    pub descendants: u64,
    /// Its depth in its chain (0 for an origin).
    pub depth: u32,
    /// The nicknames of its ancestors, nearest first: its inviter, the inviter's inviter, …; at
    /// most [`CHAIN_MAX`]. Shorter than `depth` for a deep participant, or while an ancestor's
    /// join is not stored yet.
    pub chain: Vec<String>,
    /// The nicknames of its latest direct joiners, newest first; at most [`RECENT_MAX`]. Read
    /// from the joins, so a joiner may show here before `direct` counts it.
    pub recent: Vec<String>,
}

/// A campaign's relay totals, for the organizer console.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayTotals {
    /// Participants who joined through someone's link (counted by the roll-up or not).
    pub relayed_joins: u64,
    /// Of those, the joins the roll-up has not counted yet: how far the totals lag.
    pub uncounted_joins: u64,
    /// Shares by channel: every [`ShareChannel`] in its order (zero if none), then any other
    /// channel stored, by name.
    pub shares_by_channel: Vec<(String, u64)>,
    /// Opened relay links.
    pub clicks: u64,
}

/// SQLite's planner prefers `participants_by_inviter` for the uncounted joins (the partial
/// index it ignores holds only those); PostgreSQL picks `participants_unrolled` by itself.
const UNCOUNTED_SQLITE: &str = " INDEXED BY participants_unrolled";

/// Most ancestors [`RelayStats::chain`] lists.
pub const CHAIN_MAX: u32 = 20;
/// Most joiners [`RelayStats::recent`] lists.
pub const RECENT_MAX: u32 = 10;

impl Db {
    /// Counts up to `limit` relayed joins of `campaign` not counted yet (oldest joins first) in
    /// `relay_counts`, in one transaction that also marks them counted. On PostgreSQL the
    /// batch's rows are locked and rows locked by another running roll-up are skipped, so
    /// workers may run it at once and never take the same joins; on SQLite the write lock
    /// serializes them. Joins whose chain is not stored up to its origin yet are left for a
    /// later call ([`RolledUp::waiting`]). Run it until it counts nothing.
    pub async fn roll_up_relays(&self, campaign: &CampaignId, limit: u32) -> Result<RolledUp, DbError> {
        if limit == 0 {
            return Ok(RolledUp::default());
        }
        let action = || format!("rolling up the relays of campaign {campaign}");
        let q = |e| error::query(action())(e);
        let mut tx = self.write_tx().await.map_err(q)?;

        // The batch: uncounted relayed joins whose inviter is stored (the partial index holds
        // exactly the uncounted ones; a join whose inviter is missing would only wait).
        let (indexed, lock) = match self.engine {
            Engine::Postgres => ("", " FOR UPDATE OF p SKIP LOCKED"),
            Engine::Sqlite => (UNCOUNTED_SQLITE, ""),
        };
        let sql = format!(
            "SELECT p.id, p.inviter_id FROM participants p{indexed} WHERE p.campaign_id = $1 \
             AND p.inviter_id IS NOT NULL AND p.relay_rolled = 0 AND EXISTS (SELECT 1 FROM participants i \
             WHERE i.campaign_id = p.campaign_id AND i.id = p.inviter_id) ORDER BY p.joined_at_ms, p.id LIMIT $2{lock}"
        );
        let batch: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await
            .map_err(q)?;
        if batch.is_empty() {
            tx.commit().await.map_err(q)?;
            return Ok(RolledUp::default());
        }

        // Every ancestor of the batch, once (UNION drops rows already found, so shared
        // ancestors are walked once and a corrupt cycle ends), from the inviters up.
        let mut inviters: Vec<&str> = batch.iter().map(|(_, i)| i.as_str()).collect();
        inviters.sort_unstable();
        inviters.dedup();
        let seeds = serde_json::to_string(&inviters).map_err(|e| DbError::Invalid(e.to_string()))?;
        let sql = format!(
            "WITH RECURSIVE up(id, inviter_id, region_id) AS (\
             SELECT p.id, p.inviter_id, p.region_id FROM participants p WHERE p.campaign_id = $1 AND p.id IN ({}) \
             UNION SELECT p.id, p.inviter_id, p.region_id FROM up JOIN participants p \
             ON p.campaign_id = $1 AND p.id = up.inviter_id\
             ) SELECT id, inviter_id, region_id FROM up",
            match self.engine {
                Engine::Postgres => "SELECT value FROM json_array_elements_text($2::json)",
                Engine::Sqlite => "SELECT value FROM json_each($2)",
            }
        );
        let ancestors: Vec<(String, Option<String>, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .bind(seeds)
            .fetch_all(&mut *tx)
            .await
            .map_err(q)?;

        let mut tree = Tree::default();
        for (id, inviter, _) in &ancestors {
            tree.add(id, inviter.as_deref());
        }
        // Every participant whose totals change is an ancestor of the batch.
        let regions: HashMap<&str, &str> = ancestors.iter().map(|(id, _, r)| (id.as_str(), r.as_str())).collect();
        for (id, inviter) in &batch {
            tree.add(id, Some(inviter));
        }
        let mut counted = Vec::with_capacity(batch.len());
        for (id, _) in &batch {
            let n = tree.index[id.as_str()];
            if tree.rooted(n) {
                counted.push(n);
            } else {
                tracing::debug!(campaign = %campaign, participant = id.as_str(), "relayed join waits for an ancestor's join");
            }
        }
        let deltas = tree.deltas(&counted);

        let rows: Vec<Vec<Val>> = deltas
            .iter()
            .map(|&(n, direct, descendants)| {
                vec![
                    Val::Str(campaign.as_str()),
                    Val::Str(tree.ids[n]),
                    Val::OptStr(regions.get(tree.ids[n]).copied()),
                    Val::Int(direct),
                    Val::Int(descendants),
                ]
            })
            .collect();
        // In id order, so concurrent roll-ups lock shared rows in one order (no deadlock).
        Values {
            head: "INSERT INTO relay_counts (campaign_id, participant_id, region_id, direct, descendants) ",
            tail: " ON CONFLICT (campaign_id, participant_id) DO UPDATE SET \
                   direct = relay_counts.direct + excluded.direct, \
                   descendants = relay_counts.descendants + excluded.descendants",
            width: 5,
        }
        .execute(&mut tx, &rows)
        .await
        .map_err(q)?;

        let rows: Vec<Vec<Val>> =
            counted.iter().map(|&n| vec![Val::Str(campaign.as_str()), Val::Str(tree.ids[n])]).collect();
        let marked = Values {
            head: "UPDATE participants SET relay_rolled = 1 FROM (",
            tail: ") AS v WHERE participants.campaign_id = v.column1 AND participants.id = v.column2 \
                   AND participants.relay_rolled = 0",
            width: 2,
        }
        .execute(&mut tx, &rows)
        .await
        .map_err(q)?;
        if marked != counted.len() as u64 {
            // Cannot happen (the batch is locked or the database is): counting twice is worse
            // than not counting, so nothing is written.
            return Err(DbError::Corrupt(format!(
                "rolling up the relays of campaign {campaign}: {} joins counted, but {marked} were still uncounted",
                counted.len()
            )));
        }
        tx.commit().await.map_err(q)?;
        let done = RolledUp { joins: counted.len(), touched: deltas.len(), waiting: batch.len() - counted.len() };
        tracing::debug!(
            campaign = %campaign,
            relay.joins = done.joins,
            relay.touched = done.touched,
            relay.waiting = done.waiting,
            "rolled up relays"
        );
        Ok(done)
    }

    /// A participant's relay totals, depth, chain of ancestors and latest direct joiners, read
    /// on one snapshot; `None` if the participant is not stored.
    pub async fn relay_stats(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
    ) -> Result<Option<RelayStats>, DbError> {
        let action = || format!("reading the relay of participant {participant} in campaign {campaign}");
        let q = |e| error::query(action())(e);
        let mut tx = self.read_tx().await.map_err(q)?;
        let row: Option<(i32, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT p.depth, c.direct, c.descendants FROM participants p LEFT JOIN relay_counts c \
             ON c.campaign_id = p.campaign_id AND c.participant_id = p.id WHERE p.campaign_id = $1 AND p.id = $2",
        )
        .bind(campaign.as_str())
        .bind(participant.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(q)?;
        let Some((depth, direct, descendants)) = row else {
            tx.commit().await.map_err(q)?;
            return Ok(None);
        };
        let what = |field: &str| DbError::Corrupt(format!("participant {participant} of campaign {campaign}: {field}"));
        let chain: Vec<(String,)> = sqlx::query_as(
            "WITH RECURSIVE up(id, inviter_id, nickname, n) AS (\
             SELECT i.id, i.inviter_id, i.nickname, 1 FROM participants p JOIN participants i \
             ON i.campaign_id = p.campaign_id AND i.id = p.inviter_id WHERE p.campaign_id = $1 AND p.id = $2 \
             UNION ALL SELECT i.id, i.inviter_id, i.nickname, up.n + 1 FROM up JOIN participants i \
             ON i.campaign_id = $1 AND i.id = up.inviter_id WHERE up.n < $3\
             ) SELECT nickname FROM up ORDER BY n",
        )
        .bind(campaign.as_str())
        .bind(participant.as_str())
        .bind(i64::from(CHAIN_MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(q)?;
        let recent: Vec<(String,)> = sqlx::query_as(
            "SELECT nickname FROM participants WHERE campaign_id = $1 AND inviter_id = $2 \
             ORDER BY joined_at_ms DESC, id DESC LIMIT $3",
        )
        .bind(campaign.as_str())
        .bind(participant.as_str())
        .bind(i64::from(RECENT_MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(q)?;
        tx.commit().await.map_err(q)?;
        Ok(Some(RelayStats {
            direct: u64::try_from(direct.unwrap_or(0)).map_err(|_| what("direct"))?,
            descendants: u64::try_from(descendants.unwrap_or(0)).map_err(|_| what("descendants"))?,
            depth: u32::try_from(depth).map_err(|_| what("depth"))?,
            chain: chain.into_iter().map(|(n,)| n).collect(),
            recent: recent.into_iter().map(|(n,)| n).collect(),
        }))
    }

    /// How many participants have relay totals (someone joined through them).
    pub async fn relayer_count(&self, campaign: &CampaignId) -> Result<u64, DbError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM relay_counts WHERE campaign_id = $1 AND direct > 0")
            .bind(campaign.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(error::query(format!("counting the relayers of campaign {campaign}")))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Up to `limit` participants with relay totals, from the `offset`th, ranked by direct
    /// joiners (most first), then descendants (most first), then id (bytewise): participant,
    /// nickname, direct, descendants. Totals are those counted by [`Db::roll_up_relays`].
    pub async fn top_relayers(
        &self,
        campaign: &CampaignId,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<(ParticipantId, String, u64, u64)>, DbError> {
        let action = || format!("ranking the relayers of campaign {campaign}");
        let offset = i64::try_from(offset).map_err(|_| DbError::Invalid(format!("offset {offset}")))?;
        // Ids compare bytewise on both engines (the index `relay_counts_by_rank` has this order).
        let sql = format!(
            "SELECT c.participant_id, p.nickname, c.direct, c.descendants FROM relay_counts c JOIN participants p \
             ON p.campaign_id = c.campaign_id AND p.id = c.participant_id WHERE c.campaign_id = $1 \
             ORDER BY c.direct DESC, c.descendants DESC, c.participant_id{} LIMIT $2 OFFSET $3",
            if self.engine == Engine::Postgres { " COLLATE \"C\"" } else { "" }
        );
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .bind(i64::from(limit))
            .bind(offset)
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(action()))?;
        rows.into_iter()
            .map(|(id, nickname, direct, descendants)| {
                let bad =
                    |field: &str| DbError::Corrupt(format!("relay counts of {id} in campaign {campaign}: {field}"));
                Ok((
                    ParticipantId::parse(&id).map_err(|e| bad(&e.0))?,
                    nickname,
                    u64::try_from(direct).map_err(|_| bad("direct"))?,
                    u64::try_from(descendants).map_err(|_| bad("descendants"))?,
                ))
            })
            .collect()
    }

    /// A campaign's relay totals, read on one snapshot.
    pub async fn relay_totals(&self, campaign: &CampaignId) -> Result<RelayTotals, DbError> {
        let action = || format!("reading the relay totals of campaign {campaign}");
        let q = |e| error::query(action())(e);
        let count = |n: i64| u64::try_from(n).map_err(|_| DbError::Corrupt(format!("{}: count {n}", action())));
        let mut tx = self.read_tx().await.map_err(q)?;
        // Both counts read partial indexes.
        let (relayed,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM participants WHERE campaign_id = $1 AND inviter_id IS NOT NULL")
                .bind(campaign.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(q)?;
        let sql = format!(
            "SELECT COUNT(*) FROM participants p{} WHERE p.campaign_id = $1 AND p.inviter_id IS NOT NULL \
             AND p.relay_rolled = 0",
            if self.engine == Engine::Sqlite { UNCOUNTED_SQLITE } else { "" }
        );
        let (uncounted,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(campaign.as_str()).fetch_one(&mut *tx).await.map_err(q)?;
        let by_channel: Vec<(String, i64)> =
            sqlx::query_as("SELECT channel, COUNT(*) FROM shares WHERE campaign_id = $1 GROUP BY channel")
                .bind(campaign.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(q)?;
        let (clicks,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM clicks WHERE campaign_id = $1")
            .bind(campaign.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(q)?;
        tx.commit().await.map_err(q)?;

        let mut stored: HashMap<String, u64> = HashMap::new();
        for (channel, n) in by_channel {
            stored.insert(channel, count(n)?);
        }
        let mut shares_by_channel: Vec<(String, u64)> =
            ShareChannel::ALL.iter().map(|c| (c.as_str().to_owned(), stored.remove(c.as_str()).unwrap_or(0))).collect();
        let mut others: Vec<(String, u64)> = stored.into_iter().collect();
        others.sort();
        shares_by_channel.extend(others);
        Ok(RelayTotals {
            relayed_joins: count(relayed)?,
            uncounted_joins: count(uncounted)?,
            shares_by_channel,
            clicks: count(clicks)?,
        })
    }
}

/// The part of the share forest a roll-up batch reads: its joins and their ancestors, as
/// indexes into `ids`.
#[derive(Default)]
struct Tree<'a> {
    ids: Vec<&'a str>,
    index: HashMap<&'a str, usize>,
    /// Each node's inviter: `Some(Some(n))` stored, `Some(None)` an origin, `None` an inviter
    /// that is not stored (yet).
    /// For a node known rooted ([`Tree::rooted`]): its inviter (`None` for an origin).
    up: Vec<Option<Option<usize>>>,
    /// Nodes known not rooted.
    dead: Vec<bool>,
    /// Each node's inviter as stored.
    inviter: Vec<Option<&'a str>>,
}

impl<'a> Tree<'a> {
    fn add(&mut self, id: &'a str, inviter: Option<&'a str>) {
        if !self.index.contains_key(id) {
            self.index.insert(id, self.ids.len());
            self.ids.push(id);
            self.inviter.push(inviter);
            self.up.push(None);
            self.dead.push(false);
        }
    }

    /// The node's stored inviter: `Ok(None)` for an origin, `Err(())` if not stored.
    fn parent(&self, n: usize) -> Result<Option<usize>, ()> {
        match self.inviter[n] {
            None => Ok(None),
            Some(id) => self.index.get(id).copied().map(Some).ok_or(()),
        }
    }

    /// Whether the node's chain is stored all the way up to an origin. Memoized: `up` is set
    /// for rooted nodes, `dead` for the others (an ancestor missing, or a cycle, which only
    /// corrupt data could make), so a batch walks each node once.
    fn rooted(&mut self, start: usize) -> bool {
        let mut path = Vec::new();
        let mut n = start;
        let rooted = loop {
            if self.up[n].is_some() {
                break true;
            }
            if self.dead[n] || path.len() > self.ids.len() {
                break false;
            }
            path.push(n);
            match self.parent(n) {
                Err(()) => break false,
                Ok(None) => break true,
                Ok(Some(p)) => n = p,
            }
        };
        for n in path {
            if rooted {
                self.up[n] = Some(self.parent(n).ok().flatten());
            } else {
                self.dead[n] = true;
            }
        }
        rooted
    }

    /// Per node, what counting the joins `counted` (rooted nodes) adds: (node, direct,
    /// descendants), only nodes with something to add, in id order. Children are summed
    /// before their parent (Kahn's order over the rooted nodes): one pass over the nodes.
    fn deltas(&self, counted: &[usize]) -> Vec<(usize, i64, i64)> {
        let len = self.ids.len();
        let mut direct = vec![0i64; len];
        let mut below = vec![0i64; len];
        let mut children = vec![0usize; len];
        for (n, up) in self.up.iter().enumerate() {
            if let Some(Some(p)) = up {
                debug_assert!(self.up[*p].is_some(), "the parent of a rooted node {n} is rooted");
                children[*p] += 1;
            }
        }
        for &n in counted {
            if let Some(Some(p)) = self.up[n] {
                direct[p] += 1;
                below[p] += 1;
            }
        }
        let mut ready: Vec<usize> = (0..len).filter(|&n| self.up[n].is_some() && children[n] == 0).collect();
        while let Some(n) = ready.pop() {
            if let Some(Some(p)) = self.up[n] {
                below[p] += below[n];
                children[p] -= 1;
                if children[p] == 0 {
                    ready.push(p);
                }
            }
        }
        let mut out: Vec<(usize, i64, i64)> =
            (0..len).filter(|&n| direct[n] != 0 || below[n] != 0).map(|n| (n, direct[n], below[n])).collect();
        out.sort_unstable_by_key(|&(n, _, _)| self.ids[n]);
        out
    }
}
