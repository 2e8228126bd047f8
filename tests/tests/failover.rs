//! A Redis Cluster master dies under load: citizens keep joining and answering while the master
//! serving some of them is killed (SIGKILL) and its replica takes over.
//!
//! The Redis client rides through (it retries on the new master; every write is idempotent),
//! a citizen's app retries what still failed, and afterwards: every acknowledged answer is in
//! SQL exactly once, nobody is scored twice, and the leaderboard equals a recount from SQL. The
//! test prints the window in which requests failed or stalled.

use baton_core::events::EventBody;
use baton_core::ids::CampaignId;
use baton_e2e::*;
use baton_testkit::TestRedisCluster;
use baton_testkit::redis_cluster::unique_prefix;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Citizens playing at once.
const CITIZENS: usize = 12;
/// A request slower than this counts as stalled.
const STALL: Duration = Duration::from_millis(500);

/// What the test saw of the requests.
#[derive(Default)]
struct Log {
    /// (since the start, what, status)
    failures: Vec<(Duration, String, u16)>,
    /// (since the start, how long)
    stalls: Vec<(Duration, Duration)>,
    requests: usize,
    /// Acknowledged answers: (participant, attempt, question) → points.
    answers: BTreeMap<(String, String, String), u64>,
    /// Acknowledged finishes: participant → score.
    finished: HashMap<String, u64>,
}

struct Run {
    app: TestApp,
    t0: Instant,
    log: Mutex<Log>,
}

