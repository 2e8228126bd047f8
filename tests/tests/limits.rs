//! Rate limits end to end: every limited call answers `429 rate_limited` with an integer
//! `Retry-After` once its (small, configured) quota is used, and a refused call changes
//! nothing; a school behind one address joins with the default limits; `X-Forwarded-For` is
//! believed only from a trusted proxy; joins through one relay code are limited for every pod
//! at once (through the hot store), and past that limit the code is ignored, not the join.

use baton_e2e::*;
use baton_http::client::TrustedProxies;
use baton_http::limits::LimitsConfig;
use serde_json::{Value, json};

/// The default limits with `spec` (as `--rate-limits` takes it) applied over them.
fn limits(spec: &str) -> LimitsConfig {
    let mut c = LimitsConfig::default();
    c.apply(&spec.split(',').collect::<Vec<_>>()).expect("a valid spec");
    c
}

/// Asserts a refusal by `limit`: a problem document, a whole number of seconds to wait.
#[track_caller]
fn refused(r: &Resp, limit: &str) -> u64 {
    let v = r.problem(429, "rate_limited");
    assert!(v["detail"].as_str().unwrap().contains(limit), "the detail names the limit: {v}");
    let secs: u64 = r.header("retry-after").expect("Retry-After").parse().expect("Retry-After in whole seconds");
    assert!(secs >= 1, "{secs}");
    secs
}

/// Joins the demo campaign from `device` with extra request headers; the raw answer.
async fn join_with(app: &TestApp, device: &str, headers: &[(&str, &str)]) -> Resp {
    let body = json!({"device_id": device, "region_id": "hetang-yuetang", "nickname": "学生"}).to_string();
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    app.raw("POST", "/api/v1/campaigns/demo/participants", &h, body.as_bytes()).await
}

async fn join(app: &TestApp, device: &str) -> Resp {
    join_with(app, device, &[]).await
}

async fn stats(app: &TestApp) -> Value {
    app.get("/api/v1/campaigns/demo", None).await.json()["stats"].clone()
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics", None).await.text()
}

async fn joins_are_limited_per_device_then_per_network(hot: Hot, sql: Sql) {
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = limits("join_device=2/1h,join_ip=4/1h")).await;
    assert_eq!(join(&app, "device-limit-a").await.status, 201);
    assert_eq!(join(&app, "device-limit-a").await.status, 200);
    let wait = refused(&join(&app, "device-limit-a").await, "join_device");
    assert!(wait <= 30 * 60, "one join per 30 minutes comes back: {wait}");
    // The network's quota (4) holds two more devices; the fifth join from it is refused.
    assert_eq!(join(&app, "device-limit-b").await.status, 201);
    assert_eq!(join(&app, "device-limit-c").await.status, 201);
    refused(&join(&app, "device-limit-d").await, "join_ip");
    refused(&join(&app, "device-limit-d").await, "join_ip");
    // The refused joins made nobody.
    assert_eq!(stats(&app).await["participants"], 3);
    let m = metrics(&app).await;
    assert!(m.contains("baton_rate_limited_total{limiter=\"join_device\"} 1\n"), "{m}");
    assert!(m.contains("baton_rate_limited_total{limiter=\"join_ip\"} 2\n"), "{m}");
}

async fn starts_and_answers_are_limited_per_participant(hot: Hot, sql: Sql) {
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = limits("start=2/1h,answer=3/1h")).await;
    let p = app.join("device-limit-player", "答题者").await;
    let a = app.start(&p).await;
    let aid = a["attempt_id"].as_str().unwrap().to_owned();
    assert_eq!(app.start(&p).await["attempt_id"], aid.as_str(), "a reload resumes");
    let auth = format!("Bearer {}", p.token);
    let r = app.raw("POST", "/api/v1/attempts", &[("Authorization", &auth)], b"").await;
    refused(&r, "start");
    let me = app.get("/api/v1/me", Some(&p.token)).await.json();
    assert_eq!((me["attempts_left_today"].as_u64(), me["open_attempt_id"].as_str()), (Some(2), Some(aid.as_str())));

    let questions = a["questions"].as_array().unwrap().clone();
    for q in &questions[..3] {
        let r = app.answer(&p, &aid, q["id"].as_str().unwrap(), &app.right_choice(q)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let fourth = &questions[3];
    refused(&app.answer(&p, &aid, fourth["id"].as_str().unwrap(), &app.right_choice(fourth)).await, "answer");
    // The refused answer was not recorded.
    let shown = app.get(&format!("/api/v1/attempts/{aid}"), Some(&p.token)).await.json();
    assert_eq!(shown["questions"][3]["answer"], Value::Null, "{shown}");
    assert!(shown["questions"][2]["answer"].is_object());
    let three_right = shown["attempt_score"].as_u64().unwrap();
    assert!(three_right > 0);

    // Someone else has a budget of its own.
    let other = app.join("device-limit-other", "旁人").await;
    let b = app.start(&other).await;
    let q = &b["questions"][0];
    let r =
        app.answer(&other, b["attempt_id"].as_str().unwrap(), q["id"].as_str().unwrap(), &app.right_choice(q)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let m = metrics(&app).await;
    assert!(m.contains("baton_rate_limited_total{limiter=\"start\"} 1\n"), "{m}");
    assert!(m.contains("baton_rate_limited_total{limiter=\"answer\"} 1\n"), "{m}");
}

async fn shares_are_limited_per_participant(hot: Hot, sql: Sql) {
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = limits("share=2/1h")).await;
    let p = app.join("device-limit-sharer", "分享者").await;
    let share = json!({"channel": "wechat_moments"});
    assert_eq!(app.post("/api/v1/shares", &share, Some(&p.token)).await.status, 204);
    assert_eq!(app.post("/api/v1/shares", &share, Some(&p.token)).await.status, 204);
    refused(&app.post("/api/v1/shares", &share, Some(&p.token)).await, "share");
    let demo = baton_core::ids::CampaignId::parse("demo").unwrap();
    assert_eq!(app.services.store.aggregates(&demo).await.unwrap().shares, 2, "the refused share was not counted");
}

async fn console_logins_are_limited_per_network(hot: Hot, sql: Sql) {
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = limits("login_ip=2/1h")).await;
    let admin = baton_console::Role::parse("admin").unwrap();
    baton_console::create_organizer(&app.services.db, "office", admin, None, None, ORGANIZER_PASSWORD).await.unwrap();
    let wrong = json!({"username": "office", "password": "wrong password!"});
    let right = json!({"username": "office", "password": ORGANIZER_PASSWORD});
    app.post("/api/v1/console/login", &wrong, None).await.problem(401, "invalid_credentials");
    assert_eq!(app.post("/api/v1/console/login", &right, None).await.status, 200);
    // The third login from this address is refused before any password is checked.
    refused(&app.post("/api/v1/console/login", &right, None).await, "login_ip");
}

