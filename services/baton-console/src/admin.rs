//! Campaign administration: create or update a campaign (`PUT /api/v1/console/campaigns/{cid}`,
//! a whole document in the format of `baton campaign import`) and import questions
//! (`POST /api/v1/console/campaigns/{cid}/questions`, JSON or CSV: see [`csv`] and
//! `docs/questions-csv.md`).
//!
//! Both are writes: the caller must be allowed to change the campaign ([`Console::writable`]);
//! the result is validated as a whole campaign ([`Campaign::from_doc`]) before anything is
//! stored, and every problem is reported at once; the write is stored as a new version of the
//! campaign, with its audit entry, in one transaction that also serializes concurrent writes
//! ([`baton_db::Db::edit_campaign`]). A new version of an existing campaign takes effect for
//! attempts started [`baton_db::campaigns::SWITCH_DELAY_MS`] after it was written; attempts already running keep the
//! version they were drawn from (see `baton_http::campaigns`).

mod csv;

use crate::Console;
use crate::scope::Writable;
use crate::tokens::Organizer;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, put, web};
use baton_core::campaign::{Campaign, CampaignDoc, DocError, DocErrors, Question, QuestionKind, Translation};
use baton_core::ids::{CampaignId, QuestionId};
use baton_core::rfc3339;
use baton_db::campaigns::{Edit, VersionInfo};
use baton_db::{AuditEntry, DbError};
use baton_http::Problem;
use baton_http::campaigns::Version;
use baton_http::extract::serde_problem;
use baton_http::problem::ProblemDoc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Largest campaign document or question file these routes read (4 MiB: a bank of thousands of
/// questions with translations), instead of the default body limit.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// Most problems one answer lists: a file wrong in every row would otherwise answer megabytes.
const MAX_ERRORS: usize = 1000;

/// Problems the `detail` of a refusal spells out (all of them are in `errors`).
const DETAIL_ERRORS: usize = 10;

/// Registers this module's routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(put_campaign).service(import_questions);
}

/// What `PUT /api/v1/console/campaigns/{cid}` stored.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignWritten {
    pub id: String,
    /// Whether this call created the campaign.
    pub created: bool,
    /// The version of the campaign now stored (1, 2, …); attempts started from `effective_at`
    /// draw their questions from it.
    pub bank_version: i64,
    /// When attempts start drawing from this version (RFC 3339): at once for a new campaign,
    /// a minute after an update. Attempts already running keep the version they were drawn from.
    pub effective_at: String,
    pub places: usize,
    pub units: usize,
    pub questions: usize,
}

/// What `POST /api/v1/console/campaigns/{cid}/questions` did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QuestionsImported {
    /// `merge` or `replace`.
    pub mode: String,
    /// Questions whose id was not in the bank.
    pub added: usize,
    /// Questions that replaced the bank's question of the same id.
    pub replaced: usize,
    /// Questions no longer in the bank (only with `mode=replace`).
    pub removed: usize,
    /// Questions in the bank now.
    pub total: usize,
    /// The version of the campaign now stored.
    pub bank_version: i64,
    /// When attempts start drawing from this version (RFC 3339).
    pub effective_at: String,
}

/// `?mode=` of a question import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `merge` (the default): add questions with new ids, replace those whose id the bank has.
    /// `replace`: the bank becomes exactly the imported questions.
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Merge,
    Replace,
}

/// One problem of a refused question import: an item of the `errors` member of
/// `invalid_questions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
struct RowError {
    /// CSV: the line of the file where the row starts (the header is line 1). JSON: the
    /// question's index in the array (from 0). Null for a problem of the bank as a whole.
    line: Option<u64>,
    /// The column (CSV) or field (JSON) at fault; for a problem of the whole bank, its path in
    /// the campaign document; empty when the row as a whole is at fault.
    field: String,
    message: String,
    /// The question's id, when known.
    question_id: Option<String>,
}

impl RowError {
    fn at(line: u64, field: impl Into<String>, message: impl Into<String>) -> Self {
        RowError { line: Some(line), field: field.into(), message: message.into(), question_id: None }
    }
}

/// One question of an import: where it is in the body, its id if it has one, the question if it
/// could be read, and what is wrong with it.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    id: Option<String>,
    question: Option<Question>,
    errors: Vec<RowError>,
}

