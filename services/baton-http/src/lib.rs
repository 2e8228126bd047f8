//! Shared HTTP plumbing for every Baton role: the one error envelope (RFC 9457 problem
//! documents), request-body and query extractors that answer in it, participant tokens, the
//! injected clock, the campaign registry and Prometheus metrics.
//!
//! # Layout
//! - [`problem`]: [`problem::Problem`], the only error type handlers return.
//! - [`extract`]: JSON/query/path configuration whose errors are problems; [`extract::EmptyBody`].
//! - [`auth`]: signing keys, participant tokens, the [`auth::ParticipantAuth`] extractor.
//! - [`clock`]: server time, injectable for tests.
//! - [`campaigns`]: the validated campaigns this process serves, shared by every role.
//! - [`metrics`]: the Prometheus registry and the request-metrics middleware.

pub mod auth;
pub mod campaigns;
pub mod clock;
pub mod extract;
pub mod metrics;
pub mod problem;

pub use problem::Problem;
