//! CSV exports for organizers: participants, results (the published ranking) and units.
//!
//! Each export is one query whose rows are streamed from the database (`fetch`, never collected)
//! and written as they come, through a small buffer, to any [`AsyncWrite`]; names of places and
//! units come from the validated [`Campaign`]. The files open correctly in spreadsheet programs
//! as well as in code:
//! - UTF-8 with a byte-order mark (Excel otherwise reads Chinese as mojibake), CRLF line ends.
//! - RFC 4180 quoting: a field containing a comma, a quote, CR or LF is quoted, quotes doubled.
//! - Formula injection is neutralised: a text field (nickname, name or id) starting with `=`,
//!   `+`, `-`, `@`, a tab or CR gets a leading apostrophe, so a spreadsheet shows it as text
//!   instead of evaluating it. Numbers and times are written as they are.
//! - Times are RFC 3339 in UTC with milliseconds; decimals are rounded half up, exactly.
//! - Personal data is masked: nicknames are typed by citizens and sometimes hold a phone
//!   number, so every run of digits that could be one is masked ([`mask::mask_digits`]:
//!   `张三13812345678` → `张三138****5678`). Nothing else personal is stored: participant ids
//!   are hashes (of the device id, or of the WeChat openid, which is never stored).
//!
//! A place or unit that the campaign no longer has (participants keep their history when a
//! campaign update removes it) is written as its id, since its name is gone.
//!
//! # Filtered exports
//! [`Db::export_filtered`] limits an export to some places (a console viewer's region and
//! everything under it), in SQL, so the rows still stream:
//! - participants: those whose place is one of them;
//! - results: likewise; `rank` stays the campaign-wide published rank (the number the public
//!   boards show), and a last column `rank_in_region` ranks the rows within the filter (the
//!   global rank is numbered by a window over every result, so the database sorts the whole
//!   campaign's results, as for an unfiltered file, and streams the filtered ones);
//! - units: the campaign's units that hang from one of the places, with all of their
//!   participants (a unit's figures are the unit's, whoever looks at them). Units the campaign
//!   no longer has cannot be placed, so they are left out.
//!
//! Participants of places the campaign no longer has are in no filtered export.

use crate::error::{self, DbError};
use crate::{Db, Engine};
use baton_core::campaign::{Campaign, Unit};
use baton_core::ids::{PlaceId, UnitId};
use futures_util::TryStreamExt;
use std::collections::{BTreeMap, BTreeSet};
use tokio::io::{AsyncWrite, AsyncWriteExt};

pub mod mask;

pub use mask::mask_digits;

/// Which file to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportKind {
    /// Everybody who joined, in join order.
    Participants,
    /// Participants with a best result, ranked in the published order.
    Results,
    /// Every unit with its participation, rate and average best score.
    Units,
}

impl ExportKind {
    pub const ALL: [ExportKind; 3] = [ExportKind::Participants, ExportKind::Results, ExportKind::Units];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Participants => "participants",
            ExportKind::Results => "results",
            ExportKind::Units => "units",
        }
    }

    /// The header row (of a filtered results file, followed by `rank_in_region`).
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ExportKind::Participants => &["participant_id", "nickname", "county", "region", "unit", "joined_at"],
            ExportKind::Results => &[
                "rank",
                "participant_id",
                "nickname",
                "county",
                "unit",
                "best_score",
                "best_seconds",
                "reached_at",
                "attempts",
            ],
            ExportKind::Units => {
                &["unit_id", "unit", "county", "region", "target", "participants", "finished", "rate", "avg_best_score"]
            }
        }
    }
}

impl std::fmt::Display for ExportKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the exports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("there is no export {0:?}: use participants, results or units")]
pub struct UnknownExport(pub String);

impl std::str::FromStr for ExportKind {
    type Err = UnknownExport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExportKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| UnknownExport(s.to_owned()))
    }
}

/// Which rows an export holds: the whole campaign (the default), or only what lies within
/// some places.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportFilter<'a> {
    /// `None`: everything. `Some(places)`: participants at one of `places`, units hanging from
    /// one of them (see the module docs). Normally a region and every place under it, as
    /// the console's scope gives them; a few hundred at most, each bound as a parameter.
    pub places: Option<&'a [PlaceId]>,
}