impl Run {
    /// Sends a request until it succeeds (as the citizen app does), logging failures and stalls.
    async fn until_ok<F, Fut>(&self, what: &str, send: F) -> Resp
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Resp>,
    {
        for _ in 0..200 {
            let sent = Instant::now();
            let r = send().await;
            let took = sent.elapsed();
            {
                let mut log = self.log.lock().unwrap();
                log.requests += 1;
                if took >= STALL {
                    log.stalls.push((sent - self.t0, took));
                }
                if r.status >= 300 {
                    log.failures.push((sent - self.t0, what.to_owned(), r.status));
                    eprintln!("{what} failed at {:.1?}: {} {}", sent - self.t0, r.status, r.text());
                }
            }
            if r.status < 300 {
                return r;
            }
            assert!(r.status >= 500, "{what} refused: {} {}", r.status, r.text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{what} kept failing");
    }

    async fn journey(&self, n: usize) {
        let app = &self.app;
        let body = json!({"device_id": format!("device-failover-{n:05}"), "region_id": "hetang-yuetang", "nickname": format!("接力{n}")});
        let joined =
            self.until_ok("join", || app.post("/api/v1/campaigns/demo/participants", &body, None)).await.json();
        let who = Joined {
            id: joined["participant_id"].as_str().unwrap().into(),
            token: joined["token"].as_str().unwrap().into(),
        };
        let auth = format!("Bearer {}", who.token);
        let headers = [("Authorization", auth.as_str())];
        let a = self.until_ok("start", || app.raw("POST", "/api/v1/attempts", &headers, b"")).await.json();
        let aid = a["attempt_id"].as_str().unwrap().to_owned();
        for (i, q) in a["questions"].as_array().unwrap().iter().enumerate() {
            let qid = q["id"].as_str().unwrap().to_owned();
            let choice = if (i + n).is_multiple_of(3) { app.wrong_choice(q) } else { app.right_choice(q) };
            let r = self.until_ok("answer", || app.answer(&who, &aid, &qid, &choice)).await.json();
            let points = r["points"].as_u64().unwrap_or_else(|| panic!("an answer carries its points: {r}"));
            let prior = self.log.lock().unwrap().answers.insert((who.id.clone(), aid.clone(), qid), points);
            assert!(prior.is_none(), "a question answered twice in one attempt");
        }
        let path = format!("/api/v1/attempts/{aid}/finish");
        let done = self.until_ok("finish", || app.raw("POST", &path, &headers, b"")).await.json();
        self.log.lock().unwrap().finished.insert(who.id.clone(), done["score"].as_u64().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_dies_under_load_and_nothing_is_lost_or_doubled() {
    let cluster = Arc::new(tokio::task::spawn_blocking(TestRedisCluster::start).await.expect("the cluster starts"));
    let url = cluster.url();
    let app = TestApp::spawn_with(Hot::Embedded, Sql::Postgres, |c| {
        c.redis_url = Some(url);
        c.redis_cluster = true;
        c.redis_prefix = unique_prefix();
        c.redis_shards = 8;
        // Every citizen here shares one address.
        c.limits = baton_http::limits::LimitsConfig::off();
    })
    .await;
    let demo = CampaignId::parse("demo").unwrap();
    let keys = baton_hot::keys::Keys::new(&app.services.config.redis_prefix, 8);
    // The master holding shard 0 dies: participants there are mid-journey when it does.
    let victim = keys.aggregates(&demo, 0);
    let run = Arc::new(Run { app, t0: Instant::now(), log: Mutex::new(Log::default()) });
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let citizens: Vec<_> = (0..CITIZENS)
        .map(|_| {
            let (run, next, stop) = (run.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    run.journey(n).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = run.log.lock().unwrap().requests;
    let killed_at = run.t0.elapsed();
    let c = cluster.clone();
    let v = victim.clone();
    let dead = tokio::task::spawn_blocking(move || c.kill_master_of(&v)).await.unwrap();
    let c = cluster.clone();
    let healed = tokio::task::spawn_blocking(move || c.wait_healed(dead)).await.unwrap();
    assert_ne!(cluster.master_of(&victim), dead, "a replica took over");
    // Load on the new topology, then the citizens finish what they started.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for c in citizens {
        c.await.expect("a citizen finishes its journeys");
    }
    let journeys = next.load(Ordering::Relaxed);
    run.app.settle().await;

    let log = std::mem::take(&mut *run.log.lock().unwrap());
    let first = log.failures.iter().map(|f| f.0).chain(log.stalls.iter().map(|s| s.0)).min();
    let last = log.failures.iter().map(|f| f.0).chain(log.stalls.iter().map(|s| s.0 + s.1)).max();
    eprintln!(
        "failover: killed master :{dead} at {killed_at:.1?} ({before} requests before); cluster whole again after {healed:.1?}; \
         {} journeys, {} requests; {} failed ({:?}), {} stalled ≥ {STALL:?} (longest {:.1?}); window {}",
        journeys,
        log.requests,
        log.failures.len(),
        log.failures.iter().fold(BTreeMap::<u16, usize>::new(), |mut m, f| {
            *m.entry(f.2).or_default() += 1;
            m
        }),
        log.stalls.len(),
        log.stalls.iter().map(|s| s.1).max().unwrap_or_default(),
        match (first, last) {
            (Some(a), Some(b)) => format!("{a:.1?} – {b:.1?} ({:.1?})", b.saturating_sub(a)),
            _ => "none: no request failed or stalled".to_owned(),
        }
    );
    assert!(log.requests > before, "the load went on after the kill");
    assert_eq!(log.finished.len(), journeys, "every journey finished");

    // SQL holds every acknowledged answer exactly once, with the points the citizen was told.
    let db = &run.app.services.db;
    let mut stored: BTreeMap<(String, String, String), Vec<u64>> = BTreeMap::new();
    let mut finishes: HashMap<String, usize> = HashMap::new();
    let mut after = None;
    loop {
        let page = db.events(&demo, after.as_deref(), 5_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for e in page {
            match e.body {
                EventBody::Answered { participant, attempt, question, judged, .. } => stored
                    .entry((participant.to_string(), attempt.to_string(), question.to_string()))
                    .or_default()
                    .push(u64::from(judged.points)),
                EventBody::AttemptFinished { participant, .. } => {
                    *finishes.entry(participant.to_string()).or_default() += 1
                }
                _ => {}
            }
        }
    }
    assert_eq!(stored.len(), log.answers.len(), "answers in SQL vs acknowledged");
    for (k, points) in &log.answers {
        assert_eq!(stored.get(k), Some(&vec![*points]), "answer {k:?}");
    }
    assert!(finishes.values().all(|&n| n == 1), "an attempt finished twice in SQL");

    // Nobody is scored twice: the best in SQL is the sum of that attempt's acknowledged answers.
    let mut sums: HashMap<&str, u64> = HashMap::new();
    for ((p, _, _), points) in &log.answers {
        *sums.entry(p.as_str()).or_default() += points;
    }
    let mut sql_best: HashMap<String, (u64, u64)> = HashMap::new();
    let mut after = None;
    loop {
        let page = db.rebuild_participants(&demo, after.as_ref(), 1_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for p in page {
            let best = p.best.unwrap_or_else(|| panic!("participant {} has a best in SQL", p.id));
            sql_best.insert(p.id.to_string(), (best.score, best.total_ms));
        }
    }
    assert_eq!(sql_best.len(), journeys);
    for (p, score) in &log.finished {
        assert_eq!(sql_best[p].0, *score, "participant {p}: SQL best vs the finish it was told");
        assert_eq!(sums[p.as_str()], *score, "participant {p}: the finish vs its answers");
    }

    // The leaderboard (hot, over HTTP) equals the recount from SQL.
    let mut board: HashMap<String, (u64, f64)> = HashMap::new();
    let mut offset = 0;
    let total = loop {
        let page =
            run.app.get(&format!("/api/v1/campaigns/demo/leaderboards/score?limit=100&offset={offset}"), None).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let page = page.json();
        let entries = page["entries"].as_array().unwrap().clone();
        for e in &entries {
            board.insert(
                e["id"].as_str().unwrap().into(),
                (e["value"].as_u64().unwrap(), e["seconds"].as_f64().unwrap()),
            );
        }
        offset += entries.len();
        if entries.is_empty() {
            break page["total"].as_u64().unwrap();
        }
    };
    assert_eq!(total as usize, sql_best.len(), "board size vs SQL");
    assert_eq!(board.len(), sql_best.len());
    for (p, (score, ms)) in &sql_best {
        let (value, seconds) = board[p];
        assert_eq!(value, *score, "board score of {p}");
        assert!((seconds - *ms as f64 / 1000.0).abs() < 1e-9, "board time of {p}: {seconds} vs {ms} ms");
    }
}
