//! The participant API's route table and handlers.

use crate::Quiz;
use crate::views::*;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, post, web};
use baton_core::calendar::day_number;
use baton_core::campaign::{Campaign, PlaceDoc, Status};
use baton_core::draw::{DrawnQuestion, draw};
use baton_core::ids::{AttemptId, CampaignId, DeviceId, Nickname, ParticipantId, PlaceId, QuestionId, UnitId};
use baton_core::relay::{CodeOwner, RelayCode, attribute};
use baton_core::scoring::{self, attempt_expires, choice_mask, mask_to_choice};
use baton_hot::*;
use baton_http::Problem;
use baton_http::auth::ParticipantAuth;
use baton_http::extract::{EmptyBody, JsonBody};
use baton_http::limits::Limit;
use baton_http::problem::ProblemDoc;
use std::sync::Arc;

/// Registers the quiz role's routes.
///
/// Actix-web tries routes in the order they are registered, matching each dynamic path with a
/// regular expression, so the busiest route comes first: ten answers for every other call.
/// No two of these paths overlap, so the order changes nothing else.
pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(answer)
        .service(campaign_info)
        .service(crate::stats::campaign_stats)
        .service(join)
        .service(me)
        .service(start_attempt)
        .service(get_attempt)
        .service(finish)
        .service(crate::boards::leaderboard);
}

/// The version of campaign `c` in effect at `t`: an attempt draws its questions from the version
/// in effect when it starts, and is shown, judged and explained by that version afterwards,
/// whatever an organizer changed in the bank since (see `baton_http::campaigns`).
pub(crate) fn version_at(q: &Quiz, c: &Arc<Campaign>, t: baton_core::Millis) -> Arc<Campaign> {
    q.campaigns.at(c.id(), t).unwrap_or_else(|| c.clone())
}

pub(crate) fn campaign(q: &Quiz, id: &str) -> Result<Arc<Campaign>, Problem> {
    let none = || Problem::not_found("campaign_not_found", "There is no such campaign.");
    let id = CampaignId::parse(id).map_err(|_| none())?;
    q.campaigns.get(&id).ok_or_else(none)
}

fn place_view(p: &PlaceDoc) -> PlaceView {
    PlaceView {
        id: p.id.to_string(),
        name: p.name.clone(),
        level: p.level.as_str().into(),
        target: p.target,
        children: p.children.iter().map(place_view).collect(),
    }
}

/// The short link that passes the baton: opening it records the click and leads to the
/// campaign page with the code.
pub(crate) fn share_url(q: &Quiz, code: &RelayCode) -> String {
    format!("{}/r/{}", q.public_url, code)
}

/// Public campaign information: rules, places, units, live participant count.
#[utoipa::path(tag = "participant", responses(
    (status = 200, body = CampaignView),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/campaigns/{cid}")]
async fn campaign_info(q: web::Data<Quiz>, cid: web::Path<String>) -> Result<web::Json<CampaignView>, Problem> {
    let c = campaign(&q, &cid)?;
    let agg = q.store.totals(c.id()).await.map_err(Problem::from)?;
    let d = c.doc();
    let r = &d.rules;
    Ok(web::Json(CampaignView {
        id: d.id.to_string(),
        title: d.title.clone(),
        description: d.description.clone(),
        rules: RulesView {
            questions_per_attempt: r.questions_per_attempt,
            seconds_per_question: r.seconds_per_question,
            attempts_per_day: r.attempts_per_day,
            time_zone: r.time_zone.clone(),
            points_per_question: r.points_per_question,
        },
        starts_at: rfc3339(c.starts_ms()),
        ends_at: rfc3339(c.ends_ms()),
        status: match c.status(q.clock.now_ms()) {
            Status::Upcoming => "upcoming",
            Status::Live => "live",
            Status::Ended => "ended",
        }
        .into(),
        regions: d.regions.iter().map(place_view).collect(),
        units: d
            .units
            .iter()
            .map(|u| UnitView {
                id: u.id.to_string(),
                name: u.name.clone(),
                region_id: u.region_id.to_string(),
                kind: u.kind.as_str().into(),
                target: u.target,
            })
            .collect(),
        stats: StatsView { participants: agg.participants, relayed: agg.relayed },
        wechat_app_id: q.wechat.as_ref().map(|w| w.app_id().to_owned()),
    }))
}

