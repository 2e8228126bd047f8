//! SQL is the system of record: every change reaches it exactly once, whatever crashes on the
//! way; the hot store can be rebuilt from it; nothing acknowledged is lost.

use baton::app::start_archiver;
use baton_archiver::redis::{Archiver, ArchiverConfig};
use baton_core::ids::CampaignId;
use baton_e2e::*;
use baton_http::clock::Clock;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

fn demo() -> CampaignId {
    CampaignId::parse("demo").unwrap()
}

fn quick(consumer: &str) -> ArchiverConfig {
    let mut c = ArchiverConfig::new(consumer);
    c.block = Duration::from_millis(50);
    c.trim_every = Duration::ZERO;
    c
}

async fn archiver(app: &TestApp, config: ArchiverConfig) -> Archiver {
    let url = app.services.config.redis_url.clone().expect("a Redis app");
    start_archiver(&app.services, &url, config).await.expect("the archiver starts")
}

/// Runs rounds until one finds nothing to do.
async fn drain(a: &mut Archiver) {
    for _ in 0..1000 {
        let r = a.run_once().await.expect("an archiver round");
        if r.claimed == 0 && r.read == 0 {
            return;
        }
    }
    panic!("the archiver did not catch up");
}

/// Plays `n` whole journeys; returns the number of events they make (join, start, ten
/// answers, finish each).
async fn journeys(app: &TestApp, tag: &str, n: usize) -> i64 {
    for i in 0..n {
        let who = app.join(&format!("device-{tag}-{i:04}"), &format!("{tag}{i}")).await;
        app.play(&who, i % 11, 1_000).await;
    }
    n as i64 * 13
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_events_reach_sql_once_and_replays_change_nothing() {
    let app = TestApp::spawn(Hot::Redis, Sql::Postgres).await;
    let expected = journeys(&app, "once", 4).await;
    let mut a = archiver(&app, quick("a")).await;
    drain(&mut a).await;
    let db = &app.services.db;
    assert_eq!(db.event_count(&demo()).await.unwrap(), expected);
    let events = db.events(&demo(), None, 10_000).await.unwrap();
    assert_eq!(events.len() as i64, expected);
    let bests: Vec<_> =
        db.rebuild_participants(&demo(), None, 100).await.unwrap().into_iter().map(|p| (p.id, p.best)).collect();
    assert_eq!(bests.len(), 4);
    assert!(bests.iter().all(|(_, b)| b.is_some()));
    // (b) The same events again, in one batch and in pieces: all duplicates, nothing changes.
    let again = db.apply_events(&events).await.unwrap();
    assert_eq!((again.new, again.duplicates), (0, events.len()));
    for chunk in events.chunks(7) {
        assert_eq!(db.apply_events(chunk).await.unwrap().new, 0);
    }
    assert_eq!(db.event_count(&demo()).await.unwrap(), expected);
    let after: Vec<_> =
        db.rebuild_participants(&demo(), None, 100).await.unwrap().into_iter().map(|p| (p.id, p.best)).collect();
    assert_eq!(after, bests, "no double-counted scores");
    // Streams are trimmed below what is committed, never further.
    let mut conn = redis::Client::open(app.services.config.redis_url.clone().unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let stream = baton_hot::keys::Keys::new(&app.services.config.redis_prefix, 1).events(&demo(), 0);
    let len: i64 = redis::cmd("XLEN").arg(&stream).query_async(&mut conn).await.unwrap();
    assert!(len <= 1, "the stream keeps {len} archived entries");
    let metrics = app.get("/metrics", None).await.text();
    assert!(metrics.contains("baton_archiver_backlog 0"), "{metrics}");
    assert!(metrics.contains(&format!("baton_archiver_events_total{{outcome=\"applied\"}} {expected}")), "{metrics}");
}

/// (a) An archiver killed at any point (mid-batch included) leaves its entries pending;
/// another claims and finishes them: every event lands in SQL exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_archiver_is_finished_by_another() {
    let app = Arc::new(TestApp::spawn(Hot::Redis, Sql::Postgres).await);
    let load = {
        let app = app.clone();
        tokio::spawn(async move { journeys(&app, "kill", 12).await })
    };
    // A runs alongside the load and is killed after a while, wherever it is.
    let mut first = quick("first");
    first.claim_idle = Duration::from_secs(3600);
    first.batch = 7;
    let a = archiver(&app, first).await;
    let killed = tokio::time::timeout(Duration::from_millis(400), a.run(std::future::pending())).await;
    assert!(killed.is_err(), "the archiver ran until it was killed");
    let expected = load.await.unwrap();
    // B takes over what A left pending, and everything since.
    let mut second = quick("second");
    second.claim_idle = Duration::ZERO;
    let mut b = archiver(&app, second).await;
    drain(&mut b).await;
    drain(&mut b).await;
    let db = &app.services.db;
    assert_eq!(db.event_count(&demo()).await.unwrap(), expected);
    let ids: std::collections::HashSet<String> =
        db.events(&demo(), None, 10_000).await.unwrap().into_iter().map(|e| e.id).collect();
    assert_eq!(ids.len() as i64, expected);
    let mut conn = redis::Client::open(app.services.config.redis_url.clone().unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let stream = baton_hot::keys::Keys::new(&app.services.config.redis_prefix, 1).events(&demo(), 0);
    let pending: Value =
        redis_value(redis::cmd("XPENDING").arg(&stream).arg("archiver").query_async(&mut conn).await.unwrap());
    assert_eq!(pending[0], 0, "nothing left pending: {pending}");
}

/// A round that drained the stream pauses (`linger`) before the next, so events that arrive
/// meanwhile are committed in one batch rather than one transaction each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drained_archiver_lingers_and_commits_what_came_meanwhile_together() {
    let app = Arc::new(TestApp::spawn(Hot::Redis, Sql::Postgres).await);
    let mut config = quick("linger");
    config.block = Duration::from_millis(1000);
    config.linger = Duration::from_secs(5);
    let a = archiver(&app, config).await;
    let batches = app.services.archiver_metrics.batch_size.clone();
    let (count0, sum0) = (batches.get_sample_count(), batches.get_sample_sum());
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(a.run(async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    let stored = |n: i64| {
        let app = app.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while app.services.db.event_count(&demo()).await.unwrap() < n {
                assert!(std::time::Instant::now() < deadline, "{n} events never reached SQL");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    // One join: the blocked read wakes for it, and its batch of one is committed at once.
    app.join("device-linger-0000", "linger0").await;
    stored(1).await;
    // Ten more while the archiver lingers: one batch.
    for i in 1..=10 {
        app.join(&format!("device-linger-{i:04}"), &format!("linger{i}")).await;
    }
    stored(11).await;
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("it stops during its pause").unwrap();
    assert_eq!(app.services.db.event_count(&demo()).await.unwrap(), 11);
    assert_eq!(
        (batches.get_sample_count() - count0, batches.get_sample_sum() - sum0),
        (2, 11.0),
        "a batch of the first join, then one of the ten that came while it lingered"
    );
}

fn redis_value(v: redis::Value) -> Value {
    match v {
        redis::Value::Int(i) => i.into(),
        redis::Value::Nil => Value::Null,
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned().into(),
        redis::Value::Array(a) => a.into_iter().map(redis_value).collect(),
        other => format!("{other:?}").into(),
    }
}

/// An entry that is not an event goes to the dead-letter stream with the reason; the others
/// are archived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_entries_are_dead_lettered_not_dropped() {
    let app = TestApp::spawn(Hot::Redis, Sql::Postgres).await;
    let who = app.join("device-dead-0001", "死信").await;
    let keys = baton_hot::keys::Keys::new(&app.services.config.redis_prefix, 1);
    let mut conn = redis::Client::open(app.services.config.redis_url.clone().unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: String = redis::cmd("XADD")
        .arg(keys.events(&demo(), 0))
        .arg("*")
        .arg("e")
        .arg("{\"v\":9}")
        .query_async(&mut conn)
        .await
        .unwrap();
    app.start(&who).await;
    let mut a = archiver(&app, quick("a")).await;
    drain(&mut a).await;
    assert_eq!(app.services.db.event_count(&demo()).await.unwrap(), 2);
    let dead: Value = redis_value(
        redis::cmd("XRANGE").arg(keys.dead_letters(&demo(), 0)).arg("-").arg("+").query_async(&mut conn).await.unwrap(),
    );
    let fields = &dead[0][1];
    let reason =
        fields.as_array().unwrap().iter().skip_while(|f| *f != "reason").nth(1).unwrap().as_str().unwrap().to_owned();
    assert!(reason.contains("not a valid event"), "{reason}");
    assert!(
        app.get("/metrics", None).await.text().contains("baton_archiver_events_total{outcome=\"dead_lettered\"} 1")
    );
}

/// What the public sees of a campaign: leaderboards, collective boards, each participant.
async fn snapshot(app: &TestApp, people: &[Joined]) -> Vec<Value> {
    let mut out = Vec::new();
    for board in [
        "score?limit=100",
        "regions",
        "units?limit=100",
        "score-region-hetang",
        "score-region-hetang-yuetang",
        "score-unit-u-hetang-yuanjiawan-community",
    ] {
        out.push(app.get(&format!("/api/v1/campaigns/demo/leaderboards/{board}"), None).await.json());
    }
    out.push(app.get("/api/v1/campaigns/demo", None).await.json()["stats"].clone());
    for p in people {
        out.push(app.get("/api/v1/me", Some(&p.token)).await.json());
        out.push(app.get("/api/v1/campaigns/demo/leaderboards/score?around=me", Some(&p.token)).await.json());
    }
    out
}

async fn cohort(app: &TestApp) -> Vec<Joined> {
    let unit_home = app
        .services
        .campaigns
        .get(&demo())
        .unwrap()
        .unit(&baton_core::ids::UnitId::parse("u-hetang-yuanjiawan-community").unwrap())
        .unwrap()
        .region_id
        .to_string();
    let mut people = Vec::new();
    for i in 0..6 {
        let who = if i % 2 == 0 {
            app.join_at(
                &format!("device-rebuild-{i:03}"),
                &format!("重建{i}"),
                &unit_home,
                Some("u-hetang-yuanjiawan-community"),
            )
            .await
        } else {
            app.join_at(&format!("device-rebuild-{i:03}"), &format!("重建{i}"), "liling-lailongmen", None).await
        };
        app.play(&who, i * 2 % 11, 700 + i as i64 * 100).await;
        if i % 3 == 0 {
            app.play(&who, 10 - i, 900).await;
        }
        people.push(who);
    }
    // One attempt left in progress, two questions answered.
    let a = app.start(&people[1]).await;
    for q in a["questions"].as_array().unwrap().iter().take(2) {
        app.clock.advance(1_000);
        app.answer(&people[1], a["attempt_id"].as_str().unwrap(), q["id"].as_str().unwrap(), &app.right_choice(q))
            .await;
    }
    people
}

/// The hot store emptied mid-campaign and rebuilt from SQL gives the same leaderboards,
/// ranks and counters; the attempt in progress carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_rebuilt_from_sql_is_the_same() {
    let app = TestApp::spawn(Hot::Redis, Sql::Postgres).await;
    let people = cohort(&app).await;
    let mut a = archiver(&app, quick("a")).await;
    drain(&mut a).await;
    let before = snapshot(&app, &people).await;
    let open =
        app.get("/api/v1/me", Some(&people[1].token)).await.json()["open_attempt_id"].as_str().unwrap().to_owned();
    let attempt_before = app.get(&format!("/api/v1/attempts/{open}"), Some(&people[1].token)).await.json();

    let store = &app.services.store;
    store.clear_campaign(&demo()).await.unwrap();
    assert_eq!(app.get("/api/v1/campaigns/demo/leaderboards/score", None).await.json()["total"], 0);
    let campaign = app.services.campaigns.get(&demo()).unwrap();
    let summary = baton_archiver::rebuild::rebuild(&app.services.db, &**store, &campaign, app.clock.now_ms(), |_| {})
        .await
        .unwrap();
    assert_eq!((summary.participants, summary.with_best), (6, 6));
    assert_eq!(snapshot(&app, &people).await, before);
    assert_eq!(app.get(&format!("/api/v1/attempts/{open}"), Some(&people[1].token)).await.json(), attempt_before);
    // The attempt in progress carries on, and a rebuild can be run again.
    let q = &attempt_before["questions"][2];
    let r = app.answer(&people[1], &open, q["id"].as_str().unwrap(), &app.right_choice(q)).await.json();
    assert_eq!(r["attempt_score"], 30);
    baton_archiver::rebuild::rebuild(&app.services.db, &**store, &campaign, app.clock.now_ms(), |_| {}).await.unwrap();
    drain(&mut a).await;
    baton_archiver::rebuild::rebuild(&app.services.db, &**store, &campaign, app.clock.now_ms(), |_| {}).await.unwrap();
    assert_eq!(app.get(&format!("/api/v1/attempts/{open}"), Some(&people[1].token)).await.json()["attempt_score"], 30);
}

/// The embedded store commits every change to SQLite before acknowledging it; a new process on
/// the same database comes back with the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_state_survives_a_restart() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let people = cohort(&app).await;
    let expected = app.services.db.event_count(&demo()).await.unwrap();
    assert!(expected >= 6 * 13 + 3);
    let before = snapshot(&app, &people).await;
    let restarted = app.restart().await;
    assert_eq!(restarted.services.db.event_count(&demo()).await.unwrap(), expected);
    assert_eq!(snapshot(&restarted, &people).await, before);
}

/// An event SQL keeps refusing (here: for a campaign the database does not have) is retried,
/// then moved to the dead-letter stream with the reason after `max_deliveries`; the events
/// around it are archived meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sql_keeps_refusing_are_dead_lettered_after_retries() {
    let app = TestApp::spawn(Hot::Redis, Sql::Postgres).await;
    let keys = baton_hot::keys::Keys::new(&app.services.config.redis_prefix, 1);
    let mut conn = redis::Client::open(app.services.config.redis_url.clone().unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ghost = r#"{"v":1,"id":"c:p1:1","campaign":"ghost","at":1,"kind":"clicked","participant":"p1","n":1}"#;
    let _: String = redis::cmd("XADD")
        .arg(keys.events(&demo(), 0))
        .arg("*")
        .arg("e")
        .arg(ghost)
        .query_async(&mut conn)
        .await
        .unwrap();
    app.join("device-refused-01", "重试").await;
    let mut config = quick("retrying");
    config.claim_idle = Duration::ZERO;
    config.max_deliveries = 3;
    let mut a = archiver(&app, config).await;
    let mut dead = 0;
    for _ in 0..10 {
        dead += a.run_once().await.unwrap().dead_lettered;
    }
    assert_eq!(dead, 1, "dead-lettered once, after its retries");
    assert_eq!(app.services.db.event_count(&demo()).await.unwrap(), 1, "the join around it is archived");
    let entries: Value = redis_value(
        redis::cmd("XRANGE").arg(keys.dead_letters(&demo(), 0)).arg("-").arg("+").query_async(&mut conn).await.unwrap(),
    );
    let fields = entries[0][1].as_array().unwrap();
    let field =
        |name: &str| fields.iter().skip_while(|f| *f != name).nth(1).and_then(Value::as_str).unwrap().to_owned();
    assert!(field("reason").contains("SQL refused it 3 times"), "{}", field("reason"));
    assert_eq!(field("e"), ghost);
    let pending: Value = redis_value(
        redis::cmd("XPENDING").arg(keys.events(&demo(), 0)).arg("archiver").query_async(&mut conn).await.unwrap(),
    );
    assert_eq!(pending[0], 0, "nothing left pending: {pending}");
}
