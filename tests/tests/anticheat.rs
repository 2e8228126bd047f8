//! Anti-cheat end to end: the archiver's signals flag a bot answering faster than anyone reads,
//! participants with identical timing and a phone rotating device ids — and not an honest
//! player; an organizer hides a flagged participant from the public boards (it plays on, keeps
//! its results, counts in every figure), shows it again, every step audited; a viewer may look
//! but not hide; a hidden participant stays hidden through a rebuild of the hot store.

use baton_core::Millis;
use baton_core::ids::CampaignId;
use baton_e2e::*;
use baton_http::clock::Clock;
use serde_json::{Value, json};

on_both_stacks!(signals_flag_bots_and_spare_the_honest, an_organizer_hides_a_flagged_participant_and_shows_it_again);

/// The app behind a trusted ingress (loopback), so every test client has its own address; rate
/// limits off (the phone farm joins from one address as fast as it can).
async fn spawn(hot: Hot, sql: Sql) -> TestApp {
    TestApp::spawn_with(hot, sql, |c| {
        c.trusted_proxies = baton_http::client::TrustedProxies::parse(&["127.0.0.1"]).unwrap();
        c.limits = baton_http::limits::LimitsConfig::off();
    })
    .await
}

/// Joins the demo campaign at a township of 荷塘区 from client address `ip` with `agent`.
async fn join_from(app: &TestApp, device: &str, nickname: &str, ip: &str, agent: &str) -> Joined {
    let body = json!({"device_id": device, "region_id": "hetang-yuetang", "nickname": nickname}).to_string();
    let r = app
        .raw(
            "POST",
            "/api/v1/campaigns/demo/participants",
            &[("Content-Type", "application/json"), ("X-Forwarded-For", ip), ("User-Agent", agent)],
            body.as_bytes(),
        )
        .await;
    assert!(r.status == 201 || r.status == 200, "join: {}", r.text());
    let v = r.json();
    Joined { id: v["participant_id"].as_str().unwrap().into(), token: v["token"].as_str().unwrap().into() }
}

/// Plays a whole attempt, every answer right, the `i`th taking `times[i % len]` ms of the clock.
async fn play_timed(app: &TestApp, who: &Joined, times: &[Millis]) -> Value {
    let a = app.start(who).await;
    let aid = a["attempt_id"].as_str().unwrap().to_owned();
    for (i, q) in a["questions"].as_array().unwrap().iter().enumerate() {
        app.clock.advance(times[i % times.len()]);
        let r = app.answer(who, &aid, q["id"].as_str().unwrap(), &app.right_choice(q)).await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    app.finish(who, &aid).await
}

const HONEST: [Millis; 10] = [3_200, 4_100, 2_500, 5_300, 3_900, 2_800, 4_700, 3_300, 6_100, 2_900];
const BOT: [Millis; 1] = [200];

/// The flags the console lists, by participant id: `{reason: evidence}` and whether hidden.
async fn flags(app: &TestApp, token: &str) -> std::collections::BTreeMap<String, (Value, bool)> {
    let r = app.get("/api/v1/console/campaigns/demo/flags", Some(token)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["next"], Value::Null);
    assert_eq!(v["thresholds"]["shared_device"], 10, "{v}");
    v["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let reasons: serde_json::Map<String, Value> = p["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| (r["reason"].as_str().unwrap().to_owned(), r["evidence"].clone()))
                .collect();
            (p["participant_id"].as_str().unwrap().to_owned(), (Value::Object(reasons), p["hidden"] == true))
        })
        .collect()
}