/// The default nickname: a word and a few characters of the participant id.
fn default_nickname(p: &ParticipantId) -> Nickname {
    Nickname::parse(&format!("参赛者{}", &p.as_str()[..4])).expect("a valid nickname")
}

/// Join a campaign (idempotent per `device_id`).
#[utoipa::path(tag = "participant", request_body = JoinRequest, responses(
    (status = 201, description = "Joined", body = JoinResponse),
    (status = 200, description = "Joined before from this device: the same participant, a fresh token", body = JoinResponse),
    (status = 400, description = "invalid_device_id, invalid_region, invalid_unit, invalid_nickname, wechat_code_invalid, wechat_not_configured, malformed or unknown fields", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 502, description = "wechat_upstream: WeChat refused the sign-in", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 503, description = "wechat_unavailable, unavailable", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "campaign_not_found", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 415, description = "unsupported_media_type", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 429, description = "rate_limited: too many joins from this device (join_device) or network (join_ip); see Retry-After", body = ProblemDoc, content_type = "application/problem+json",
        headers(("Retry-After" = i64, description = "seconds to wait"))),
))]
#[post("/api/v1/campaigns/{cid}/participants")]
async fn join(
    q: web::Data<Quiz>,
    req: actix_web::HttpRequest,
    cid: web::Path<String>,
    JsonBody(body): JsonBody<JoinRequest>,
) -> Result<HttpResponse, Problem> {
    let c = campaign(&q, &cid)?;
    let device = DeviceId::parse(&body.device_id).map_err(|e| Problem::bad_request("invalid_device_id", e.0))?;
    // The device first; the network only loosely (a school behind one address).
    q.limits.check(Limit::JoinDevice, (c.id(), device.as_str()))?;
    q.limits.check_client(Limit::JoinIp, &req)?;
    let region = PlaceId::parse(&body.region_id)
        .ok()
        .filter(|r| c.place(r).is_some())
        .ok_or_else(|| Problem::bad_request("invalid_region", "region_id is not a place of this campaign."))?;
    let unit = match &body.unit_id {
        None => None,
        Some(u) => {
            let bad = || {
                Problem::bad_request("invalid_unit", "unit_id is not a unit of the chosen place or a place under it.")
            };
            let id = UnitId::parse(u).map_err(|_| bad())?;
            let unit = c.unit(&id).ok_or_else(bad)?;
            if !c.is_within(&unit.region_id, &region) {
                return Err(bad());
            }
            Some(unit)
        }
    };
    let participant = match (&body.wechat_code, &q.wechat) {
        (Some(code), Some(wechat)) => ParticipantId::for_wechat(c.id(), &wechat.openid_for_code(code).await?),
        (Some(_), None) => {
            return Err(Problem::bad_request(
                "wechat_not_configured",
                "WeChat sign-in is not set up for this service.",
            ));
        }
        (None, _) => ParticipantId::for_device(c.id(), device.as_str()),
    };
    let nickname = match &body.nickname {
        Some(n) => Nickname::parse(n).map_err(|e| Problem::bad_request("invalid_nickname", e.0))?,
        None => default_nickname(&participant),
    };
    // The participant counts towards the most precise place known and every place above it.
    let home = unit.map_or(&region, |u| &u.region_id);
    let now = q.clock.now_ms();
    // The invite code is advisory: unknown, malformed, foreign or one's own is ignored.
    let code = body.invite_code.as_deref().and_then(RelayCode::parse);
    let owner = match &code {
        Some(code) => q.store.resolve_code(code).await.map_err(Problem::from)?,
        None => None,
    };
    let mut inviter = attribute(c.id(), &participant, owner);
    // So is a code past its limit of attributed joins, counted for every pod in the hot store:
    // bots flooding one code must not inflate its relay figures, and must not cost the people
    // who really came through it their join either.
    if let (Some(_), Some(code), Some(window)) =
        (&inviter, &code, code.as_ref().and_then(|code| q.limits.relay_code_window(code.as_str(), now)))
    {
        let n = q.store.shared_incr(&window.name, window.ttl_ms).await.map_err(Problem::from)?;
        if !window.allows(n) {
            tracing::debug!(relay.code = %code, joins = n, "relay code past its join limit; joining without an inviter");
            q.limits.count_refusal("relay_code");
            inviter = None;
        }
    }
    let outcome = q
        .store
        .join(JoinCmd {
            campaign: c.id().clone(),
            participant: participant.clone(),
            region: region.clone(),
            unit: unit.map(|u| u.id.clone()),
            places: c.ancestors(home),
            nickname,
            now,
            relay_code: free_code(&q).await?,
            inviter,
            client: client_fingerprint(&q, &c, &req),
        })
        .await
        .map_err(Problem::from)?;
    let (status, state) = match outcome {
        JoinOutcome::Created(s) => (StatusCode::CREATED, s),
        JoinOutcome::Existing(s) => (StatusCode::OK, s),
    };
    // Registering the code again on a re-join repairs a registration a crash left out.
    let mine = CodeOwner { campaign: c.id().clone(), participant: participant.clone(), depth: state.depth };
    let registered = q.store.register_code(&state.relay_code, &mine).await.map_err(Problem::from)?;
    if registered != mine {
        tracing::error!(participant.id = %participant, "relay code taken by another participant; links of this one do not attribute");
    }
    let inviter = match &state.inviter {
        Some(i) => q.store.nicknames(c.id(), std::slice::from_ref(i)).await.map_err(Problem::from)?.pop().flatten(),
        None => None,
    };
    Ok(HttpResponse::build(status).json(JoinResponse {
        participant_id: participant.to_string(),
        token: q.tokens.issue_participant(c.id(), &participant, now / 1000),
        relay_code: Some(state.relay_code.to_string()),
        share_url: share_url(&q, &state.relay_code),
        inviter: inviter.map(|nickname| InviterView { nickname }),
    }))
}

