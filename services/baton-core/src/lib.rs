//! Baton's domain rules and types. No IO: everything here is a pure function of its inputs
//! (the clock and the random source are passed in), so the rules are unit- and property-tested
//! once and every store, service and tool applies them the same way.
//!
//! # Layout
//! - [`ids`]: validated identifiers (campaign, place, unit, question, participant, attempt).
//! - [`campaign`]: the campaign document (the file `baton campaign import` reads) and its
//!   validated, indexed form [`campaign::Campaign`]: rules, place tree, units, question bank.
//! - [`draw`]: the random draw of an attempt's questions with per-category quotas and
//!   per-attempt option shuffling.
//! - [`scoring`]: choices, per-question deadlines, points, finishing an attempt, which attempt
//!   is best.
//! - [`leader`]: the published tie order encoded into one exact sorted-set score.
//! - [`calendar`]: the campaign day (the daily attempt limit's boundary) in its time zone.
//! - [`relay`]: relay codes and attribution (the share graph is a forest by construction).
//! - [`events`]: the versioned record of every state change (what the archiver stores).
//! - [`anticheat`]: the signals that flag (never punish) suspicious participants.

pub mod anticheat;
pub mod calendar;
pub mod campaign;
pub mod draw;
pub mod events;
pub mod ids;
pub mod leader;
pub mod relay;
pub mod scoring;

/// Milliseconds since the Unix epoch, server time. Every timestamp in the rules is one of these.
pub type Millis = i64;

/// `ms` as RFC 3339 in UTC with milliseconds, as every API answer writes times.
pub fn rfc3339(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