async fn signals_flag_bots_and_spare_the_honest(hot: Hot, sql: Sql) {
    let app = spawn(hot, sql).await;
    let honest = join_from(&app, "device-honest", "老实人", "198.51.100.7", "Phone/1 MicroMessenger/8.0").await;
    play_timed(&app, &honest, &HONEST).await;
    let bot = join_from(&app, "device-bot", "机器人", "203.0.113.5", "bot/1.0").await;
    play_timed(&app, &bot, &BOT).await;
    // Three people on three phones in three places, answering in lockstep (not fast).
    let mut sync = Vec::new();
    for i in 0..3 {
        let p =
            join_from(&app, &format!("dev-sync-{i}"), &format!("同步{i}"), &format!("192.0.{i}.9"), &format!("ua-{i}"))
                .await;
        play_timed(&app, &p, &[2_000, 3_000, 2_500]).await;
        sync.push(p);
    }
    // One phone rotating device ids: ten participants behind one client.
    let mut farm = Vec::new();
    for i in 0..10 {
        farm.push(join_from(&app, &format!("dev-farm-{i}"), &format!("农场{i}"), "203.0.113.77", "farm/2.0").await);
    }
    // Nine pupils behind the school's one address and the same phone model: below the threshold.
    for i in 0..9 {
        join_from(&app, &format!("dev-pupil-{i}"), &format!("学生{i}"), "198.51.100.200", "school-phone").await;
    }
    app.settle().await;

    let admin = app.organizer("ac-admin", "admin", None, None).await;
    let got = flags(&app, &admin).await;
    assert_eq!(got.get(&bot.id), Some(&(json!({"fast_answers": 10}), false)), "{got:#?}");
    for p in &sync {
        assert_eq!(got.get(&p.id), Some(&(json!({"same_timing": 3}), false)), "{got:#?}");
    }
    for p in &farm {
        assert_eq!(got.get(&p.id), Some(&(json!({"shared_device": 10}), false)), "{got:#?}");
    }
    assert!(!got.contains_key(&honest.id), "the honest player is not flagged: {got:#?}");
    assert_eq!(got.len(), 1 + 3 + 10, "{got:#?}");

    // A viewer of the campaign may look.
    let viewer = app.organizer("ac-viewer", "viewer", Some("demo"), None).await;
    assert_eq!(flags(&app, &viewer).await, got);
    // Flags punish nothing: the bot's result stands on the board.
    let board = app.get("/api/v1/campaigns/demo/leaderboards/score", None).await.json();
    assert_eq!(board["entries"][0]["id"], bot.id.as_str(), "{board}");
}

