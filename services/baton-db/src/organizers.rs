//! The organizer console's accounts and audit log.
//!
//! An account ([`OrganizerRow`]) is a username, an argon2 password hash (a PHC string, made and
//! checked by `baton-console`; this crate never sees a password), a role and the scope that
//! goes with it. What the roles mean is `baton-console`'s business; the table's CHECK only
//! keeps role and scope consistent (an admin has neither campaign nor region, an organizer a
//! campaign, a viewer a campaign and perhaps a region), so no write can store an account whose
//! scope its role does not allow.
//!
//! The audit log ([`AuditEntry`], [`AuditRow`]) records logins, failed ones included, and
//! account changes. It is append-only: nothing here updates or deletes an entry.

use crate::Db;
use crate::campaigns::PutOutcome;
use crate::error::{self, DbError};
use baton_core::ids::{CampaignId, PlaceId};

/// An account to create, or to give a new role, scope or password.
#[derive(Clone, PartialEq, Eq)]
pub struct NewOrganizer {
    /// Validated by the caller (`baton-console`'s `Username`).
    pub username: String,
    /// An argon2id PHC string.
    pub password_hash: String,
    /// `admin`, `organizer` or `viewer`.
    pub role: String,
    pub campaign_id: Option<CampaignId>,
    pub region_id: Option<PlaceId>,
    /// When the account was created; kept when an existing account is replaced.
    pub created_at_ms: i64,
}

/// An account as stored. `Debug` leaves the password hash out.
#[derive(Clone, PartialEq, Eq)]
pub struct OrganizerRow {
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub campaign_id: Option<CampaignId>,
    pub region_id: Option<PlaceId>,
    pub created_at_ms: i64,
    /// A disabled account cannot log in.
    pub disabled: bool,
}

impl std::fmt::Debug for NewOrganizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewOrganizer")
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .field("role", &self.role)
            .field("campaign_id", &self.campaign_id)
            .field("region_id", &self.region_id)
            .field("created_at_ms", &self.created_at_ms)
            .finish()
    }
}

impl std::fmt::Debug for OrganizerRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizerRow")
            .field("username", &self.username)
            .field("password_hash", &"[redacted]")
            .field("role", &self.role)
            .field("campaign_id", &self.campaign_id)
            .field("region_id", &self.region_id)
            .field("created_at_ms", &self.created_at_ms)
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// Something that happened in the console, to append to the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub at_ms: i64,
    /// Who acted (or tried to: a failed login's name as typed).
    pub username: String,
    /// A stable word, e.g. `login`, `login_failed`.
    pub action: String,
    /// The campaign it concerned, if any.
    pub campaign_id: Option<CampaignId>,
    /// Free text for people: why a login failed, what changed.
    pub detail: String,
}

/// An entry of the audit log as stored: the entry and its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Grows with every entry appended.
    pub id: i64,
    pub entry: AuditEntry,
}

type OrganizerSql = (String, String, String, Option<String>, Option<String>, i64, i64);
type AuditSql = (i64, i64, String, String, Option<String>, String);