/// Create a campaign (admin) or update one (admin, or the campaign's organizer) from a whole
/// campaign document, in the format of `baton campaign import` and `baton campaign export`.
/// The document is validated as a whole and every problem is reported at once. An update is a
/// new version of the campaign: attempts started from `effective_at` on draw from it, attempts
/// already running keep the version they started with. Recorded in the audit log
/// (`campaign_created`, `campaign_updated`).
#[utoipa::path(tag = "console", security(("organizer" = [])),
    request_body(content = Object, content_type = "application/json",
        description = "A campaign document (`format`, `id`, `title`, `description`, `starts_at`, `ends_at`, `rules`, `categories`, `regions`, `units`, `questions`), as `baton campaign export` prints it; `id` must be the path's. At most 4 MiB."),
    responses(
    (status = 201, description = "Created", body = CampaignWritten),
    (status = 200, description = "Updated: stored as a new version", body = CampaignWritten),
    (status = 400, description = "invalid_campaign: the document breaks the campaign rules; `detail` lists the fields and the extension member `errors` holds every one as {field, message}, `field` being its path in the document (e.g. `questions[3] (law-004).answer`). campaign_id_mismatch: the document's id is not the path's. invalid_id: the path cannot be a campaign id. malformed_json, unknown_field, missing_field, invalid_type, invalid_field: the body is not a campaign document (with the line and column)", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden: a viewer, another campaign's organizer, or an organizer creating a campaign (only an admin may)", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found: the organizer's campaign is not loaded here yet", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large: over 4 MiB", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 415, description = "unsupported_media_type: send application/json", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 503, description = "unavailable", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[put("/api/v1/console/campaigns/{cid}")]
async fn put_campaign(
    who: Organizer,
    c: web::Data<Console>,
    cid: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let id = match c.writable(&who, &cid)? {
        Writable::Existing(s) => s.campaign.id().clone(),
        Writable::New(id) => id,
    };
    if !is_json(&req) {
        return Err(unsupported("Send the campaign document as JSON with Content-Type: application/json."));
    }
    let doc = campaign_doc(&body(payload).await?)?;
    if doc.id != id {
        return Err(Problem::bad_request(
            "campaign_id_mismatch",
            format!(
                "The document's id is {:?} but the path names {:?}: they must be the same.",
                doc.id.as_str(),
                id.as_str()
            ),
        ));
    }
    let campaign = Campaign::from_doc(doc.clone()).map_err(invalid_campaign)?;
    let (places, units, questions) = (campaign.places().count(), doc.units.len(), doc.questions.len());
    let now = c.clock.now_ms();
    let stored =
        c.db.edit_campaign(&id, now, |current, next| {
            let created = current.is_none();
            if created {
                Console::may_create(&who)?;
            }
            let detail = format!(
                "version {} in effect from {}: {places} places, {units} units, {questions} questions",
                next.version,
                rfc3339(effective_at(next))
            );
            let action = if created { "campaign_created" } else { "campaign_updated" };
            Ok::<_, Problem>(Edit { doc, audit: Some(audit(&who, action, &id, now, detail)), output: created })
        })
        .await
        .map_err(db_problem)??;
    remember(&c, &stored.version, campaign);
    let created = stored.output;
    tracing::info!(campaign.id = %id, organizer = %who.username, version = stored.version.version, created, "campaign written through the console");
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(HttpResponse::build(status).json(CampaignWritten {
        id: id.to_string(),
        created,
        bank_version: stored.version.version,
        effective_at: rfc3339(effective_at(&stored.version)),
        places,
        units,
        questions,
    }))
}

/// Import questions into a campaign's bank (admin, or the campaign's organizer):
/// `application/json` (a list of questions in the campaign-document format, or
/// `{"questions": [...]}`) or `text/csv` (UTF-8, a header row, one question per row; layout in
/// docs/questions-csv.md: `id, kind, category, difficulty, stem, option_a … option_h` or
/// `options` (separated by `|`), `answer` (letters such as `A` or `AC`, or 1-based numbers),
/// `explanation, source`, optionally `stem_en, options_en, explanation_en`). With `mode=merge`
/// (default) new ids are added and known ids replaced; with `mode=replace` the bank becomes
/// exactly the file. The resulting campaign is validated as a whole (quotas included): any
/// problem refuses the whole import, every problem is listed with its line, and nothing is
/// stored. Stored as a new version of the campaign; attempts already running keep theirs.
/// Recorded in the audit log (`questions_imported`).
#[utoipa::path(tag = "console", security(("organizer" = [])), params(ImportQuery),
    request_body(description = "The questions: JSON (a list, or an object with `questions`) or CSV (see docs/questions-csv.md). At most 4 MiB.",
        content((Object = "application/json"), (String = "text/csv"))),
    responses(
    (status = 200, description = "Imported: stored as a new version", body = QuestionsImported),
    (status = 400, description = "invalid_questions: some questions cannot be imported; nothing was. The extension member `errors` lists every problem as {line, field, message, question_id}: `line` is the CSV line where the row starts (the header is line 1) or the JSON array index (from 0), null for a problem of the bank as a whole (e.g. a quota); `field` the column or field. malformed_json, unknown_field, invalid_type: the JSON body is not a list of questions. invalid_query: mode is not merge or replace. invalid_id: the path cannot be a campaign id", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden: a viewer, or another campaign's organizer", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large: over 4 MiB", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 415, description = "unsupported_media_type: send application/json or text/csv", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 503, description = "unavailable", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[post("/api/v1/console/campaigns/{cid}/questions")]
async fn import_questions(
    who: Organizer,
    c: web::Data<Console>,
    cid: web::Path<String>,
    query: web::Query<ImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<QuestionsImported>, Problem> {
    let not_found = || Problem::not_found("campaign_not_found", "There is no such campaign.");
    let id = match c.writable(&who, &cid)? {
        Writable::Existing(s) => s.campaign.id().clone(),
        Writable::New(_) => return Err(not_found()),
    };
    let mode = match query.mode.as_deref() {
        None | Some("merge") => Mode::Merge,
        Some("replace") => Mode::Replace,
        Some(_) => return Err(Problem::bad_request("invalid_query", "mode must be merge or replace.")),
    };
    let is_csv = match media_type(&req).as_str() {
        "text/csv" | "application/csv" => true,
        _ if is_json(&req) => false,
        _ => return Err(unsupported("Send the questions as JSON (application/json) or CSV (text/csv).")),
    };
    let bytes = body(payload).await?;
    let (rows, letters) =
        if is_csv { csv::parse(&bytes).map_err(invalid_questions)? } else { (json_rows(&bytes)?, false) };
    if rows.is_empty() {
        return Err(invalid_questions(vec![RowError {
            line: None,
            field: String::new(),
            message: "there are no questions in the body".into(),
            question_id: None,
        }]));
    }
    let place = |line: u64| if is_csv { format!("line {line}") } else { format!("index {line}") };
    let field = |f: &str| if is_csv { csv::Layout::field_name(letters, f) } else { f.to_owned() };
    let now = c.clock.now_ms();
    let stored =
        c.db.edit_campaign(&id, now, |current, next| {
            let mut doc = current.ok_or_else(not_found)?;
            let merged = merge(&mut doc.questions, &rows, mode, place);
            let mut errors: Vec<RowError> = rows.iter().flat_map(|r| r.errors.iter().cloned()).collect();
            errors.extend(merged.errors);
            let campaign = match Campaign::from_doc(doc.clone()) {
                Ok(campaign) => Some(campaign),
                Err(DocErrors(found)) => {
                    errors.extend(found.into_iter().map(|e| bank_error(e, &merged.origin, &rows, field)));
                    None
                }
            };
            let Some(campaign) = campaign.filter(|_| errors.is_empty()) else {
                return Err(invalid_questions(errors));
            };
            let counts = QuestionsImported {
                mode: if mode == Mode::Merge { "merge" } else { "replace" }.into(),
                added: merged.added,
                replaced: merged.replaced,
                removed: merged.removed,
                total: doc.questions.len(),
                bank_version: next.version,
                effective_at: rfc3339(effective_at(next)),
            };
            let detail = format!(
                "{} questions ({}): {} added, {} replaced, {} removed, {} in the bank; version {} in effect from {}",
                if is_csv { "CSV" } else { "JSON" },
                counts.mode,
                counts.added,
                counts.replaced,
                counts.removed,
                counts.total,
                next.version,
                counts.effective_at
            );
            Ok(Edit {
                doc,
                audit: Some(audit(&who, "questions_imported", &id, now, detail)),
                output: (counts, campaign),
            })
        })
        .await
        .map_err(db_problem)??;
    let (counts, campaign) = stored.output;
    remember(&c, &stored.version, campaign);
    tracing::info!(campaign.id = %id, organizer = %who.username, version = stored.version.version, added = counts.added, replaced = counts.replaced, removed = counts.removed, "questions imported through the console");
    Ok(web::Json(counts))
}

/// The audit entry of a write.
fn audit(who: &Organizer, action: &str, campaign: &CampaignId, at_ms: i64, detail: String) -> AuditEntry {
    AuditEntry {
        at_ms,
        username: who.username.to_string(),
        action: action.into(),
        campaign_id: Some(campaign.clone()),
        detail,
    }
}

/// Puts a version this process just wrote into its registry, so that this process serves it
/// at once; the others load it at their next refresh, well before it takes effect.
fn remember(c: &Console, v: &VersionInfo, campaign: Campaign) {
    c.campaigns.put_version(Version { number: v.version, valid_from: v.valid_from_ms, campaign: Arc::new(campaign) });
}

/// When a version takes effect, as people read it: a first version is in effect from its
/// creation (its `valid_from` is 0, "always").
fn effective_at(v: &VersionInfo) -> i64 {
    v.valid_from_ms.max(v.created_at_ms)
}

fn db_problem(e: DbError) -> Problem {
    match e {
        DbError::Invalid(m) => Problem::bad_request("invalid_campaign", m),
        other => Problem::from(other),
    }
}

/// The media type of the request, lowercased, without parameters.
fn media_type(req: &HttpRequest) -> String {
    let ct = req.headers().get(actix_web::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn is_json(req: &HttpRequest) -> bool {
    let m = media_type(req);
    m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
}

fn unsupported(detail: &str) -> Problem {
    Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type", detail)
}

/// The request body, at most [`BODY_LIMIT`] bytes.
async fn body(payload: web::Payload) -> Result<web::Bytes, Problem> {
    match payload.to_bytes_limited(BODY_LIMIT).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(Problem::bad_request("malformed_json", format!("The body could not be read: {e}"))),
        Err(_) => Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "Payload too large",
            format!("The request body is larger than {BODY_LIMIT} bytes."),
        )),
    }
}

/// A UTF-8 byte-order mark some editors put in front of JSON, dropped.
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(bytes)
}

/// A serde error as a problem, with where it is in the body.
fn located(e: &serde_json::Error) -> Problem {
    let mut p = serde_problem(e);
    if e.classify() == serde_json::error::Category::Data {
        p.detail = format!("{} (line {}, column {})", p.detail, e.line(), e.column());
    }
    p
}

/// The body as a campaign document.
fn campaign_doc(bytes: &[u8]) -> Result<CampaignDoc, Problem> {
    let bytes = without_bom(bytes);
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Problem::bad_request("invalid_type", "The body must be a JSON object: a campaign document."));
    }
    serde_json::from_slice(bytes).map_err(|e| located(&e))
}

/// `invalid_campaign`, listing every problem of the document.
fn invalid_campaign(DocErrors(errors): DocErrors) -> Problem {
    let n = errors.len();
    let shown: Vec<String> = errors.iter().take(DETAIL_ERRORS).map(DocError::to_string).collect();
    let more = if n > DETAIL_ERRORS { format!("; and {} more (see errors)", n - DETAIL_ERRORS) } else { String::new() };
    let listed: Vec<Value> =
        errors.iter().take(MAX_ERRORS).map(|e| json!({"field": e.path, "message": e.message})).collect();
    Problem::bad_request(
        "invalid_campaign",
        format!("{n} problem(s) in the campaign document; nothing was stored. Fix: {}{more}.", shown.join("; ")),
    )
    .with_extension("errors", Value::Array(listed))
}

/// `invalid_questions`, listing every problem, by line.
fn invalid_questions(mut errors: Vec<RowError>) -> Problem {
    errors.sort_by_key(|e| e.line.unwrap_or(u64::MAX));
    let n = errors.len();
    let shown: Vec<String> = errors
        .iter()
        .take(DETAIL_ERRORS)
        .map(|e| match (e.line, e.field.as_str()) {
            (Some(l), "") => format!("line {l}: {}", e.message),
            (Some(l), f) => format!("line {l}, {f}: {}", e.message),
            (None, "") => e.message.clone(),
            (None, f) => format!("{f}: {}", e.message),
        })
        .collect();
    let more = if n > DETAIL_ERRORS { format!("; and {} more (see errors)", n - DETAIL_ERRORS) } else { String::new() };
    errors.truncate(MAX_ERRORS);
    Problem::bad_request(
        "invalid_questions",
        format!("{n} problem(s) in the questions; nothing was imported. {}{more}.", shown.join("; ")),
    )
    .with_extension("errors", serde_json::to_value(errors).unwrap_or_default())
}

/// What merging an import into a bank did.
struct Merged {
    added: usize,
    replaced: usize,
    removed: usize,
    /// For each question of the new bank, the import row it came from.
    origin: Vec<Option<usize>>,
    /// Ids the import has twice.
    errors: Vec<RowError>,
}

/// Merges the questions of `rows` into `bank`: a question replaces the bank's question of the
/// same id where it stands, or is added at the end; with [`Mode::Replace`] the bank is only the
/// imported questions. Rows that could not be read are left out (their problems are reported).
fn merge(bank: &mut Vec<Question>, rows: &[Row], mode: Mode, place: impl Fn(u64) -> String) -> Merged {
    let before: HashSet<QuestionId> = bank.iter().map(|q| q.id.clone()).collect();
    let mut origin = vec![None; bank.len()];
    if mode == Mode::Replace {
        bank.clear();
        origin.clear();
    }
    let mut at: HashMap<QuestionId, usize> = bank.iter().enumerate().map(|(i, q)| (q.id.clone(), i)).collect();
    let mut first: HashMap<&str, u64> = HashMap::new();
    let (mut added, mut replaced, mut errors) = (0, 0, Vec::new());
    for (r, row) in rows.iter().enumerate() {
        if let Some(id) = &row.id {
            if let Some(line) = first.get(id.as_str()) {
                errors.push(RowError {
                    line: Some(row.line),
                    field: "id".into(),
                    message: format!("question {id} appears twice in the import (first at {})", place(*line)),
                    question_id: Some(id.clone()),
                });
                continue;
            }
            first.insert(id, row.line);
        }
        let Some(q) = &row.question else { continue };
        if before.contains(&q.id) {
            replaced += 1;
        } else {
            added += 1;
        }
        match at.get(&q.id) {
            Some(&i) => {
                bank[i] = q.clone();
                origin[i] = Some(r);
            }
            None => {
                at.insert(q.id.clone(), bank.len());
                bank.push(q.clone());
                origin.push(Some(r));
            }
        }
    }
    let removed = if mode == Mode::Replace { before.len() - replaced } else { 0 };
    Merged { added, replaced, removed, origin, errors }
}

/// `questions[3] (law-004).options[0]` → `(3, "law-004", "options[0]")`.
fn question_path(path: &str) -> Option<(usize, &str, &str)> {
    let rest = path.strip_prefix("questions[")?;
    let (index, rest) = rest.split_once(']')?;
    let (id, field) = rest.strip_prefix(" (")?.split_once(')')?;
    Some((index.parse().ok()?, id, field.strip_prefix('.').unwrap_or(field)))
}

/// A problem the campaign's validation found, told against the import: the row (and column)
/// of an imported question, or the path of a problem of the bank as a whole.
fn bank_error(e: DocError, origin: &[Option<usize>], rows: &[Row], field: impl Fn(&str) -> String) -> RowError {
    match question_path(&e.path) {
        Some((i, id, f)) => match origin.get(i).copied().flatten() {
            Some(r) => {
                RowError { line: Some(rows[r].line), field: field(f), message: e.message, question_id: Some(id.into()) }
            }
            None => RowError { line: None, field: e.path.clone(), message: e.message, question_id: Some(id.into()) },
        },
        None => RowError { line: None, field: e.path, message: e.message, question_id: None },
    }
}

/// The rows of a JSON import: a list of questions, or `{"questions": [...]}`. A body that is
/// neither is refused as a whole; each question that is not one is a row with its problems.
fn json_rows(bytes: &[u8]) -> Result<Vec<Row>, Problem> {
    let v: Value = serde_json::from_slice(without_bom(bytes)).map_err(|e| located(&e))?;
    let items = match v {
        Value::Array(items) => items,
        Value::Object(mut o) => {
            if let Some(k) = o.keys().find(|k| *k != "questions") {
                return Err(Problem::bad_request(
                    "unknown_field",
                    format!("unknown field `{k}`, expected `questions`"),
                ));
            }
            match o.remove("questions") {
                Some(Value::Array(items)) => items,
                Some(_) => return Err(Problem::bad_request("invalid_type", "questions must be a list of questions.")),
                None => return Err(Problem::bad_request("missing_field", "missing field `questions`")),
            }
        }
        _ => {
            return Err(Problem::bad_request(
                "invalid_type",
                "The body must be a list of questions, or an object with `questions`.",
            ));
        }
    };
    Ok(items.into_iter().enumerate().map(|(i, item)| json_row(i as u64, item)).collect())
}

/// The fields of a question in the campaign document.
const QUESTION_FIELDS: [&str; 10] =
    ["id", "kind", "category", "difficulty", "stem", "options", "answer", "explanation", "source", "en"];

fn json_row(index: u64, item: Value) -> Row {
    let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
    match serde_json::from_value::<Question>(item.clone()) {
        Ok(q) => Row { line: index, id, question: Some(q), errors: Vec::new() },
        Err(whole) => {
            let errors = field_errors(&item, &whole)
                .into_iter()
                .map(|(field, message)| RowError { line: Some(index), field, message, question_id: id.clone() })
                .collect();
            Row { line: index, id, question: None, errors }
        }
    }
}

/// Every field of a question that does not read, each with why (serde stops at the first).
fn field_errors(item: &Value, whole: &serde_json::Error) -> Vec<(String, String)> {
    fn probe<T: serde::de::DeserializeOwned>(v: &Value) -> Option<String> {
        serde_json::from_value::<T>(v.clone()).err().map(|e| {
            let m = e.to_string();
            m.split(" at line ").next().unwrap_or(&m).to_owned()
        })
    }
    let Some(obj) = item.as_object() else {
        return vec![(String::new(), "must be an object: a question".into())];
    };
    let mut out: Vec<(String, String)> = obj
        .keys()
        .filter(|k| !QUESTION_FIELDS.contains(&k.as_str()))
        .map(|k| (k.clone(), format!("unknown field, expected one of {}", QUESTION_FIELDS.join(", "))))
        .collect();
    for f in QUESTION_FIELDS {
        let Some(v) = obj.get(f) else {
            if f != "en" {
                out.push((f.into(), "is missing".into()));
            }
            continue;
        };
        let problem = match f {
            "id" => probe::<QuestionId>(v),
            "kind" => probe::<QuestionKind>(v),
            "difficulty" => probe::<u8>(v),
            "options" => probe::<Vec<String>>(v),
            "answer" => probe::<Vec<u8>>(v),
            "en" => probe::<Option<Translation>>(v),
            _ => probe::<String>(v),
        };
        if let Some(p) = problem {
            out.push((f.into(), p));
        }
    }
    if out.is_empty() {
        let m = whole.to_string();
        out.push((String::new(), m.split(" at line ").next().unwrap_or(&m).to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: &str, stem: &str) -> Question {
        serde_json::from_value(json!({"id": id, "kind": "single", "category": "law", "difficulty": 1, "stem": stem,
            "options": ["甲", "乙"], "answer": [0], "explanation": "因为。", "source": "法"}))
        .unwrap()
    }

    fn row(line: u64, question: Question) -> Row {
        Row { line, id: Some(question.id.to_string()), question: Some(question), errors: Vec::new() }
    }

    #[test]
    fn merging_adds_replaces_in_place_and_refuses_repeated_ids() {
        let mut bank = vec![q("a", "一"), q("b", "二"), q("c", "三")];
        let rows = [row(2, q("b", "新二")), row(3, q("d", "四")), row(4, q("b", "又二"))];
        let m = merge(&mut bank, &rows, Mode::Merge, |l| format!("line {l}"));
        let ids: Vec<&str> = bank.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
        assert_eq!(bank[1].stem, "新二");
        assert_eq!((m.added, m.replaced, m.removed), (1, 1, 0));
        assert_eq!(m.origin, [None, Some(0), None, Some(1)]);
        assert_eq!(m.errors.len(), 1);
        assert_eq!((m.errors[0].line, m.errors[0].message.contains("first at line 2")), (Some(4), true));

        let mut bank = vec![q("a", "一"), q("b", "二"), q("c", "三")];
        let m = merge(&mut bank, &[row(0, q("c", "三")), row(1, q("e", "五"))], Mode::Replace, |l| l.to_string());
        assert_eq!(bank.iter().map(|q| q.id.as_str()).collect::<Vec<_>>(), ["c", "e"]);
        assert_eq!((m.added, m.replaced, m.removed), (1, 1, 2));
    }

    #[test]
    fn validation_paths_point_at_rows() {
        assert_eq!(question_path("questions[3] (law-004).options[0]"), Some((3, "law-004", "options[0]")));
        assert_eq!(question_path("questions[12] (x).answer"), Some((12, "x", "answer")));
        assert_eq!(question_path("questions"), None);
        assert_eq!(question_path("rules.quotas.law"), None);
        let rows = [row(7, q("a", "一"))];
        let e = bank_error(
            DocError { path: "questions[1] (a).options[1]".into(), message: "bad".into() },
            &[None, Some(0)],
            &rows,
            |f| format!("<{f}>"),
        );
        assert_eq!((e.line, e.field.as_str(), e.question_id.as_deref()), (Some(7), "<options[1]>", Some("a")));
        let e =
            bank_error(DocError { path: "questions[0] (z).stem".into(), message: "dup".into() }, &[None], &rows, |f| {
                f.into()
            });
        assert_eq!((e.line, e.field.as_str()), (None, "questions[0] (z).stem"));
    }

    #[test]
    fn json_rows_report_every_field_that_does_not_read() {
        let rows = json_rows(
            br#"{"questions": [
                {"id": "a", "kind": "single", "category": "law", "difficulty": 1, "stem": "s", "options": ["x", "y"], "answer": [0], "explanation": "e", "source": "s"},
                {"id": "B!", "kind": "essay", "category": "law", "difficulty": "hard", "stem": "s", "options": ["x"], "answer": [0], "explanation": "e", "colour": 1},
                7
            ]}"#,
        )
        .unwrap();
        assert!(rows[0].question.is_some() && rows[0].errors.is_empty());
        let fields: Vec<&str> = rows[1].errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour", "id", "kind", "difficulty", "source"]);
        assert!(rows[1].errors.iter().all(|e| e.line == Some(1) && e.question_id.as_deref() == Some("B!")));
        assert_eq!(rows[2].errors[0].line, Some(2));
        assert_eq!(json_rows(b"[]").unwrap().len(), 0);
        assert_eq!(json_rows(br#"{"qs": []}"#).unwrap_err().code, "unknown_field");
        assert_eq!(json_rows(b"[1,").unwrap_err().code, "malformed_json");
    }
}

/// Property tests of the parsers of what organizers upload and ask: the question CSV, the JSON
/// question import and the figures' query strings. Whatever arrives is read or refused with
/// its line or field, never a panic; what a spreadsheet writes reads back the same.
#[cfg(test)]
mod props {
    use super::*;
    use crate::figures::{BreakdownQuery, RegionQuery, RelayQuery, SeriesQuery};
    use proptest::prelude::*;

    /// Cell text without surrounding whitespace, with what makes CSV hard: commas, quotes,
    /// line breaks, Chinese and emoji.
    fn cell_text() -> impl Strategy<Value = String> {
        "[a-z甲乙丙😀,;\"\n |]{0,12}".prop_map(|s| format!("x{s}y"))
    }

    /// A cell as a spreadsheet writes it: quoted, with `""` for a quote.
    fn quote(s: &str) -> String {
        format!("\"{}\"", s.replace('"', "\"\""))
    }

    /// A question of 2-4 options and one to all of them right.
    fn question() -> impl Strategy<Value = (String, bool, Vec<String>, Vec<u8>, String, String, String)> {
        ("[a-z][a-z0-9-]{0,10}", any::<bool>(), proptest::collection::vec(cell_text(), 2..=4), any::<u8>())
            .prop_flat_map(|(id, multi, options, pick)| {
                let n = options.len();
                let answer: Vec<u8> = if multi {
                    let mut a: Vec<u8> = (0..n as u8).filter(|i| pick & (1 << i) != 0).collect();
                    if a.is_empty() {
                        a.push(0);
                    }
                    a
                } else {
                    vec![pick % n as u8]
                };
                (Just(id), Just(multi), Just(options), Just(answer), cell_text(), cell_text(), cell_text())
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any bytes at all: rows or problems with a line, never a panic.
        #[test]
        fn csv_of_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let lines = 2 + bytes.iter().filter(|&&b| b == b'\n' || b == b'\r').count() as u64;
            match csv::parse(&bytes) {
                Ok((rows, _)) => {
                    for r in rows {
                        prop_assert!(r.line >= 2 && r.line <= lines);
                        prop_assert!(r.question.is_some() == r.errors.is_empty());
                    }
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    prop_assert!(errors.iter().all(|e| e.line.is_some_and(|l| l >= 1 && l <= lines)));
                }
            }
        }

        /// Text shaped like a question file, with cells from a hostile palette: never a panic,
        /// and each row's problems point at its line.
        #[test]
        fn csv_of_question_shaped_text_never_panics(
            rows in proptest::collection::vec(proptest::collection::vec(
                prop_oneof![cell_text(), Just(String::new()), Just("A".into()), Just("single".into()),
                    Just("judge".into()), Just("2".into()), Just("-1".into()), Just("AZ".into()),
                    Just("\"".into()), "\\PC{0,8}"], 0..14), 0..6),
            delim in prop_oneof![Just(','), Just(';'), Just('\t')],
        ) {
            let header = ["id", "kind", "category", "difficulty", "stem", "option_a", "option_b", "option_c",
                "answer", "explanation", "source"].join(&delim.to_string());
            let mut text = header;
            for r in &rows {
                text.push('\n');
                text.push_str(&r.join(&delim.to_string()));
            }
            if let Ok((rows, letters)) = csv::parse(text.as_bytes()) {
                prop_assert!(letters);
                for r in rows {
                    prop_assert!(r.errors.iter().all(|e| e.line == Some(r.line)), "{:?}", r.errors);
                }
            }
        }

        /// Questions written as a spreadsheet writes them (every cell quoted) read back as the
        /// same questions, on the lines they were written.
        #[test]
        fn csv_questions_round_trip(questions in proptest::collection::vec(question(), 1..5)) {
            let mut text = String::from("\u{feff}id,kind,category,difficulty,stem,option_a,option_b,option_c,option_d,answer,explanation,source\r\n");
            let mut lines = Vec::new();
            let mut line = 2u64;
            for (i, (id, multi, options, answer, stem, explanation, source)) in questions.iter().enumerate() {
                lines.push(line);
                let mut cells = vec![quote(&format!("{id}-{i}")), quote(if *multi { "multi" } else { "single" }),
                    quote("law"), quote("2"), quote(stem)];
                for k in 0..4 {
                    cells.push(quote(options.get(k).map_or("", String::as_str)));
                }
                let letters: String = answer.iter().map(|&a| char::from(b'A' + a)).collect();
                cells.extend([quote(&letters), quote(explanation), quote(source)]);
                let row = cells.join(",");
                line += 1 + row.matches('\n').count() as u64;
                text.push_str(&row);
                text.push_str("\r\n");
            }
            let (rows, _) = csv::parse(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            prop_assert_eq!(rows.len(), questions.len());
            for (i, (row, (id, multi, options, answer, stem, explanation, source))) in rows.iter().zip(&questions).enumerate() {
                prop_assert!(row.errors.is_empty(), "{:?}", row.errors);
                prop_assert_eq!(row.line, lines[i]);
                let q = row.question.as_ref().unwrap();
                prop_assert_eq!(q.id.as_str(), format!("{id}-{i}"));
                prop_assert_eq!(q.kind, if *multi { QuestionKind::Multi } else { QuestionKind::Single });
                prop_assert_eq!(&q.options, options);
                prop_assert_eq!(&q.answer, answer);
                prop_assert_eq!((&q.stem, &q.explanation, &q.source), (stem, explanation, source));
            }
        }

        /// Any JSON body: refused as a whole with a 400 code, or one row per item, each a
        /// question or its problems, numbered by its index.
        #[test]
        fn json_question_imports_never_panic(v in any_json(), wrap in any::<bool>()) {
            let body = if wrap { json!({"questions": v}) } else { v };
            match json_rows(body.to_string().as_bytes()) {
                Ok(rows) => {
                    for (i, r) in rows.iter().enumerate() {
                        prop_assert_eq!(r.line, i as u64);
                        prop_assert!(r.question.is_some() == r.errors.is_empty(), "{:?}", r.errors);
                        prop_assert!(r.errors.iter().all(|e| e.line == Some(i as u64) && !e.message.is_empty()));
                    }
                }
                Err(p) => prop_assert_eq!(p.status, StatusCode::BAD_REQUEST),
            }
        }

        /// The console's query strings: any text is read or refused, never a panic, and what
        /// a client makes of real values reads back as those values.
        #[test]
        fn figure_queries_never_panic(q in query_string()) {
            let _ = web::Query::<RegionQuery>::from_query(&q);
            let _ = web::Query::<SeriesQuery>::from_query(&q);
            let _ = web::Query::<BreakdownQuery>::from_query(&q);
            let _ = web::Query::<RelayQuery>::from_query(&q);
            let _ = web::Query::<ImportQuery>::from_query(&q);
        }

        #[test]
        fn figure_queries_read_their_values(step in any::<i64>(), limit in any::<u32>(), region in "[a-z0-9-]{1,48}") {
            let s = web::Query::<SeriesQuery>::from_query(&format!("metric=answers&step={step}&region_id={region}")).unwrap();
            prop_assert_eq!((s.step, s.region_id.as_deref()), (Some(step), Some(region.as_str())));
            let r = web::Query::<RelayQuery>::from_query(&format!("limit={limit}&region_id={region}")).unwrap();
            prop_assert_eq!((r.limit, r.region_id.as_deref()), (Some(limit), Some(region.as_str())));
            // Unknown parameters are refused, not ignored.
            let misspelt = format!("region_id={region}&regoin_id=x");
            prop_assert!(web::Query::<RegionQuery>::from_query(&misspelt).is_err());
        }
    }

    /// Query strings: names the endpoints know and others, values of every shape, escapes.
    fn query_string() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("metric"),
            Just("step"),
            Just("by"),
            Just("region_id"),
            Just("limit"),
            Just("mode"),
            Just("x"),
            Just("metric[]"),
            Just(""),
        ];
        let value = prop_oneof![
            Just("joins".to_owned()),
            Just("region".to_owned()),
            Just("60".to_owned()),
            Just("-60".to_owned()),
            Just("9223372036854775808".to_owned()),
            Just("%FF%FE".to_owned()),
            Just("%".to_owned()),
            Just("{v1:demo:0}:p".to_owned()),
            "[ -~]{0,12}",
            "\\PC{0,6}",
        ];
        proptest::collection::vec((name, value), 0..5)
            .prop_map(|kv| kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            prop_oneof![Just("single"), Just("judge"), Just("law"), Just("a"), Just("")].prop_map(Value::from),
            "\\PC{0,10}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("id".to_owned()),
                        Just("kind".to_owned()),
                        Just("options".to_owned()),
                        Just("answer".to_owned()),
                        Just("stem".to_owned()),
                        "[a-z]{1,6}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