/// The fingerprint of the client joining (for the `shared_device` signal): its network and
/// User-Agent, salted and hashed; the address itself goes nowhere.
fn client_fingerprint(q: &Quiz, c: &Campaign, req: &actix_web::HttpRequest) -> Option<String> {
    let agent = req.headers().get(actix_web::http::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    baton_core::anticheat::client_fingerprint(&q.client_salt, c.id(), q.limits.client_ip(req), agent)
}

/// A relay code nobody has yet (codes have 50 random bits, so the first is all but certainly
/// free).
async fn free_code(q: &Quiz) -> Result<RelayCode, Problem> {
    for _ in 0..8 {
        let code = RelayCode::random(&mut rand::rng());
        if q.store.resolve_code(&code).await.map_err(Problem::from)?.is_none() {
            return Ok(code);
        }
    }
    Err(Problem::internal("no free relay code after 8 tries"))
}

/// The participant of a token, as the hot store has it.
pub(crate) async fn participant_of(
    q: &Quiz,
    auth: &ParticipantAuth,
) -> Result<(Arc<Campaign>, ParticipantState), Problem> {
    let c = q
        .campaigns
        .get(&auth.campaign)
        .ok_or_else(|| Problem::not_found("campaign_not_found", "The campaign of this token no longer exists."))?;
    let p = q.store.participant(&auth.campaign, &auth.participant).await.map_err(Problem::from)?;
    let p = p.ok_or_else(|| Problem::unauthorized("This participant is not known here. Join the campaign again."))?;
    Ok((c, p))
}

/// The caller's profile.
#[utoipa::path(tag = "participant", security(("participant" = [])), responses(
    (status = 200, body = MeView),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/me")]
async fn me(q: web::Data<Quiz>, auth: ParticipantAuth) -> Result<web::Json<MeView>, Problem> {
    let (c, p) = participant_of(&q, &auth).await?;
    let day = day_number(c.time_zone(), q.clock.now_ms());
    let attempts_left_today = p.attempts_left(day, c.rules().attempts_per_day);
    Ok(web::Json(MeView {
        participant_id: p.id.to_string(),
        campaign_id: c.id().to_string(),
        nickname: p.nickname,
        region_id: p.region.to_string(),
        unit_id: p.unit.map(|u| u.to_string()),
        best_score: p.best.map(|b| b.score),
        best_seconds: p.best.map(|b| b.total_ms as f64 / 1000.0),
        attempts_left_today,
        open_attempt_id: p.open_attempt.map(|a| a.to_string()),
        relay_code: Some(p.relay_code.to_string()),
        share_url: share_url(&q, &p.relay_code),
    }))
}

fn answer_view(c: &Campaign, d: &DrawnQuestion, correct_mask: u32, j: &scoring::Judged, lang: Lang) -> AnswerView {
    let q = c.question(&d.id).map(|q| Localized::of(q, lang));
    AnswerView {
        lang: q.as_ref().map_or(Lang::Zh, |q| q.lang),
        question_id: d.id.to_string(),
        choice: mask_to_choice(j.choice_mask),
        correct: j.correct,
        correct_choice: mask_to_choice(correct_mask),
        explanation: q.as_ref().map(|q| q.explanation.to_owned()).unwrap_or_default(),
        source: q.as_ref().map(|q| q.source.to_owned()).unwrap_or_default(),
        points: j.points,
        timed_out: j.timed_out,
        attempt_score: j.attempt_score,
    }
}

/// An attempt as the client sees it. Correct answers and explanations appear only for
/// questions already answered.
pub(crate) fn attempt_view(c: &Campaign, a: &AttemptState, now: baton_core::Millis, lang: Lang) -> AttemptView {
    let questions = a
        .questions
        .iter()
        .zip(&a.answers)
        .map(|(d, ans)| {
            let q = c.question(&d.id).map(|q| Localized::of(q, lang));
            QuestionView {
                id: d.id.to_string(),
                kind: d.kind.as_str().into(),
                lang: q.as_ref().map_or(Lang::Zh, |q| q.lang),
                stem: q.as_ref().map(|q| q.stem.to_owned()).unwrap_or_default(),
                // `c` is the version the attempt was drawn from, so every index is in range; an
                // attempt older than the versions kept shows blanks rather than failing.
                options: q
                    .as_ref()
                    .map(|q| {
                        d.perm
                            .iter()
                            .map(|&i| q.options.get(usize::from(i)).copied().unwrap_or_default().to_owned())
                            .collect()
                    })
                    .unwrap_or_default(),
                answer: ans.as_ref().map(|j| answer_view(c, d, d.correct_mask, j, lang)),
            }
        })
        .collect();
    let status = match (&a.finished, now >= a.expires_at) {
        (Some(_), _) => "finished",
        (None, true) => "expired",
        (None, false) => "open",
    };
    AttemptView {
        attempt_id: a.id.to_string(),
        status: status.into(),
        started_at: rfc3339(a.started_at),
        expires_at: rfc3339(a.expires_at),
        seconds_per_question: (a.limit_ms / 1000) as u16,
        question_deadline: (status == "open").then(|| rfc3339(a.cursor + a.limit_ms)),
        attempt_score: a.answers.iter().flatten().map(|j| u64::from(j.points)).sum(),
        questions,
        result: a.finished.map(|f| ResultView {
            score: f.totals.score,
            correct_count: f.totals.correct_count,
            total_seconds: f.totals.total_ms as f64 / 1000.0,
            finished_at: rfc3339(f.reached_at),
        }),
    }
}

/// Start an attempt, or get back the one in progress.
#[utoipa::path(tag = "participant", security(("participant" = [])), params(LangQuery), request_body(content = Option<Object>, description = "empty or {}"), responses(
    (status = 201, description = "A new attempt", body = AttemptView),
    (status = 200, description = "The attempt already in progress", body = AttemptView),
    (status = 409, description = "attempts_exhausted, campaign_not_live", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 400, description = "a body other than empty or {}", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 429, description = "rate_limited: too many starts by this participant (start); see Retry-After", body = ProblemDoc, content_type = "application/problem+json",
        headers(("Retry-After" = i64, description = "seconds to wait"))),
))]
#[post("/api/v1/attempts")]
async fn start_attempt(
    q: web::Data<Quiz>,
    auth: ParticipantAuth,
    lang: Lang,
    _body: EmptyBody,
) -> Result<HttpResponse, Problem> {
    q.limits.check(Limit::Start, (&auth.campaign, &auth.participant))?;
    let (newest, p) = participant_of(&q, &auth).await?;
    // At most two rounds: an open attempt whose time is up is finished first.
    for _ in 0..2 {
        let now = q.clock.now_ms();
        // Drawn from the version in effect now, which a newer one may follow shortly.
        let c = version_at(&q, &newest, now);
        if c.status(now) != Status::Live {
            return Err(Problem::conflict("campaign_not_live", "The campaign is not running now."));
        }
        let rules = c.rules();
        let limit_ms = i64::from(rules.seconds_per_question) * 1000;
        let (id, questions) = {
            let mut rng = rand::rng();
            (AttemptId::random(&mut rng), draw(&c, &mut rng))
        };
        let n = questions.len();
        let attempt = AttemptState {
            id,
            participant: p.id.clone(),
            started_at: now,
            expires_at: attempt_expires(now, n, limit_ms),
            limit_ms,
            questions,
            answers: vec![None; n],
            cursor: now,
            finished: None,
        };
        let cmd = StartCmd {
            campaign: c.id().clone(),
            participant: p.id.clone(),
            attempt,
            day: day_number(c.time_zone(), now),
            per_day: rules.attempts_per_day,
        };
        return match q.store.start_attempt(cmd).await.map_err(Problem::from)? {
            StartOutcome::Started(a) => Ok(HttpResponse::Created().json(attempt_view(&c, &a, now, lang))),
            StartOutcome::Resumed(a) => {
                Ok(HttpResponse::Ok().json(attempt_view(&version_at(&q, &newest, a.started_at), &a, now, lang)))
            }
            StartOutcome::Exhausted => {
                Err(Problem::conflict("attempts_exhausted", "No attempts left today. Come back tomorrow!"))
            }
            StartOutcome::NoParticipant => {
                Err(Problem::unauthorized("This participant is not known here. Join the campaign again."))
            }
            StartOutcome::OpenExpired(open) => {
                close(&q, &newest, &p, &open, now).await?;
                continue;
            }
        };
    }
    Err(Problem::internal("an expired attempt stayed open after it was finished"))
}

