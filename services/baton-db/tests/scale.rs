//! The console's reads at the seed campaign's size, on both engines: 2.5 million participants,
//! as many finished attempts, 500,000 relayers, and ten days of per-minute tallies for every
//! place. Each read the console makes is run against it and checked; its time is printed
//! beside a full count of the participants (what a read that scanned them would at least
//! cost), as a ratio. Nothing here asserts a time: the figures are printed for people.
//!
//! The rows are made by SQL in bulk (`generate_series` / a recursive CTE), not through events:
//! what is measured is reading them.

#[macro_use]
mod common;

use baton_core::campaign::{Campaign, CampaignDoc};
use baton_core::ids::{CampaignId, PlaceId};
use baton_db::{Db, Engine};
use serde_json::json;
use sqlx::{AnyPool, AssertSqlSafe};
use std::time::{Duration, Instant};

on_both_engines!(console_reads_at_two_and_a_half_million_participants);

const PARTICIPANTS: i64 = 2_500_000;
const RELAYERS: i64 = 500_000;
const COUNTIES: usize = 9;
const TOWNSHIPS_PER_COUNTY: usize = 5;
/// 2026-06-01T00:00:00Z, and ten days of minutes.
const T0: i64 = 1_780_272_000_000;
const MINUTES: i64 = 10 * 1440;

/// A city, nine counties (`c0`…`c8`), five townships each (`t0`…`t44`, `tK` under `c{K/5}`).
fn doc() -> CampaignDoc {
    let counties: Vec<_> = (0..COUNTIES)
        .map(|c| {
            let towns: Vec<_> = (0..TOWNSHIPS_PER_COUNTY)
                .map(|k| {
                    let t = c * TOWNSHIPS_PER_COUNTY + k;
                    json!({"id": format!("t{t}"), "name": format!("街道{t}"), "level": "township", "target": 60_000})
                })
                .collect();
            json!({"id": format!("c{c}"), "name": format!("区县{c}"), "level": "county", "children": towns})
        })
        .collect();
    serde_json::from_value(json!({
        "format": 1, "id": "big", "title": "全民禁毒网络接力大赛", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {}},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": counties}],
        "units": [],
        "questions": [{"id": "law-1", "kind": "judge", "category": "law", "difficulty": 1, "stem": "吸毒违法。",
                       "options": ["正确", "错误"], "answer": [0], "explanation": "治安管理处罚法。", "source": "治安管理处罚法"}]
    }))
    .unwrap()
}

/// `n` rows numbered `0..n` as `i`, in the engine's dialect, for `INSERT … SELECT`.
fn numbers(engine: Engine, n: i64) -> (String, String) {
    match engine {
        Engine::Postgres => (String::new(), format!("FROM generate_series(0, {}) AS g(i)", n - 1)),
        Engine::Sqlite => (
            format!("WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i < {}) ", n - 1),
            "FROM g".into(),
        ),
    }
}

/// Text concatenation that both engines read (`||` on integers needs a cast on PostgreSQL).
fn t(expr: &str) -> String {
    format!("CAST({expr} AS TEXT)")
}

async fn exec(pool: &AnyPool, what: &str, sql: String) {
    let started = Instant::now();
    sqlx::query(AssertSqlSafe(sql)).execute(pool).await.unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!("  made {what} in {:.1} s", started.elapsed().as_secs_f64());
}

/// The median of `runs` timed calls of `f`, and its last result.
async fn timed<T, F: std::future::Future<Output = T>>(runs: usize, mut f: impl FnMut() -> F) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(f().await);
        times.push(started.elapsed());
    }
    times.sort();
    (times[runs / 2], last.unwrap())
}

