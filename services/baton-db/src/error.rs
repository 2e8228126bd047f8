//! [`DbError`]: what went wrong with the database, worded so an operator knows what to do.
//! Messages never carry a password (URLs in them are redacted); the underlying sqlx error is the
//! [`std::error::Error::source`], so the cause chain is printed once, by whoever logs it.

use baton_core::ids::CampaignId;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "database URL {url:?} is not supported: use postgres://USER@HOST:PORT/DATABASE or sqlite://PATH/TO/baton.db"
    )]
    UnsupportedUrl { url: String },

    #[error("cannot create directory {dir} for the SQLite database: check the path and its permissions")]
    CreateDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot connect to the database at {url}: {hint}")]
    Connect {
        url: String,
        hint: &'static str,
        #[source]
        source: sqlx::Error,
    },

    #[error(
        "cannot bring the database schema at {url} up to date: was it migrated by a newer Baton, \
         or were its tables changed by hand?"
    )]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    #[error("database error while {action}")]
    Query {
        action: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("campaign {0} is not in the database: import it first (`baton campaign import`)")]
    UnknownCampaign(CampaignId),

    #[error("cannot store {0}")]
    Invalid(String),

    #[error(
        "event {event_id:?} of campaign {campaign} is not stored: page from an event that a previous page returned"
    )]
    UnknownEvent { campaign: CampaignId, event_id: String },

    #[error("cannot write the export: is the disk full, or did the client go away?")]
    Write(#[source] std::io::Error),

    #[error(
        "stored data is not valid ({0}): was the database written by another version of Baton, \
         or edited by hand?"
    )]
    Corrupt(String),
}

/// Wraps a sqlx error with what we were doing: `.map_err(query("reading campaign x"))`.
pub(crate) fn query(action: impl Into<String>) -> impl FnOnce(sqlx::Error) -> DbError {
    let action = action.into();
    move |source| DbError::Query { action, source }
}

/// Whether a sqlx error is a foreign-key violation (on either engine).
pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    e.as_database_error().is_some_and(|d| d.is_foreign_key_violation())
}