impl<'a> ExportFilter<'a> {
    /// The whole campaign.
    pub const ALL: ExportFilter<'static> = ExportFilter { places: None };

    /// Only what lies at one of `places`.
    pub fn within(places: &'a [PlaceId]) -> Self {
        ExportFilter { places: Some(places) }
    }
}

/// `progress` is called after every this many rows.
const PROGRESS_EVERY: u64 = 10_000;
/// Rows are written to the writer in pieces of about this size.
const BUFFER: usize = 64 * 1024;

type ParticipantSql = (String, String, String, Option<String>, i64);
type ResultSql = (String, String, String, Option<String>, i64, i64, i64, i64);
type RankedResultSql = (String, String, String, Option<String>, i64, i64, i64, i64, i64);
type UnitSql = (String, i64, i64, i64);

impl Db {
    /// Writes one export of the whole of `campaign` as CSV to `writer` and returns the number of
    /// rows written (without the header). `progress` is called with the count so far every
    /// 10,000 rows. The writer is flushed at the end; on an error the output is incomplete.
    pub async fn export<W: AsyncWrite + Unpin>(
        &self,
        kind: ExportKind,
        campaign: &Campaign,
        writer: W,
        progress: impl FnMut(u64),
    ) -> Result<u64, DbError> {
        self.export_filtered(kind, campaign, ExportFilter::ALL, writer, progress).await
    }

