//! What every storage suite shares: running a case on both engines, each on a fresh store.

use baton_db::Db;

/// A database at `url`, migrated and answering.
pub async fn migrated(url: &str) -> Db {
    let db = Db::connect(url).await.unwrap_or_else(|e| panic!("{e}: {:?}", std::error::Error::source(&e)));
    db.migrate().await.unwrap();
    db.ping().await.unwrap();
    db
}

/// Runs each named `async fn case(db: &Db, url: &str)` as `sqlite::<case>` (a temp file) and
/// `postgres::<case>` (a fresh database), each on its own store.
macro_rules! on_both_engines {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store = baton_testkit::TestSqlite::new();
                    let db = crate::common::migrated(store.url()).await;
                    assert_eq!(db.engine(), baton_db::Engine::Sqlite);
                    super::$case(&db, store.url()).await;
                    db.close().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let store = baton_testkit::TestPg::create().await;
                    let db = crate::common::migrated(store.url()).await;
                    assert_eq!(db.engine(), baton_db::Engine::Postgres);
                    super::$case(&db, store.url()).await;
                    db.close().await;
                }
            )*
        }
    };
}
