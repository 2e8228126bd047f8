//! Campaign documents, stored piece by piece and rebuilt exactly.
//!
//! A [`CampaignDoc`] becomes one `campaigns` row (rules and categories as JSON text) plus rows in
//! `places` (the tree flattened in pre-order, each with its parent), `units` and `questions`,
//! each with its `position` in the document. [`Db::campaign`] reads them back on one snapshot
//! and rebuilds an equal document. Times are kept to the millisecond.
//!
//! Every write is also a new version of the campaign ([`VersionInfo`]): the whole document as
//! JSON in `campaign_versions`, never changed afterwards, with the time from which attempts
//! draw from it. Writes go through [`Db::edit_campaign`], which reads, edits and stores in one
//! transaction.

use crate::error::{self, DbError};
use crate::organizers::AuditEntry;
use crate::sql::{Val, Values};
use crate::{Db, Engine, now_ms};
use baton_core::campaign::{CampaignDoc, Category, Level, PlaceDoc, Question, QuestionKind, Rules, Unit, UnitKind};
use baton_core::ids::{CampaignId, PlaceId, QuestionId, UnitId};
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use std::collections::HashMap;

/// What [`Db::put_campaign`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Updated,
}

/// How long after it is written a new version of an existing campaign takes effect: attempts
/// started from then on draw from it. Every process must reload campaigns more often than this
/// (see `baton serve --campaign-refresh-secs`), so that each one knows a version before any
/// attempt draws from it.
pub const SWITCH_DELAY_MS: i64 = 60_000;

/// One stored version of a campaign document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionInfo {
    /// 1, 2, … per campaign, in the order they were written.
    pub version: i64,
    /// When attempts start drawing from it: 0 (always) for a campaign's first version, otherwise
    /// [`SWITCH_DELAY_MS`] after it was written (and never before the version it follows).
    pub valid_from_ms: i64,
    pub created_at_ms: i64,
}

/// What an edit of a campaign writes ([`Db::edit_campaign`]): the new document, an entry for the
/// audit log written in the same transaction, and whatever the caller wants back.
#[derive(Debug, Clone)]
pub struct Edit<T> {
    pub doc: CampaignDoc,
    pub audit: Option<AuditEntry>,
    pub output: T,
}

/// What a write of a campaign did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored<T> {
    pub outcome: PutOutcome,
    /// The version written.
    pub version: VersionInfo,
    pub output: T,
}

impl Db {
    /// Creates or replaces a whole campaign in one transaction (see [`Db::store_campaign`]), as
    /// of the machine's clock.
    pub async fn put_campaign(&self, doc: &CampaignDoc) -> Result<PutOutcome, DbError> {
        Ok(self.store_campaign(doc, now_ms()).await?.outcome)
    }

    /// Creates or replaces a whole campaign in one transaction, as a new version written at
    /// `now_ms` (see [`Db::edit_campaign`]).
    pub async fn store_campaign(&self, doc: &CampaignDoc, now_ms: i64) -> Result<Stored<()>, DbError> {
        let stored = self
            .edit_campaign(&doc.id, now_ms, |_, _| {
                Ok::<_, std::convert::Infallible>(Edit { doc: doc.clone(), audit: None, output: () })
            })
            .await?;
        Ok(stored.unwrap_or_else(|never| match never {}))
    }