/// Resume: an attempt with the answers given so far.
#[utoipa::path(tag = "participant", security(("participant" = [])), params(LangQuery), responses(
    (status = 200, body = AttemptView),
    (status = 400, description = "invalid_query (lang)", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "attempt_not_found", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[get("/api/v1/attempts/{aid}")]
async fn get_attempt(
    q: web::Data<Quiz>,
    auth: ParticipantAuth,
    aid: web::Path<String>,
    lang: Lang,
) -> Result<web::Json<AttemptView>, Problem> {
    let (c, p) = participant_of(&q, &auth).await?;
    let a = load_attempt(&q, &c, &p, &aid).await?;
    Ok(web::Json(attempt_view(&version_at(&q, &c, a.started_at), &a, q.clock.now_ms(), lang)))
}

fn attempt_not_found() -> Problem {
    Problem::not_found("attempt_not_found", "There is no such attempt of yours.")
}

async fn load_attempt(q: &Quiz, c: &Campaign, p: &ParticipantState, aid: &str) -> Result<AttemptState, Problem> {
    let aid = AttemptId::parse(aid).map_err(|_| attempt_not_found())?;
    q.store.attempt(c.id(), &p.id, &aid).await.map_err(Problem::from)?.ok_or_else(attempt_not_found)
}

/// Answer one question of an attempt.
#[utoipa::path(tag = "participant", security(("participant" = [])), params(LangQuery), request_body = AnswerRequest, responses(
    (status = 200, description = "Judged (or the first judgement, for an identical resend)", body = AnswerView),
    (status = 400, description = "invalid_choice, question_not_in_attempt", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "attempt_not_found", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 409, description = "already_answered (a different choice), attempt_finished", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 415, description = "unsupported_media_type", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 429, description = "rate_limited: answers from this participant arrive too fast (answer); see Retry-After", body = ProblemDoc, content_type = "application/problem+json",
        headers(("Retry-After" = i64, description = "seconds to wait"))),
))]
#[post("/api/v1/attempts/{aid}/answers")]
async fn answer(
    q: web::Data<Quiz>,
    auth: ParticipantAuth,
    aid: web::Path<String>,
    lang: Lang,
    JsonBody(body): JsonBody<AnswerRequest>,
) -> Result<web::Json<AnswerView>, Problem> {
    q.limits.check(Limit::Answer, (&auth.campaign, &auth.participant))?;
    let versions = q
        .campaigns
        .versions(&auth.campaign)
        .ok_or_else(|| Problem::not_found("campaign_not_found", "The campaign of this token no longer exists."))?;
    let newest =
        versions.last().map(|v| v.campaign.clone()).ok_or_else(|| Problem::internal("a campaign without versions"))?;
    let attempt = AttemptId::parse(&aid).map_err(|_| attempt_not_found())?;
    let not_in = || Problem::bad_request("question_not_in_attempt", "That question is not part of this attempt.");
    let qid = QuestionId::parse(&body.question_id).map_err(|_| not_in())?;
    // The question as the attempt's version has it. Where every version loaded agrees on it
    // (nearly always), that is the newest one's; where the bank changed it, the attempt is read
    // first to learn which version it was drawn from.
    let c = if versions.iter().all(|v| v.campaign.question(&qid) == newest.question(&qid)) {
        newest
    } else {
        let a = q.store.attempt(&auth.campaign, &auth.participant, &attempt).await.map_err(Problem::from)?;
        version_at(&q, &newest, a.ok_or_else(attempt_not_found)?.started_at)
    };
    let question = c.question(&qid).ok_or_else(not_in)?;
    let mask = choice_mask(&body.choice, question.options.len(), question.kind)
        .map_err(|e| Problem::bad_request("invalid_choice", e.to_string()))?;
    let cmd = AnswerCmd {
        campaign: c.id().clone(),
        participant: auth.participant.clone(),
        attempt,
        question: qid,
        choice_mask: mask,
        now: q.clock.now_ms(),
    };
    let view = |a: Answered| {
        let d = DrawnQuestion {
            id: question.id.clone(),
            kind: question.kind,
            perm: Vec::new(),
            correct_mask: a.correct_mask,
            points: 0,
        };
        answer_view(&c, &d, a.correct_mask, &a.judged, lang)
    };
    match q.store.answer(cmd).await.map_err(Problem::from)? {
        AnswerOutcome::Judged(a) | AnswerOutcome::Repeat(a) => Ok(web::Json(view(a))),
        AnswerOutcome::Conflict(_) => {
            Err(Problem::conflict("already_answered", "This question was already answered with a different choice."))
        }
        AnswerOutcome::NotInAttempt => Err(not_in()),
        AnswerOutcome::AttemptNotFound => Err(attempt_not_found()),
        AnswerOutcome::AttemptFinished => Err(Problem::conflict("attempt_finished", "This attempt is finished.")),
    }
}

