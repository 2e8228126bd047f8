//! The Baton binary as a library, so tests build exactly what production runs.
//!
//! # Layout
//! - [`cli`]: commands and flags (every flag also reads a `BATON_*` variable) and their
//!   execution: `serve`, `migrate`, `campaign import/export`.
//! - [`roles`]: which roles a process runs, decided in one place.
//! - [`app`]: wiring: connect the database and the hot store, load campaigns, build the actix
//!   app (one route table per role), serve until shut down.
//! - [`demo`]: the demo campaign shipped in the binary.
//! - [`campaign_file`]: reading a campaign document from a file, with errors that name the
//!   file, line and field.

pub mod app;
pub mod campaign_file;
pub mod cli;
pub mod demo;
pub mod roles;
