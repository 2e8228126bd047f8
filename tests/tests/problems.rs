//! Every error is an RFC 9457 problem document with its own stable `code`, and bad input changes
//! nothing. Table-style cases run on the embedded store with SQLite; a representative set runs on
//! Redis with PostgreSQL too (the production pairing, see `on_both_stacks!` at the bottom).

use baton_core::ids::{CampaignId, ParticipantId};
use baton_e2e::{Hot, Joined, NOON, Resp, Sql, TestApp, on_both_stacks};
use baton_http::auth::{PARTICIPANT_TTL_SECS, SigningKey, Tokens};
use baton_http::extract::DEFAULT_BODY_LIMIT;
use baton_testkit::TestRedis;
use serde_json::{Value, json};
use std::time::Duration;

const DAY_MS: i64 = 24 * 3600 * 1000;
const JOIN: &str = "/api/v1/campaigns/demo/participants";

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `Resp::problem`, plus the header every 401 must carry.
#[track_caller]
fn unauthorized(r: &Resp) -> Value {
    let v = r.problem(401, "unauthorized");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{}", r.text());
    v
}

async fn post_raw(app: &TestApp, path: &str, content_type: Option<&str>, token: Option<&str>, body: &[u8]) -> Resp {
    let auth = token.map(bearer);
    let mut h = Vec::new();
    if let Some(ct) = content_type {
        h.push(("Content-Type", ct));
    }
    if let Some(a) = &auth {
        h.push(("Authorization", a.as_str()));
    }
    app.raw("POST", path, &h, body).await
}

async fn post_json_text(app: &TestApp, path: &str, token: Option<&str>, body: &str) -> Resp {
    post_raw(app, path, Some("application/json"), token, body.as_bytes()).await
}

