//! Participants: who joined a campaign, where, and through whom. Rows are written once (from the
//! join event, possibly replayed) and never change: a replay must not move a participant to
//! another region or give it another inviter.

use crate::Db;
use crate::error::{self, DbError};
use baton_core::ids::{CampaignId, ParticipantId, PlaceId, UnitId};

/// One participant as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantRow {
    pub campaign_id: CampaignId,
    pub id: ParticipantId,
    pub region_id: PlaceId,
    pub unit_id: Option<UnitId>,
    pub nickname: String,
    /// Who passed the baton to this participant; set once, at join.
    pub inviter_id: Option<ParticipantId>,
    pub joined_at_ms: i64,
}

type Row = (String, String, String, Option<String>, String, Option<String>, i64);

impl Db {
    /// Stores a participant unless it is already stored (then nothing changes, whatever `row`
    /// says). Returns whether it was new. The campaign must be stored.
    pub async fn put_participant(&self, row: &ParticipantRow) -> Result<bool, DbError> {
        let done = sqlx::query(
            "INSERT INTO participants (campaign_id, id, region_id, unit_id, nickname, inviter_id, joined_at_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (campaign_id, id) DO NOTHING",
        )
        .bind(row.campaign_id.as_str())
        .bind(row.id.as_str())
        .bind(row.region_id.as_str())
        .bind(row.unit_id.as_ref().map(UnitId::as_str))
        .bind(row.nickname.as_str())
        .bind(row.inviter_id.as_ref().map(ParticipantId::as_str))
        .bind(row.joined_at_ms)
        .execute(&self.pool)
        .await;
        match done {
            Ok(r) => Ok(r.rows_affected() == 1),
            Err(e) if error::is_foreign_key_violation(&e) => Err(DbError::UnknownCampaign(row.campaign_id.clone())),
            Err(e) => Err(error::query(format!("storing participant {} of campaign {}", row.id, row.campaign_id))(e)),
        }
    }

    /// One participant, if stored.
    pub async fn participant(
        &self,
        campaign: &CampaignId,
        id: &ParticipantId,
    ) -> Result<Option<ParticipantRow>, DbError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT campaign_id, id, region_id, unit_id, nickname, inviter_id, joined_at_ms \
             FROM participants WHERE campaign_id = $1 AND id = $2",
        )
        .bind(campaign.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(error::query(format!("reading participant {id} of campaign {campaign}")))?;
        row.map(parse).transpose()
    }

    /// Every participant of a campaign, in join order (ties by id). For big campaigns prefer
    /// [`Db::participants_page`], which does not hold them all in memory.
    pub async fn participants(&self, campaign: &CampaignId) -> Result<Vec<ParticipantRow>, DbError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT campaign_id, id, region_id, unit_id, nickname, inviter_id, joined_at_ms \
             FROM participants WHERE campaign_id = $1 ORDER BY joined_at_ms, id",
        )
        .bind(campaign.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("listing participants of campaign {campaign}")))?;
        rows.into_iter().map(parse).collect()
    }

    /// Up to `limit` participants in join order (ties by id), starting after `after` (the last
    /// row of the previous page) or at the beginning. An empty page means the end.
    pub async fn participants_page(
        &self,
        campaign: &CampaignId,
        after: Option<&ParticipantRow>,
        limit: u32,
    ) -> Result<Vec<ParticipantRow>, DbError> {
        let action = || format!("listing participants of campaign {campaign}");
        let rows: Vec<Row> = match after {
            None => sqlx::query_as(
                "SELECT campaign_id, id, region_id, unit_id, nickname, inviter_id, joined_at_ms \
                 FROM participants WHERE campaign_id = $1 ORDER BY joined_at_ms, id LIMIT $2",
            )
            .bind(campaign.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(action()))?,
            // Written out rather than as a row comparison, which older SQLite lacks.
            Some(last) => sqlx::query_as(
                "SELECT campaign_id, id, region_id, unit_id, nickname, inviter_id, joined_at_ms \
                 FROM participants WHERE campaign_id = $1 \
                 AND (joined_at_ms > $2 OR (joined_at_ms = $2 AND id > $3)) \
                 ORDER BY joined_at_ms, id LIMIT $4",
            )
            .bind(campaign.as_str())
            .bind(last.joined_at_ms)
            .bind(last.id.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(action()))?,
        };
        rows.into_iter().map(parse).collect()
    }
}

fn parse(
    (campaign_id, id, region_id, unit_id, nickname, inviter_id, joined_at_ms): Row,
) -> Result<ParticipantRow, DbError> {
    let bad =
        |e: baton_core::ids::IdError| DbError::Corrupt(format!("participant {id} of campaign {campaign_id}: {e}"));
    Ok(ParticipantRow {
        campaign_id: CampaignId::parse(&campaign_id).map_err(bad)?,
        id: ParticipantId::parse(&id).map_err(bad)?,
        region_id: PlaceId::parse(&region_id).map_err(bad)?,
        unit_id: unit_id.as_deref().map(UnitId::parse).transpose().map_err(bad)?,
        nickname,
        inviter_id: inviter_id.as_deref().map(ParticipantId::parse).transpose().map_err(bad)?,
        joined_at_ms,
    })
}