/// A school of 300 behind one NAT address joins within moments with the default limits.
async fn a_school_behind_one_address_joins_with_the_default_limits(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    assert_eq!(app.services.config.limits, LimitsConfig::default());
    for i in 0..300 {
        let r = join(&app, &format!("device-school-{i:03}")).await;
        assert_eq!(r.status, 201, "student {i}: {}", r.text());
    }
    assert_eq!(stats(&app).await["participants"], 300);
}

/// Past the shared limit of joins through one code, the code is ignored (the join succeeds
/// without an inviter) — on every pod, since the count is kept in the hot store.
async fn joins_through_one_relay_code_are_limited_for_every_pod(hot: Hot, sql: Sql) {
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = limits("relay_code=2/1h")).await;
    let (_, owner) = app.join_invited("device-code-owner", "火炬手", None).await;
    let code = owner["relay_code"].as_str().unwrap().to_owned();
    let torch = json!({"nickname": "火炬手"});
    for d in ["device-code-1", "device-code-2"] {
        let (s, v) = app.join_invited(d, "接棒人", Some(&code)).await;
        assert_eq!((s, &v["inviter"]), (201, &torch), "{v}");
    }
    // The third join through the code, on another pod where there is one: no inviter.
    let pod = match hot {
        Hot::Redis | Hot::RedisCluster => Some(app.another_pod().await),
        Hot::Embedded => None,
    };
    let other = pod.as_ref().unwrap_or(&app);
    let (s, v) = other.join_invited("device-code-3", "接棒人", Some(&code)).await;
    assert_eq!((s, &v["inviter"]), (201, &Value::Null), "{v}");
    let m = metrics(other).await;
    assert!(m.contains("baton_rate_limited_total{limiter=\"relay_code\"} 1\n"), "{m}");
    // ... and it stays so: a re-join never changes the inviter.
    let (s, v) = app.join_invited("device-code-3", "接棒人", Some(&code)).await;
    assert_eq!((s, &v["inviter"]), (200, &Value::Null), "{v}");
    assert_eq!(stats(&app).await["relayed"], 2);
    // A new window: the code attributes again.
    app.clock.advance(3_600_000);
    let (s, v) = other.join_invited("device-code-4", "接棒人", Some(&code)).await;
    assert_eq!((s, &v["inviter"]), (201, &torch), "{v}");
    assert_eq!(stats(&app).await["relayed"], 3);
}

on_both_stacks!(
    joins_are_limited_per_device_then_per_network,
    starts_and_answers_are_limited_per_participant,
    shares_are_limited_per_participant,
    console_logins_are_limited_per_network,
    a_school_behind_one_address_joins_with_the_default_limits,
    joins_through_one_relay_code_are_limited_for_every_pod,
);

/// A client behind no trusted proxy cannot choose its address with `X-Forwarded-For`; the
/// ingress, when trusted, names the client (one stack: this is about addresses, not stores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    // Nobody trusted: every request counts for the real peer, whatever it claims.
    let app = TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, |c| c.limits = limits("join_ip=2/1h")).await;
    for (i, forged) in ["203.0.113.1", "203.0.113.2"].into_iter().enumerate() {
        let r = join_with(&app, &format!("device-spoof-{i}"), &[("X-Forwarded-For", forged)]).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = join_with(&app, "device-spoof-2", &[("X-Forwarded-For", "203.0.113.3")]).await;
    refused(&r, "join_ip");
    drop(app);

    // The peer (127.0.0.1) is the trusted ingress: the address it forwards is the client.
    let app = TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, |c| {
        c.limits = limits("join_ip=2/1h");
        c.trusted_proxies = TrustedProxies::parse(&["127.0.0.0/8"]).unwrap();
    })
    .await;
    let via = |ip: &'static str| [("X-Forwarded-For", ip)];
    assert_eq!(join_with(&app, "device-fwd-1", &via("203.0.113.1")).await.status, 201);
    assert_eq!(join_with(&app, "device-fwd-2", &via("203.0.113.1")).await.status, 201);
    refused(&join_with(&app, "device-fwd-3", &via("203.0.113.1")).await, "join_ip");
    // A forged hop in front of the real one changes nothing: the nearest untrusted hop counts.
    refused(&join_with(&app, "device-fwd-3", &via("198.51.100.1, 203.0.113.1")).await, "join_ip");
    // Another client behind the same ingress has its own quota.
    assert_eq!(join_with(&app, "device-fwd-3", &via("203.0.113.2")).await.status, 201);
    // Without the header, the ingress itself is the client.
    assert_eq!(join(&app, "device-fwd-4").await.status, 201);
}
