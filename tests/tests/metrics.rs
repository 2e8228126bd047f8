//! Operations: `/metrics` after a full journey names only low-cardinality labels (never a
//! participant, unit, region, attempt or token), every request gets an `X-Request-Id`,
//! `/readyz` answers `503` quickly when the hot store hangs, and an archiver told to stop
//! finishes the batch it is on.

use baton_archiver::redis::ArchiverConfig;
use baton_core::ids::CampaignId;
use baton_e2e::*;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Label names a metric may have.
const LABELS: &[&str] = &["route", "method", "status", "op", "outcome", "limiter", "version", "git_sha", "le"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "other"];

/// `name{a="x",b="y"} value` → (name, labels).
fn sample(line: &str) -> (String, BTreeMap<String, String>) {
    let Some((name, rest)) = line.split_once('{') else {
        return (line.split(' ').next().unwrap().to_owned(), BTreeMap::new());
    };
    let body = &rest[..rest.rfind('}').expect("a closing brace")];
    let mut labels = BTreeMap::new();
    let mut s = body;
    while !s.is_empty() {
        let (k, v) = s.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = v.char_indices();
        let end = loop {
            match chars.next().expect("a closing quote") {
                (_, '\\') => value.push(chars.next().unwrap().1),
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(k.to_owned(), value);
        s = v[end + 1..].trim_start_matches(',');
    }
    (name.to_owned(), labels)
}

async fn full_journey(app: &TestApp) -> Vec<String> {
    let a = app.join("device-metrics-0001-abcdef", "小明13912345678").await;
    let who = app.join_at("device-metrics-0002-abcdef", "学生乙", "hetang-yuetang", None).await;
    app.play(&a, 7, 1_000).await;
    let started = app.start(&who).await;
    let aid = started["attempt_id"].as_str().unwrap().to_owned();
    app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await;
    app.post("/api/v1/shares", &json!({"channel": "wechat_friend"}), Some(&a.token)).await;
    let relay = app.relay_of(&a.token).await;
    let code = relay["relay_code"].as_str().expect("a relay code").to_owned();
    app.get(&format!("/r/{code}"), None).await;
    app.get("/api/v1/me", Some(&a.token)).await;
    app.get("/api/v1/campaigns/demo/leaderboards/score", Some(&a.token)).await;
    app.get("/api/v1/campaigns/demo/leaderboards/score-region-hetang", Some(&a.token)).await;
    app.settle().await;
    let admin = app.organizer("metrics-admin", "admin", None, None).await;
    app.get("/api/v1/console/campaigns/demo/overview", Some(&admin)).await;
    app.get("/api/v1/console/campaigns/demo/breakdown?by=region&parent=hetang", Some(&admin)).await;
    app.get("/api/v1/console/campaigns/demo/exports/participants.csv", Some(&admin)).await;
    // What a hostile client sends: unknown paths with ids in them, invented methods.
    app.get(&format!("/api/v1/participants/{}", a.id), None).await;
    app.raw("BREW", &format!("/api/v1/attempts/{aid}"), &[], b"").await;
    // Ids of the participants, attempt, relay code, region and unit, and the tokens.
    vec![
        a.id,
        a.token,
        who.id,
        who.token,
        aid,
        admin,
        code,
        "13912345678".into(),
        "小明".into(),
        "device-metrics".into(),
        "yuetang".into(),
        "hetang-".into(),
    ]
}

async fn labels_stay_low_cardinality_after_a_full_journey(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let secrets = full_journey(&app).await;
    let doc = app.get("/api/v1/openapi.json", None).await.json();
    let mut routes: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    routes.insert("unmatched".into());
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"), "{:?}", r.headers);
    let text = r.text();
    let mut names = BTreeSet::new();
    let mut ops = BTreeSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, labels) = sample(line);
        names.insert(name.clone());
        for (k, v) in &labels {
            assert!(LABELS.contains(&k.as_str()), "label {k} of {line}");
            for s in &secrets {
                assert!(!v.contains(s.as_str()), "{s} in {line}");
            }
            match k.as_str() {
                "route" => assert!(routes.contains(v), "route {v} is not a route template: {line}"),
                "method" => assert!(METHODS.contains(&v.as_str()), "{line}"),
                "status" => assert!(v.len() == 3 && v.bytes().all(|b| b.is_ascii_digit()), "{line}"),
                "op" | "outcome" | "limiter" => {
                    assert!(v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{line}");
                    if k == "op" {
                        ops.insert(v.clone());
                    }
                }
                _ => {}
            }
        }
    }
    for want in [
        "baton_http_requests_total",
        "baton_http_request_duration_seconds_bucket",
        "baton_hot_store_seconds_bucket",
        "baton_attempts_started_total",
        "baton_attempts_finished_total",
        "baton_attempts_active",
        "baton_build_info",
        "baton_archiver_events_total",
        "baton_archiver_backlog",
        "baton_archiver_lag_seconds",
    ] {
        assert!(names.contains(want), "{want} missing from:\n{text}");
    }
    for op in ["join", "start_attempt", "answer", "finish", "publish_best", "share"] {
        assert!(ops.contains(op), "op {op} missing: {ops:?}");
    }
    assert!(text.contains("baton_attempts_started_total 2"), "{text}");
    assert!(text.contains("baton_attempts_finished_total 1"), "{text}");
    assert!(text.contains("baton_attempts_active 1"), "{text}");
    assert!(text.contains(r#"method="POST",route="/api/v1/attempts/{aid}/answers",status="200""#), "{text}");
    assert!(
        text.contains(r#"baton_http_requests_total{method="other",route="/api/v1/attempts/{aid}",status="405"} 1"#),
        "{text}"
    );
    let build = text.lines().find(|l| l.starts_with("baton_build_info{")).expect("build info");
    assert!(build.ends_with("} 1") && build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))), "{build}");
}

async fn every_answer_carries_a_request_id(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let r = app.raw("GET", "/healthz", &[("X-Request-Id", "ingress-abc.123")], b"").await;
    assert_eq!(r.header("x-request-id"), Some("ingress-abc.123"));
    for bad in ["has space", &"x".repeat(65), ""] {
        let r = app.raw("GET", "/api/v1/campaigns/demo", &[("X-Request-Id", bad)], b"").await;
        let id = r.header("x-request-id").expect("an id is made");
        assert_ne!(id, bad);
        assert_eq!(id.len(), 32, "{id}");
    }
    // Problems too.
    let r = app.get("/nope", None).await;
    r.problem(404, "route_not_found");
    assert!(r.header("x-request-id").is_some_and(|id| id.len() == 32));
}

on_both_stacks!(labels_stay_low_cardinality_after_a_full_journey, every_answer_carries_a_request_id);

/// A TCP proxy that forwards until frozen, then holds every connection without answering:
/// a hung backend, not a refused one.
struct HangingProxy {
    port: u16,
    frozen: Arc<AtomicBool>,
}

impl HangingProxy {
    async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let frozen = Arc::new(AtomicBool::new(false));
        let f = frozen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { continue };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, f.clone()));
                tokio::spawn(pump(sr, cw, f.clone()));
            }
        });
        Self { port, frozen }
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = [0u8; 16384];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_within_its_timeout_when_the_hot_store_hangs() {
    let redis = baton_testkit::TestRedis::start().await;
    let proxy = HangingProxy::start(redis.port()).await;
    let (url, prefix) = (format!("redis://127.0.0.1:{}", proxy.port), redis.key_prefix().to_owned());
    let app = TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, move |c| {
        c.redis_url = Some(url);
        c.redis_prefix = prefix;
    })
    .await;
    assert_eq!(app.get("/readyz", None).await.status, 200);
    proxy.frozen.store(true, Ordering::SeqCst);
    let t = Instant::now();
    let r = app.get("/readyz", None).await;
    let took = t.elapsed();
    let p = r.problem(503, "unavailable");
    assert!(took < Duration::from_secs(3), "/readyz took {took:?}");
    assert!(took >= baton::app::READY_TIMEOUT, "it waited for the store: {took:?}");
    // The detail stays opaque; the cause is in the log.
    assert!(!p["detail"].as_str().unwrap().contains("hot store"), "{p}");
    assert_eq!(app.get("/healthz", None).await.status, 200, "alive all the same");
    proxy.frozen.store(false, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archiver_told_to_stop_finishes_its_batch_and_loses_nothing() {
    let app = Arc::new(TestApp::spawn(Hot::Redis, Sql::Postgres).await);
    let mut expected = 0i64;
    for i in 0..6 {
        let who = app.join(&format!("device-stop-{i:04}"), &format!("stop{i}")).await;
        app.play(&who, i % 11, 1_000).await;
        expected += 13;
    }
    let url = app.services.config.redis_url.clone().unwrap();
    let mut config = ArchiverConfig::new("stopping");
    config.batch = 5;
    config.block = Duration::from_millis(50);
    let a = baton::app::start_archiver(&app.services, &url, config).await.unwrap();
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let applied = app.services.archiver_metrics.events.with_label_values(&["applied"]);
    let before = applied.get();
    let run = tokio::spawn(a.run(async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    // Stop it as soon as it has committed something: it is mid-run, with batches to go.
    let deadline = Instant::now() + Duration::from_secs(30);
    while applied.get() == before {
        assert!(Instant::now() < deadline, "the archiver never committed");
        tokio::task::yield_now().await;
    }
    tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("it stops promptly").unwrap();
    // Nothing is left pending: the batch in progress was committed and acknowledged.
    let stream = baton_hot::keys::Keys::new(&app.services.config.redis_prefix, 1).events(&demo(), 0);
    let mut conn = redis::Client::open(url.clone()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let summary: redis::Value =
        redis::cmd("XPENDING").arg(&stream).arg("archiver").query_async(&mut conn).await.unwrap();
    let pending = match summary {
        redis::Value::Array(v) => match v.first() {
            Some(redis::Value::Int(n)) => *n,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    };
    assert_eq!(pending, 0, "the stopped archiver left entries pending");
    let stored = app.services.db.event_count(&demo()).await.unwrap();
    assert!(stored > 0 && stored < expected, "stopped mid-run: {stored} of {expected}");
    // The rest is there for the next archiver, and everything arrives exactly once.
    app.settle().await;
    assert_eq!(app.services.db.event_count(&demo()).await.unwrap(), expected);
}

fn demo() -> CampaignId {
    CampaignId::parse("demo").unwrap()
}
