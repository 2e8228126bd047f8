//! Hostile input, one test each: every case ends in a clear `4xx` problem document, and
//! "changes nothing" is checked, not assumed — the caller's profile (`GET /api/v1/me`), its
//! attempt, the campaign's public figures and leaderboard, and the campaign's event log in SQL
//! are the same before and after. (`problems.rs` holds the catalogue of codes; this file the
//! promise that a refusal leaves no trace.) Every case runs on both stacks.

use baton_core::campaign::Campaign;
use baton_core::ids::CampaignId;
use baton_e2e::{Hot, Joined, Resp, Sql, TestApp, on_both_stacks};
use serde_json::{Value, json};

const JOIN: &str = "/api/v1/campaigns/demo/participants";

/// Everything a refused call must leave as it was.
#[derive(Debug, PartialEq)]
struct State {
    me: Value,
    attempt: Value,
    campaign_stats: Value,
    board: Value,
    regions: Value,
    events: i64,
}

/// A participant with an attempt in progress, one question answered.
struct Scene {
    app: TestApp,
    who: Joined,
    aid: String,
    /// The attempt's questions as shown; the first is answered.
    questions: Vec<Value>,
}

impl Scene {
    async fn new(hot: Hot, sql: Sql) -> Self {
        let app = TestApp::spawn(hot, sql).await;
        // Someone on the board, so a change to it would show.
        let other = app.join("dev-hostile-other", "榜上").await;
        app.play(&other, 4, 1_000).await;
        let who = app.join("dev-hostile-0001", "被测").await;
        let a = app.start(&who).await;
        let aid = a["attempt_id"].as_str().unwrap().to_owned();
        let questions = a["questions"].as_array().unwrap().clone();
        app.clock.advance(1_000);
        let r = app.answer(&who, &aid, questions[0]["id"].as_str().unwrap(), &app.right_choice(&questions[0])).await;
        assert_eq!(r.status, 200, "{}", r.text());
        Scene { app, who, aid, questions }
    }

    async fn state(&self) -> State {
        let app = &self.app;
        app.settle().await;
        let ok = |r: Resp| {
            assert_eq!(r.status, 200, "{}", r.text());
            r.json()
        };
        State {
            me: ok(app.get("/api/v1/me", Some(&self.who.token)).await),
            attempt: ok(app.get(&format!("/api/v1/attempts/{}", self.aid), Some(&self.who.token)).await),
            campaign_stats: ok(app.get("/api/v1/campaigns/demo", None).await)["stats"].clone(),
            board: ok(app.get("/api/v1/campaigns/demo/leaderboards/score?limit=100", None).await),
            regions: ok(app.get("/api/v1/campaigns/demo/leaderboards/regions?limit=100", None).await),
            events: app.services.db.event_count(&CampaignId::parse("demo").unwrap()).await.unwrap(),
        }
    }

    fn answers_path(&self) -> String {
        format!("/api/v1/attempts/{}/answers", self.aid)
    }

    /// A question of the attempt not answered yet.
    fn open_question(&self) -> &Value {
        &self.questions[1]
    }

    async fn post_text(&self, path: &str, body: &str, token: Option<&str>) -> Resp {
        self.app.send("POST", path, "application/json", body.as_bytes(), token).await
    }
}

/// Asserts a `4xx` problem document with `code`.
#[track_caller]
fn refused(r: &Resp, status: u16, code: &str) {
    assert!((400..500).contains(&status));
    r.problem(status, code);
}

async fn malformed_json(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    for body in ["{", "{\"device_id\": ", "nul", "{\"a\":1}}", "\u{feff}{}", "{'device_id': 'x'}", "[1,]"] {
        refused(&s.post_text(JOIN, body, None).await, 400, "malformed_json");
        refused(&s.post_text(&s.answers_path(), body, token).await, 400, "malformed_json");
        refused(&s.post_text("/api/v1/shares", body, token).await, 400, "malformed_json");
        refused(&s.post_text("/api/v1/attempts", body, token).await, 400, "malformed_json");
        refused(&s.post_text("/api/v1/console/login", body, None).await, 400, "malformed_json");
    }
    assert_eq!(s.state().await, before);
}

