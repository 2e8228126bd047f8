//! Baton's system of record in PostgreSQL or SQLite: campaigns, signing keys, and the log of
//! every change (events) with what it builds: participants, attempts, answers, best results.
//!
//! One [`Db`] speaks to either engine through sqlx's `Any` driver, chosen by the URL's scheme
//! (`postgres://…` or `sqlite://…`). The schema is plain and portable so that both engines read
//! back the same Rust values: TEXT ids, BIGINT epoch-millisecond times and integers (INTEGER 0/1
//! for booleans), TEXT JSON where a list is needed. Migrations live per engine in `migrations/postgres/` and `migrations/sqlite/` and
//! create the same tables. Every SQL statement of Baton lives in this crate; nothing a client
//! sends becomes SQL text (values are always bound).
//!
//! The SQL differs between engines only in how a transaction starts ([`Db`] uses
//! `BEGIN IMMEDIATE` on SQLite so writers queue on the busy timeout instead of failing), in the
//! table locks that serialize creating the signing key and applying event batches on
//! PostgreSQL (SQLite's write lock does that there), and in `COLLATE "C"`, which makes
//! PostgreSQL order ids bytewise as SQLite (and Redis) do where an order is published.
//!
//! # Layout
//! - [`Db`] (here): connecting, migrating, readiness, transactions.
//! - [`campaigns`]: a campaign document stored piece by piece and rebuilt exactly.
//! - [`participants`]: who joined, where, and through whom ([`ParticipantRow`]).
//! - [`events`]: the event log and the projections it builds ([`Db::apply_events`]),
//!   idempotent and independent of the order events arrive in.
//! - [`rebuild`]: what the hot store is rebuilt from ([`RebuiltParticipant`], [`RebuiltAttempt`]).
//! - [`relays`]: the share chains: relay totals rolled up exactly once
//!   ([`Db::roll_up_relays`]), a participant's relay ([`RelayStats`]), the relay board and
//!   campaign totals.
//! - [`tallies`]: the console's counters per place, minute, question and chain depth, counted
//!   as events are stored ([`Counts`]).
//! - [`anticheat`]: flags of suspicious participants, kept as events are stored, and the
//!   participants organizers hid from the public boards ([`Flagged`]).
//! - [`console`]: the console's other reads: top relayers of a region, live-feed samples.
//! - [`export`]: CSV exports streamed from the database ([`ExportKind`]).
//! - [`keys`]: the token-signing key every process shares.
//! - [`error`]: [`DbError`], whose messages say what to do.
//! - [`url`]: URL handling: engine by scheme, SQLite defaults, passwords kept out of messages.
//! - `sql` (private): multi-row statements (`VALUES` lists) shared by the writers.

pub mod anticheat;
pub mod campaigns;
pub mod console;
pub mod error;
pub mod events;
pub mod export;
pub mod keys;
pub mod organizers;
pub mod participants;
pub mod rebuild;
pub mod relays;
mod sql;
pub mod tallies;
pub mod url;

pub use anticheat::{Flagged, FlaggedPage};
pub use campaigns::PutOutcome;
pub use console::{Sample, TopRelayer};
pub use error::DbError;
pub use events::Applied;
pub use export::ExportKind;
pub use organizers::{AuditEntry, AuditRow, NewOrganizer, OrganizerRow};
pub use participants::ParticipantRow;
pub use rebuild::{RebuiltAttempt, RebuiltParticipant};
pub use relays::{RelayStats, RelayTotals, RolledUp};
pub use tallies::{Counts, QuestionCounts};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Transaction};
use std::time::Duration;

/// Which SQL engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Sqlite,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Sqlite => "sqlite",
        }
    }
}

/// A connection pool to the system of record. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
    /// The URL with any password replaced, for messages and logs.
    redacted_url: String,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("engine", &self.engine).field("url", &self.redacted_url).finish_non_exhaustive()
    }
}

/// How long a caller waits for a pooled connection before the request fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a SQLite writer waits for another writer before giving up (10 s).
const SQLITE_PRAGMA_BUSY: &str = "PRAGMA busy_timeout = 10000";