/// The demo campaign's live participant count.
async fn participants(app: &TestApp) -> u64 {
    let r = app.get("/api/v1/campaigns/demo", None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["stats"]["participants"].as_u64().expect("stats.participants is a number")
}

async fn me(app: &TestApp, who: &Joined) -> Value {
    let r = app.get("/api/v1/me", Some(&who.token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

async fn attempt(app: &TestApp, who: &Joined, aid: &str) -> Value {
    let r = app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

/// `body` followed by spaces up to exactly `len` bytes (trailing whitespace is valid JSON).
fn padded(body: &str, len: usize) -> Vec<u8> {
    assert!(body.len() <= len);
    let mut b = body.as_bytes().to_vec();
    b.resize(len, b' ');
    b
}

// --- request bodies ---------------------------------------------------------------------------

/// Malformed JSON, unknown fields, wrong types and missing fields each have their own code, on
/// both JSON endpoints; none of them creates anything.
async fn body_errors(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let before = participants(&app).await;
    let join_cases: &[(&str, &str, Option<&str>)] = &[
        (r#"{"device_id": "dev-body-0001", "region_id": "#, "malformed_json", None),
        ("not json at all", "malformed_json", None),
        ("", "malformed_json", None),
        (r#"{"device_id": "dev-body-0001", "region_id": "hetang"} trailing"#, "malformed_json", None),
        (r#"{"device_id": "dev-body-0001", "region_id": "hetang", "colour": "red"}"#, "unknown_field", Some("colour")),
        (
            r#"{"device_id": "dev-body-0001", "region_id": "hetang", "Nickname": "x"}"#,
            "unknown_field",
            Some("Nickname"),
        ),
        (r#"{"device_id": 12345678, "region_id": "hetang"}"#, "invalid_type", None),
        (r#"{"device_id": "dev-body-0001", "region_id": null}"#, "invalid_type", None),
        (r#"{"device_id": "dev-body-0001", "region_id": "hetang", "nickname": ["x"]}"#, "invalid_type", None),
        (r#""dev-body-0001""#, "invalid_type", None),
        ("42", "invalid_type", None),
        (r#"{"region_id": "hetang"}"#, "missing_field", Some("device_id")),
        (r#"{"device_id": "dev-body-0001"}"#, "missing_field", Some("region_id")),
        ("{}", "missing_field", None),
    ];
    for (body, code, names) in join_cases {
        let r = post_json_text(&app, JOIN, None, body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["code"], *code, "{body}: {}", r.text());
        let v = r.problem(400, code);
        if let Some(field) = names {
            assert!(v["detail"].as_str().unwrap().contains(field), "the detail names {field}: {v}");
        }
    }
    assert_eq!(participants(&app).await, before, "rejected joins created nobody");
    // The device of those bodies is still new.
    let r = app.post(JOIN, &json!({"device_id": "dev-body-0001", "region_id": "hetang"}), None).await;
    assert_eq!(r.status, 201, "{}", r.text());

    let who = app.join("dev-body-0002", "答题人").await;
    let a = app.start(&who).await;
    let aid = a["attempt_id"].as_str().unwrap();
    let qid = a["questions"][0]["id"].as_str().unwrap();
    let path = format!("/api/v1/attempts/{aid}/answers");
    let answer_cases: Vec<(String, &str)> = vec![
        (r#"{"question_id": "#.to_owned(), "malformed_json"),
        (format!(r#"{{"question_id": "{qid}", "choice": [0], "extra": true}}"#), "unknown_field"),
        (format!(r#"{{"question_id": "{qid}", "choices": [0]}}"#), "unknown_field"),
        (format!(r#"{{"question_id": "{qid}", "choice": "0"}}"#), "invalid_type"),
        (format!(r#"{{"question_id": "{qid}", "choice": 0}}"#), "invalid_type"),
        (format!(r#"{{"question_id": "{qid}", "choice": [0.5]}}"#), "invalid_type"),
        (r#"{"question_id": 7, "choice": [0]}"#.to_owned(), "invalid_type"),
        (format!(r#"{{"question_id": "{qid}"}}"#), "missing_field"),
        (r#"{"choice": [0]}"#.to_owned(), "missing_field"),
    ];
    for (body, code) in &answer_cases {
        post_json_text(&app, &path, Some(&who.token), body).await.problem(400, code);
    }
    let after = attempt(&app, &who, aid).await;
    assert!(
        after["questions"].as_array().unwrap().iter().all(|q| q["answer"].is_null()),
        "nothing was answered: {after}"
    );
    assert_eq!(after["attempt_score"], 0);
}

/// The default limit is 16 KiB: a body of exactly that size is read, one byte more is `413`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_body_limit_is_16_kib() {
    assert_eq!(DEFAULT_BODY_LIMIT, 16 * 1024);
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let body = |dev: &str| json!({"device_id": dev, "region_id": "hetang-yuetang", "nickname": "大包"}).to_string();

    let r =
        post_raw(&app, JOIN, Some("application/json"), None, &padded(&body("dev-limit-0001"), DEFAULT_BODY_LIMIT + 1))
            .await;
    let v = r.problem(413, "body_too_large");
    assert!(v["detail"].as_str().unwrap().contains(&DEFAULT_BODY_LIMIT.to_string()), "{v}");
    let r = post_raw(&app, JOIN, Some("application/json"), None, &padded(&body("dev-limit-0001"), 64 * 1024)).await;
    r.problem(413, "body_too_large");
    assert_eq!(participants(&app).await, 0, "an oversized join created nobody");

    let r = post_raw(&app, JOIN, Some("application/json"), None, &padded(&body("dev-limit-0001"), DEFAULT_BODY_LIMIT))
        .await;
    assert_eq!(r.status, 201, "a body of exactly the limit is read: {}", r.text());
    let who = Joined {
        id: r.json()["participant_id"].as_str().unwrap().into(),
        token: r.json()["token"].as_str().unwrap().into(),
    };

    // Attempts take an empty body: whitespace is empty, but not beyond the limit.
    let r = post_raw(&app, "/api/v1/attempts", None, Some(&who.token), &vec![b' '; DEFAULT_BODY_LIMIT + 1]).await;
    r.problem(413, "body_too_large");
    assert!(me(&app, &who).await["open_attempt_id"].is_null());
    let r = post_raw(&app, "/api/v1/attempts", None, Some(&who.token), &vec![b' '; DEFAULT_BODY_LIMIT]).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let a = r.json();
    let aid = a["attempt_id"].as_str().unwrap();
    let q = &a["questions"][0];
    let answer = json!({"question_id": q["id"], "choice": app.right_choice(q)}).to_string();
    let path = format!("/api/v1/attempts/{aid}/answers");
    post_raw(&app, &path, Some("application/json"), Some(&who.token), &padded(&answer, DEFAULT_BODY_LIMIT + 1))
        .await
        .problem(413, "body_too_large");
    assert!(attempt(&app, &who, aid).await["questions"][0]["answer"].is_null());
    let r =
        post_raw(&app, &path, Some("application/json"), Some(&who.token), &padded(&answer, DEFAULT_BODY_LIMIT)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    post_raw(
        &app,
        &format!("/api/v1/attempts/{aid}/finish"),
        None,
        Some(&who.token),
        &vec![b' '; DEFAULT_BODY_LIMIT + 1],
    )
    .await
    .problem(413, "body_too_large");
}

/// A configured limit applies to every body, JSON and empty ones alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_body_limit_applies() {
    const LIMIT: usize = 512;
    let app = TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, |c| c.body_limit = LIMIT).await;
    let body = json!({"device_id": "dev-small-0001", "region_id": "hetang-yuetang"}).to_string();
    let r = post_raw(&app, JOIN, Some("application/json"), None, &padded(&body, LIMIT + 1)).await;
    let v = r.problem(413, "body_too_large");
    assert!(v["detail"].as_str().unwrap().contains("512"), "{v}");
    // Far below the default limit, still too large here.
    post_raw(&app, JOIN, Some("application/json"), None, &padded(&body, 4 * 1024)).await.problem(413, "body_too_large");
    assert_eq!(participants(&app).await, 0);
    let r = post_raw(&app, JOIN, Some("application/json"), None, &padded(&body, LIMIT)).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    post_raw(&app, "/api/v1/attempts", None, Some(&token), &vec![b' '; LIMIT + 1]).await.problem(413, "body_too_large");
    let r = post_raw(&app, "/api/v1/attempts", None, Some(&token), b"{}").await;
    assert_eq!(r.status, 201, "{}", r.text());
}

/// JSON endpoints want `Content-Type: application/json` (parameters allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_415() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let body = json!({"device_id": "dev-ctype-0001", "region_id": "hetang-yuetang"}).to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/xml"),
        None,
    ] {
        let r = post_raw(&app, JOIN, ct, None, body.as_bytes()).await;
        r.problem(415, "unsupported_media_type");
    }
    assert_eq!(participants(&app).await, 0);
    let r = post_raw(&app, JOIN, Some("application/json; charset=utf-8"), None, body.as_bytes()).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let who = Joined {
        id: r.json()["participant_id"].as_str().unwrap().into(),
        token: r.json()["token"].as_str().unwrap().into(),
    };
    let a = app.start(&who).await;
    let q = &a["questions"][0];
    let answer = json!({"question_id": q["id"], "choice": app.right_choice(q)}).to_string();
    let path = format!("/api/v1/attempts/{}/answers", a["attempt_id"].as_str().unwrap());
    post_raw(&app, &path, Some("text/plain"), Some(&who.token), answer.as_bytes())
        .await
        .problem(415, "unsupported_media_type");
    post_raw(&app, &path, None, Some(&who.token), answer.as_bytes()).await.problem(415, "unsupported_media_type");
    assert!(attempt(&app, &who, a["attempt_id"].as_str().unwrap()).await["questions"][0]["answer"].is_null());
}

/// Starting and finishing take an empty body or `{}`; anything else is `400` and starts nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_take_only_an_empty_body() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let who = app.join("dev-empty-0001", "空").await;
    let cases: &[(&str, &str)] = &[
        ("junk", "malformed_json"),
        ("{", "malformed_json"),
        ("{} {}", "malformed_json"),
        (r#"{"questions": 5}"#, "unknown_field"),
        (r#"{"campaign_id": "demo"}"#, "unknown_field"),
        ("null", "invalid_type"),
        ("0", "invalid_type"),
        (r#""{}""#, "invalid_type"),
    ];
    for (body, code) in cases {
        let r = post_json_text(&app, "/api/v1/attempts", Some(&who.token), body).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        r.problem(400, code);
    }
    let m = me(&app, &who).await;
    assert!(m["open_attempt_id"].is_null(), "no attempt was started: {m}");
    assert_eq!(m["attempts_left_today"], 3, "{m}");

    // `{}` with or without whitespace and content type, and an empty body, are fine.
    let r = post_json_text(&app, "/api/v1/attempts", Some(&who.token), " {\n} ").await;
    assert_eq!(r.status, 201, "{}", r.text());
    let aid = r.json()["attempt_id"].as_str().unwrap().to_owned();
    let r = post_raw(&app, "/api/v1/attempts", None, Some(&who.token), b"").await;
    assert_eq!(r.status, 200, "the open attempt is resumed: {}", r.text());
    assert_eq!(r.json()["attempt_id"], aid.as_str());

    let finish = format!("/api/v1/attempts/{aid}/finish");
    for (body, code) in cases {
        post_json_text(&app, &finish, Some(&who.token), body).await.problem(400, code);
    }
    assert_eq!(attempt(&app, &who, &aid).await["status"], "open", "junk did not finish the attempt");
    let r = post_json_text(&app, &finish, Some(&who.token), "{}").await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// Bodies are JSON objects: an array is not a body, even one whose items line up with the fields.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn array_bodies_are_refused() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let r = post_json_text(&app, JOIN, None, r#"["dev-array-0001", "hetang-yuetang", null, "数组", null]"#).await;
    assert_eq!(r.status, 400, "a positional array is not a join: {}", r.text());
    assert_eq!(participants(&app).await, 0);
    let who = app.join("dev-array-0002", "数组").await;
    let r = post_json_text(&app, "/api/v1/attempts", Some(&who.token), "[]").await;
    assert_eq!(r.status, 400, "[] is neither empty nor {{}}: {}", r.text());
    r.problem(400, "invalid_type");
    assert!(me(&app, &who).await["open_attempt_id"].is_null());
}

// --- routes -------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_route_not_found() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    for (method, path) in [
        ("GET", "/nope"),
        ("GET", "/index.html"),
        ("GET", "/api"),
        ("GET", "/api/v1"),
        ("GET", "/api/v1/nope"),
        ("GET", "/api/v2/campaigns/demo"),
        ("GET", "/api/v1/campaigns"),
        ("GET", "/api/v1/campaigns/demo/leaderboards"),
        ("GET", "/api/v1/campaigns/demo/participants/extra"),
        ("POST", "/api/v1/attempts/x/y/z"),
        ("GET", "/healthz/more"),
    ] {
        let r = app.raw(method, path, &[], b"").await;
        let v = r.problem(404, "route_not_found");
        assert!(v["detail"].as_str().unwrap().contains("openapi.json"), "{v}");
    }
}

/// A known path with a method it does not serve: `405` with `Allow`, as a problem document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_on_a_known_path_is_405() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    for (method, path, allowed) in [
        ("DELETE", "/api/v1/me", "GET"),
        ("POST", "/api/v1/me", "GET"),
        ("GET", "/api/v1/attempts", "POST"),
        ("PUT", "/api/v1/campaigns/demo", "GET"),
        ("GET", "/api/v1/campaigns/demo/participants", "POST"),
        ("GET", "/api/v1/attempts/0000000000000000/finish", "POST"),
        ("POST", "/healthz", "GET"),
    ] {
        let r = app.raw(method, path, &[], b"").await;
        assert_eq!(r.status, 405, "{method} {path}: {} {}", r.status, r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"), "{method} {path}");
        let v = r.json();
        assert_eq!(v["status"], 405, "{v}");
        let allow = r.header("allow").unwrap_or_default();
        assert!(allow.contains(allowed), "{method} {path}: Allow: {allow:?}");
    }
}

// --- tokens -------------------------------------------------------------------------------------

/// Missing, garbage, forged, foreign and expired tokens are all `401 unauthorized` with
/// `WWW-Authenticate: Bearer`, on every call that needs one.
async fn tokens_that_do_not_verify(hot: Hot, sql: Sql) {
    let key = SigningKey::new("k1", vec![7u8; 32]).unwrap();
    let app = TestApp::spawn_with(hot, sql, |c| c.jwt_keys = vec![key.clone()]).await;
    let who = app.join("dev-auth-0001", "持证人").await;
    let a = app.start(&who).await;
    let aid = a["attempt_id"].as_str().unwrap().to_owned();
    let q = &a["questions"][0];
    let answer = json!({"question_id": q["id"], "choice": app.right_choice(q)});

    let demo = CampaignId::parse("demo").unwrap();
    let pid = ParticipantId::parse(&who.id).unwrap();
    let now = NOON / 1000;
    let same_kid_other_secret =
        Tokens::new(&[SigningKey::new("k1", vec![8u8; 32]).unwrap()]).unwrap().issue_participant(&demo, &pid, now);
    let other_kid =
        Tokens::new(&[SigningKey::new("k2", vec![7u8; 32]).unwrap()]).unwrap().issue_participant(&demo, &pid, now);
    let right = Tokens::new(&[key]).unwrap();
    let expired = right.issue_participant(&demo, &pid, now - PARTICIPANT_TTL_SECS - 3600);
    let from_the_future = right.issue_participant(&demo, &pid, now + 3600);
    let mut tampered = who.token.clone();
    let dot = tampered.find('.').unwrap();
    tampered.insert(dot + 3, 'x');
    let mut parts: Vec<&str> = who.token.split('.').collect();
    parts[2] = "";
    let unsigned = parts.join(".");

    let bad_headers: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty", Some(String::new())),
        ("scheme only", Some("Bearer".into())),
        ("scheme and space", Some("Bearer ".into())),
        ("garbage", Some(bearer("garbage"))),
        ("three garbage parts", Some(bearer("a.b.c"))),
        ("basic auth", Some("Basic dXNlcjpwYXNzd29yZA==".into())),
        ("token without scheme", Some(who.token.clone())),
        ("same kid, other secret", Some(bearer(&same_kid_other_secret))),
        ("unknown kid", Some(bearer(&other_kid))),
        ("expired", Some(bearer(&expired))),
        ("issued in the future", Some(bearer(&from_the_future))),
        ("tampered", Some(bearer(&tampered))),
        ("signature removed", Some(bearer(&unsigned))),
    ];
    let calls: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", "/api/v1/me".into(), None),
        ("POST", "/api/v1/attempts".into(), None),
        ("GET", format!("/api/v1/attempts/{aid}"), None),
        ("POST", format!("/api/v1/attempts/{aid}/answers"), Some(answer.clone())),
        ("POST", format!("/api/v1/attempts/{aid}/finish"), None),
        ("GET", "/api/v1/campaigns/demo/leaderboards/score?around=me".into(), None),
    ];
    for (what, header) in &bad_headers {
        for (method, path, body) in &calls {
            let mut h = vec![("Content-Type", "application/json")];
            if let Some(v) = header {
                h.push(("Authorization", v.as_str()));
            }
            let body = body.as_ref().map(Value::to_string).unwrap_or_default();
            let r = app.raw(method, path, &h, body.as_bytes()).await;
            assert_eq!(r.status, 401, "{what}: {method} {path}: {}", r.text());
            unauthorized(&r);
        }
    }
    // A well-signed token of a participant nobody joined as.
    let stranger = right.issue_participant(&demo, &ParticipantId::parse("0000000000000000").unwrap(), now);
    unauthorized(&app.get("/api/v1/me", Some(&stranger)).await);
    unauthorized(&app.raw("POST", "/api/v1/attempts", &[("Authorization", &bearer(&stranger))], b"").await);

    // None of that touched the attempt; the real token still works.
    let v = attempt(&app, &who, &aid).await;
    assert_eq!(v["status"], "open", "{v}");
    assert!(v["questions"].as_array().unwrap().iter().all(|q| q["answer"].is_null()), "{v}");
    let r = app.post(&format!("/api/v1/attempts/{aid}/answers"), &answer, Some(&who.token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
}

/// A token is good for 45 days (plus a minute of leeway), then `401`; joining again from the
/// same device gives a fresh one.
async fn tokens_expire_after_45_days(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let who = app.join("dev-expire-0001", "长跑").await;
    app.clock.advance(44 * DAY_MS);
    me(&app, &who).await;
    app.clock.advance(DAY_MS + 2 * 60 * 1000);
    for r in [
        app.get("/api/v1/me", Some(&who.token)).await,
        app.raw("POST", "/api/v1/attempts", &[("Authorization", &bearer(&who.token))], b"").await,
        app.get("/api/v1/campaigns/demo/leaderboards/score?around=me", Some(&who.token)).await,
    ] {
        unauthorized(&r);
    }
    let r = app.post(JOIN, &json!({"device_id": "dev-expire-0001", "region_id": "hetang-yuetang"}), None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["participant_id"], who.id.as_str());
    let fresh = Joined { id: who.id.clone(), token: r.json()["token"].as_str().unwrap().into() };
    assert_eq!(me(&app, &fresh).await["nickname"], "长跑");
}

// --- campaigns and joining ----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_campaign_is_404_campaign_not_found() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    for cid in ["nope", "NOPE", "demo-2", "a%20b", &"x".repeat(49)] {
        app.get(&format!("/api/v1/campaigns/{cid}"), None).await.problem(404, "campaign_not_found");
        app.get(&format!("/api/v1/campaigns/{cid}/leaderboards/score"), None).await.problem(404, "campaign_not_found");
        let r = app
            .post(
                &format!("/api/v1/campaigns/{cid}/participants"),
                &json!({"device_id": "dev-nowhere-0001", "region_id": "hetang-yuetang"}),
                None,
            )
            .await;
        r.problem(404, "campaign_not_found");
    }
    assert_eq!(participants(&app).await, 0);
}

/// Every way a join can be wrong has its code, and none of them creates a participant.
async fn join_validation(hot: Hot, sql: Sql) {
    // A hundred bad requests from one device in a moment: past the rate limits, which
    // tests/tests/limits.rs checks; here every one must reach validation.
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = baton_http::limits::LimitsConfig::off()).await;
    app.join("dev-join-base", "先来").await;
    let before = participants(&app).await;
    assert_eq!(before, 1);
    let ok_device = "dev-join-0001";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"device_id": "short", "region_id": "hetang-yuetang"}), "invalid_device_id"),
        (json!({"device_id": "", "region_id": "hetang-yuetang"}), "invalid_device_id"),
        (json!({"device_id": "has space inside", "region_id": "hetang-yuetang"}), "invalid_device_id"),
        (json!({"device_id": "x".repeat(65), "region_id": "hetang-yuetang"}), "invalid_device_id"),
        (json!({"device_id": "设备设备设备设备", "region_id": "hetang-yuetang"}), "invalid_device_id"),
        (json!({"device_id": "dev\u{7}-0001x", "region_id": "hetang-yuetang"}), "invalid_device_id"),
        (json!({"device_id": ok_device, "region_id": "nowhere"}), "invalid_region"),
        (json!({"device_id": ok_device, "region_id": "Hetang"}), "invalid_region"),
        (json!({"device_id": ok_device, "region_id": ""}), "invalid_region"),
        (json!({"device_id": ok_device, "region_id": "u-lusong-aecc-south"}), "invalid_region"),
        // A unit of another county, of a sibling township, unknown, or not an id at all.
        (
            json!({"device_id": ok_device, "region_id": "hetang-yuetang", "unit_id": "u-lusong-aecc-south"}),
            "invalid_unit",
        ),
        (
            json!({"device_id": ok_device, "region_id": "lusong", "unit_id": "u-hetang-yuanjiawan-community"}),
            "invalid_unit",
        ),
        (
            json!({"device_id": ok_device, "region_id": "hetang-cigutang", "unit_id": "u-hetang-yuanjiawan-community"}),
            "invalid_unit",
        ),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "unit_id": "u-nope"}), "invalid_unit"),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "unit_id": "U Nope"}), "invalid_unit"),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "unit_id": "hetang-yuetang"}), "invalid_unit"),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": ""}), "invalid_nickname"),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "   "}), "invalid_nickname"),
        (
            json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "禁".repeat(21)}),
            "invalid_nickname",
        ),
        (
            json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "a".repeat(21)}),
            "invalid_nickname",
        ),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "bell\u{7}"}), "invalid_nickname"),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "line\nbreak"}), "invalid_nickname"),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "nul\u{0}"}), "invalid_nickname"),
        (
            json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "rtl\u{202e}x"}),
            "invalid_nickname",
        ),
    ];
    for (body, code) in &cases {
        let r = app.post(JOIN, body, None).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        r.problem(400, code);
    }
    assert_eq!(participants(&app).await, before, "rejected joins created nobody");
    let leaders = app.get("/api/v1/campaigns/demo/leaderboards/units?limit=100", None).await.json();
    assert!(leaders["entries"].as_array().unwrap().iter().all(|e| e["value"] == 0), "no unit gained anyone: {leaders}");

    // The edges that are fine: 20 characters (trimmed), a unit under a county chosen above it.
    let r = app.post(JOIN, &json!({"device_id": ok_device, "region_id": "hetang", "unit_id": "u-hetang-yuanjiawan-community", "nickname": format!("  {}  ", "禁".repeat(20))}), None).await;
    assert_eq!(r.status, 201, "the device of the rejected joins is still new: {}", r.text());
    let who = Joined {
        id: r.json()["participant_id"].as_str().unwrap().into(),
        token: r.json()["token"].as_str().unwrap().into(),
    };
    let m = me(&app, &who).await;
    assert_eq!(m["nickname"], "禁".repeat(20));
    assert_eq!(m["unit_id"], "u-hetang-yuanjiawan-community");
    let r = app
        .post(
            JOIN,
            &json!({"device_id": "dev-join-0002", "region_id": "zhuzhou", "unit_id": "u-yanling-no1-middle-school"}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(participants(&app).await, before + 2);
}

// --- answers ------------------------------------------------------------------------------------

/// Bad choices, foreign questions and other people's attempts are refused, and the attempt's
/// questions stay unanswered.
async fn answer_validation(hot: Hot, sql: Sql) {
    // A hundred bad requests from one device in a moment: past the rate limits, which
    // tests/tests/limits.rs checks; here every one must reach validation.
    let app = TestApp::spawn_with(hot, sql, |c| c.limits = baton_http::limits::LimitsConfig::off()).await;
    let who = app.join("dev-answer-0001", "答题").await;
    let other = app.join("dev-answer-0002", "旁人").await;
    let a = app.start(&who).await;
    let aid = a["attempt_id"].as_str().unwrap().to_owned();
    let questions = a["questions"].as_array().unwrap().clone();
    let path = format!("/api/v1/attempts/{aid}/answers");

    for q in &questions {
        let n = q["options"].as_array().unwrap().len() as i64;
        let qid = q["id"].as_str().unwrap();
        let mut bad: Vec<Value> =
            vec![json!([]), json!([0, 0]), json!([-1]), json!([n]), json!([n + 100]), json!([i64::MIN]), json!([0, n])];
        if q["kind"] != "multi" {
            bad.push(json!([0, 1]));
        } else {
            bad.push(json!((0..=n).collect::<Vec<_>>()));
        }
        for choice in bad {
            let r = app.post(&path, &json!({"question_id": qid, "choice": choice}), Some(&who.token)).await;
            assert_eq!(r.status, 400, "{} {choice}: {}", q["kind"], r.text());
            r.problem(400, "invalid_choice");
        }
    }

    let c = app.services.campaigns.get(&CampaignId::parse("demo").unwrap()).unwrap();
    let in_attempt: Vec<&str> = questions.iter().map(|q| q["id"].as_str().unwrap()).collect();
    let foreign = c.questions().iter().find(|q| !in_attempt.contains(&q.id.as_str())).unwrap().id.to_string();
    for qid in [foreign.as_str(), "nope-999", "Not An Id", ""] {
        let r = app.post(&path, &json!({"question_id": qid, "choice": [0]}), Some(&who.token)).await;
        r.problem(400, "question_not_in_attempt");
    }

    // Someone else's attempt, or one that does not exist: not found, whatever is asked.
    let q0 = &questions[0];
    let right = app.right_choice(q0);
    let unknown = "0000000000000000";
    for id in [aid.as_str(), unknown, "NOT-AN-ID"] {
        let r = app
            .post(
                &format!("/api/v1/attempts/{id}/answers"),
                &json!({"question_id": q0["id"], "choice": right}),
                Some(&other.token),
            )
            .await;
        r.problem(404, "attempt_not_found");
        app.get(&format!("/api/v1/attempts/{id}"), Some(&other.token)).await.problem(404, "attempt_not_found");
        app.raw("POST", &format!("/api/v1/attempts/{id}/finish"), &[("Authorization", &bearer(&other.token))], b"")
            .await
            .problem(404, "attempt_not_found");
    }
    for id in [unknown, "NOT-AN-ID"] {
        let r = app
            .post(
                &format!("/api/v1/attempts/{id}/answers"),
                &json!({"question_id": q0["id"], "choice": right}),
                Some(&who.token),
            )
            .await;
        r.problem(404, "attempt_not_found");
    }

    // Nothing changed: no question answered, still open, the other one has no attempt.
    let v = attempt(&app, &who, &aid).await;
    assert_eq!(v["status"], "open", "{v}");
    assert_eq!(v["attempt_score"], 0, "{v}");
    assert!(v["questions"].as_array().unwrap().iter().all(|q| q["answer"].is_null()), "{v}");
    let m = me(&app, &other).await;
    assert!(m["open_attempt_id"].is_null() && m["best_score"].is_null(), "{m}");
    assert_eq!(m["attempts_left_today"], 3);

    // And the right answer still counts in full.
    let r = app.answer(&who, &aid, q0["id"].as_str().unwrap(), &right).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["correct"], true);
    assert_eq!(r.json()["attempt_score"], 10);
}

