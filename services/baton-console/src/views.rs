//! The console's wire types. Requests reject unknown fields; a password never appears in
//! `Debug` output.

use crate::account::{Role, Scope};
use chrono::{DateTime, SecondsFormat};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/v1/console/login`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest").field("username", &self.username).field("password", &"[redacted]").finish()
    }
}

/// What an account sees. Null fields are wider scopes: no campaign for an admin (every
/// campaign), no region for a whole campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ScopeView {
    pub campaign_id: Option<String>,
    pub region_id: Option<String>,
}

impl From<&Scope> for ScopeView {
    fn from(s: &Scope) -> Self {
        ScopeView {
            campaign_id: s.campaign.as_ref().map(ToString::to_string),
            region_id: s.region.as_ref().map(ToString::to_string),
        }
    }
}

/// A successful login.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// The organizer token: `Authorization: Bearer <token>` on console calls.
    pub token: String,
    pub role: Role,
    pub scope: ScopeView,
    /// When the token expires (RFC 3339, UTC).
    pub expires_at: String,
}

/// `GET /api/v1/console/me`: who the token speaks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub username: String,
    pub role: Role,
    pub scope: ScopeView,
    /// When the token expires (RFC 3339, UTC).
    pub expires_at: String,
}

/// Seconds since the epoch as RFC 3339 in UTC.
pub fn rfc3339_secs(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}
