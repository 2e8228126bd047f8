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
//! - [`request_id`]: `X-Request-Id` and the request's log span, so every log line of a request
//!   carries its id.
//! - [`client`]: the client's address ([`client::TrustedProxies`]: `X-Forwarded-For` only from
//!   a trusted proxy).
//! - [`gzip`]: gzip for complete textual answers of 1 KiB or more (never streams).
//! - [`limits`]: rate limits ([`limits::Limiter`]), keyed by participant, device and, loosely,
//!   by network; `429 rate_limited` with `Retry-After`.

pub mod auth;
pub mod campaigns;
pub mod client;
pub mod clock;
pub mod extract;
pub mod gzip;
pub mod limits;
pub mod metrics;
pub mod problem;
pub mod request_id;

pub use problem::Problem;