/// The boards a participant's best result stands on: everyone, every place from theirs up,
/// their unit.
pub(crate) fn boards_of(c: &Campaign, p: &ParticipantState) -> Vec<Board> {
    let home = p.unit.as_ref().and_then(|u| c.unit(u)).map_or(&p.region, |u| &u.region_id);
    boards_for(&c.ancestors(home), p.unit.as_ref())
}

/// Closes an attempt and puts the participant's best on its boards. Returns the finish and
/// the standings on [`boards_of`] in order.
async fn close(
    q: &Quiz,
    c: &Campaign,
    p: &ParticipantState,
    aid: &AttemptId,
    now: baton_core::Millis,
) -> Result<(Finished, baton_core::leader::LeaderResult, Vec<(Board, Standing)>), Problem> {
    let outcome = q
        .store
        .finish(FinishCmd { campaign: c.id().clone(), participant: p.id.clone(), attempt: aid.clone(), now })
        .await
        .map_err(Problem::from)?;
    let FinishOutcome::Finished { finished, best, .. } = outcome else {
        return Err(attempt_not_found());
    };
    // Always (re)publish: a retried finish repairs boards a crash left behind; ZADD GT makes
    // it harmless.
    let boards = boards_of(c, p);
    let standings = q.store.publish_best(c.id(), &p.id, c.leader().key(best), &boards).await.map_err(Problem::from)?;
    Ok((finished, best, boards.into_iter().zip(standings).collect()))
}