    /// Like [`Db::export`], limited to the rows `filter` lets through (see the module docs).
    /// With [`ExportFilter::ALL`] the output is exactly [`Db::export`]'s.
    pub async fn export_filtered<W: AsyncWrite + Unpin>(
        &self,
        kind: ExportKind,
        campaign: &Campaign,
        filter: ExportFilter<'_>,
        writer: W,
        progress: impl FnMut(u64),
    ) -> Result<u64, DbError> {
        let mut csv = Csv { out: writer, buf: String::with_capacity(BUFFER + 1024), rows: 0, in_row: false, progress };
        csv.buf.push('\u{feff}');
        let extra: &[&str] = match (kind, filter.places) {
            (ExportKind::Results, Some(_)) => &["rank_in_region"],
            _ => &[],
        };
        csv.header(kind.columns().iter().chain(extra));
        let cid = campaign.id().as_str();
        let action = || format!("exporting {kind} of campaign {cid}");
        let names = Names(campaign);
        let collate = if self.engine == Engine::Postgres { " COLLATE \"C\"" } else { "" };
        match kind {
            ExportKind::Participants => {
                let (clause, places) = within("region_id", 2, filter.places);
                let sql = format!(
                    "SELECT id, nickname, region_id, unit_id, joined_at_ms FROM participants WHERE campaign_id = $1{clause} \
                     ORDER BY joined_at_ms, id"
                );
                let mut query = sqlx::query_as::<_, ParticipantSql>(sqlx::AssertSqlSafe(sql)).bind(cid);
                for p in places {
                    query = query.bind(p.as_str());
                }
                let mut rows = query.fetch(&self.pool);
                while let Some((id, nickname, region, unit, joined_at)) =
                    rows.try_next().await.map_err(error::query(action()))?
                {
                    csv.text(&id);
                    csv.text(&mask_digits(&nickname));
                    csv.text(&names.county(&region));
                    csv.text(&names.place(&region));
                    csv.text(&names.unit(unit.as_deref()));
                    csv.raw(&time(joined_at)?);
                    csv.end_row().await?;
                }
            }
            ExportKind::Results if filter.places.is_none() => {
                // The published order; ids compare bytewise (as Redis does) on both engines.
                let sql = format!(
                    "SELECT p.id, p.nickname, p.region_id, p.unit_id, p.best_score, p.best_ms, p.best_at_ms, \
                     (SELECT COUNT(*) FROM attempts t WHERE t.campaign_id = p.campaign_id AND t.participant_id = p.id) \
                     FROM participants p WHERE p.campaign_id = $1 AND p.best_score IS NOT NULL \
                     ORDER BY p.best_score DESC, p.best_ms, p.best_at_ms, p.id{collate} DESC"
                );
                let mut rows = sqlx::query_as::<_, ResultSql>(sqlx::AssertSqlSafe(sql)).bind(cid).fetch(&self.pool);
                while let Some(row) = rows.try_next().await.map_err(error::query(action()))? {
                    let rank = csv.rows + 1;
                    result_row(&mut csv, &names, rank, row)?;
                    csv.end_row().await?;
                }
            }
            ExportKind::Results => {
                // The campaign-wide rank (the published order, as above) is numbered over every
                // result before the filter applies; the database still streams the rows.
                let (clause, places) = within("r.region_id", 2, filter.places);
                let sql = format!(
                    "SELECT r.id, r.nickname, r.region_id, r.unit_id, r.best_score, r.best_ms, r.best_at_ms, \
                     (SELECT COUNT(*) FROM attempts t WHERE t.campaign_id = $1 AND t.participant_id = r.id), r.grank \
                     FROM (SELECT p.id, p.nickname, p.region_id, p.unit_id, p.best_score, p.best_ms, p.best_at_ms, \
                     ROW_NUMBER() OVER (ORDER BY p.best_score DESC, p.best_ms, p.best_at_ms, p.id{collate} DESC) AS grank \
                     FROM participants p WHERE p.campaign_id = $1 AND p.best_score IS NOT NULL) r \
                     WHERE 1 = 1{clause} ORDER BY r.grank"
                );
                let mut query = sqlx::query_as::<_, RankedResultSql>(sqlx::AssertSqlSafe(sql)).bind(cid);
                for p in places {
                    query = query.bind(p.as_str());
                }
                let mut rows = query.fetch(&self.pool);
                while let Some((id, nickname, region, unit, score, ms, reached, attempts, rank)) =
                    rows.try_next().await.map_err(error::query(action()))?
                {
                    let rank =
                        u64::try_from(rank).map_err(|_| DbError::Corrupt(format!("participant {id}: rank {rank}")))?;
                    let in_region = csv.rows + 1;
                    result_row(&mut csv, &names, rank, (id, nickname, region, unit, score, ms, reached, attempts))?;
                    csv.raw(&in_region.to_string());
                    csv.end_row().await?;
                }
            }
            ExportKind::Units => {
                // The units to show: all of them, or those hanging from one of the places.
                let wanted: Option<BTreeSet<&PlaceId>> = filter.places.map(|p| p.iter().collect());
                let units: Vec<&Unit> = campaign
                    .doc()
                    .units
                    .iter()
                    .filter(|u| wanted.as_ref().is_none_or(|w| w.contains(&u.region_id)))
                    .collect();
                let unit_ids: Vec<&str> = units.iter().map(|u| u.id.as_str()).collect();
                let clause = match filter.places {
                    None => String::new(),
                    Some(_) => in_list("unit_id", 2, unit_ids.len()),
                };
                let bound: &[&str] = if filter.places.is_some() { &unit_ids } else { &[] };
                // One row per unit that has participants: bounded by the campaign, not by them.
                let mut stats: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
                let sql = format!(
                    "SELECT unit_id, COUNT(*), COUNT(best_score), CAST(COALESCE(SUM(best_score), 0) AS BIGINT) \
                     FROM participants WHERE campaign_id = $1 AND unit_id IS NOT NULL{clause} GROUP BY unit_id"
                );
                let mut query = sqlx::query_as::<_, UnitSql>(sqlx::AssertSqlSafe(sql)).bind(cid);
                for u in bound {
                    query = query.bind(*u);
                }
                let mut rows = query.fetch(&self.pool);
                while let Some((unit, joined, finished, score_sum)) =
                    rows.try_next().await.map_err(error::query(action()))?
                {
                    stats.insert(unit, (joined, finished, score_sum));
                }
                drop(rows);
                for u in units {
                    let (joined, finished, score_sum) = stats.remove(u.id.as_str()).unwrap_or_default();
                    csv.text(u.id.as_str());
                    csv.text(&u.name);
                    csv.text(&names.county(u.region_id.as_str()));
                    csv.text(&names.place(u.region_id.as_str()));
                    unit_figures(&mut csv, u.target, joined, finished, score_sum);
                    csv.end_row().await?;
                }
                // Units the campaign no longer has, whose participants keep their history (none
                // when filtered: the query asked only for the campaign's units).
                for (id, (joined, finished, score_sum)) in stats {
                    csv.text(&id);
                    csv.raw("");
                    csv.raw("");
                    csv.raw("");
                    unit_figures(&mut csv, None, joined, finished, score_sum);
                    csv.end_row().await?;
                }
            }
        }
        csv.finish().await
    }
}

