//! What the organizer console reads besides the tallies: the top relayers of a region, and the
//! live feed's samples (the latest joins and finishes). Each reads an index in order and stops
//! after a page, so neither grows with the size of the campaign.
//!
//! A region is passed as the list of its places (the region and every place under it);
//! participants are filtered by the place they joined at.

use crate::error::{self, DbError};
use crate::{Db, Engine};
use baton_core::ids::{CampaignId, PlaceId};

/// A relayer as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopRelayer {
    pub participant: String,
    pub nickname: String,
    pub region: String,
    pub unit: Option<String>,
    /// Joins through its link, and everybody below it in its chains (as rolled up so far).
    pub direct: u64,
    pub descendants: u64,
}

/// A join or finish for the live feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub at_ms: i64,
    pub participant: String,
    pub nickname: String,
    pub region: String,
    pub unit: Option<String>,
    /// Joins: whether through someone's link. Finishes: the attempt's score.
    pub relayed: bool,
    pub score: Option<u64>,
}

/// `AND <column> IN ($first, …)` for `n` places, or nothing without a region.
fn place_filter(column: &str, first: usize, places: Option<&[PlaceId]>) -> String {
    match places {
        None => String::new(),
        Some(list) => {
            let marks: Vec<String> = (0..list.len().max(1)).map(|i| format!("${}", first + i)).collect();
            format!(" AND {column} IN ({})", marks.join(", "))
        }
    }
}

/// The places to bind after the other parameters (an empty region binds one impossible id).
fn place_binds(places: Option<&[PlaceId]>) -> Vec<&str> {
    match places {
        None => vec![],
        Some([]) => vec![""],
        Some(list) => list.iter().map(PlaceId::as_str).collect(),
    }
}

/// A sample as read: at, participant, nickname, region, unit, relayed (0/1), score.
type SampleRow = (i64, String, String, String, Option<String>, i64, Option<i64>);

fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Db {
    /// The `limit` participants of a region (`None`: anywhere) with the most direct joiners
    /// (then descendants, then id bytewise), as rolled up by [`Db::roll_up_relays`]. A region
    /// reads the head of each of its places' rankings (index `relay_counts_by_region_rank`)
    /// and merges them, so a small region costs no more than a large one.
    pub async fn top_relayers_within(
        &self,
        campaign: &CampaignId,
        places: Option<&[PlaceId]>,
        limit: u32,
    ) -> Result<Vec<TopRelayer>, DbError> {
        let collate = if self.engine == Engine::Postgres { " COLLATE \"C\"" } else { "" };
        let select = "SELECT c.participant_id, p.nickname, p.region_id, p.unit_id, c.direct, c.descendants \
                      FROM relay_counts c JOIN participants p ON p.campaign_id = c.campaign_id AND p.id = c.participant_id";
        let order = format!("ORDER BY c.direct DESC, c.descendants DESC, c.participant_id{collate} LIMIT $2");
        let sql = match places {
            None => format!("{select} WHERE c.campaign_id = $1 AND c.direct > 0 {order}"),
            Some(list) => (0..list.len().max(1))
                .map(|i| {
                    format!(
                        "SELECT * FROM ({select} WHERE c.campaign_id = $1 AND c.region_id = ${} AND c.direct > 0 {order}) AS r{i}",
                        i + 3
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL "),
        };
        let mut q = sqlx::query_as::<_, (String, String, String, Option<String>, i64, i64)>(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .bind(i64::from(limit));
        for p in place_binds(places) {
            q = q.bind(p);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(format!("ranking the relayers of campaign {campaign}")))?;
        let mut top: Vec<TopRelayer> = rows
            .into_iter()
            .map(|(participant, nickname, region, unit, direct, descendants)| TopRelayer {
                participant,
                nickname,
                region,
                unit,
                direct: unsigned(direct),
                descendants: unsigned(descendants),
            })
            .collect();
        top.sort_by(|a, b| {
            b.direct.cmp(&a.direct).then(b.descendants.cmp(&a.descendants)).then(a.participant.cmp(&b.participant))
        });
        top.truncate(limit as usize);
        Ok(top)
    }

    /// The latest `limit` joins of a region (`None`: anywhere) with `after_ms < joined ≤
    /// until_ms`, oldest first.
    pub async fn recent_joins(
        &self,
        campaign: &CampaignId,
        places: Option<&[PlaceId]>,
        after_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<Sample>, DbError> {
        let sql = format!(
            "SELECT joined_at_ms, id, nickname, region_id, unit_id, \
             CASE WHEN inviter_id IS NULL THEN 0 ELSE 1 END, CAST(NULL AS BIGINT) FROM participants \
             WHERE campaign_id = $1 AND joined_at_ms > $2 AND joined_at_ms <= $3{} \
             ORDER BY joined_at_ms DESC, id DESC LIMIT $4",
            place_filter("region_id", 5, places),
        );
        self.samples(sql, "joins", campaign, places, (after_ms, until_ms), limit).await
    }

    /// The latest `limit` finished attempts of a region (`None`: anywhere) with `after_ms <
    /// finished ≤ until_ms`, oldest first, with their participants.
    pub async fn recent_finishes(
        &self,
        campaign: &CampaignId,
        places: Option<&[PlaceId]>,
        after_ms: i64,
        until_ms: i64,
        limit: u32,
    ) -> Result<Vec<Sample>, DbError> {
        let sql = format!(
            "SELECT a.finished_at_ms, a.participant_id, p.nickname, p.region_id, p.unit_id, 0, a.score \
             FROM attempts a JOIN participants p ON p.campaign_id = a.campaign_id AND p.id = a.participant_id \
             WHERE a.campaign_id = $1 AND a.finished_at_ms IS NOT NULL AND a.finished_at_ms > $2 \
             AND a.finished_at_ms <= $3{} ORDER BY a.finished_at_ms DESC, a.participant_id DESC LIMIT $4",
            place_filter("p.region_id", 5, places),
        );
        self.samples(sql, "finishes", campaign, places, (after_ms, until_ms), limit).await
    }

    /// Runs a samples query: `$1` campaign, `$2`/`$3` the window, `$4` the limit, then the
    /// places; rows `(at, participant, nickname, region, unit, relayed 0/1, score)`, newest
    /// first. Returns them oldest first.
    async fn samples(
        &self,
        sql: String,
        what: &str,
        campaign: &CampaignId,
        places: Option<&[PlaceId]>,
        (after_ms, until_ms): (i64, i64),
        limit: u32,
    ) -> Result<Vec<Sample>, DbError> {
        let mut q = sqlx::query_as::<_, SampleRow>(sqlx::AssertSqlSafe(sql))
            .bind(campaign.as_str())
            .bind(after_ms)
            .bind(until_ms)
            .bind(i64::from(limit));
        for p in place_binds(places) {
            q = q.bind(p);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(format!("reading the latest {what} of campaign {campaign}")))?;
        Ok(rows
            .into_iter()
            .rev()
            .map(|(at_ms, participant, nickname, region, unit, relayed, score)| Sample {
                at_ms,
                participant,
                nickname,
                region,
                unit,
                relayed: relayed != 0,
                score: score.map(unsigned),
            })
            .collect())
    }
}