impl Db {
    /// Creates an account, or replaces the password hash, role and scope of an existing one
    /// (its creation time and whether it is disabled stay). A campaign that is not stored is
    /// [`DbError::UnknownCampaign`]; a role and scope that do not go together are
    /// [`DbError::Invalid`].
    pub async fn put_organizer(&self, o: &NewOrganizer) -> Result<PutOutcome, DbError> {
        let action = || format!("storing organizer account {:?}", o.username);
        let mut tx = self.write_tx().await.map_err(error::query(action()))?;
        let existed: Option<(i64,)> = sqlx::query_as("SELECT 1 FROM organizers WHERE username = $1")
            .bind(o.username.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(error::query(action()))?;
        let done = sqlx::query(
            "INSERT INTO organizers (username, password_hash, role, campaign_id, region_id, created_at_ms, disabled) \
             VALUES ($1, $2, $3, $4, $5, $6, 0) \
             ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, role = excluded.role, \
             campaign_id = excluded.campaign_id, region_id = excluded.region_id",
        )
        .bind(o.username.as_str())
        .bind(o.password_hash.as_str())
        .bind(o.role.as_str())
        .bind(o.campaign_id.as_ref().map(CampaignId::as_str))
        .bind(o.region_id.as_ref().map(PlaceId::as_str))
        .bind(o.created_at_ms)
        .execute(&mut *tx)
        .await;
        match done {
            Ok(_) => {}
            Err(e) if error::is_foreign_key_violation(&e) => {
                let campaign = o.campaign_id.clone().expect("only a campaign id can violate a foreign key");
                return Err(DbError::UnknownCampaign(campaign));
            }
            Err(e) if e.as_database_error().is_some_and(|d| d.is_check_violation()) => {
                return Err(DbError::Invalid(format!(
                    "organizer account {:?}: role {:?} does not go with campaign {:?} and region {:?}",
                    o.username, o.role, o.campaign_id, o.region_id
                )));
            }
            Err(e) => return Err(error::query(action())(e)),
        }
        tx.commit().await.map_err(error::query(action()))?;
        Ok(if existed.is_some() { PutOutcome::Updated } else { PutOutcome::Created })
    }

    /// An account, if there is one with this username.
    pub async fn organizer(&self, username: &str) -> Result<Option<OrganizerRow>, DbError> {
        let row: Option<OrganizerSql> = sqlx::query_as(
            "SELECT username, password_hash, role, campaign_id, region_id, created_at_ms, disabled \
             FROM organizers WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await
        .map_err(error::query(format!("reading organizer account {username:?}")))?;
        row.map(parse_organizer).transpose()
    }

    /// Disables an account (it can no longer log in) or enables it again. Returns whether the
    /// account exists.
    pub async fn set_organizer_disabled(&self, username: &str, disabled: bool) -> Result<bool, DbError> {
        let r = sqlx::query("UPDATE organizers SET disabled = $1 WHERE username = $2")
            .bind(i32::from(disabled))
            .bind(username)
            .execute(&self.pool)
            .await
            .map_err(error::query(format!("disabling organizer account {username:?}")))?;
        Ok(r.rows_affected() == 1)
    }

    /// Appends an entry to the audit log; returns its id.
    pub async fn audit(&self, e: &AuditEntry) -> Result<i64, DbError> {
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO audit_log (at_ms, username, action, campaign_id, detail) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(e.at_ms)
        .bind(e.username.as_str())
        .bind(e.action.as_str())
        .bind(e.campaign_id.as_ref().map(CampaignId::as_str))
        .bind(e.detail.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(error::query(format!("writing audit entry {:?}", e.action)))?;
        Ok(id)
    }

    /// The latest `limit` entries of the audit log, newest first: of one campaign, or (`None`)
    /// of everything.
    pub async fn audit_entries(&self, campaign: Option<&CampaignId>, limit: u32) -> Result<Vec<AuditRow>, DbError> {
        let action = || "reading the audit log";
        let rows: Vec<AuditSql> = match campaign {
            Some(c) => sqlx::query_as(
                "SELECT id, at_ms, username, action, campaign_id, detail FROM audit_log \
                 WHERE campaign_id = $1 ORDER BY id DESC LIMIT $2",
            )
            .bind(c.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(action()))?,
            None => sqlx::query_as(
                "SELECT id, at_ms, username, action, campaign_id, detail FROM audit_log ORDER BY id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(error::query(action()))?,
        };
        rows.into_iter()
            .map(|(id, at_ms, username, action, campaign_id, detail)| {
                let campaign_id = campaign_id
                    .as_deref()
                    .map(CampaignId::parse)
                    .transpose()
                    .map_err(|e| DbError::Corrupt(format!("audit entry {id}: {e}")))?;
                Ok(AuditRow { id, entry: AuditEntry { at_ms, username, action, campaign_id, detail } })
            })
            .collect()
    }
}

fn parse_organizer(
    (username, password_hash, role, campaign_id, region_id, created_at_ms, disabled): OrganizerSql,
) -> Result<OrganizerRow, DbError> {
    let bad = |e: baton_core::ids::IdError| DbError::Corrupt(format!("organizer account {username:?}: {e}"));
    Ok(OrganizerRow {
        campaign_id: campaign_id.as_deref().map(CampaignId::parse).transpose().map_err(bad)?,
        region_id: region_id.as_deref().map(PlaceId::parse).transpose().map_err(bad)?,
        username,
        password_hash,
        role,
        created_at_ms,
        disabled: disabled != 0,
    })
}