/// `AND column IN ($first, …)` for `places` (nothing without a filter), and the values to bind
/// in that order.
fn within<'p>(column: &str, first: usize, places: Option<&'p [PlaceId]>) -> (String, &'p [PlaceId]) {
    match places {
        None => (String::new(), &[]),
        Some(places) => (in_list(column, first, places.len()), places),
    }
}

/// `AND column IN ($first, …)` with `n` parameters; an empty list matches no row.
fn in_list(column: &str, first: usize, n: usize) -> String {
    if n == 0 {
        return " AND 1 = 0".to_owned();
    }
    let params: Vec<String> = (first..first + n).map(|i| format!("${i}")).collect();
    format!(" AND {column} IN ({})", params.join(", "))
}

/// The fields of a results row from `rank` to `attempts`.
fn result_row<W, F>(csv: &mut Csv<W, F>, names: &Names<'_>, rank: u64, row: ResultSql) -> Result<(), DbError> {
    let (id, nickname, region, unit, score, ms, reached, attempts) = row;
    let ms = u64::try_from(ms).map_err(|_| DbError::Corrupt(format!("participant {id}: best_ms {ms}")))?;
    csv.raw(&rank.to_string());
    csv.text(&id);
    csv.text(&mask_digits(&nickname));
    csv.text(&names.county(&region));
    csv.text(&names.unit(unit.as_deref()));
    csv.raw(&score.to_string());
    csv.raw(&format!("{}.{:03}", ms / 1000, ms % 1000));
    csv.raw(&time(reached)?);
    csv.raw(&attempts.to_string());
    Ok(())
}

/// target, participants, finished, rate, avg_best_score.
fn unit_figures<W, F>(csv: &mut Csv<W, F>, target: Option<u64>, joined: i64, finished: i64, score_sum: i64) {
    let joined = u64::try_from(joined).unwrap_or(0);
    let finished = u64::try_from(finished).unwrap_or(0);
    csv.raw(&target.map(|t| t.to_string()).unwrap_or_default());
    csv.raw(&joined.to_string());
    csv.raw(&finished.to_string());
    csv.raw(&match target {
        Some(t) if t > 0 => decimal(u128::from(joined), u128::from(t), 4),
        _ => String::new(),
    });
    csv.raw(&if finished > 0 {
        decimal(u128::try_from(score_sum).unwrap_or(0), u128::from(finished), 1)
    } else {
        String::new()
    });
}

/// `num / den` with `places` decimals, rounded half up, computed exactly.
fn decimal(num: u128, den: u128, places: u32) -> String {
    let scale = 10u128.pow(places);
    let scaled = (num * scale * 2 + den) / (den * 2);
    format!("{}.{:0width$}", scaled / scale, scaled % scale, width = places as usize)
}

fn time(ms: i64) -> Result<String, DbError> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .ok_or_else(|| DbError::Corrupt(format!("time {ms} ms is out of range")))
}

/// Names of places and units from the campaign.
struct Names<'c>(&'c Campaign);

impl Names<'_> {
    /// The place's name, or its id if the campaign no longer has it.
    fn place(&self, id: &str) -> String {
        match PlaceId::parse(id).ok().and_then(|p| self.0.place(&p)) {
            Some(p) => p.name.clone(),
            None => id.to_owned(),
        }
    }

    /// The name of the county-level place at or above `region`, or empty.
    fn county(&self, region: &str) -> String {
        PlaceId::parse(region)
            .ok()
            .and_then(|p| self.0.county_of(&p))
            .and_then(|c| self.0.place(&c))
            .map(|c| c.name.clone())
            .unwrap_or_default()
    }

    /// The unit's name, its id if the campaign no longer has it, or empty without a unit.
    fn unit(&self, id: Option<&str>) -> String {
        let Some(id) = id else { return String::new() };
        match UnitId::parse(id).ok().and_then(|u| self.0.unit(&u)) {
            Some(u) => u.name.clone(),
            None => id.to_owned(),
        }
    }
}

