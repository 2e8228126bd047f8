//! The organizer console role: accounts and their scopes, logging in, organizer tokens, the
//! one place where a console request's scope is decided, and what organizers read and do with
//! it: live figures, exports, campaign administration.
//!
//! Organizers (city office, district offices, read-only viewers) log in with a username and
//! password; the answer is a short-lived organizer token that carries the account's role and
//! scope. Every console handler takes the caller as an [`Organizer`] and starts from
//! [`Console::scoped`] (reads) or [`Console::writable`] (writes), which ask [`authorize`] what
//! it may show; nothing else decides scope. `docs/console.md` describes the API.
//!
//! # Layout
//! - [`account`]: [`Role`], [`Scope`], [`Username`]; [`create_organizer`] (what
//!   `baton organizer add` does) and [`read_password`].
//! - [`password`]: argon2id hashing and verification ([`hash_password`], [`verify_password`]).
//! - [`tokens`]: [`OrganizerTokens`] (HS256, audience `baton:console`) and the [`Organizer`]
//!   a token speaks for.
//! - [`scope`]: the [`Organizer`] extractor, [`authorize`] returning an [`EffectiveScope`], and
//!   [`Console::scoped`] / [`Console::writable`] that every handler starts from.
//! - [`throttle`]: failed-login counting shared by every pod, client addresses behind proxies.
//! - [`login`]: the login itself ([`Console::login`]): throttle, check, audit, issue.
//! - [`routes`]: the route table ([`routes::configure`]) and the account handlers; [`views`]:
//!   their wire types.
//! - [`figures`]: overview, time series, breakdown, question statistics, relay analytics.
//! - [`live`]: the live feed (server-sent events that resume after `Last-Event-ID`).
//! - [`exports`]: scoped CSV exports, streamed, personal data masked, audited.
//! - [`admin`]: creating and updating campaigns, importing questions (JSON, CSV), audited.
//! - [`moderation`]: participants the anti-cheat signals flag; hiding one from the public
//!   boards (reversible, audited).

pub mod account;
pub mod admin;
pub mod exports;
pub mod figures;
pub mod live;
pub mod login;
pub mod moderation;
pub mod password;
pub mod routes;
pub mod scope;
pub mod throttle;
pub mod tokens;
pub mod views;

pub use account::{ConsoleError, Role, Scope, Username, create_organizer, read_password};
pub use password::{MIN_PASSWORD_CHARS, hash_password, verify_password};
pub use scope::{EffectiveScope, Scoped, authorize};
pub use throttle::{Limit, LoginLimits, TrustedProxies};
pub use tokens::{Organizer, OrganizerTokens};

use baton_db::Db;
use baton_hot::HotStore;
use baton_http::campaigns::Campaigns;
use baton_http::clock::Clock;
use std::sync::Arc;

/// What the console role needs, shared by its handlers (app data `web::Data<Console>`). Cheap
/// to clone.
#[derive(Clone)]
pub struct Console {
    /// Accounts and the audit log.
    pub db: Db,
    /// Failed-login counters shared by every pod.
    pub store: Arc<dyn HotStore>,
    /// The campaigns this process serves: the place trees [`authorize`] checks regions in.
    pub campaigns: Campaigns,
    pub clock: Arc<dyn Clock>,
    pub tokens: OrganizerTokens,
    pub limits: LoginLimits,
    /// Whose `X-Forwarded-For` names the client (the ingress); none by default.
    pub trusted_proxies: TrustedProxies,
    /// Rate limits of this process (logins per client network); none by default.
    pub rate_limits: baton_http::limits::Limiter,
    /// Time between the live feed's ticks ([`live::DEFAULT_INTERVAL`]).
    pub live_interval: std::time::Duration,
    /// The live feed's readings, shared by the streams of a scope ([`live::LiveReadings`]).
    pub live_readings: live::LiveReadings,
    /// Exports running at once in this process ([`exports::MAX_EXPORTS`]): each holds a database
    /// connection while it streams.
    exports: Arc<tokio::sync::Semaphore>,
    /// Password checks running at once in this process: each takes 19 MiB and a core for a
    /// moment, so a burst of logins queues here instead of exhausting memory.
    hashing: Arc<tokio::sync::Semaphore>,
}

impl Console {
    /// The console with the default login limits and no trusted proxies.
    pub fn new(
        db: Db,
        store: Arc<dyn HotStore>,
        campaigns: Campaigns,
        clock: Arc<dyn Clock>,
        tokens: OrganizerTokens,
    ) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Console {
            db,
            store,
            campaigns,
            clock,
            tokens,
            limits: LoginLimits::default(),
            trusted_proxies: TrustedProxies::default(),
            rate_limits: baton_http::limits::Limiter::default(),
            live_interval: live::DEFAULT_INTERVAL,
            live_readings: live::LiveReadings::default(),
            exports: Arc::new(tokio::sync::Semaphore::new(exports::MAX_EXPORTS)),
            hashing: Arc::new(tokio::sync::Semaphore::new(cores.clamp(1, 8))),
        }
    }

    pub fn with_limits(mut self, limits: LoginLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_live_interval(mut self, every: std::time::Duration) -> Self {
        self.live_interval = every;
        self
    }

    pub fn with_trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Rate limits shared with the other roles of the process (`login_ip` applies here).
    pub fn with_rate_limits(mut self, limits: baton_http::limits::Limiter) -> Self {
        self.rate_limits = limits;
        self
    }
}

/// A small valid campaign for unit tests: city → (north → north-1, north-2), (south → south-1).
#[cfg(test)]
pub(crate) fn test_campaign(id: &str) -> baton_core::campaign::CampaignDoc {
    serde_json::from_value(serde_json::json!({
        "format": 1, "id": id, "title": "接力", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "north", "name": "北区", "level": "county", "children": [
                {"id": "north-1", "name": "一街道", "level": "township"},
                {"id": "north-2", "name": "二街道", "level": "township"}]},
            {"id": "south", "name": "南县", "level": "county", "children": [
                {"id": "south-1", "name": "三街道", "level": "township"}]}]}],
        "units": [],
        "questions": [
            {"id": "law-1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草"], "answer": [0], "explanation": "刑法。", "source": "刑法"}]
    }))
    .expect("the test campaign parses")
}