/// Finish an attempt (idempotent): score, best, ranks and percentile.
#[utoipa::path(tag = "participant", security(("participant" = [])), request_body(content = Option<Object>, description = "empty or {}"), responses(
    (status = 200, body = FinishView),
    (status = 400, description = "a body other than empty or {}", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 401, description = "unauthorized", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 404, description = "attempt_not_found", body = ProblemDoc, content_type = "application/problem+json"),
    (status = 413, description = "body_too_large", body = ProblemDoc, content_type = "application/problem+json"),
))]
#[post("/api/v1/attempts/{aid}/finish")]
async fn finish(
    q: web::Data<Quiz>,
    auth: ParticipantAuth,
    aid: web::Path<String>,
    _body: EmptyBody,
) -> Result<web::Json<FinishView>, Problem> {
    let (c, p) = participant_of(&q, &auth).await?;
    let aid = AttemptId::parse(&aid).map_err(|_| attempt_not_found())?;
    let (f, best, standings) = close(&q, &c, &p, &aid, q.clock.now_ms()).await?;
    let home = p.unit.as_ref().and_then(|u| c.unit(u)).map_or(&p.region, |u| &u.region_id);
    let county = c.county_of(home);
    let rank_on = |want: &Board| standings.iter().find(|(b, _)| b == want).map(|(_, s)| s.rank + 1);
    let global = standings
        .iter()
        .find(|(b, _)| *b == Board::Score)
        .map(|(_, s)| *s)
        .ok_or_else(|| Problem::internal("no global standing"))?;
    Ok(web::Json(FinishView {
        attempt_id: aid.to_string(),
        score: f.totals.score,
        correct_count: f.totals.correct_count,
        total_seconds: f.totals.total_ms as f64 / 1000.0,
        best_score: best.score,
        best_seconds: best.total_ms as f64 / 1000.0,
        rank: RankView {
            global: global.rank + 1,
            region: county.and_then(|r| rank_on(&Board::Region(r))),
            unit: p.unit.clone().and_then(|u| rank_on(&Board::Unit(u))),
        },
        percentile: scoring::percentile(global.rank + 1, global.total),
    }))
}