async fn wrong_types(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let q = s.open_question()["id"].clone();
    for body in [
        json!({"device_id": ["dev-hostile-0002"], "region_id": "hetang-yuetang"}),
        json!({"device_id": "dev-hostile-0002", "region_id": 42}),
        json!({"device_id": "dev-hostile-0002", "region_id": "hetang-yuetang", "nickname": {"zh": "x"}}),
        json!({"device_id": "dev-hostile-0002", "region_id": "hetang-yuetang", "unit_id": true}),
    ] {
        refused(&s.app.post(JOIN, &body, None).await, 400, "invalid_type");
    }
    for body in [
        json!({"question_id": q, "choice": "0"}),
        json!({"question_id": q, "choice": [true]}),
        json!({"question_id": q, "choice": [[0]]}),
        json!({"question_id": q, "choice": [1.5]}),
        json!({"question_id": q, "choice": {"0": true}}),
        json!({"question_id": [q], "choice": [0]}),
        json!({"question_id": q, "choice": null}),
    ] {
        refused(&s.app.post(&s.answers_path(), &body, token).await, 400, "invalid_type");
    }
    refused(&s.app.post("/api/v1/shares", &json!({"channel": 1}), token).await, 400, "invalid_type");
    refused(
        &s.app.post("/api/v1/console/login", &json!({"username": 1, "password": []}), None).await,
        400,
        "invalid_type",
    );
    assert_eq!(s.state().await, before);
}

async fn unknown_fields(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let q = s.open_question();
    let join = json!({"device_id": "dev-hostile-0003", "region_id": "hetang-yuetang", "inviter_id": "x"});
    refused(&s.app.post(JOIN, &join, None).await, 400, "unknown_field");
    // Fields a cheater would like the server to take from the client.
    for extra in ["points", "correct", "score", "timed_out", "elapsed_ms", "participant_id"] {
        let mut body = json!({"question_id": q["id"], "choice": s.app.right_choice(q)});
        body[extra] = json!(100);
        refused(&s.app.post(&s.answers_path(), &body, token).await, 400, "unknown_field");
    }
    refused(&s.app.post("/api/v1/shares", &json!({"channel": "link", "reward": 1}), token).await, 400, "unknown_field");
    assert_eq!(s.state().await, before);
}

/// Each route has its limit: 16 KiB by default, 4 MiB for the console's campaign documents.
async fn oversized_bodies(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let big = |json: Value, len: usize| {
        let mut b = json.to_string().into_bytes();
        b.resize(len, b' ');
        b
    };
    let limit = baton_http::extract::DEFAULT_BODY_LIMIT;
    let join = big(json!({"device_id": "dev-hostile-0004", "region_id": "hetang-yuetang"}), limit + 1);
    refused(&s.app.send("POST", JOIN, "application/json", &join, None).await, 413, "body_too_large");
    let q = s.open_question();
    let answer = big(json!({"question_id": q["id"], "choice": s.app.right_choice(q)}), limit + 1);
    refused(&s.app.send("POST", &s.answers_path(), "application/json", &answer, token).await, 413, "body_too_large");
    let share = big(json!({"channel": "link"}), limit + 1);
    refused(&s.app.send("POST", "/api/v1/shares", "application/json", &share, token).await, 413, "body_too_large");
    let login = big(json!({"username": "x", "password": "y"}), limit + 1);
    refused(
        &s.app.send("POST", "/api/v1/console/login", "application/json", &login, None).await,
        413,
        "body_too_large",
    );
    // A long nickname inside a body under the limit is a 400, not a 413.
    let r = s
        .app
        .post(
            JOIN,
            &json!({"device_id": "dev-hostile-0004", "region_id": "hetang-yuetang", "nickname": "长".repeat(4000)}),
            None,
        )
        .await;
    refused(&r, 400, "invalid_nickname");
    // The console's campaign route reads up to 4 MiB, and no more.
    let admin = s.app.organizer("hostile-admin", "admin", None, None).await;
    let doc =
        serde_json::to_value(s.app.services.campaigns.get(&CampaignId::parse("demo").unwrap()).unwrap().doc()).unwrap();
    let huge = big(doc, baton_console::admin::BODY_LIMIT + 1);
    let r = s.app.send("PUT", "/api/v1/console/campaigns/demo", "application/json", &huge, Some(&admin)).await;
    refused(&r, 413, "body_too_large");
    assert_eq!(s.state().await, before);
}

