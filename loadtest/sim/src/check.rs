//! The final check: SQL holds exactly what Baton acknowledged to the citizens — every
//! participant who was told "joined", every answer that was answered `200` with the points the
//! citizen was told, and the best score each finish reported — and nothing else.

use crate::citizen::Acked;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// What the check found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckReport {
    pub acknowledged_participants: u64,
    pub sql_participants: u64,
    pub acknowledged_answers: u64,
    pub sql_answers: u64,
    pub acknowledged_points: i64,
    pub sql_points: i64,
    pub with_best: u64,
    /// Acknowledged participants missing from SQL.
    pub missing: u64,
    /// Participants in SQL nobody was told about (only meaningful on a database of the run's own).
    pub extra: u64,
    /// Participants whose answers (count or points) or best score differ.
    pub answers_differ: u64,
    pub best_differs: u64,
    /// A few of the differences, said in words.
    pub examples: Vec<String>,
}

impl CheckReport {
    pub fn ok(&self) -> bool {
        self.missing == 0 && self.extra == 0 && self.answers_differ == 0 && self.best_differs == 0
    }
}

/// Reads a ledger written by [`crate::citizen::Ledger::csv`]; errors name the line.
pub fn read_ledger(path: &std::path::Path) -> anyhow::Result<HashMap<String, Acked>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut out = HashMap::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = || {
            anyhow::anyhow!("{} line {}: want participant_id,answers,points,best, got {line:?}", path.display(), i + 1)
        };
        let f: Vec<&str> = line.split(',').collect();
        let [id, answers, points, best] = f[..] else { return Err(bad()) };
        let acked = Acked {
            answers: answers.parse().map_err(|_| bad())?,
            points: points.parse().map_err(|_| bad())?,
            best: if best.is_empty() { None } else { Some(best.parse().map_err(|_| bad())?) },
        };
        out.insert(id.to_owned(), acked);
    }
    Ok(out)
}

/// Compares the campaign's participants and answers in SQL with `ledger`.
pub async fn against_sql(
    database_url: &str,
    campaign: &str,
    ledger: &HashMap<String, Acked>,
) -> anyhow::Result<CheckReport> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(database_url)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open {database_url}: {e}"))?;
    let mut sql: HashMap<String, Acked> = HashMap::new();
    let rows = sqlx::query("SELECT id, best_score FROM participants WHERE campaign_id = $1")
        .bind(campaign)
        .fetch_all(&pool)
        .await?;
    for r in rows {
        let id: String = r.try_get(0)?;
        sql.insert(id, Acked { best: r.try_get(1)?, ..Default::default() });
    }
    let rows = sqlx::query(
        "SELECT participant_id, COUNT(*), CAST(SUM(points) AS BIGINT) FROM answers WHERE campaign_id = $1 GROUP BY participant_id",
    )
    .bind(campaign)
    .fetch_all(&pool)
    .await?;
    let mut orphans = 0;
    for r in rows {
        let id: String = r.try_get(0)?;
        let (n, p): (i64, i64) = (r.try_get(1)?, r.try_get(2)?);
        match sql.get_mut(&id) {
            Some(a) => {
                a.answers = n as u64;
                a.points = p;
            }
            None => orphans += 1,
        }
    }
    pool.close().await;

    let mut c = CheckReport {
        acknowledged_participants: ledger.len() as u64,
        sql_participants: sql.len() as u64,
        acknowledged_answers: ledger.values().map(|a| a.answers).sum(),
        sql_answers: sql.values().map(|a| a.answers).sum(),
        acknowledged_points: ledger.values().map(|a| a.points).sum(),
        sql_points: sql.values().map(|a| a.points).sum(),
        with_best: ledger.values().filter(|a| a.best.is_some()).count() as u64,
        missing: 0,
        extra: sql.keys().filter(|k| !ledger.contains_key(*k)).count() as u64 + orphans,
        answers_differ: 0,
        best_differs: 0,
        examples: Vec::new(),
    };
    let mut ids: Vec<&String> = ledger.keys().collect();
    ids.sort();
    for id in ids {
        let told = &ledger[id];
        let say = |c: &mut CheckReport, what: String| {
            if c.examples.len() < 10 {
                c.examples.push(what);
            }
        };
        match sql.get(id) {
            None => {
                c.missing += 1;
                say(&mut c, format!("{id}: acknowledged, not in SQL"));
            }
            Some(s) => {
                if (s.answers, s.points) != (told.answers, told.points) {
                    c.answers_differ += 1;
                    say(
                        &mut c,
                        format!(
                            "{id}: told {} answers / {} points, SQL has {} / {}",
                            told.answers, told.points, s.answers, s.points
                        ),
                    );
                }
                if s.best != told.best {
                    c.best_differs += 1;
                    say(&mut c, format!("{id}: told best {:?}, SQL has {:?}", told.best, s.best));
                }
            }
        }
    }
    Ok(c)
}

/// The check as lines for people.
pub fn render(c: &CheckReport) -> String {
    format!(
        "participants: acknowledged {}, in SQL {} (missing {}, extra {})\n\
         answers: acknowledged {} ({} points), in SQL {} ({} points); participants whose answers differ: {}\n\
         best scores: {} participants finished; differing: {}\n{}{}\n",
        c.acknowledged_participants,
        c.sql_participants,
        c.missing,
        c.extra,
        c.acknowledged_answers,
        c.acknowledged_points,
        c.sql_answers,
        c.sql_points,
        c.answers_differ,
        c.with_best,
        c.best_differs,
        c.examples.iter().map(|e| format!("  {e}\n")).collect::<String>(),
        if c.ok() {
            "SQL holds exactly what Baton acknowledged"
        } else {
            "MISMATCH: SQL differs from what Baton acknowledged"
        }
    )
}
