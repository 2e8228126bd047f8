//! Moderation: the participants the anti-cheat signals flag (`baton_core::anticheat`, kept by
//! the archiver in `baton_db::anticheat`), and hiding one from the public boards.
//!
//! - `GET …/campaigns/{cid}/flags`: flagged participants in the caller's scope (a region-limited
//!   viewer sees those who joined in its subtree), with every reason and its evidence and
//!   whether the participant is hidden.
//! - `POST …/campaigns/{cid}/participants/{pid}/hide` and `…/unhide`: admins and the campaign's
//!   organizer ([`Console::writable`]). Hidden is not deleted: the participant plays on, keeps
//!   its results, and counts in every collective figure (participants, places, units, averages);
//!   it only stops standing on the individual boards (`score`, `score-region-*`,
//!   `score-unit-*`). Unhiding puts its best back. A finish by a hidden participant still
//!   answers with the ranks it would have (as if it stood on the boards). The decision is
//!   recorded in SQL first (`hidden_participants`, so a rebuild of the hot store hides it
//!   again), then applied to the hot store, then written to the audit log
//!   (`participant_hidden`, `participant_unhidden`); a failure midway answers `503` and a retry
//!   completes it (every step is idempotent).

use crate::Console;
use crate::scope::Writable;
use crate::tokens::Organizer;
use actix_web::http::StatusCode;
use actix_web::{get, post, web};
use baton_core::anticheat;
use baton_core::ids::ParticipantId;
use baton_db::AuditEntry;
use baton_hot::boards_for;
use baton_http::Problem;
use baton_http::extract::EmptyBody;
use baton_http::problem::ProblemDoc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Flagged participants one page holds by default, and at most.
pub const DEFAULT_LIMIT: u32 = 100;
pub const MAX_LIMIT: u32 = 1000;

/// Registers this module's routes.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(flags).service(hide).service(unhide);
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FlagsQuery {
    /// Only participants who joined at this place or under it (within the caller's scope).
    pub region_id: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Participants per page, 1–1000 (default 100).
    pub limit: Option<u32>,
}

/// One signal that flags a participant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReasonView {
    /// `fast_answers`, `same_timing` or `shared_device`.
    pub reason: String,
    /// Fast answers; participants whose attempts share the timing; participants behind the
    /// client fingerprint.
    pub evidence: u64,
}

/// A flagged participant.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FlaggedView {
    pub participant_id: String,
    /// Null while the participant's join is not archived yet.
    pub nickname: Option<String>,
    pub region_id: Option<String>,
    pub reasons: Vec<ReasonView>,
    /// Whether an organizer hid it from the public boards.
    pub hidden: bool,
}

/// The thresholds behind the flags (see `baton_core::anticheat`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ThresholdsView {
    /// Answers below these times (ms) are faster than anybody reads.
    pub reading_floor_ms: u64,
    pub judge_reading_floor_ms: u64,
    /// Fast answers that flag a participant.
    pub fast_answers: u64,
    /// Answering times are compared in steps of this many ms.
    pub timing_quantum_ms: u64,
    /// Participants sharing one timing before all are flagged.
    pub same_timing: u64,
    /// Participants behind one client before all are flagged.
    pub shared_device: u64,
}

/// A page of flagged participants.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FlagsView {
    pub participants: Vec<FlaggedView>,
    /// Pass as `after` for the next page; null on the last.
    pub next: Option<String>,
    pub thresholds: ThresholdsView,
}

/// What a hide or unhide did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HiddenView {
    pub participant_id: String,
    /// Whether the participant is hidden now.
    pub hidden: bool,
    /// Whether this call changed that (false for a repeat).
    pub changed: bool,
}

fn participant_not_found() -> Problem {
    Problem::not_found("participant_not_found", "There is no such participant in this campaign.")
}

/// Participants the anti-cheat signals flag, in the caller's scope: each with its reasons and
/// their evidence, and whether it is hidden from the public boards. Flags never punish: they
/// are for an organizer to look at.
#[utoipa::path(tag = "console", params(FlagsQuery), security(("organizer" = [])), responses(
    (status = 200, body = FlagsView),
    (status = 400, description = "invalid_region, invalid_query", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden: outside the caller's scope", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 503, description = "unavailable", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/console/campaigns/{cid}/flags")]
async fn flags(
    c: web::Data<Console>,
    who: Organizer,
    cid: web::Path<String>,
    q: web::Query<FlagsQuery>,
) -> Result<web::Json<FlagsView>, Problem> {
    let s = c.scoped(&who, &cid, q.region_id.as_deref())?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::bad_request("invalid_query", format!("limit must be from 1 to {MAX_LIMIT}.")));
    }
    let after = match q.after.as_deref() {
        None => None,
        Some(a) => Some(
            ParticipantId::parse(a)
                .map_err(|_| Problem::bad_request("invalid_query", "after is not a participant id."))?,
        ),
    };
    let places = s.places();
    let page = c.db.flagged(s.campaign.id(), places.as_deref(), after.as_ref(), limit).await.map_err(Problem::from)?;
    Ok(web::Json(FlagsView {
        participants: page
            .participants
            .into_iter()
            .map(|f| FlaggedView {
                participant_id: f.participant.to_string(),
                nickname: f.nickname,
                region_id: f.region.map(|r| r.to_string()),
                reasons: f
                    .reasons
                    .into_iter()
                    .map(|(r, evidence)| ReasonView { reason: r.as_str().to_owned(), evidence })
                    .collect(),
                hidden: f.hidden,
            })
            .collect(),
        next: page.next.map(|p| p.to_string()),
        thresholds: ThresholdsView {
            reading_floor_ms: anticheat::READING_FLOOR_MS,
            judge_reading_floor_ms: anticheat::JUDGE_READING_FLOOR_MS,
            fast_answers: anticheat::FAST_ANSWERS_MIN,
            timing_quantum_ms: anticheat::TIMING_QUANTUM_MS,
            same_timing: anticheat::SAME_TIMING_MIN_PARTICIPANTS,
            shared_device: anticheat::SHARED_DEVICE_MIN_PARTICIPANTS,
        },
    }))
}

