//! The relay role: passing the baton.
//!
//! Each participant has a relay code ([`baton_core::relay`]); its short link `GET /r/{code}`
//! records the open and leads to the campaign page with the code, so whoever joins from there is
//! attributed to the code's owner (once, at join: see the quiz role). Chain totals (direct joins,
//! everyone downstream) are rolled up from the SQL record by [`worker`], off the join path, so
//! joining costs the same at any depth; they may lag a few seconds.
//!
//! Relays earn recognition, never rewards: WeChat's platform rules forbid rewarding shares and
//! invites, so a participant sees its own relay privately and rankings of relays are collective
//! unless a campaign turns the individual board on.
//!
//! # Layout
//! - [`routes`]: the route table and handlers.
//! - [`card`]: the campaign page shell with share-card metadata, and the card image.
//! - [`poster`]: the share poster with the participant's QR code.
//! - [`worker`]: the roll-up loop.

pub mod card;
pub mod poster;
pub mod routes;
pub mod worker;

use baton_db::Db;
use baton_hot::HotStore;
use baton_http::campaigns::Campaigns;
use baton_http::clock::Clock;
use std::sync::Arc;

/// What the relay role needs, shared by its handlers.
#[derive(Clone)]
pub struct Relay {
    pub store: Arc<dyn HotStore>,
    pub db: Db,
    pub campaigns: Campaigns,
    pub clock: Arc<dyn Clock>,
    /// Where citizens reach the service (no trailing slash).
    pub public_url: String,
    /// Rate limits (shares per participant).
    pub limits: baton_http::limits::Limiter,
    /// The citizen web app's page shell (`baton_web::citizen_shell`), served at `/c/{campaign}`
    /// with the share card's metadata; `None`: a small page of the relay role's own.
    pub app_shell: Option<Arc<str>>,
}
