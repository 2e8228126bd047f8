//! The hot store: all mutable campaign state that requests touch, behind one trait.
//!
//! Two real implementations: [`redis::RedisStore`] (production; one Lua script call per
//! participant write, leaderboards touched once per finished attempt with `ZADD GT`) and
//! [`embedded::EmbeddedStore`] (single node, in process: each participant write is one critical
//! section). Both are held to ONE behaviour, the [`conformance`] suite, which the tests run
//! against each.
//!
//! # Layout
//! - this file: the [`HotStore`] trait and the commands and outcomes it speaks in.
//! - [`embedded`]: the in-process store; [`sorted`]: the order-statistics list it ranks with.
//! - [`redis`]: the Redis store; [`keys`]: every Redis key name, in one place.
//! - [`conformance`]: the behaviour both stores must show, as reusable async test cases.
//! - [`metered`]: any store, timed per operation for Prometheus.
//!
//! What the store decides is decided by the rules in `baton-core` (the embedded store calls
//! them; the Redis script mirrors them, and the conformance suite holds the two equal).

pub mod conformance;
pub mod conn;
pub mod embedded;
pub mod keys;
pub mod metered;
pub mod redis;
pub mod sorted;

use async_trait::async_trait;
use baton_core::Millis;
use baton_core::draw::DrawnQuestion;
use baton_core::events::Event;
use baton_core::events::ShareChannel;
use baton_core::ids::{AttemptId, CampaignId, Nickname, ParticipantId, PlaceId, QuestionId, UnitId};
use baton_core::leader::LeaderResult;
use baton_core::relay::{CodeOwner, RelayCode};
use baton_core::scoring::{Judged, Totals};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Why the hot store could not answer. Only infrastructure failures: every outcome a client
/// can cause is a variant of the operation's outcome type.
#[derive(Debug, thiserror::Error)]
pub enum HotError {
    #[error("hot store unavailable: {0}")]
    Unavailable(String),
    #[error("hot store returned data this version cannot read: {0}")]
    Corrupt(String),
}

pub type HotResult<T> = Result<T, HotError>;

/// A participant as the hot store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantState {
    pub id: ParticipantId,
    pub region: PlaceId,
    pub unit: Option<UnitId>,
    pub nickname: String,
    pub joined_at: Millis,
    pub best: Option<LeaderResult>,
    /// The campaign day of the last started attempt and how many were started that day.
    pub attempts_day: i32,
    pub attempts_on_day: u16,
    pub open_attempt: Option<AttemptId>,
    /// The participant's relay code, the inviter fixed at join, and the depth in its chain.
    pub relay_code: RelayCode,
    pub inviter: Option<ParticipantId>,
    pub depth: u32,
}

impl ParticipantState {
    /// Attempts still allowed on campaign day `day`.
    pub fn attempts_left(&self, day: i32, per_day: u16) -> u16 {
        if self.attempts_day == day { per_day.saturating_sub(self.attempts_on_day) } else { per_day }
    }
}

/// Join a campaign. `aggregates` are the places (the participant's place and every place above
/// it) and unit whose counters the participant counts towards.
#[derive(Debug, Clone)]
pub struct JoinCmd {
    pub campaign: CampaignId,
    pub participant: ParticipantId,
    pub region: PlaceId,
    pub unit: Option<UnitId>,
    pub places: Vec<PlaceId>,
    pub nickname: Nickname,
    pub now: Millis,
    /// The code the participant gets if it is created (see [`HotStore::resolve_code`] to
    /// make sure it is free).
    pub relay_code: RelayCode,
    /// The inviter, already attributed ([`baton_core::relay::attribute`]); used only if the
    /// participant is created.
    pub inviter: Option<CodeOwner>,
    /// The fingerprint of the client joining ([`baton_core::anticheat::client_fingerprint`]),
    /// if known; it goes into the `joined` event only (the hot store does not keep it).
    pub client: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    Created(ParticipantState),
    /// The participant had joined before; nothing changed.
    Existing(ParticipantState),
}

/// An attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptState {
    pub id: AttemptId,
    pub participant: ParticipantId,
    pub started_at: Millis,
    pub expires_at: Millis,
    pub limit_ms: Millis,
    pub questions: Vec<DrawnQuestion>,
    /// Per question, in attempt order: how its answer was judged, if answered.
    pub answers: Vec<Option<Judged>>,
    /// The clock of the next answer (see `baton_core::scoring`).
    pub cursor: Millis,
    pub finished: Option<Finished>,
}

/// A closed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    pub totals: Totals,
    pub reached_at: Millis,
}

#[derive(Debug, Clone)]
pub struct StartCmd {
    pub campaign: CampaignId,
    pub participant: ParticipantId,
    /// The new attempt, already drawn; used only if one is started.
    pub attempt: AttemptState,
    pub day: i32,
    pub per_day: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started(AttemptState),
    /// An attempt was open and still running: it is returned instead of a new one.
    Resumed(AttemptState),
    /// An attempt was open but its time is up: finish it, then start again.
    OpenExpired(AttemptId),
    Exhausted,
    NoParticipant,
}