/// API.md: 1–20 characters after trimming, no control characters. Emoji are characters (a
/// nickname of 20 emoji is fine); control and invisible formatting characters are `400`.
async fn nicknames_with_emoji_and_control_characters(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    for (i, nick) in [
        "tab\there".to_owned(),
        "nul\u{0}".into(),
        "esc\u{1b}[31m".into(),
        "del\u{7f}".into(),
        "zw\u{200b}sp".into(),
        "rtl\u{202e}lo".into(),
        "😀".repeat(21),
    ]
    .iter()
    .enumerate()
    {
        let body =
            json!({"device_id": format!("dev-hostile-nick-{i}"), "region_id": "hetang-yuetang", "nickname": nick});
        refused(&s.app.post(JOIN, &body, None).await, 400, "invalid_nickname");
    }
    assert_eq!(s.state().await, before);
    for (i, nick) in
        ["禁毒😀", &"😀".repeat(20), "👨\u{200d}👩\u{200d}👧 一家", "❤\u{fe0f}\u{200d}🔥"].iter().enumerate()
    {
        let body =
            json!({"device_id": format!("dev-hostile-emoji-{i}"), "region_id": "hetang-yuetang", "nickname": nick});
        let r = s.app.post(JOIN, &body, None).await;
        assert_eq!(r.status, 201, "{nick:?}: {}", r.text());
        let who = Joined { id: String::new(), token: r.json()["token"].as_str().unwrap().into() };
        assert_eq!(s.app.get("/api/v1/me", Some(&who.token)).await.json()["nickname"], *nick);
    }
}

async fn over_long_strings(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let long = "a".repeat(10_000);
    let ok_device = "dev-hostile-0005";
    for (body, code) in [
        (json!({"device_id": "d".repeat(65), "region_id": "hetang-yuetang"}), "invalid_device_id"),
        (json!({"device_id": ok_device, "region_id": long}), "invalid_region"),
        (json!({"device_id": ok_device, "region_id": "hetang-yuetang", "unit_id": long}), "invalid_unit"),
        (
            json!({"device_id": ok_device, "region_id": "hetang-yuetang", "nickname": "禁".repeat(21)}),
            "invalid_nickname",
        ),
    ] {
        refused(&s.app.post(JOIN, &body, None).await, 400, code);
    }
    let body = json!({"question_id": long, "choice": [0]});
    refused(&s.app.post(&s.answers_path(), &body, token).await, 400, "question_not_in_attempt");
    refused(&s.app.post("/api/v1/shares", &json!({"channel": long}), token).await, 400, "invalid_channel");
    let path = format!("/api/v1/attempts/{}/answers", "0".repeat(2000));
    let r = s.app.post(&path, &json!({"question_id": s.open_question()["id"], "choice": [0]}), token).await;
    refused(&r, 404, "attempt_not_found");
    refused(&s.app.get(&format!("/api/v1/campaigns/{}", "c".repeat(2000)), None).await, 404, "campaign_not_found");
    let board = format!("/api/v1/campaigns/demo/leaderboards/score-region-{}", "x".repeat(2000));
    refused(&s.app.get(&board, None).await, 404, "board_not_found");
    assert_eq!(s.state().await, before);
    // An over-long invite code is advisory: ignored, the join succeeds without an inviter.
    let r = s
        .app
        .post(JOIN, &json!({"device_id": ok_device, "region_id": "hetang-yuetang", "invite_code": long}), None)
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["inviter"], Value::Null);
}

