//! The participant API's wire types. Requests reject unknown fields; responses are built from
//! stored state only, so the same state always gives the same bytes (an identical answer
//! resent gets the first response byte for byte).

use baton_core::campaign::Question;
use baton_http::Problem;
use serde::{Deserialize, Serialize};
use std::future::{Ready, ready};
use utoipa::ToSchema;

/// The language question texts are served in. Simplified Chinese is authoritative; English is
/// a translation, served where the bank has one (`lang` in each question says which it got).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Zh,
    En,
}

/// The `lang` query parameter (`zh`, the default, or `en`).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// `zh` (default) or `en`.
    pub lang: Option<String>,
}

impl actix_web::FromRequest for Lang {
    type Error = Problem;
    type Future = Ready<Result<Self, Problem>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let value = req.query_string().split('&').find_map(|kv| kv.strip_prefix("lang="));
        ready(match value {
            None | Some("zh") | Some("zh-CN") => Ok(Lang::Zh),
            Some("en") => Ok(Lang::En),
            Some(_) => Err(Problem::bad_request("invalid_query", "lang must be zh or en.")),
        })
    }
}

/// A question's texts in the language asked for, falling back to Chinese.
pub struct Localized<'a> {
    pub lang: Lang,
    pub stem: &'a str,
    pub options: Vec<&'a str>,
    pub explanation: &'a str,
    pub source: &'a str,
}

impl<'a> Localized<'a> {
    pub fn of(q: &'a Question, lang: Lang) -> Self {
        match (&q.en, lang) {
            (Some(en), Lang::En) => Localized {
                lang: Lang::En,
                stem: &en.stem,
                options: en.options.iter().map(String::as_str).collect(),
                explanation: &en.explanation,
                source: &q.source,
            },
            _ => Localized {
                lang: Lang::Zh,
                stem: &q.stem,
                options: q.options.iter().map(String::as_str).collect(),
                explanation: &q.explanation,
                source: &q.source,
            },
        }
    }
}

pub use baton_core::rfc3339;

