//! The archiver role and its embedded counterpart: they make SQL the system of record.
//!
//! - [`committer::GroupCommitter`]: the embedded store's [`baton_hot::EventSink`]. Changes wait
//!   for their events to be committed to SQL (in groups: every change waiting at that moment
//!   goes into one transaction) before they take effect and are acknowledged, so an
//!   acknowledged answer survives `kill -9` of the process.
//! - [`redis::Archiver`]: reads every shard's event stream as the consumer group `archiver`,
//!   applies batches to SQL idempotently by event id, acknowledges only after commit, claims
//!   entries a dead consumer left pending (`XAUTOCLAIM`), moves entries that keep failing to a
//!   dead-letter stream with the reason, and trims streams only below what is committed
//!   (`XTRIM MINID`).
//! - [`rebuild`]: puts a campaign's hot state back from SQL.
//! - [`metrics`]: what an operator watches (applied, duplicate and dead-lettered events, the
//!   backlog, commit times).

pub mod committer;
pub mod metrics;
pub mod rebuild;
pub mod redis;