async fn bad_choice_indices(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let q = s.open_question();
    let n = q["options"].as_array().unwrap().len() as i64;
    for choice in [
        json!([-1]),
        json!([n]),
        json!([i64::MAX]),
        json!([i64::MIN]),
        json!([0, 0]),
        json!([]),
        json!([31]),
        json!([32]),
    ] {
        let r = s.app.post(&s.answers_path(), &json!({"question_id": q["id"], "choice": choice}), token).await;
        refused(&r, 400, "invalid_choice");
    }
    // Beyond i64: not a number the API takes at all.
    let r = s
        .post_text(
            &s.answers_path(),
            &format!(r#"{{"question_id": {}, "choice": [18446744073709551616]}}"#, q["id"]),
            token,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    // Re-answering the answered question differently is a conflict, and changes nothing.
    let first = &s.questions[0];
    let r = s.app.answer(&s.who, &s.aid, first["id"].as_str().unwrap(), &s.app.wrong_choice(first)).await;
    refused(&r, 409, "already_answered");
    assert_eq!(s.state().await, before);
}

async fn questions_not_in_the_attempt(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let c = s.app.services.campaigns.get(&CampaignId::parse("demo").unwrap()).unwrap();
    let shown: Vec<&str> = s.questions.iter().map(|q| q["id"].as_str().unwrap()).collect();
    let foreign = c.questions().iter().find(|q| !shown.contains(&q.id.as_str())).unwrap().id.to_string();
    for qid in [foreign.as_str(), "law-999", "LAW-001", "", " ", "law-001 "] {
        let r = s.app.post(&s.answers_path(), &json!({"question_id": qid, "choice": [0]}), token).await;
        refused(&r, 400, "question_not_in_attempt");
    }
    assert_eq!(s.state().await, before);
}

/// Nothing a client sends names a Redis key or SQL text: such "ids" are just unknown ids.
async fn ids_that_look_like_redis_keys_or_sql(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let pid = &s.who.id;
    let sneaky = [
        format!("{{v1:demo:0}}:p:{pid}"),
        format!("baton:{{v1:demo:0}}:p:{pid}:a:{}", s.aid),
        "*".to_owned(),
        "demo' OR '1'='1".to_owned(),
        "x'); DROP TABLE events; --".to_owned(),
        "%".to_owned(),
        "hetang-yuetang\r\nFLUSHALL".to_owned(),
    ];
    for (i, id) in sneaky.iter().enumerate() {
        // A device of its own each time: the join limit per device is not what is tested here.
        let device = format!("dev-hostile-sneaky-{i}");
        let join = json!({"device_id": device, "region_id": id, "nickname": "键"});
        refused(&s.app.post(JOIN, &join, None).await, 400, "invalid_region");
        let join = json!({"device_id": device, "region_id": "hetang-yuetang", "unit_id": id});
        refused(&s.app.post(JOIN, &join, None).await, 400, "invalid_unit");
        let r = s.app.post(&s.answers_path(), &json!({"question_id": id, "choice": [0]}), token).await;
        refused(&r, 400, "question_not_in_attempt");
        refused(&s.app.post("/api/v1/shares", &json!({"channel": id}), token).await, 400, "invalid_channel");
        // The same in paths and queries, escaped as a browser would.
        let e = escape(id);
        refused(&s.app.get(&format!("/api/v1/attempts/{e}"), token).await, 404, "attempt_not_found");
        refused(&s.app.get(&format!("/api/v1/campaigns/{e}"), None).await, 404, "campaign_not_found");
        let board = format!("/api/v1/campaigns/demo/leaderboards/score-unit-{e}");
        refused(&s.app.get(&board, None).await, 404, "board_not_found");
        let r = s.app.get(&format!("/api/v1/campaigns/demo/leaderboards/score?around={e}"), token).await;
        refused(&r, 400, "invalid_query");
        // A short link with such a code goes to the front page, as an unknown code does.
        let r = s.app.get(&format!("/r/{e}"), None).await;
        assert_eq!((r.status, r.header("location")), (302, Some("/")), "{id}");
    }
    assert_eq!(s.state().await, before);
}

/// Percent-escapes everything but unreserved characters.
fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Ids of another campaign: its units, its participants' attempts, its questions.
async fn another_campaigns_ids(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let mut other = s.app.services.campaigns.get(&CampaignId::parse("demo").unwrap()).unwrap().doc().clone();
    other.id = CampaignId::parse("other").unwrap();
    let mut unit = other.units[0].clone();
    unit.id = baton_core::ids::UnitId::parse("u-only-in-other").unwrap();
    other.units.push(unit.clone());
    let mut question = other.questions[0].clone();
    question.id = baton_core::ids::QuestionId::parse("only-in-other").unwrap();
    question.stem.push_str("（别处）");
    other.questions.push(question);
    s.app.services.db.put_campaign(&other).await.unwrap();
    s.app.services.campaigns.put(Campaign::from_doc(other).unwrap());
    let r = s
        .app
        .post(
            "/api/v1/campaigns/other/participants",
            &json!({"device_id": "dev-hostile-0007", "region_id": "hetang-yuetang"}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let stranger = Joined {
        id: r.json()["participant_id"].as_str().unwrap().into(),
        token: r.json()["token"].as_str().unwrap().into(),
    };
    let theirs = s.app.start(&stranger).await;
    let their_aid = theirs["attempt_id"].as_str().unwrap();
    // One of theirs that the demo campaign has too: a question only "other" has is refused as
    // not in the attempt before the attempt is looked up, which is not what this checks.
    let their_q = theirs["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] != "only-in-other")
        .expect("their attempt draws more than one question");

    let before = s.state().await;
    let token = Some(s.who.token.as_str());
    let join = json!({"device_id": "dev-hostile-0008", "region_id": unit.region_id, "unit_id": "u-only-in-other"});
    refused(&s.app.post(JOIN, &join, None).await, 400, "invalid_unit");
    let r = s.app.post(&s.answers_path(), &json!({"question_id": "only-in-other", "choice": [0]}), token).await;
    refused(&r, 400, "question_not_in_attempt");
    let r = s
        .app
        .post(
            &format!("/api/v1/attempts/{their_aid}/answers"),
            &json!({"question_id": their_q["id"], "choice": [0]}),
            token,
        )
        .await;
    refused(&r, 404, "attempt_not_found");
    refused(&s.app.get(&format!("/api/v1/attempts/{their_aid}"), token).await, 404, "attempt_not_found");
    let finish = format!("/api/v1/attempts/{their_aid}/finish");
    refused(&s.app.send("POST", &finish, "application/json", b"{}", token).await, 404, "attempt_not_found");
    let r = s.app.get("/api/v1/campaigns/demo/leaderboards/score-unit-u-only-in-other", None).await;
    refused(&r, 404, "board_not_found");
    assert_eq!(s.state().await, before);
    let v = s.app.get(&format!("/api/v1/attempts/{their_aid}"), Some(&stranger.token)).await.json();
    assert!(
        v["questions"].as_array().unwrap().iter().all(|q| q["answer"].is_null()),
        "their attempt is untouched: {v}"
    );
}

async fn a_finished_attempt(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    let token = Some(s.who.token.as_str());
    let finish = format!("/api/v1/attempts/{}/finish", s.aid);
    let done = s.app.send("POST", &finish, "application/json", b"{}", token).await;
    assert_eq!(done.status, 200, "{}", done.text());
    let before = s.state().await;
    assert_eq!(before.attempt["status"], "finished", "{}", before.attempt);
    for q in &s.questions[1..] {
        let r = s.app.answer(&s.who, &s.aid, q["id"].as_str().unwrap(), &s.app.right_choice(q)).await;
        refused(&r, 409, "attempt_finished");
    }
    // Finishing again is idempotent: the same answer, nothing more counted.
    let again = s.app.send("POST", &finish, "application/json", b"{}", token).await;
    assert_eq!((again.status, again.json()), (200, done.json()));
    assert_eq!(s.state().await, before);
}

/// An attempt whose time is up takes no more answers: `409 attempt_finished`, nothing stored.
async fn an_expired_attempt(hot: Hot, sql: Sql) {
    let s = Scene::new(hot, sql).await;
    // Ten questions of 20 s (plus grace) are long over an hour later.
    s.app.clock.advance(3600 * 1000);
    let before = s.state().await;
    assert_eq!(before.attempt["status"], "expired", "{}", before.attempt);
    for q in &s.questions[1..] {
        let r = s.app.answer(&s.who, &s.aid, q["id"].as_str().unwrap(), &s.app.right_choice(q)).await;
        refused(&r, 409, "attempt_finished");
    }
    assert_eq!(s.state().await, before);
}

on_both_stacks!(
    malformed_json,
    wrong_types,
    unknown_fields,
    oversized_bodies,
    nicknames_with_emoji_and_control_characters,
    over_long_strings,
    bad_choice_indices,
    questions_not_in_the_attempt,
    ids_that_look_like_redis_keys_or_sql,
    another_campaigns_ids,
    a_finished_attempt,
    an_expired_attempt,
);
