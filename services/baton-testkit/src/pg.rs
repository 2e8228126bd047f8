//! [`TestPg`]: a fresh PostgreSQL database per test, dropped when the test ends.

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::time::Duration;

/// The server tests use unless `BATON_TEST_PG_URL` names another one. The URL must name a
/// database the user can connect to and a user allowed to `CREATE DATABASE`.
pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database `baton_test_<uuid>` created for one test on the server named by
/// `BATON_TEST_PG_URL` (default [`DEFAULT_PG_URL`]). Dropping it drops the database
/// `WITH (FORCE)`, closing connections the test left open, so no test leaves databases behind.
pub struct TestPg {
    admin_url: String,
    name: String,
    url: String,
}

impl TestPg {
    /// Creates the database. Panics, saying how to start PostgreSQL, if the server cannot be
    /// reached: a test that needs PostgreSQL fails rather than silently skipping.
    pub async fn create() -> Self {
        let admin_url = std::env::var("BATON_TEST_PG_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_PG_URL.to_owned());
        let name = format!("baton_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin_connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "cannot reach PostgreSQL at {} for a test database: {e}\n\
                 Start it (e.g. `pg_ctlcluster 15 main start` or `service postgresql start`), \
                 or point BATON_TEST_PG_URL at a server where this user may CREATE DATABASE.",
                redact(&admin_url)
            )
        });
        // The name is made here from a UUID: nothing outside this function shapes the SQL.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(&mut conn).await.unwrap_or_else(
            |e| {
                panic!(
                    "cannot create test database {name} on {}: {e}\n\
                     The user in BATON_TEST_PG_URL needs the CREATEDB privilege.",
                    redact(&admin_url)
                )
            },
        );
        let _ = conn.close().await;
        let url = with_database(&admin_url, &name);
        Self { admin_url, name, url }
    }

    /// The URL of the new database (same server, user and parameters as `BATON_TEST_PG_URL`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database name, `baton_test_<32 hex digits>`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestPg {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which we may not block on: drop the database
        // from a thread with a runtime of its own, and wait for it so the process does not exit
        // first.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut conn = admin_connect(&admin_url).await.map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<(), String>(())
            })
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

async fn admin_connect(url: &str) -> Result<PgConnection, sqlx::Error> {
    match tokio::time::timeout(Duration::from_secs(10), PgConnection::connect(url)).await {
        Ok(r) => r,
        Err(_) => Err(sqlx::Error::PoolTimedOut),
    }
}

/// `url` with its path (the database name) replaced by `db`; the query string is kept.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// `url` with any password replaced by `***`, for messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => match authority[..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end], &url[scheme_end + at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/postgres?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h:5/db"), "postgres://u:***@h:5/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
