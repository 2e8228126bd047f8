//! Events: every state change, as one versioned record with a unique application `event_id`.
//!
//! The hot store appends an event in the same atomic operation as the change itself (on Redis,
//! inside the same script, to the shard's stream; in the embedded store, inside the same
//! critical section, to the group committer). The archiver and exports read exactly this
//! schema; nothing else about the hot store is needed to rebuild the record of a campaign.
//!
//! Event ids are derived from what changed (`j:<participant>`, `s:<participant>:<attempt>`,
//! `a:<participant>:<attempt>:<question>`, `f:<participant>:<attempt>`): each change happens
//! once (a retried request finds it done and emits nothing), so an id names one change, and a
//! replayed or redelivered event is recognised by its id and applied once.
//!
//! # Wire format (version 1)
//! A JSON object: `v` (1), `id`, `campaign`, `at` (server time, ms since the epoch), `kind`,
//! and the fields of that kind:
//! - `joined`: `participant`, `region`, `unit` (or null), `nickname`, `places` (the places the
//!   participant counts towards, nearest first), `relay_code`, `inviter` (or null: fixed at
//!   join), `depth` (in the share chain; 0 for an origin). The last three may be absent in
//!   events written before relays existed; they read as null, null, 0. `client` (or absent, or
//!   null when unknown): the fingerprint of the client it joined from
//!   ([`crate::anticheat::client_fingerprint`]: a salted hash of its network and User-Agent,
//!   never the address), for the `shared_device` signal.
//! - `attempt_started`: `participant`, `attempt`, `expires_at`, `limit_ms`, `day` (the campaign
//!   day), `questions` (the drawn questions: `id`, `kind`, `perm`, `correct_mask`, `points`).
//! - `answered`: `participant`, `attempt`, `question`, `index`, `judged` (`choice_mask`,
//!   `correct`, `points`, `timed_out`, `elapsed_ms`, `attempt_score`), `cursor` (the attempt's
//!   clock after this answer).
//! - `attempt_finished`: `participant`, `attempt`, `totals` (`score`, `correct_count`,
//!   `total_ms`), `reached_at`, `best` (`score`, `total_ms`, `reached_ms`: the participant's
//!   best after this attempt).
//! - `shared`: `participant`, `channel` (`wechat_friend`, `wechat_moments`, `link`, `qr`,
//!   `other`), `n` (the participant's nth share: ids `sh:<participant>:<n>`).
//! - `clicked`: `participant` (whose link was opened), `n` (ids `c:<participant>:<n>`).

use crate::Millis;
use crate::draw::DrawnQuestion;
use crate::ids::{AttemptId, CampaignId, ParticipantId, PlaceId, QuestionId, UnitId};
use crate::leader::LeaderResult;
use crate::relay::RelayCode;
use crate::scoring::{Judged, Totals};
use serde::{Deserialize, Serialize};

/// The version this code writes and reads.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub v: u32,
    pub id: String,
    pub campaign: CampaignId,
    pub at: Millis,
    #[serde(flatten)]
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    Joined {
        participant: ParticipantId,
        region: PlaceId,
        unit: Option<UnitId>,
        nickname: String,
        places: Vec<PlaceId>,
        /// The participant's own relay code.
        #[serde(default)]
        relay_code: Option<RelayCode>,
        /// Who passed the baton (fixed at join), and the depth in the chain (0 for an origin).
        #[serde(default)]
        inviter: Option<ParticipantId>,
        #[serde(default)]
        depth: u32,
        /// The fingerprint of the client it joined from ([`crate::anticheat`]), if known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<String>,
    },
    AttemptStarted {
        participant: ParticipantId,
        attempt: AttemptId,
        expires_at: Millis,
        limit_ms: Millis,
        day: i32,
        questions: Vec<DrawnQuestion>,
    },
    Answered {
        participant: ParticipantId,
        attempt: AttemptId,
        question: QuestionId,
        index: u32,
        judged: Judged,
        cursor: Millis,
    },
    AttemptFinished {
        participant: ParticipantId,
        attempt: AttemptId,
        totals: Totals,
        reached_at: Millis,
        best: LeaderResultWire,
    },
    /// The participant said it shared its link (the `n`th time).
    Shared { participant: ParticipantId, channel: ShareChannel, n: u64 },
    /// Someone opened a participant's relay link (the `n`th open).
    Clicked { participant: ParticipantId, n: u64 },
}

/// Where a participant shared its link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShareChannel {
    WechatFriend,
    WechatMoments,
    Link,
    Qr,
    Other,
}