/// Hides (`hidden`) or shows again a participant, for [`hide`] and [`unhide`].
async fn set_hidden(c: &Console, who: &Organizer, cid: &str, pid: &str, hidden: bool) -> Result<HiddenView, Problem> {
    let s = match c.writable(who, cid)? {
        Writable::Existing(s) => s,
        Writable::New(_) => return Err(Problem::not_found("campaign_not_found", "There is no such campaign.")),
    };
    let campaign = &s.campaign;
    let id = ParticipantId::parse(pid).map_err(|_| participant_not_found())?;
    let p = c.store.participant(campaign.id(), &id).await.map_err(Problem::from)?.ok_or_else(participant_not_found)?;
    let home = p.unit.as_ref().and_then(|u| campaign.unit(u)).map_or(&p.region, |u| &u.region_id);
    if !s.covers(home) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Forbidden",
            "This participant is outside this account's region.",
        ));
    }
    let boards = boards_for(&campaign.ancestors(home), p.unit.as_ref());
    let now = c.clock.now_ms();
    let changed =
        c.db.set_hidden(campaign.id(), &id, hidden, who.username.as_str(), now).await.map_err(Problem::from)?;
    if hidden {
        c.store.hide(campaign.id(), &id, &boards).await.map_err(Problem::from)?;
    } else {
        c.store.unhide(campaign.id(), &id, &boards, campaign.leader()).await.map_err(Problem::from)?;
    }
    let (action, what) =
        if hidden { ("participant_hidden", "hidden from") } else { ("participant_unhidden", "shown again on") };
    let entry = AuditEntry {
        at_ms: now,
        username: who.username.to_string(),
        action: action.to_owned(),
        campaign_id: Some(campaign.id().clone()),
        detail: format!(
            "participant {id} ({}) {what} the public boards{}",
            p.nickname,
            if changed { "" } else { " (already so)" }
        ),
    };
    c.db.audit(&entry).await.map_err(Problem::from)?;
    tracing::info!(campaign.id = %campaign.id(), participant.id = %id, organizer = %who.username, hidden, changed, "participant visibility changed");
    Ok(HiddenView { participant_id: id.to_string(), hidden, changed })
}

/// Hide a participant from the public individual boards (not deleted: it plays on, keeps its
/// results and counts in every collective figure). Idempotent; reversed by `unhide`. Recorded
/// in the audit log (`participant_hidden`).
#[utoipa::path(tag = "console", security(("organizer" = [])), request_body(content = Option<Object>, description = "empty or {}"), responses(
    (status = 200, body = HiddenView),
    (status = 400, description = "a body other than empty or {}", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden: a viewer, another campaign's organizer", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found, participant_not_found", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 503, description = "unavailable", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[post("/api/v1/console/campaigns/{cid}/participants/{pid}/hide")]
async fn hide(
    c: web::Data<Console>,
    who: Organizer,
    path: web::Path<(String, String)>,
    _body: EmptyBody,
) -> Result<web::Json<HiddenView>, Problem> {
    let (cid, pid) = path.into_inner();
    Ok(web::Json(set_hidden(&c, &who, &cid, &pid, true).await?))
}

/// Show a hidden participant on the public boards again, with its best result. Idempotent.
/// Recorded in the audit log (`participant_unhidden`).
#[utoipa::path(tag = "console", security(("organizer" = [])), request_body(content = Option<Object>, description = "empty or {}"), responses(
    (status = 200, body = HiddenView),
    (status = 400, description = "a body other than empty or {}", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized: no valid organizer token", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 403, description = "forbidden: a viewer, another campaign's organizer", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found, participant_not_found", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 503, description = "unavailable", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[post("/api/v1/console/campaigns/{cid}/participants/{pid}/unhide")]
async fn unhide(
    c: web::Data<Console>,
    who: Organizer,
    path: web::Path<(String, String)>,
    _body: EmptyBody,
) -> Result<web::Json<HiddenView>, Problem> {
    let (cid, pid) = path.into_inner();
    Ok(web::Json(set_hidden(&c, &who, &cid, &pid, false).await?))
}
