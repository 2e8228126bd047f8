//! The test resources work and clean up after themselves.

use baton_testkit::{TestPg, TestRedis, TestSqlite, free_port};
use sqlx::{Connection, PgConnection};
use std::io::{Read, Write};
use std::net::TcpStream;

fn ping(port: u16) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.write_all(b"PING\r\n")?;
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[tokio::test]
async fn redis_servers_are_private_and_die_with_their_owner() {
    let a = TestRedis::start().await;
    let b = TestRedis::start().await;
    assert_ne!(a.key_prefix(), b.key_prefix());
    assert!(a.key_prefix().starts_with("t-") && a.key_prefix().ends_with(':'));
    assert_eq!(a.key_prefix().len(), "t-12345678:".len());
    if !a.is_private() {
        return; // BATON_TEST_REDIS_URL: a shared server we must not stop.
    }
    assert_ne!(a.port(), b.port());
    assert_eq!(a.url(), format!("redis://127.0.0.1:{}", a.port()));
    assert_eq!(ping(a.port()).unwrap(), "+PONG\r\n");
    let port = a.port();
    drop(a);
    assert!(ping(port).is_err(), "the server still answers after drop");
    assert_eq!(ping(b.port()).unwrap(), "+PONG\r\n");
}

#[tokio::test]
async fn pg_databases_exist_until_dropped() {
    let pg = TestPg::create().await;
    assert!(pg.name().starts_with("baton_test_"));
    let mut conn = PgConnection::connect(pg.url()).await.unwrap();
    let (db,): (String,) = sqlx::query_as("SELECT current_database()").fetch_one(&mut conn).await.unwrap();
    assert_eq!(db, pg.name());
    let name = pg.name().to_owned();
    // A connection left open does not stop the drop (WITH (FORCE)).
    drop(pg);
    let admin = std::env::var("BATON_TEST_PG_URL").unwrap_or_else(|_| baton_testkit::pg::DEFAULT_PG_URL.to_owned());
    let mut admin = PgConnection::connect(&admin).await.unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&mut admin)
        .await
        .unwrap();
    assert_eq!(n, 0, "database {name} is still there");
}

#[test]
fn sqlite_dirs_are_removed() {
    let s = TestSqlite::new();
    assert_eq!(s.url(), format!("sqlite://{}?mode=rwc", s.path().display()));
    assert!(s.dir().is_dir());
    std::fs::write(s.path(), b"x").unwrap();
    let dir = s.dir().to_owned();
    drop(s);
    assert!(!dir.exists());
}

#[test]
fn free_ports_are_bindable() {
    let port = free_port();
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
}
