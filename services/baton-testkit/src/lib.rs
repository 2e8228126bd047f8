//! Test resources that a test owns and that clean up after themselves.
//!
//! Tests in Baton run in parallel and against real backends, so each one gets its own:
//!
//! - [`TestRedis`]: a throwaway `redis-server` on a free loopback port (or, when
//!   `BATON_TEST_REDIS_URL` is set, a shared server plus a unique key prefix), killed on drop.
//! - [`TestPg`]: a fresh PostgreSQL database `baton_test_<uuid>` on the server named by
//!   `BATON_TEST_PG_URL`, dropped (`WITH (FORCE)`) on drop.
//! - [`TestSqlite`]: a temporary directory and a SQLite URL inside it, removed on drop.
//! - [`TestRedisCluster`]: a six-node Redis Cluster (three masters, three replicas) on loopback
//!   ports, one a test binary shares or one a test owns (to kill its nodes).
//! - [`free_port`]: a loopback TCP port nobody listens on right now.
//!
//! A missing backend is a test failure with a message saying how to provide it, never a silent
//! skip.
//!
//! # Layout
//! - [`redis`]: [`TestRedis`] and the tiny RESP client it needs (no `redis` crate dependency).
//! - [`redis_cluster`]: [`TestRedisCluster`] and its watchdog.
//! - [`pg`]: [`TestPg`] and the default server URL.
//! - [`sqlite`]: [`TestSqlite`] and its temp dir.

pub mod pg;
pub mod redis;
pub mod redis_cluster;
pub mod sqlite;

pub use pg::TestPg;
pub use redis::TestRedis;
pub use redis_cluster::TestRedisCluster;
pub use sqlite::TestSqlite;

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it for a listener that is
/// closed again before this returns). Another process may take it before the caller binds it,
/// so callers that start servers on it retry with a new port when the bind fails.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("cannot bind a TCP listener on 127.0.0.1:0 to find a free port")
}

/// A short random tag (`uuid` v4, first 8 hex digits) that keeps parallel tests apart.
pub(crate) fn short_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..8].to_owned()
}