#[derive(Debug, Clone)]
pub struct AnswerCmd {
    pub campaign: CampaignId,
    pub participant: ParticipantId,
    pub attempt: AttemptId,
    pub question: QuestionId,
    pub choice_mask: u32,
    pub now: Millis,
}

/// An answer as stored: the question's position in the attempt, its correct options (shown
/// positions, as a mask) and how the answer was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    pub index: usize,
    pub correct_mask: u32,
    pub judged: Judged,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerOutcome {
    /// Judged now.
    Judged(Answered),
    /// The same choice was sent before: its first judgement, unchanged.
    Repeat(Answered),
    /// A different choice was judged before.
    Conflict(Answered),
    NotInAttempt,
    AttemptNotFound,
    AttemptFinished,
}

#[derive(Debug, Clone)]
pub struct FinishCmd {
    pub campaign: CampaignId,
    pub participant: ParticipantId,
    pub attempt: AttemptId,
    pub now: Millis,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishOutcome {
    Finished {
        finished: Finished,
        /// The participant's best result after this finish.
        best: LeaderResult,
        /// Whether this call closed the attempt (false for a repeated finish).
        newly: bool,
    },
    AttemptNotFound,
}

/// A leaderboard of individuals.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Board {
    Score,
    Region(PlaceId),
    Unit(UnitId),
}

/// The boards a participant's best result stands on: everyone, every place it counts towards
/// (its own and every one above), its unit.
pub fn boards_for(places: &[PlaceId], unit: Option<&UnitId>) -> Vec<Board> {
    let mut boards = vec![Board::Score];
    boards.extend(places.iter().cloned().map(Board::Region));
    boards.extend(unit.cloned().map(Board::Unit));
    boards
}

/// A participant's place on a board: 0-based rank and how many are ranked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub rank: u64,
    pub total: u64,
}

/// One page of a board: `(participant, sorted-set key)` best first, and the board's size.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BoardPage {
    pub entries: Vec<(ParticipantId, u64)>,
    pub total: u64,
}

/// Counters of a place or unit, summed over shards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Aggregate {
    pub participants: u64,
    /// Participants who joined through someone's relay link.
    pub relayed: u64,
    /// Sum and count of the best scores of those who finished an attempt.
    pub best_sum: u64,
    pub best_count: u64,
}

/// Campaign-wide figures.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Aggregates {
    pub participants: u64,
    pub relayed: u64,
    pub shares: u64,
    pub clicks: u64,
    pub places: HashMap<PlaceId, Aggregate>,
    pub units: HashMap<UnitId, Aggregate>,
}

/// Where the embedded store puts events: [`EventSink::commit`] returns once they are durable
/// (the all-in-one process commits them to SQLite in groups), and only then does the change
/// they describe become visible and get acknowledged.
#[async_trait]
pub trait EventSink: Send + Sync + 'static {
    async fn commit(&self, events: Vec<Event>) -> Result<(), String>;
}

/// A participant as a rebuild puts it back: the state and the places it counts towards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoredParticipant {
    pub state: ParticipantState,
    pub places: Vec<PlaceId>,
}