    /// Reads a campaign, lets `edit` make its next version from it, and stores that version, all
    /// in one transaction: concurrent edits of campaigns are serialized (a table lock on
    /// PostgreSQL, the write lock on SQLite), so none is lost. `edit` gets the newest document
    /// (`None` if the campaign does not exist) and the version it is about to write; an `Err`
    /// from it writes nothing and is returned as is.
    ///
    /// The document becomes the campaign's rows (`campaigns`, and exactly its places, units and
    /// questions: rows no longer in it are removed; participants are untouched, they reference
    /// no place, unit or question by foreign key) and a new row of `campaign_versions`. A new
    /// campaign's first version is in effect from the start; a later one from
    /// [`SWITCH_DELAY_MS`] after `now_ms`. A campaign stored before versions were kept first gets
    /// its stored document as version 1, in effect from the start. The audit entry, if any, is
    /// appended in the same transaction. Times are stored to the millisecond.
    pub async fn edit_campaign<T, E>(
        &self,
        id: &CampaignId,
        now_ms: i64,
        edit: impl FnOnce(Option<CampaignDoc>, &VersionInfo) -> Result<Edit<T>, E>,
    ) -> Result<Result<Stored<T>, E>, DbError> {
        let cid = id.as_str();
        let action = || format!("storing campaign {cid}");
        let mut tx = self.write_tx().await.map_err(error::query(action()))?;
        if self.engine == Engine::Postgres {
            // Conflicts with itself: one campaign writer at a time, creations included.
            sqlx::query("LOCK TABLE campaign_versions IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await
                .map_err(error::query(action()))?;
        }
        let current = read_doc(&mut tx, id).await?;
        let last: Option<(i64, i64)> = sqlx::query_as(
            "SELECT version, valid_from_ms FROM campaign_versions WHERE campaign_id = $1 \
             ORDER BY version DESC LIMIT 1",
        )
        .bind(cid)
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::query(action()))?;
        let last = match (&current, last) {
            (_, Some(last)) => Some(last),
            (Some(legacy), None) => {
                // Stored before versions were kept: that document becomes version 1, so attempts
                // drawn from it keep it.
                insert_version(&mut tx, legacy, &VersionInfo { version: 1, valid_from_ms: 0, created_at_ms: now_ms })
                    .await?;
                Some((1, 0))
            }
            (None, None) => None,
        };
        let next = match last {
            None => VersionInfo { version: 1, valid_from_ms: 0, created_at_ms: now_ms },
            Some((version, valid_from_ms)) => VersionInfo {
                version: version + 1,
                valid_from_ms: now_ms.saturating_add(SWITCH_DELAY_MS).max(valid_from_ms),
                created_at_ms: now_ms,
            },
        };
        let Edit { doc, audit, output } = match edit(current, &next) {
            Ok(e) => e,
            Err(e) => return Ok(Err(e)),
        };
        if doc.id != *id {
            return Err(DbError::Invalid(format!("campaign {cid}: the document's id is {}", doc.id)));
        }
        let outcome = write_rows(&mut tx, &doc).await?;
        insert_version(&mut tx, &doc, &next).await?;
        if let Some(a) = &audit {
            // The statement of `Db::audit`, here inside the write's transaction.
            sqlx::query(
                "INSERT INTO audit_log (at_ms, username, action, campaign_id, detail) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(a.at_ms)
            .bind(a.username.as_str())
            .bind(a.action.as_str())
            .bind(a.campaign_id.as_ref().map(CampaignId::as_str))
            .bind(a.detail.as_str())
            .execute(&mut *tx)
            .await
            .map_err(error::query(format!("writing audit entry {:?}", a.action)))?;
        }
        tx.commit().await.map_err(error::query(action()))?;
        tracing::info!(
            campaign.id = cid,
            outcome = ?outcome,
            version = next.version,
            valid_from_ms = next.valid_from_ms,
            units = doc.units.len(),
            questions = doc.questions.len(),
            "stored campaign"
        );
        Ok(Ok(Stored { outcome, version: next, output }))
    }

    /// The stored campaign, rebuilt as the document that was put (equal to it), or `None`: the
    /// newest version.
    pub async fn campaign(&self, id: &CampaignId) -> Result<Option<CampaignDoc>, DbError> {
        let mut tx = self.read_tx().await.map_err(error::query(format!("reading campaign {id}")))?;
        let doc = read_doc(&mut tx, id).await?;
        tx.commit().await.map_err(error::query(format!("reading campaign {id}")))?;
        Ok(doc)
    }

    /// The versions of a campaign, oldest first (none for a campaign stored before versions were
    /// kept and not written since, or one that does not exist).
    pub async fn campaign_versions(&self, id: &CampaignId) -> Result<Vec<VersionInfo>, DbError> {
        let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT version, valid_from_ms, created_at_ms FROM campaign_versions WHERE campaign_id = $1 \
             ORDER BY version",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(error::query(format!("listing the versions of campaign {id}")))?;
        Ok(rows
            .into_iter()
            .map(|(version, valid_from_ms, created_at_ms)| VersionInfo { version, valid_from_ms, created_at_ms })
            .collect())
    }

    /// One version of a campaign, as it was written.
    pub async fn campaign_version(&self, id: &CampaignId, version: i64) -> Result<Option<CampaignDoc>, DbError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT doc_json FROM campaign_versions WHERE campaign_id = $1 AND version = $2")
                .bind(id.as_str())
                .bind(version)
                .fetch_optional(&self.pool)
                .await
                .map_err(error::query(format!("reading version {version} of campaign {id}")))?;
        row.map(|(text,)| {
            json::<CampaignDoc>(&text)
                .map_err(|e| DbError::Corrupt(format!("campaign {id}: version {version}: doc_json: {e}")))
        })
        .transpose()
    }