impl ShareChannel {
    pub const ALL: [ShareChannel; 5] = [Self::WechatFriend, Self::WechatMoments, Self::Link, Self::Qr, Self::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::WechatFriend => "wechat_friend",
            Self::WechatMoments => "wechat_moments",
            Self::Link => "link",
            Self::Qr => "qr",
            Self::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// [`LeaderResult`] as events carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderResultWire {
    pub score: u64,
    pub total_ms: u64,
    pub reached_ms: Millis,
}

impl From<LeaderResult> for LeaderResultWire {
    fn from(r: LeaderResult) -> Self {
        Self { score: r.score, total_ms: r.total_ms, reached_ms: r.reached_ms }
    }
}

impl From<LeaderResultWire> for LeaderResult {
    fn from(r: LeaderResultWire) -> Self {
        Self { score: r.score, total_ms: r.total_ms, reached_ms: r.reached_ms }
    }
}

impl EventBody {
    /// The kind, as written in `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventBody::Joined { .. } => "joined",
            EventBody::AttemptStarted { .. } => "attempt_started",
            EventBody::Answered { .. } => "answered",
            EventBody::AttemptFinished { .. } => "attempt_finished",
            EventBody::Shared { .. } => "shared",
            EventBody::Clicked { .. } => "clicked",
        }
    }

    pub fn participant(&self) -> &ParticipantId {
        match self {
            EventBody::Joined { participant, .. }
            | EventBody::AttemptStarted { participant, .. }
            | EventBody::Answered { participant, .. }
            | EventBody::AttemptFinished { participant, .. }
            | EventBody::Shared { participant, .. }
            | EventBody::Clicked { participant, .. } => participant,
        }
    }

    /// The id of the change this body describes.
    pub fn event_id(&self) -> String {
        match self {
            EventBody::Joined { participant, .. } => format!("j:{participant}"),
            EventBody::AttemptStarted { participant, attempt, .. } => format!("s:{participant}:{attempt}"),
            EventBody::Answered { participant, attempt, question, .. } => {
                format!("a:{participant}:{attempt}:{question}")
            }
            EventBody::AttemptFinished { participant, attempt, .. } => format!("f:{participant}:{attempt}"),
            EventBody::Shared { participant, n, .. } => format!("sh:{participant}:{n}"),
            EventBody::Clicked { participant, n } => format!("c:{participant}:{n}"),
        }
    }
}

impl Event {
    /// An event of this version, its id derived from the change.
    pub fn new(campaign: CampaignId, at: Millis, body: EventBody) -> Self {
        Self { v: VERSION, id: body.event_id(), campaign, at, body }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("events serialize")
    }

    /// Parses an event, refusing versions this code does not know.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let e: Event = serde_json::from_str(text).map_err(|e| format!("not a valid event: {e}"))?;
        if e.v != VERSION {
            return Err(format!("event version {} is not supported (this version reads {VERSION})", e.v));
        }
        if e.id != e.body.event_id() {
            return Err(format!("event id {:?} does not match its content ({:?})", e.id, e.body.event_id()));
        }
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::QuestionKind;

    fn p() -> ParticipantId {
        ParticipantId::parse("p1").unwrap()
    }

    #[test]
    fn events_round_trip_and_name_their_change() {
        let c = CampaignId::parse("demo").unwrap();
        let a = AttemptId::parse("a1").unwrap();
        let bodies = vec![
            EventBody::Joined {
                participant: p(),
                region: PlaceId::parse("t1").unwrap(),
                unit: None,
                nickname: "小明".into(),
                places: vec![PlaceId::parse("t1").unwrap(), PlaceId::parse("c1").unwrap()],
                relay_code: RelayCode::parse("0123456789"),
                inviter: Some(ParticipantId::parse("p0").unwrap()),
                depth: 1,
                client: Some("0123456789abcdef".into()),
            },
            EventBody::AttemptStarted {
                participant: p(),
                attempt: a.clone(),
                expires_at: 99,
                limit_ms: 20_000,
                day: 20_000,
                questions: vec![DrawnQuestion {
                    id: QuestionId::parse("q1").unwrap(),
                    kind: QuestionKind::Single,
                    perm: vec![1, 0, 2],
                    correct_mask: 2,
                    points: 10,
                }],
            },
            EventBody::Answered {
                participant: p(),
                attempt: a.clone(),
                question: QuestionId::parse("q1").unwrap(),
                index: 0,
                judged: Judged {
                    choice_mask: 2,
                    correct: true,
                    points: 10,
                    timed_out: false,
                    elapsed_ms: 5,
                    attempt_score: 10,
                },
                cursor: 12,
            },
            EventBody::AttemptFinished {
                participant: p(),
                attempt: a,
                totals: Totals { score: 10, correct_count: 1, total_ms: 5 },
                reached_at: 13,
                best: LeaderResultWire { score: 10, total_ms: 5, reached_ms: 13 },
            },
        ];
        let mut bodies = bodies;
        bodies.push(EventBody::Shared { participant: p(), channel: ShareChannel::WechatMoments, n: 3 });
        bodies.push(EventBody::Clicked { participant: p(), n: 7 });
        let ids: Vec<String> = bodies.iter().map(EventBody::event_id).collect();
        assert_eq!(ids, ["j:p1", "s:p1:a1", "a:p1:a1:q1", "f:p1:a1", "sh:p1:3", "c:p1:7"]);
        for b in bodies {
            let e = Event::new(c.clone(), 1_781_049_600_000, b);
            let text = e.to_json();
            assert!(text.contains(&format!("\"kind\":\"{}\"", e.body.kind())));
            assert_eq!(Event::from_json(&text).unwrap(), e);
        }
    }

    #[test]
    fn unknown_versions_and_forged_ids_are_refused() {
        let e = Event::new(
            CampaignId::parse("demo").unwrap(),
            1,
            EventBody::Joined {
                participant: p(),
                region: PlaceId::parse("t1").unwrap(),
                unit: None,
                nickname: "x".into(),
                places: vec![],
                relay_code: None,
                inviter: None,
                depth: 0,
                client: None,
            },
        );
        // Events written before relays existed read with no code, no inviter, depth 0.
        let old = r#"{"v":1,"id":"j:p1","campaign":"demo","at":1,"kind":"joined","participant":"p1","region":"t1","unit":null,"nickname":"x","places":[]}"#;
        assert_eq!(Event::from_json(old).unwrap(), e);
        let v2 = e.to_json().replace("\"v\":1", "\"v\":2");
        assert!(Event::from_json(&v2).unwrap_err().contains("version 2"));
        let forged = e.to_json().replace("\"id\":\"j:p1\"", "\"id\":\"j:p2\"");
        assert!(Event::from_json(&forged).unwrap_err().contains("does not match"));
    }
}
