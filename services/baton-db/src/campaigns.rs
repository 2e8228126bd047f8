//! Campaign documents, stored piece by piece and rebuilt exactly.
//!
//! A [`CampaignDoc`] becomes one `campaigns` row (rules and categories as JSON text) plus rows in
//! `places` (the tree flattened in pre-order, each with its parent), `units` and `questions`,
//! each with its `position` in the document. [`Db::campaign`] reads them back on one snapshot
//! and rebuilds an equal document. Times are kept to the millisecond.

use crate::error::{self, DbError};
use crate::sql::{Val, Values};
use crate::{Db, now_ms};
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

impl Db {
    /// Creates or replaces a whole campaign in one transaction: the campaign row is upserted and
    /// its places, units and questions become exactly those of `doc` (rows no longer in the
    /// document are removed). Participants are untouched; they do not reference places, units
    /// or questions by foreign key, so an update never fails because of them. Concurrent puts of
    /// one campaign are serialized on its row. Times are stored to the millisecond.
    pub async fn put_campaign(&self, doc: &CampaignDoc) -> Result<PutOutcome, DbError> {
        let rows = Rows::of(doc)?;
        let cid = doc.id.as_str();
        let action = || format!("storing campaign {cid}");
        let mut tx = self.write_tx().await.map_err(error::query(action()))?;

        // Touch the campaign row first: it is the lock that serializes puts of this campaign.
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
        .execute(&mut *tx)
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
            .execute(&mut *tx)
            .await
            .map_err(error::query(action()))?;
            for delete in [
                "DELETE FROM places WHERE campaign_id = $1",
                "DELETE FROM units WHERE campaign_id = $1",
                "DELETE FROM questions WHERE campaign_id = $1",
            ] {
                sqlx::query(delete).bind(cid).execute(&mut *tx).await.map_err(error::query(action()))?;
            }
            PutOutcome::Updated
        };

        insert_rows(&mut tx, PLACES, &rows.places).await.map_err(error::query(action()))?;
        insert_rows(&mut tx, UNITS, &rows.units).await.map_err(error::query(action()))?;
        insert_rows(&mut tx, QUESTIONS, &rows.questions).await.map_err(error::query(action()))?;
        tx.commit().await.map_err(error::query(action()))?;
        tracing::info!(
            campaign.id = cid,
            outcome = ?outcome,
            places = rows.places.len(),
            units = rows.units.len(),
            questions = rows.questions.len(),
            "stored campaign"
        );
        Ok(outcome)
    }

    /// The stored campaign, rebuilt as the document that was put (equal to it), or `None`.
    pub async fn campaign(&self, id: &CampaignId) -> Result<Option<CampaignDoc>, DbError> {
        let action = || format!("reading campaign {id}");
        let mut tx = self.read_tx().await.map_err(error::query(action()))?;
        let row: Option<CampaignRow> = sqlx::query_as(
            "SELECT format, title, description, starts_at_ms, ends_at_ms, rules_json, categories_json \
             FROM campaigns WHERE id = $1",
        )
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(error::query(action()))?;
        let Some((format, title, description, starts_at_ms, ends_at_ms, rules_json, categories_json)) = row else {
            return Ok(None);
        };
        let places: Vec<PlaceRow> = sqlx::query_as(
            "SELECT id, parent_id, name, level, target FROM places WHERE campaign_id = $1 ORDER BY position",
        )
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(error::query(action()))?;
        let units: Vec<UnitRow> = sqlx::query_as(
            "SELECT id, region_id, name, kind, target FROM units WHERE campaign_id = $1 ORDER BY position",
        )
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(error::query(action()))?;
        let questions: Vec<QuestionRow> = sqlx::query_as(
            "SELECT id, kind, category, difficulty, stem, options_json, answer_json, explanation, source, \
             en_json FROM questions WHERE campaign_id = $1 ORDER BY position",
        )
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await
        .map_err(error::query(action()))?;
        tx.commit().await.map_err(error::query(action()))?;

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
            units: units
                .into_iter()
                .map(unit)
                .collect::<Result<_, String>>()
                .map_err(|e| DbError::Corrupt(what(&e)))?,
            questions: questions
                .into_iter()
                .map(question)
                .collect::<Result<_, String>>()
                .map_err(|e| DbError::Corrupt(what(&e)))?,
        }))
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