/// The ids on a public board, best first, and its total.
async fn board(app: &TestApp, name: &str) -> (Vec<String>, u64) {
    let b = app.get(&format!("/api/v1/campaigns/demo/leaderboards/{name}"), None).await.json();
    let ids = b["entries"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    (ids, b["total"].as_u64().unwrap())
}

async fn an_organizer_hides_a_flagged_participant_and_shows_it_again(hot: Hot, sql: Sql) {
    let app = spawn(hot, sql).await;
    let bot = join_from(&app, "device-bot", "机器人", "203.0.113.5", "bot/1.0").await;
    let alice = join_from(&app, "device-alice", "小红", "198.51.100.1", "phone-a").await;
    let bob = join_from(&app, "device-bob", "小刚", "198.51.100.2", "phone-b").await;
    let first = play_timed(&app, &bot, &BOT).await;
    assert_eq!((first["score"].as_u64(), first["rank"]["global"].as_u64()), (Some(100), Some(1)));
    play_timed(&app, &alice, &HONEST).await;
    play_timed(&app, &bob, &[7_000, 8_100, 6_400]).await;
    app.settle().await;
    let everyone = vec![bot.id.clone(), alice.id.clone(), bob.id.clone()];
    assert_eq!(board(&app, "score").await, (everyone.clone(), 3));

    let organizer = app.organizer("ac-organizer", "organizer", Some("demo"), None).await;
    let viewer = app.organizer("ac-viewer", "viewer", Some("demo"), None).await;
    assert!(flags(&app, &organizer).await.contains_key(&bot.id));
    let hide = |pid: &str, verb: &str| format!("/api/v1/console/campaigns/demo/participants/{pid}/{verb}");

    // Looking is not hiding: a viewer may not (console_matrix checks every other caller).
    app.post(&hide(&bot.id, "hide"), &json!({}), Some(&viewer)).await.problem(403, "forbidden");
    app.post(&hide(&bot.id, "hide"), &json!({}), None).await.problem(401, "unauthorized");
    app.post(&hide("nobody", "hide"), &json!({}), Some(&organizer)).await.problem(404, "participant_not_found");
    assert_eq!(board(&app, "score").await, (everyone.clone(), 3));

    let r = app.post(&hide(&bot.id, "hide"), &json!({}), Some(&organizer)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"participant_id": bot.id, "hidden": true, "changed": true}));
    let again = app.post(&hide(&bot.id, "hide"), &json!({}), Some(&organizer)).await.json();
    assert_eq!(again["changed"], false);

    // Off every public individual board; the others move up.
    let visible = vec![alice.id.clone(), bob.id.clone()];
    for name in ["score", "score-region-hetang", "score-region-hetang-yuetang"] {
        assert_eq!(board(&app, name).await, (visible.clone(), 2), "{name}");
    }
    let page = app.get("/api/v1/campaigns/demo/leaderboards/score", None).await.json();
    assert_eq!((page["entries"][0]["rank"].as_u64(), page["entries"][1]["rank"].as_u64()), (Some(1), Some(2)));
    // Not deleted: it keeps its results, plays on, and is ranked as if it stood there.
    let me = app.get("/api/v1/me", Some(&bot.token)).await.json();
    assert_eq!(me["best_score"], 100, "{me}");
    let second = play_timed(&app, &bot, &BOT).await;
    assert_eq!((second["best_score"].as_u64(), second["rank"]["global"].as_u64()), (Some(100), Some(1)), "{second}");
    assert_eq!(board(&app, "score").await, (visible.clone(), 2));
    // It still counts in the collective figures.
    app.settle().await;
    let overview = app.get("/api/v1/console/campaigns/demo/overview", Some(&organizer)).await.json();
    assert_eq!(overview["participants"], 3, "{overview}");
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["stats"]["participants"], 3);
    assert!(flags(&app, &viewer).await[&bot.id].1, "listed as hidden");

    // A rebuild of the hot store from SQL keeps it hidden.
    let demo = CampaignId::parse("demo").unwrap();
    let campaign = app.services.campaigns.get(&demo).unwrap();
    baton_archiver::rebuild::rebuild(&app.services.db, &*app.services.store, &campaign, app.clock.now_ms(), |_| {})
        .await
        .expect("rebuilds");
    assert_eq!(board(&app, "score").await, (visible.clone(), 2), "hidden after a rebuild");

    // Shown again: back with its best, the others down again.
    let r = app.post(&hide(&bot.id, "unhide"), &json!({}), Some(&organizer)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"participant_id": bot.id, "hidden": false, "changed": true}));
    assert_eq!(board(&app, "score").await, (everyone.clone(), 3));
    let top = app.get("/api/v1/campaigns/demo/leaderboards/score", None).await.json();
    assert_eq!((top["entries"][0]["value"].as_u64(), top["entries"][0]["rank"].as_u64()), (Some(100), Some(1)));
    app.post(&hide(&bot.id, "unhide"), &json!({}), Some(&viewer)).await.problem(403, "forbidden");
    app.settle().await;
    assert!(!flags(&app, &viewer).await[&bot.id].1, "listed as shown");

    // Every hide and unhide is in the audit log, with who did it.
    let log = app.services.db.audit_entries(Some(&demo), 100).await.unwrap();
    let actions: Vec<(&str, &str)> = log
        .iter()
        .filter(|r| r.entry.action.starts_with("participant_"))
        .map(|r| (r.entry.action.as_str(), r.entry.username.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("participant_unhidden", "ac-organizer"),
            ("participant_hidden", "ac-organizer"),
            ("participant_hidden", "ac-organizer")
        ],
        "newest first"
    );
    assert!(log.iter().any(|r| r.entry.detail.contains(&bot.id)));
}