/// A CSV file being written: rows go to a buffer, the buffer to the writer when it is full.
struct Csv<W, F> {
    out: W,
    buf: String,
    /// Rows written so far, without the header.
    rows: u64,
    /// Whether the current row has a field already (the next one needs a comma).
    in_row: bool,
    progress: F,
}

impl<W, F> Csv<W, F> {
    fn header<'c>(&mut self, columns: impl IntoIterator<Item = &'c &'c str>) {
        for c in columns {
            self.raw(c);
        }
        self.close_row();
    }

    /// A text field: neutralised against formula injection, then quoted if needed.
    fn text(&mut self, s: &str) {
        self.separator();
        if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            if needs_quotes(s) {
                self.buf.push_str("\"'");
                self.buf.push_str(&s.replace('"', "\"\""));
                self.buf.push('"');
            } else {
                self.buf.push('\'');
                self.buf.push_str(s);
            }
        } else {
            self.escaped(s);
        }
    }

    /// A field written as it is (numbers, times), quoted if needed.
    fn raw(&mut self, s: &str) {
        self.separator();
        self.escaped(s);
    }

    fn escaped(&mut self, s: &str) {
        if needs_quotes(s) {
            self.buf.push('"');
            self.buf.push_str(&s.replace('"', "\"\""));
            self.buf.push('"');
        } else {
            self.buf.push_str(s);
        }
    }

    fn separator(&mut self) {
        if self.in_row {
            self.buf.push(',');
        }
        self.in_row = true;
    }

    fn close_row(&mut self) {
        self.buf.push_str("\r\n");
        self.in_row = false;
    }
}

impl<W: AsyncWrite + Unpin, F: FnMut(u64)> Csv<W, F> {
    async fn end_row(&mut self) -> Result<(), DbError> {
        self.close_row();
        self.rows += 1;
        if self.buf.len() >= BUFFER {
            self.out.write_all(self.buf.as_bytes()).await.map_err(DbError::Write)?;
            self.buf.clear();
        }
        if self.rows.is_multiple_of(PROGRESS_EVERY) {
            (self.progress)(self.rows);
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<u64, DbError> {
        self.out.write_all(self.buf.as_bytes()).await.map_err(DbError::Write)?;
        self.out.flush().await.map_err(DbError::Write)?;
        Ok(self.rows)
    }
}

fn needs_quotes(s: &str) -> bool {
    s.contains([',', '"', '\r', '\n'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_round_half_up_exactly() {
        assert_eq!(decimal(1, 8, 2), "0.13");
        assert_eq!(decimal(2, 3, 4), "0.6667");
        assert_eq!(decimal(1, 3, 4), "0.3333");
        assert_eq!(decimal(45, 2, 1), "22.5");
        assert_eq!(decimal(41, 4, 1), "10.3");
        assert_eq!(decimal(0, 7, 4), "0.0000");
        assert_eq!(decimal(2_520_000, 1_200, 4), "2100.0000");
    }

    #[tokio::test]
    async fn fields_are_quoted_and_neutralised() {
        let mut out = Vec::new();
        let mut csv = Csv { out: &mut out, buf: String::new(), rows: 0, in_row: false, progress: |_| {} };
        for s in [
            "plain",
            "a,b",
            "say \"hi\"",
            "two\nlines",
            "cr\r",
            "=SUM(A1)",
            "+1",
            "-1",
            "@me",
            "\tx",
            "\rx",
            "",
            "=a,b",
        ] {
            csv.text(s);
        }
        csv.raw("-5");
        csv.raw("");
        csv.end_row().await.unwrap();
        assert_eq!(csv.finish().await.unwrap(), 1);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",'=SUM(A1),'+1,'-1,'@me,'\tx,\"'\rx\",,\"'=a,b\",-5,\r\n"
        );
    }
}
