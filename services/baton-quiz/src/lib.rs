//! The quiz role: the participant API. A citizen joins a campaign, starts a timed attempt,
//! answers (learning the right answer and why after each question), finishes, and sees an honest
//! rank; anyone can read the leaderboards.
//!
//! Handlers are thin: they parse the request into validated types, ask the rules in
//! `baton-core` and the [`HotStore`] to act, and shape the answer. They hold no state of their
//! own, so any pod answers any request.
//!
//! # Layout
//! - [`routes`]: the route table ([`routes::configure`]) and the handlers.
//! - [`views`]: the wire types (JSON bodies and their OpenAPI schemas).
//! - [`boards`]: reading leaderboards, individual and collective.
//! - [`stats`]: the participant counter landing pages poll, read once per 2 s per process.

pub mod boards;
pub mod routes;
pub mod stats;
pub mod views;

use baton_hot::HotStore;
use baton_http::campaigns::Campaigns;
use baton_http::clock::Clock;
use std::sync::Arc;

/// What the quiz role needs, shared by its handlers.
#[derive(Clone)]
pub struct Quiz {
    pub store: Arc<dyn HotStore>,
    pub campaigns: Campaigns,
    pub clock: Arc<dyn Clock>,
    pub tokens: baton_http::auth::Tokens,
    /// Where citizens reach the service (no trailing slash), for share links.
    pub public_url: String,
    /// WeChat, when configured: silent sign-in makes one person one participant.
    pub wechat: Option<baton_wechat::WeChat>,
    /// The record, for the individual relay board (where a campaign turns it on).
    pub db: baton_db::Db,
    /// Rate limits: joins per device and network, starts and answers per participant, joins
    /// attributed to one relay code.
    pub limits: baton_http::limits::Limiter,
    /// The per-deployment salt of client fingerprints (`baton_core::anticheat`): the current
    /// token-signing key, so a fingerprint cannot be tested against guessed networks.
    pub client_salt: Arc<[u8]>,
    /// The campaigns' participant counters, read at most every 2 s (shared by the workers).
    pub stats: stats::StatsCache,
}