/// The hot store. Every participant write is one atomic operation on that participant's state,
/// and appends the event describing the change in that same operation.
#[async_trait]
pub trait HotStore: Send + Sync + 'static {
    /// Creates the participant, or returns it unchanged if it exists.
    async fn join(&self, cmd: JoinCmd) -> HotResult<JoinOutcome>;
    async fn participant(&self, campaign: &CampaignId, id: &ParticipantId) -> HotResult<Option<ParticipantState>>;
    /// Starts `cmd.attempt` unless an attempt is open or the day's attempts are used up.
    async fn start_attempt(&self, cmd: StartCmd) -> HotResult<StartOutcome>;
    async fn attempt(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        id: &AttemptId,
    ) -> HotResult<Option<AttemptState>>;
    async fn answer(&self, cmd: AnswerCmd) -> HotResult<AnswerOutcome>;
    /// Closes the attempt (once) and updates the participant's best and the aggregates.
    async fn finish(&self, cmd: FinishCmd) -> HotResult<FinishOutcome>;
    /// Puts a best result on boards (`ZADD GT`: never lowers a result) and returns the
    /// participant's standing on each. Idempotent, commutative. A hidden participant
    /// ([`HotStore::hide`]) gets the standings it would have and stays off the boards.
    async fn publish_best(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        key: u64,
        boards: &[Board],
    ) -> HotResult<Vec<Standing>>;
    async fn board_page(&self, campaign: &CampaignId, board: &Board, offset: u64, limit: u64) -> HotResult<BoardPage>;
    /// Up to `limit` entries of a board around a participant, read in one step: from `limit / 2`
    /// places above the participant (or from the top), with the rank of the first. `None` when
    /// the participant is not on the board. Reading its standing and then a page would let the
    /// finishes landing in between (hundreds a second on one county's board in a flash crowd)
    /// push it off the page it is shown.
    async fn page_around(
        &self,
        campaign: &CampaignId,
        board: &Board,
        participant: &ParticipantId,
        limit: u64,
    ) -> HotResult<Option<(u64, BoardPage)>>;
    /// Nicknames of participants, in the order asked (None for an unknown participant).
    async fn nicknames(&self, campaign: &CampaignId, ids: &[ParticipantId]) -> HotResult<Vec<Option<String>>>;
    async fn aggregates(&self, campaign: &CampaignId) -> HotResult<Aggregates>;
    /// The campaign-wide counters of [`HotStore::aggregates`] (participants, relayed, shares,
    /// clicks), with `places` and `units` left empty: what the campaign page shows on every
    /// view. Stores whose counters of places and units cost to read skip them.
    async fn totals(&self, campaign: &CampaignId) -> HotResult<Aggregates> {
        let a = self.aggregates(campaign).await?;
        Ok(Aggregates { places: HashMap::new(), units: HashMap::new(), ..a })
    }
    /// Whether the store answers (readiness).
    async fn ping(&self) -> HotResult<()>;
    /// A copy of this store for one web server worker, sharing everything but the connection:
    /// the Redis store opens one of the worker's own on the worker's runtime, so its requests
    /// do not cross threads (`docs/PERFORMANCE.md`). `None` where that buys nothing (the
    /// embedded store): the worker uses this one.
    fn for_worker(&self) -> Option<Arc<dyn HotStore>> {
        None
    }

    /// Removes a campaign's hot state (participants, attempts, counters, leaderboards) before
    /// a rebuild. Event streams are kept: they may hold events not archived yet.
    async fn clear_campaign(&self, campaign: &CampaignId) -> HotResult<()>;
    /// Puts a participant back as the record says (rebuild; no event). Adds to the counters,
    /// so it is meant for a campaign just cleared.
    async fn restore_participant(&self, campaign: &CampaignId, p: RestoredParticipant) -> HotResult<()>;
    /// Puts an attempt back as the record says (rebuild; no event).
    async fn restore_attempt(&self, campaign: &CampaignId, a: AttemptState) -> HotResult<()>;

    /// Records the owner of a relay code unless the code is taken; returns the owner the code
    /// has afterwards (the caller's on success). Idempotent.
    async fn register_code(&self, code: &RelayCode, owner: &CodeOwner) -> HotResult<CodeOwner>;
    /// The owner of a relay code, if any campaign's participant has it.
    async fn resolve_code(&self, code: &RelayCode) -> HotResult<Option<CodeOwner>>;
    /// Records that a participant shared its link; returns how many times it has, or `None`
    /// for an unknown participant.
    async fn share(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        channel: ShareChannel,
        now: Millis,
    ) -> HotResult<Option<u64>>;
    /// Records that someone opened a participant's relay link.
    async fn click(&self, owner: &CodeOwner, now: Millis) -> HotResult<()>;

    /// A value shared by every pod (e.g. a cached upstream token), if set and not expired.
    /// Names are chosen by Baton's own code, never by a client.
    async fn shared_get(&self, name: &str) -> HotResult<Option<String>>;
    /// Sets a shared value for `ttl_ms`.
    async fn shared_set(&self, name: &str, value: &str, ttl_ms: u64) -> HotResult<()>;
    /// Takes the lease `name` for `holder` for `ttl_ms` if nobody holds it: one refresher
    /// among all pods. Returns whether it was taken.
    async fn shared_lease(&self, name: &str, holder: &str, ttl_ms: u64) -> HotResult<bool>;
    /// Gives the lease back, if `holder` still holds it.
    async fn shared_release(&self, name: &str, holder: &str) -> HotResult<()>;
    /// Adds one to the shared counter `name` (missing or expired: from 0) and returns the new
    /// count, atomically for every pod; a counter this creates lives `ttl_ms` (rate limits
    /// shared by every pod: the caller puts the window in the name).
    async fn shared_incr(&self, name: &str, ttl_ms: u64) -> HotResult<u64>;

    // Moderation: an organizer hides a participant from the public individual boards (not
    // deleted: it plays on, keeps its results and counts in every collective figure). The
    // hidden mark is kept with the participant, so it is atomic per participant; boards are
    // written as `publish_best` writes them. No event: the console records the decision in
    // SQL (and the audit log) before it asks the hot store, and a rebuild hides again.

    /// Marks the participant hidden and takes it off `boards`; from then on
    /// [`HotStore::publish_best`] answers its standings as if it were ranked but leaves it off
    /// the boards (a best published at the very moment of hiding may show for one round
    /// trip). Idempotent. Returns `false` (and changes nothing) for an unknown participant.
    async fn hide(&self, campaign: &CampaignId, participant: &ParticipantId, boards: &[Board]) -> HotResult<bool>;
    /// Clears the hidden mark and puts the participant's best (if any) back on `boards`, keyed
    /// by `layout`. Idempotent. Returns `false` (and changes nothing) for an unknown participant.
    async fn unhide(
        &self,
        campaign: &CampaignId,
        participant: &ParticipantId,
        boards: &[Board],
        layout: &baton_core::leader::LeaderLayout,
    ) -> HotResult<bool>;
}
