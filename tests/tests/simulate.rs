//! The campaign simulator, small and fast, as a check of correctness under concurrency: a few
//! hundred citizens play the seed campaign's ten days compressed into seconds (so arrivals come
//! in bursts, hundreds of journeys at once), some through relay links that grow chains, while
//! organizers hold the live stream open and poll the console. Afterwards:
//! - no request failed and no answer contradicted an earlier one (the simulator checks the
//!   running score, the finish's score and best, and that a finisher is on its county's board);
//! - SQL holds exactly what the citizens were told: every participant, every acknowledged answer
//!   once with its points, every best score, nothing else;
//! - the score board, read page by page, ranks exactly the finishers, by the best scores they
//!   were told, in order.
//!
//! Speed is not measured here (see `loadtest/bench.sh` and docs/PERFORMANCE.md).

use baton_e2e::*;
use baton_sim::citizen::{Acked, Behavior};
use baton_sim::shape::Shape;
use baton_sim::{RunConfig, Thresholds, check};
use std::collections::HashMap;
use std::time::Duration;

const CITIZENS: u64 = 300;

/// The seed campaign's ten days for `citizens` against `app`, compressed `speed` times, without
/// organizers; a test sets what it plays differently.
fn whole_campaign(app: &TestApp, citizens: u64, seed: u64, speed: f64, tag: &str) -> RunConfig {
    let shape = Shape::seed_campaign(citizens, seed);
    RunConfig {
        base_url: format!("http://{}", app.addr),
        campaign: "demo".into(),
        from_minute: 0,
        to_minute: shape.minutes(),
        speed,
        shape,
        behavior: Behavior::default(),
        organizers: 0,
        organizer_login: None,
        console_poll: Duration::from_millis(500),
        max_active: 10_000,
        archiver_metrics: None,
        tag: tag.into(),
        timeout: Duration::from_secs(60),
        progress_every: Duration::ZERO,
    }
}

async fn simulate(hot: Hot, sql: Sql) {
    // Compressed ten-thousandfold, citizens answer far faster than the per-participant limits
    // allow a person to; the limits have tests of their own (limits.rs).
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = baton_http::limits::LimitsConfig::off()).await;
    app.organizer("sim-organizer", "organizer", Some("demo"), None).await;
    let cfg = RunConfig {
        behavior: Behavior { again: 0.3, ..Behavior::default() },
        organizers: 2,
        organizer_login: Some(format!("sim-organizer:{ORGANIZER_PASSWORD}")),
        // Ten days in about eight seconds.
        ..whole_campaign(&app, CITIZENS, 42, 864_000.0 / 8.0, "suite")
    };
    let (report, world, seconds) =
        baton_sim::run(&cfg, &Thresholds { max_error_rate: Some(0.0), ..Default::default() })
            .await
            .expect("the simulation runs");
    println!("{}", baton_sim::render(&report));
    assert!(report.failed_thresholds.is_empty(), "{:?}", report.failed_thresholds);
    assert_eq!((report.arrivals, report.participants, report.journeys_failed), (CITIZENS, CITIZENS, 0));
    assert!(report.relayed_joins > CITIZENS / 5, "relayed joins: {}", report.relayed_joins);
    assert!(report.depths.len() >= 3, "chains grow: joins by depth {:?}", report.depths);
    assert!(report.kinds["console"].count >= 10, "organizers polled: {:?}", report.kinds["console"]);
    assert!(report.live.opened >= 2 && report.live.overview_events >= 2, "{:?}", report.live);
    assert!(seconds.iter().map(|s| s.answers).sum::<u64>() == report.kinds["answer"].count);

    // SQL against the ledger.
    app.settle().await;
    let ledger: HashMap<String, Acked> = world.ledger.participants.lock().unwrap().clone();
    assert!(ledger.values().any(|a| a.answers > 10), "someone played twice");
    let c = check::against_sql(&app.services.config.database_url, "demo", &ledger).await.expect("the check runs");
    print!("{}", check::render(&c));
    assert!(c.ok(), "{c:?}");
    assert_eq!(c.sql_answers, report.kinds["answer"].count);
    // The check sees a lost answer and a wrong best.
    let mut told = ledger.clone();
    let someone = told.values_mut().find(|a| a.best.is_some()).unwrap();
    someone.answers += 1;
    someone.best = someone.best.map(|b| b + 10);
    let c2 = check::against_sql(&app.services.config.database_url, "demo", &told).await.unwrap();
    assert_eq!((c2.answers_differ, c2.best_differs, c2.ok()), (1, 1, false));

    // The score board against the ledger, page by page.
    let mut board = Vec::new();
    loop {
        let page =
            app.get(&format!("/api/v1/campaigns/demo/leaderboards/score?limit=100&offset={}", board.len()), None).await;
        let v = page.json();
        let entries = v["entries"].as_array().unwrap().clone();
        assert_eq!(v["total"].as_u64(), Some(c.with_best));
        if entries.is_empty() {
            break;
        }
        board.extend(entries);
    }
    assert_eq!(board.len() as u64, c.with_best);
    for (i, e) in board.iter().enumerate() {
        let id = e["id"].as_str().unwrap();
        assert_eq!(e["value"].as_i64(), ledger[id].best, "{e}");
        assert_eq!(e["rank"].as_u64(), Some(i as u64 + 1), "{e}");
        if i > 0 {
            assert!(board[i - 1]["value"].as_i64() >= e["value"].as_i64(), "ranked in order at {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_postgres() {
    simulate(Hot::Redis, Sql::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_and_sqlite() {
    simulate(Hot::Embedded, Sql::Sqlite).await;
}

/// A saturated run: one journey in flight at a time, ten days in one second, so arrivals wait for
/// the slot (start lag) the whole run. The per-second series still follows the wall clock: a row
/// for each second, each with the requests that ended in it (journeys ran back to back, so every
/// whole second had some), and together every participant request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saturated_series_follows_the_clock() {
    const N: u64 = 200;
    let app =
        TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, |c| c.limits = baton_http::limits::LimitsConfig::off()).await;
    let cfg = RunConfig { max_active: 1, ..whole_campaign(&app, N, 7, 864_000.0, "saturated") };
    let (report, _, seconds) = baton_sim::run(&cfg, &Thresholds::default()).await.expect("the simulation runs");
    println!("{}", baton_sim::render(&report));
    assert_eq!((report.arrivals, report.journeys_failed, report.errors), (N, 0, 0));
    assert!(report.start_lag_max_ms > 1_000.0, "arrivals waited for the slot: {} ms", report.start_lag_max_ms);
    let whole = report.wall_s as usize;
    assert!(
        (whole + 1..=whole + 2).contains(&seconds.len()),
        "{} rows for {:.2} s of wall clock",
        seconds.len(),
        report.wall_s
    );
    let idle: Vec<u64> = seconds[..whole].iter().filter(|s| s.requests == 0).map(|s| s.second).collect();
    assert!(
        idle.len() <= 1,
        "seconds without a request while journeys ran back to back: {idle:?} of {}",
        seconds.len()
    );
    assert_eq!(seconds.iter().map(|s| s.requests).sum::<u64>(), report.requests);
}