    /// Every stored campaign's id, in order.
    pub async fn campaign_ids(&self) -> Result<Vec<CampaignId>, DbError> {
        let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM campaigns ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(error::query("listing campaigns"))?;
        ids.into_iter()
            .map(|(id,)| CampaignId::parse(&id).map_err(|e| DbError::Corrupt(format!("campaigns.id: {e}"))))
            .collect()
    }
}

/// The newest document of a campaign, from its rows, on `conn` (one snapshot or transaction).
async fn read_doc(conn: &mut AnyConnection, id: &CampaignId) -> Result<Option<CampaignDoc>, DbError> {
    let action = || format!("reading campaign {id}");
    let row: Option<CampaignRow> = sqlx::query_as(
        "SELECT format, title, description, starts_at_ms, ends_at_ms, rules_json, categories_json \
         FROM campaigns WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(error::query(action()))?;
    let Some((format, title, description, starts_at_ms, ends_at_ms, rules_json, categories_json)) = row else {
        return Ok(None);
    };
    let places: Vec<PlaceRow> = sqlx::query_as(
        "SELECT id, parent_id, name, level, target FROM places WHERE campaign_id = $1 ORDER BY position",
    )
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(error::query(action()))?;
    let units: Vec<UnitRow> =
        sqlx::query_as("SELECT id, region_id, name, kind, target FROM units WHERE campaign_id = $1 ORDER BY position")
            .bind(id.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(error::query(action()))?;
    let questions: Vec<QuestionRow> = sqlx::query_as(
        "SELECT id, kind, category, difficulty, stem, options_json, answer_json, explanation, source, \
         en_json FROM questions WHERE campaign_id = $1 ORDER BY position",
    )
    .bind(id.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(error::query(action()))?;

    let what = |field: &str| format!("campaign {id}: {field}");
    Ok(Some(CampaignDoc {
        format: u32::try_from(format).map_err(|_| DbError::Corrupt(what("format")))?,
        id: id.clone(),
        title,
        description,
        starts_at: time(starts_at_ms).ok_or_else(|| DbError::Corrupt(what("starts_at_ms")))?,
        ends_at: time(ends_at_ms).ok_or_else(|| DbError::Corrupt(what("ends_at_ms")))?,
        rules: json::<Rules>(&rules_json).map_err(|e| DbError::Corrupt(what(&format!("rules_json: {e}"))))?,
        categories: json::<Vec<Category>>(&categories_json)
            .map_err(|e| DbError::Corrupt(what(&format!("categories_json: {e}"))))?,
        regions: place_tree(places).map_err(|e| DbError::Corrupt(what(&e)))?,
        units: units.into_iter().map(unit).collect::<Result<_, String>>().map_err(|e| DbError::Corrupt(what(&e)))?,
        questions: questions
            .into_iter()
            .map(question)
            .collect::<Result<_, String>>()
            .map_err(|e| DbError::Corrupt(what(&e)))?,
    }))
}

/// Makes the campaign's rows exactly `doc`: the campaign row upserted, its places, units and
/// questions replaced.
async fn write_rows(conn: &mut AnyConnection, doc: &CampaignDoc) -> Result<PutOutcome, DbError> {
    let rows = Rows::of(doc)?;
    let cid = doc.id.as_str();
    let action = || format!("storing campaign {cid}");
    let inserted = sqlx::query(
        "INSERT INTO campaigns (id, format, title, description, starts_at_ms, ends_at_ms, \
         rules_json, categories_json, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(cid)
    .bind(rows.format)
    .bind(doc.title.as_str())
    .bind(doc.description.as_str())
    .bind(rows.starts_at_ms)
    .bind(rows.ends_at_ms)
    .bind(rows.rules_json.as_str())
    .bind(rows.categories_json.as_str())
    .bind(now_ms())
    .execute(&mut *conn)
    .await
    .map_err(error::query(action()))?
    .rows_affected()
        == 1;
    let outcome = if inserted {
        PutOutcome::Created
    } else {
        sqlx::query(
            "UPDATE campaigns SET format = $2, title = $3, description = $4, starts_at_ms = $5, \
             ends_at_ms = $6, rules_json = $7, categories_json = $8, updated_at_ms = $9 \
             WHERE id = $1",
        )
        .bind(cid)
        .bind(rows.format)
        .bind(doc.title.as_str())
        .bind(doc.description.as_str())
        .bind(rows.starts_at_ms)
        .bind(rows.ends_at_ms)
        .bind(rows.rules_json.as_str())
        .bind(rows.categories_json.as_str())
        .bind(now_ms())
        .execute(&mut *conn)
        .await
        .map_err(error::query(action()))?;
        for delete in [
            "DELETE FROM places WHERE campaign_id = $1",
            "DELETE FROM units WHERE campaign_id = $1",
            "DELETE FROM questions WHERE campaign_id = $1",
        ] {
            sqlx::query(delete).bind(cid).execute(&mut *conn).await.map_err(error::query(action()))?;
        }
        PutOutcome::Updated
    };
    insert_rows(conn, PLACES, &rows.places).await.map_err(error::query(action()))?;
    insert_rows(conn, UNITS, &rows.units).await.map_err(error::query(action()))?;
    insert_rows(conn, QUESTIONS, &rows.questions).await.map_err(error::query(action()))?;
    Ok(outcome)
}

/// Appends a version of a campaign: its whole document as JSON.
async fn insert_version(conn: &mut AnyConnection, doc: &CampaignDoc, v: &VersionInfo) -> Result<(), DbError> {
    let cid = doc.id.as_str();
    let text = to_json(cid, doc, "document")?;
    sqlx::query(
        "INSERT INTO campaign_versions (campaign_id, version, valid_from_ms, created_at_ms, doc_json) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(cid)
    .bind(v.version)
    .bind(v.valid_from_ms)
    .bind(v.created_at_ms)
    .bind(text.as_str())
    .execute(&mut *conn)
    .await
    .map_err(error::query(format!("storing version {} of campaign {cid}", v.version)))?;
    Ok(())
}

type CampaignRow = (i32, String, String, i64, i64, String, String);
type PlaceRow = (String, Option<String>, String, String, Option<i64>);
type UnitRow = (String, String, String, String, Option<i64>);
type QuestionRow = (String, String, String, i32, String, String, String, String, String, Option<String>);

fn time(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}

fn to_json<T: serde::Serialize>(cid: &str, value: &T, what: &str) -> Result<String, DbError> {
    serde_json::to_string(value).map_err(|e| DbError::Invalid(format!("campaign {cid}: {what} as JSON: {e}")))
}

fn target(t: Option<i64>, what: &str) -> Result<Option<u64>, String> {
    t.map(|t| u64::try_from(t).map_err(|_| format!("{what}: negative target {t}"))).transpose()
}

/// Rebuilds the place tree from its pre-order rows: every parent comes before its children.
fn place_tree(rows: Vec<PlaceRow>) -> Result<Vec<PlaceDoc>, String> {
    let mut index = HashMap::new();
    let mut nodes = Vec::with_capacity(rows.len());
    let mut parents = Vec::with_capacity(rows.len());
    for (i, (id, parent_id, name, level, t)) in rows.into_iter().enumerate() {
        let what = format!("place {id}");
        let parent = match parent_id {
            None => None,
            Some(p) => Some(*index.get(&p).ok_or_else(|| format!("{what}: parent {p} is not stored before it"))?),
        };
        let node = PlaceDoc {
            id: PlaceId::parse(&id).map_err(|e| format!("{what}: {e}"))?,
            name,
            level: Level::parse(&level).ok_or_else(|| format!("{what}: unknown level {level:?}"))?,
            target: target(t, &what)?,
            children: Vec::new(),
        };
        index.insert(id, i);
        nodes.push(Some(node));
        parents.push(parent);
    }
    // Last to first: a node's children (all after it) are attached before it is moved to its
    // own parent; they arrive reversed, so reverse them back.
    let mut roots = Vec::new();
    for i in (0..nodes.len()).rev() {
        let mut node = nodes[i].take().expect("each node is taken once");
        node.children.reverse();
        match parents[i] {
            Some(p) => nodes[p].as_mut().expect("parents come first").children.push(node),
            None => roots.push(node),
        }
    }
    roots.reverse();
    Ok(roots)
}

fn unit((id, region_id, name, kind, t): UnitRow) -> Result<Unit, String> {
    let what = format!("unit {id}");
    Ok(Unit {
        id: UnitId::parse(&id).map_err(|e| format!("{what}: {e}"))?,
        region_id: PlaceId::parse(&region_id).map_err(|e| format!("{what}: {e}"))?,
        name,
        kind: UnitKind::parse(&kind).ok_or_else(|| format!("{what}: unknown kind {kind:?}"))?,
        target: target(t, &what)?,
    })
}

fn question(
    (id, kind, category, difficulty, stem, options_json, answer_json, explanation, source, en_json): QuestionRow,
) -> Result<Question, String> {
    let what = format!("question {id}");
    Ok(Question {
        id: QuestionId::parse(&id).map_err(|e| format!("{what}: {e}"))?,
        kind: QuestionKind::parse(&kind).ok_or_else(|| format!("{what}: unknown kind {kind:?}"))?,
        category,
        difficulty: u8::try_from(difficulty).map_err(|_| format!("{what}: difficulty {difficulty}"))?,
        stem,
        options: json(&options_json).map_err(|e| format!("{what}: options_json: {e}"))?,
        answer: json(&answer_json).map_err(|e| format!("{what}: answer_json: {e}"))?,
        explanation,
        source,
        en: en_json.map(|t| json(&t)).transpose().map_err(|e| format!("{what}: en_json: {e}"))?,
    })
}

/// A table and the columns [`insert_rows`] fills, in the order of each row's values.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
}

const PLACES: Table =
    Table { name: "places", columns: &["campaign_id", "id", "parent_id", "name", "level", "target", "position"] };
const UNITS: Table =
    Table { name: "units", columns: &["campaign_id", "id", "region_id", "name", "kind", "target", "position"] };
const QUESTIONS: Table = Table {
    name: "questions",
    columns: &[
        "campaign_id",
        "id",
        "kind",
        "category",
        "difficulty",
        "stem",
        "options_json",
        "answer_json",
        "explanation",
        "source",
        "position",
        "en_json",
    ],
};

/// Inserts rows a few hundred at a time (one round trip per batch, not per row).
async fn insert_rows(conn: &mut AnyConnection, table: Table, rows: &[Vec<Val<'_>>]) -> Result<(), sqlx::Error> {
    let head = format!("INSERT INTO {} ({}) ", table.name, table.columns.join(", "));
    Values { head: &head, tail: "", width: table.columns.len() }.execute(conn, rows).await.map(drop)
}

/// A document turned into the values to store.
struct Rows<'a> {
    format: i32,
    starts_at_ms: i64,
    ends_at_ms: i64,
    rules_json: String,
    categories_json: String,
    places: Vec<Vec<Val<'a>>>,
    units: Vec<Vec<Val<'a>>>,
    questions: Vec<Vec<Val<'a>>>,
}

impl<'a> Rows<'a> {
    fn of(doc: &'a CampaignDoc) -> Result<Self, DbError> {
        let cid = doc.id.as_str();
        let invalid = |what: String| DbError::Invalid(format!("campaign {cid}: {what}"));
        let target = |t: Option<u64>, what: &str| {
            t.map(|t| i64::try_from(t).map_err(|_| invalid(format!("{what}: target {t} is too large")))).transpose()
        };
        let position = |i: usize, what: &str| i64::try_from(i).map_err(|_| invalid(format!("too many {what}")));

        let mut places = Vec::new();
        let mut stack: Vec<(&PlaceDoc, Option<&str>)> = doc.regions.iter().rev().map(|p| (p, None)).collect();
        // Pre-order, children in document order: pop the next place, push its children reversed.
        while let Some((p, parent)) = stack.pop() {
            places.push(vec![
                Val::Str(cid),
                Val::Str(p.id.as_str()),
                Val::OptStr(parent),
                Val::Str(&p.name),
                Val::Str(p.level.as_str()),
                Val::OptInt(target(p.target, &format!("place {}", p.id))?),
                Val::Int(position(places.len(), "places")?),
            ]);
            stack.extend(p.children.iter().rev().map(|c| (c, Some(p.id.as_str()))));
        }
        let units = doc
            .units
            .iter()
            .enumerate()
            .map(|(i, u)| {
                Ok(vec![
                    Val::Str(cid),
                    Val::Str(u.id.as_str()),
                    Val::Str(u.region_id.as_str()),
                    Val::Str(&u.name),
                    Val::Str(u.kind.as_str()),
                    Val::OptInt(target(u.target, &format!("unit {}", u.id))?),
                    Val::Int(position(i, "units")?),
                ])
            })
            .collect::<Result<_, DbError>>()?;
        let questions = doc
            .questions
            .iter()
            .enumerate()
            .map(|(i, q)| {
                let what = format!("question {}", q.id);
                Ok(vec![
                    Val::Str(cid),
                    Val::Str(q.id.as_str()),
                    Val::Str(q.kind.as_str()),
                    Val::Str(&q.category),
                    Val::Int(i64::from(q.difficulty)),
                    Val::Str(&q.stem),
                    Val::Owned(to_json(cid, &q.options, &format!("{what} options"))?),
                    Val::Owned(to_json(cid, &q.answer, &format!("{what} answer"))?),
                    Val::Str(&q.explanation),
                    Val::Str(&q.source),
                    Val::Int(position(i, "questions")?),
                    Val::OptOwned(q.en.as_ref().map(|t| to_json(cid, t, &format!("{what} en"))).transpose()?),
                ])
            })
            .collect::<Result<_, DbError>>()?;
        Ok(Self {
            format: i32::try_from(doc.format).map_err(|_| invalid(format!("format {}", doc.format)))?,
            starts_at_ms: doc.starts_at.timestamp_millis(),
            ends_at_ms: doc.ends_at.timestamp_millis(),
            rules_json: to_json(cid, &doc.rules, "rules")?,
            categories_json: to_json(cid, &doc.categories, "categories")?,
            places,
            units,
            questions,
        })
    }
}