impl Db {
    /// Connects to `postgres://…` or `sqlite://…`. A SQLite file (and its directory) is created
    /// if missing unless the URL says otherwise (`mode=rwc` is added when no `mode` is given);
    /// SQLite runs in WAL mode with a busy timeout. `sqlite::memory:` gives a private in-memory
    /// database held by one connection.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let target = url::Target::parse(url)?;
        let options: AnyConnectOptions =
            target.url.parse().map_err(|_| DbError::UnsupportedUrl { url: target.redacted.clone() })?;
        let mut pool = AnyPoolOptions::new().acquire_timeout(ACQUIRE_TIMEOUT);
        if target.engine == Engine::Sqlite {
            // Switching to WAL writes to the file; a read-only database keeps its mode.
            let read_only = target.read_only;
            pool = pool.after_connect(move |conn, _| {
                Box::pin(async move {
                    // busy_timeout first: switching to WAL needs the database lock.
                    sqlx::query(SQLITE_PRAGMA_BUSY).execute(&mut *conn).await?;
                    if !read_only {
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                    }
                    sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                    sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    Ok(())
                })
            });
            if target.in_memory {
                // Through `Any`, every new connection to `:memory:` opens a new, empty database:
                // keep exactly one, forever.
                pool = pool.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
            }
        }
        let connect_error = |source| DbError::Connect {
            url: target.redacted.clone(),
            hint: match target.engine {
                Engine::Postgres => {
                    "is PostgreSQL running and reachable there, does the database exist, and may this user log in?"
                }
                Engine::Sqlite => "does the directory exist and may this process write to it?",
            },
            source,
        };
        // One plain connection first: the pool retries until its acquire timeout and then
        // reports only `PoolTimedOut`, while this fails fast with the real cause.
        match tokio::time::timeout(ACQUIRE_TIMEOUT, options.connect()).await {
            Ok(Ok(first)) => {
                let _ = first.close().await;
            }
            Ok(Err(source)) => return Err(connect_error(source)),
            Err(_) => {
                let silence = std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("no connection within {ACQUIRE_TIMEOUT:?}"),
                );
                return Err(connect_error(sqlx::Error::Io(silence)));
            }
        }
        let pool = pool.connect_with(options).await.map_err(connect_error)?;
        tracing::debug!(db.engine = target.engine.as_str(), db.url = %target.redacted, "connected to the database");
        let db = Db { pool, engine: target.engine, redacted_url: target.redacted };
        for warning in db.server_warnings().await {
            tracing::warn!(db.url = %db.redacted_url, "{warning}");
        }
        Ok(db)
    }

    /// Brings the schema up to date. Running it again is a no-op. On PostgreSQL, processes
    /// migrating at once are serialized by sqlx's advisory lock; sqlx takes no lock on SQLite,
    /// so there only one process may migrate at a time (a SQLite deployment is one process).
    pub async fn migrate(&self) -> Result<(), DbError> {
        let run = match self.engine {
            Engine::Postgres => sqlx::migrate!("./migrations/postgres").run(&self.pool).await,
            Engine::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&self.pool).await,
        };
        run.map_err(|source| DbError::Migrate { url: self.redacted_url.clone(), source })?;
        tracing::info!(db.engine = self.engine.as_str(), "database schema is up to date");
        Ok(())
    }

    /// Readiness: one round trip to the database.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(error::query("checking the database connection"))
    }

    /// Which engine this is.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted_url(&self) -> &str {
        &self.redacted_url
    }

    /// What the server lacks that a campaign's database needs, one sentence each for the
    /// operator (logged as warnings when connecting). PostgreSQL without autovacuum: a
    /// campaign's tables grow from empty and every tally update leaves a dead row, so without
    /// statistics and vacuuming the planner keeps planning for empty tables and the tables
    /// bloat; the replays measured what that costs (docs/PERFORMANCE.md, section 4).
    pub async fn server_warnings(&self) -> Vec<String> {
        if self.engine != Engine::Postgres {
            return Vec::new();
        }
        match sqlx::query_as::<_, (String,)>("SHOW autovacuum").fetch_one(&self.pool).await {
            Ok((setting,)) if setting == "off" => vec![
                "PostgreSQL's autovacuum is off: turn it on (autovacuum = on, the default) or run \
                 VACUUM (ANALYZE) on this database every few minutes, or its plans degrade as the \
                 campaign's tables grow"
                    .to_string(),
            ],
            Ok(_) => Vec::new(),
            Err(e) => vec![format!("could not read PostgreSQL's autovacuum setting: {e}")],
        }
    }

    /// Closes every connection; waits until they are closed.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A transaction that writes. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred transaction that upgrades later can fail with `SQLITE_BUSY` without waiting.
    async fn write_tx(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.engine {
            Engine::Postgres => self.pool.begin().await,
            Engine::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
        }
    }

    /// A transaction that only reads, on one consistent snapshot (several statements that must
    /// agree, e.g. a campaign and its places).
    async fn read_tx(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.engine {
            Engine::Postgres => self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await,
            // A deferred transaction keeps the snapshot of its first read (WAL mode).
            Engine::Sqlite => self.pool.begin().await,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