async fn console_reads_at_two_and_a_half_million_participants(db: &Db, url: &str) {
    let engine = db.engine();
    let camp = Campaign::from_doc(doc()).unwrap();
    db.put_campaign(camp.doc()).await.unwrap();
    let id = CampaignId::parse("big").unwrap();
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(url).await.unwrap();
    eprintln!("{}: making the seed campaign's rows", engine.as_str());

    // Participants: township i % 45, joined every 345 ms over ten days, two in three through
    // someone's link.
    let (with, from) = numbers(engine, PARTICIPANTS);
    let town = "(i % 45)";
    exec(
        &pool,
        "2,500,000 participants",
        format!(
            "INSERT INTO participants (campaign_id, id, region_id, unit_id, nickname, joined_at_ms, places_json, \
             relay_code, inviter_id, depth, relay_rolled) {with}\
             SELECT 'big', 'p' || {pid}, 't' || {town_t}, NULL, '选手' || {pid}, {T0} + i * 345, \
             '[\"t' || {town_t} || '\",\"c' || {county_t} || '\",\"city\"]', NULL, \
             CASE WHEN i % 3 = 0 THEN NULL ELSE 'p' || {inviter_t} END, CASE WHEN i % 3 = 0 THEN 0 ELSE 1 END, 1 {from}",
            pid = t("i"),
            town_t = t(town),
            county_t = t(&format!("{town} / {TOWNSHIPS_PER_COUNTY}")),
            inviter_t = t("i / 3"),
        ),
    )
    .await;
    exec(
        &pool,
        "2,500,000 finished attempts",
        format!(
            "INSERT INTO attempts (campaign_id, participant_id, id, day, started_at_ms, expires_at_ms, limit_ms, \
             questions_json, score, correct_count, total_ms, finished_at_ms) {with}\
             SELECT 'big', 'p' || {pid}, 'a', 20605, {T0} + i * 345 + 1000, {T0} + i * 345 + 300000, 20000, '[]', \
             (i % 11) * 10, i % 11, 50000, {T0} + i * 345 + 60000 {from}",
            pid = t("i"),
        ),
    )
    .await;
    let (with, from) = numbers(engine, RELAYERS);
    exec(
        &pool,
        "500,000 relayers",
        format!(
            "INSERT INTO relay_counts (campaign_id, participant_id, region_id, direct, descendants) {with}\
             SELECT 'big', 'p' || {pid}, 't' || {town_t}, 1 + ((i % 50) * 7919) % 50, 1 + ((i % 50) * 7919) % 50 + i % 7 {from}",
            pid = t("i"),
            town_t = t(town),
        ),
    )
    .await;
    // Tallies: every place and the whole campaign, every minute of ten days.
    let mut places: Vec<String> = vec!["*".into(), "city".into()];
    places.extend((0..COUNTIES).map(|c| format!("c{c}")));
    places.extend((0..COUNTIES * TOWNSHIPS_PER_COUNTY).map(|k| format!("t{k}")));
    let (with, from) = numbers(engine, MINUTES);
    let list = places.iter().map(|p| format!("('{p}')")).collect::<Vec<_>>().join(", ");
    let (with_places, places_from) = (
        if with.is_empty() {
            format!("WITH pl(place) AS (VALUES {list}) ")
        } else {
            format!("{with}, pl(place) AS (VALUES {list}) ")
        },
        format!("{from} CROSS JOIN pl"),
    );
    exec(
        &pool,
        &format!("{} tally minutes", places.len() as i64 * MINUTES),
        format!(
            "INSERT INTO tally_minutes (campaign_id, place_id, minute_ms, joins, relayed, attempts, finishes, answers, \
             correct, timed_out, answer_ms, shares, sharers, clicks) {with_places}\
             SELECT 'big', place, {T0} + i * 60000, 174, 116, 174, 170, 1700, 1200, 30, 8500000, 40, 30, 90 {places_from}"
        ),
    )
    .await;
    for p in &places {
        sqlx::query(
            "INSERT INTO tally_totals (campaign_id, place_id, joins, relayed, attempts, finishes, answers, correct, \
             timed_out, answer_ms, shares, sharers, clicks) VALUES ('big', $1, $2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1)",
        )
        .bind(p.as_str())
        .bind(PARTICIPANTS)
        .execute(&pool)
        .await
        .unwrap();
        for d in 0..20 {
            sqlx::query(
                "INSERT INTO tally_depths (campaign_id, place_id, depth, participants) VALUES ('big', $1, $2, 1000)",
            )
            .bind(p.as_str())
            .bind(d)
            .execute(&pool)
            .await
            .unwrap();
        }
    }
    if engine == Engine::Postgres {
        sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    }

    // The ceiling a scanning read would hit: counting the participants.
    let (scan, n) = timed(3, || async {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM participants WHERE campaign_id = 'big'")
            .fetch_one(&pool)
            .await
            .unwrap();
        n
    })
    .await;
    assert_eq!(n, PARTICIPANTS);

    let county = PlaceId::parse("c4").unwrap();
    let county_places: Vec<PlaceId> =
        camp.places().filter(|p| camp.is_within(&p.id, &county)).map(|p| p.id.clone()).collect();
    let town = PlaceId::parse("t7").unwrap();
    let now = T0 + 5 * 86_400_000;
    let mut report = Vec::new();
    let mut row = |what: &str, d: Duration| report.push((what.to_owned(), d));

    let (d, totals) = timed(9, || db.tally_totals(&id, Some(&county))).await;
    assert_eq!(totals.unwrap().joins as i64, PARTICIPANTS);
    row("overview: totals of a county", d);
    let (d, recent) = timed(9, || db.tally_minutes(&id, Some(&county), now - 360_000, now + 1)).await;
    assert_eq!(recent.unwrap().len(), 7, "six minutes back and the current one");
    row("overview: the last six minutes", d);
    let (d, series) = timed(5, || db.tally_series(&id, None, "joins", (T0, T0, T0 + MINUTES * 60_000), 60_000)).await;
    let series = series.unwrap();
    assert_eq!(series.len() as i64, MINUTES);
    assert!(series.iter().enumerate().all(|(i, (k, n))| *k == i as i64 && *n == 174));
    row("time series: ten days by the minute", d);
    let (d, series) =
        timed(5, || db.tally_series(&id, Some(&county), "answers", (T0, T0, T0 + MINUTES * 60_000), 3_600_000)).await;
    let series = series.unwrap();
    assert_eq!(series.len(), 240);
    assert!(series.iter().all(|(_, n)| *n == 1700 * 60));
    row("time series: a county's ten days by the hour", d);
    let (d, by_place) = timed(9, || db.tally_totals_by_place(&id)).await;
    assert_eq!(by_place.unwrap().len(), places.len() - 1);
    row("breakdown: every place's totals", d);
    let (d, depths) = timed(9, || db.tally_depths(&id, Some(&town))).await;
    assert_eq!(depths.unwrap().len(), 20);
    row("relay: depth histogram", d);
    let (d, top) = timed(9, || db.top_relayers_within(&id, None, 20)).await;
    let top = top.unwrap();
    assert_eq!(top.len(), 20);
    assert!(top.iter().all(|r| r.direct == 50), "{top:?}");
    row("relay: top 20 of the campaign", d);
    let (d, top) = timed(9, || db.top_relayers_within(&id, Some(&county_places), 20)).await;
    let top = top.unwrap();
    assert_eq!(top.len(), 20);
    assert!(top.iter().all(|r| r.direct == 50 && county_places.iter().any(|p| p.as_str() == r.region)), "{top:?}");
    assert!(top.windows(2).all(|w| (w[0].direct, w[0].descendants) >= (w[1].direct, w[1].descendants)));
    row("relay: top 20 of a county", d);
    let (d, top) = timed(9, || db.top_relayers_within(&id, Some(std::slice::from_ref(&town)), 20)).await;
    assert!(top.unwrap().iter().all(|r| r.region == "t7"));
    row("relay: top 20 of a township", d);
    // The live feed: one tick's window, and a resumed five minutes.
    let (d, joins) = timed(9, || db.recent_joins(&id, None, now - 2_000, now, 20)).await;
    let joins = joins.unwrap();
    assert!(!joins.is_empty() && joins.len() <= 20);
    row("live: joins of a tick", d);
    let (d, joins) = timed(9, || db.recent_joins(&id, Some(std::slice::from_ref(&town)), now - 300_000, now, 20)).await;
    let joins = joins.unwrap();
    assert!(!joins.is_empty() && joins.iter().all(|s| s.region == "t7"));
    assert!(joins.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
    row("live: a township's joins of five minutes", d);
    let (d, fin) = timed(9, || db.recent_finishes(&id, Some(&county_places), now - 300_000, now, 20)).await;
    let fin = fin.unwrap();
    assert_eq!(fin.len(), 20);
    assert!(fin.iter().all(|s| s.score.is_some() && county_places.iter().any(|p| p.as_str() == s.region)));
    row("live: a county's finishes of five minutes", d);

    eprintln!(
        "{}: console reads at {PARTICIPANTS} participants (median; full count of participants: {:.1} ms)",
        engine.as_str(),
        scan.as_secs_f64() * 1e3
    );
    for (what, d) in &report {
        eprintln!(
            "  {what:<44} {:>8.2} ms   {:>8.4} × the full count",
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() / scan.as_secs_f64()
        );
    }
    pool.close().await;
}