// --- leaderboards -------------------------------------------------------------------------------

async fn leaderboard_errors(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let who = app.join("dev-board-0001", "榜上").await;
    app.play(&who, 3, 1_000).await;
    let base = "/api/v1/campaigns/demo/leaderboards";
    for board in [
        "nope",
        "Score",
        "score-",
        "score-region-",
        "score-region-nowhere",
        "score-region-u-lusong-aecc-south",
        "score-unit-nope",
        "score-unit-hetang",
        "score-unit-",
        "region",
        "relays",
    ] {
        app.get(&format!("{base}/{board}"), None).await.problem(404, "board_not_found");
    }
    app.get(&format!("{base}/relay"), None).await.problem(404, "board_disabled");
    app.get(&format!("{base}/relay?around=me"), Some(&who.token)).await.problem(404, "board_disabled");
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=abc",
        "limit=1e3",
        "offset=-1",
        "offset=x",
        "around=foo",
        "around=",
        "around=ME",
    ] {
        for board in ["score", "regions", "units", "score-region-hetang"] {
            let r = app.get(&format!("{base}/{board}?{query}"), Some(&who.token)).await;
            assert_eq!(r.status, 400, "{board}?{query}: {}", r.text());
            r.problem(400, "invalid_query");
        }
    }
    for board in ["score", "regions", "units", "score-unit-u-hetang-yuanjiawan-community"] {
        unauthorized(&app.get(&format!("{base}/{board}?around=me"), None).await);
        unauthorized(&app.get(&format!("{base}/{board}?around=me"), Some("garbage")).await);
    }
    // The edges that are fine.
    for query in ["limit=1", "limit=100", "offset=0", "offset=100000", "around=me&limit=1"] {
        let r = app.get(&format!("{base}/score?{query}"), Some(&who.token)).await;
        assert_eq!(r.status, 200, "{query}: {}", r.text());
    }
}