#[derive(Debug, Serialize, ToSchema)]
pub struct RulesView {
    pub questions_per_attempt: u16,
    pub seconds_per_question: u16,
    pub attempts_per_day: u16,
    pub time_zone: String,
    pub points_per_question: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceView {
    pub id: String,
    pub name: String,
    /// `city`, `county` or `township`.
    pub level: String,
    /// Expected headcount, if configured.
    pub target: Option<u64>,
    #[schema(no_recursion)]
    pub children: Vec<PlaceView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitView {
    pub id: String,
    pub name: String,
    pub region_id: String,
    /// `school`, `company`, `community`, `government` or `other`.
    pub kind: String,
    pub target: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StatsView {
    pub participants: u64,
    /// Participants who joined through someone's relay code.
    pub relayed: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: String,
    pub title: String,
    pub description: String,
    pub rules: RulesView,
    pub starts_at: String,
    pub ends_at: String,
    /// `upcoming`, `live` or `ended`.
    pub status: String,
    pub regions: Vec<PlaceView>,
    pub units: Vec<UnitView>,
    pub stats: StatsView,
    /// The WeChat official account's app id when WeChat is configured (for sign-in and
    /// sharing inside WeChat), or null.
    pub wechat_app_id: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// A UUID the client made once and keeps (8–64 visible ASCII characters).
    pub device_id: String,
    /// Any place of the campaign's tree, normally the deepest level shown.
    pub region_id: String,
    /// A unit that hangs from `region_id` or a place under it.
    pub unit_id: Option<String>,
    /// 1–20 characters after trimming.
    pub nickname: Option<String>,
    /// The relay code of the link the participant came through (advisory).
    pub invite_code: Option<String>,
    /// Inside WeChat: the `code` of a `snsapi_base` sign-in. The participant is then the
    /// WeChat user, on any device; without it, the device.
    pub wechat_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InviterView {
    pub nickname: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JoinResponse {
    pub participant_id: String,
    pub token: String,
    pub relay_code: Option<String>,
    pub share_url: String,
    pub inviter: Option<InviterView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub participant_id: String,
    pub campaign_id: String,
    pub nickname: String,
    pub region_id: String,
    pub unit_id: Option<String>,
    /// Points of the best finished attempt, or null before the first one.
    pub best_score: Option<u64>,
    /// Total answering time of the best attempt, in seconds.
    pub best_seconds: Option<f64>,
    pub attempts_left_today: u16,
    /// The attempt in progress, if any (resume it with `GET /api/v1/attempts/{aid}`).
    pub open_attempt_id: Option<String>,
    pub relay_code: Option<String>,
    pub share_url: String,
}

/// How an answered question was judged; shown only once it is answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerView {
    pub question_id: String,
    /// The language of `explanation`.
    pub lang: Lang,
    /// The options chosen (positions as shown in this attempt).
    pub choice: Vec<u8>,
    pub correct: bool,
    pub correct_choice: Vec<u8>,
    pub explanation: String,
    /// The law article or publication the answer rests on.
    pub source: String,
    pub points: u32,
    /// True when the answer came after the question's time was up (it counts as wrong).
    pub timed_out: bool,
    /// The attempt's score so far, this answer included.
    pub attempt_score: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    pub id: String,
    /// `single`, `multi` or `judge`.
    pub kind: String,
    /// The language of `stem` and `options` (`en` is a translation; Chinese is authoritative).
    pub lang: Lang,
    pub stem: String,
    pub options: Vec<String>,
    /// The judged answer, once answered; null before.
    pub answer: Option<AnswerView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResultView {
    pub score: u64,
    pub correct_count: u32,
    /// Total answering time, unanswered questions counting their whole time.
    pub total_seconds: f64,
    pub finished_at: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    pub attempt_id: String,
    /// `open`, `expired` (time is up; finish it) or `finished`.
    pub status: String,
    pub started_at: String,
    pub expires_at: String,
    pub seconds_per_question: u16,
    /// When the time for the next answer runs out (server time), while open.
    pub question_deadline: Option<String>,
    pub attempt_score: u64,
    pub questions: Vec<QuestionView>,
    pub result: Option<ResultView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    pub question_id: String,
    /// Option positions as shown in this attempt, distinct; one for `single` and `judge`.
    pub choice: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RankView {
    /// 1-based rank by best result among everyone.
    pub global: u64,
    /// Within the participant's county-level place (null when joined above that level).
    pub region: Option<u64>,
    /// Within the participant's unit (null without a unit).
    pub unit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FinishView {
    pub attempt_id: String,
    pub score: u64,
    pub correct_count: u32,
    pub total_seconds: f64,
    pub best_score: u64,
    pub best_seconds: f64,
    pub rank: RankView,
    /// Share of ranked participants below this one, 0–100.
    pub percentile: f64,
}

#[derive(Debug, Deserialize, ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// 1–100, default 20.
    pub limit: Option<u64>,
    /// Default 0.
    pub offset: Option<u64>,
    /// `me`: the page around the caller (needs the participant token).
    pub around: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryView {
    pub rank: u64,
    pub id: String,
    pub name: String,
    /// Individual boards: best score in points. `regions`/`units`: participants.
    pub value: u64,
    /// Individual boards: total answering time of the best attempt, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    /// Collective boards: the target headcount, if configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<u64>,
    /// Collective boards: participants / target, when there is a target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Collective boards: mean best score of those who finished an attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avg_best_score: Option<f64>,
    /// Collective boards: participants who joined through a relay link. The `relay` board:
    /// everyone downstream of this participant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayed: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoardView {
    pub board: String,
    pub total: u64,
    pub entries: Vec<EntryView>,
    /// With `around=me`: the caller's own entry (null if not ranked yet).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<Option<EntryView>>,
}

/// Property tests of the participant API's query strings.
#[cfg(test)]
mod props {
    use super::*;
    use actix_web::web::Query;
    use proptest::prelude::*;

    fn query_string() -> impl Strategy<Value = String> {
        let name = prop_oneof![Just("limit"), Just("offset"), Just("around"), Just("lang"), Just("x"), Just("")];
        let value = prop_oneof![
            Just("me".to_owned()),
            Just("-1".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("1e3".to_owned()),
            Just("%FF".to_owned()),
            Just("%".to_owned()),
            "[0-9]{0,21}",
            "[ -~]{0,12}",
            "\\PC{0,6}",
        ];
        proptest::collection::vec((name, value), 0..5)
            .prop_map(|kv| kv.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Any query string is read or refused, never a panic.
        #[test]
        fn board_and_lang_queries_never_panic(q in query_string()) {
            let _ = Query::<BoardQuery>::from_query(&q);
            let _ = Query::<LangQuery>::from_query(&q);
        }

        /// What a client sends reads back as sent; numbers out of range are refused.
        #[test]
        fn board_queries_read_their_values(limit in any::<u64>(), offset in any::<u64>(), around in "[a-z]{0,4}") {
            let b = Query::<BoardQuery>::from_query(&format!("limit={limit}&offset={offset}&around={around}")).unwrap();
            prop_assert_eq!((b.limit, b.offset, b.around.as_deref()), (Some(limit), Some(offset), Some(around.as_str())));
            let negative = format!("limit=-{}", limit.max(1));
            prop_assert!(Query::<BoardQuery>::from_query(&negative).is_err());
        }
    }
}