/// A page far past the end is empty, whatever the offset: never a 5xx, never a dropped
/// connection.
///
/// Fails on Redis today (see the report): `RedisStore::board_page` computes `offset + limit - 1`
/// in `u64` (an overflow panic in debug builds) and passes offsets above `i64::MAX` to
/// `ZREVRANGE`, whose error is reported as "unavailable" (503).
async fn huge_leaderboard_offsets(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let who = app.join("dev-offset-0001", "远方").await;
    app.play(&who, 1, 1_000).await;
    for offset in [u64::from(u32::MAX), i64::MAX as u64, i64::MAX as u64 + 1, u64::MAX - 5, u64::MAX] {
        let r = app.get(&format!("/api/v1/campaigns/demo/leaderboards/score?offset={offset}&limit=10"), None).await;
        assert!(r.status == 200 || r.status == 400, "offset {offset}: {} {}", r.status, r.text());
        if r.status == 200 {
            assert_eq!(r.json()["entries"], json!([]), "offset {offset}");
            assert_eq!(r.json()["total"], 1, "offset {offset}");
        } else {
            r.problem(400, "invalid_query");
        }
    }
}

// --- server faults ------------------------------------------------------------------------------

/// With the hot store gone, calls answer `503` with `Retry-After` and an opaque detail: no host,
/// port, driver message or backend name leaves the process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_failures_are_opaque_503s() {
    let redis = TestRedis::start().await;
    if !redis.is_private() {
        // A shared server (BATON_TEST_REDIS_URL) is not ours to kill.
        eprintln!("skipped: BATON_TEST_REDIS_URL names a shared Redis, which this test must not stop");
        return;
    }
    let (url, prefix, port) = (redis.url().to_owned(), redis.key_prefix().to_owned(), redis.port());
    let app = TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, |c| {
        c.redis_url = Some(url.clone());
        c.redis_prefix = prefix.clone();
    })
    .await;
    let who = app.join("dev-down-0001", "断线").await;
    let a = app.start(&who).await;
    let aid = a["attempt_id"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/readyz", None).await.status, 200);

    drop(redis); // kills the redis-server this test started
    let mut ready = app.get("/readyz", None).await;
    for _ in 0..100 {
        if ready.status != 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        ready = app.get("/readyz", None).await;
    }
    // While the store reconnects, each call waits out its retries: ask concurrently.
    let q = &a["questions"][0];
    let right = app.right_choice(q);
    let join = json!({"device_id": "dev-down-0002", "region_id": "hetang-yuetang"});
    let attempt_path = format!("/api/v1/attempts/{aid}");
    let (campaign, joined, me, attempt, answer, board, regions) = tokio::join!(
        app.get("/api/v1/campaigns/demo", None),
        app.post(JOIN, &join, None),
        app.get("/api/v1/me", Some(&who.token)),
        app.get(&attempt_path, Some(&who.token)),
        app.answer(&who, &aid, q["id"].as_str().unwrap(), &right),
        app.get("/api/v1/campaigns/demo/leaderboards/score", None),
        app.get("/api/v1/campaigns/demo/leaderboards/regions", None),
    );
    let responses = [
        ("readyz", ready),
        ("campaign", campaign),
        ("join", joined),
        ("me", me),
        ("attempt", attempt),
        ("answer", answer),
        ("board", board),
        ("regions", regions),
    ];
    for (what, r) in &responses {
        let v = r.problem(503, "unavailable");
        assert_eq!(r.header("retry-after"), Some("1"), "{what}");
        let text = r.text().to_lowercase();
        for leak in [
            "redis",
            "127.0.0.1",
            "localhost",
            &port.to_string(),
            "refused",
            "os error",
            "broken pipe",
            "io error",
            "connection",
            "hot store",
            "database",
        ] {
            assert!(!text.contains(leak), "{what}: the body names {leak:?}: {v}");
        }
    }
    // Health (liveness) needs no backend.
    assert_eq!(app.get("/healthz", None).await.status, 200);
}

// --- the stacks ---------------------------------------------------------------------------------

on_both_stacks!(
    body_errors,
    tokens_that_do_not_verify,
    tokens_expire_after_45_days,
    join_validation,
    answer_validation,
    leaderboard_errors,
    huge_leaderboard_offsets
);
