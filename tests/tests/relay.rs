//! Passing the baton, end to end on both stacks: relay codes and short links, attribution at
//! join (first touch, never oneself, never another campaign's), relay stats rolled up off the
//! join path, collective relay rankings, share intents, and hostile codes.

use baton_e2e::*;
use serde_json::{Value, json};

async fn codes_links_and_attribution(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let (s, root) = app.join_invited("device-relay-root", "火炬手", None).await;
    assert_eq!(s, 201);
    let code = root["relay_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 10);
    assert!(code.bytes().all(|b| b"0123456789abcdefghjkmnpqrstvwxyz".contains(&b)), "{code}");
    assert_eq!(root["share_url"], format!("https://baton.test/r/{code}"));
    assert_eq!(root["inviter"], Value::Null);

    // The short link records the open and leads to the campaign page with the code.
    let r = app.get(&format!("/r/{code}"), None).await;
    assert_eq!((r.status, r.header("location")), (302, Some(format!("/c/demo?invite={code}").as_str())));
    let r = app.get(&format!("/r/{}", code.to_uppercase()), None).await;
    assert_eq!(r.header("location"), Some(format!("/c/demo?invite={code}").as_str()), "codes forgive case");
    for unknown in ["zzzzzzzzzz", "short", "%3Cscript%3E", &"x".repeat(3000)] {
        let r = app.get(&format!("/r/{unknown}"), None).await;
        assert_eq!((r.status, r.header("location")), (302, Some("/")), "{unknown}");
    }
    let page = app.get(&format!("/c/demo?invite={code}"), None).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("og:title") && html.contains("株洲市全民禁毒网络接力大赛"), "{html}");
    assert!(html.contains(&code));

    // Attribution: first touch, fixed at join.
    let (s, child) = app.join_invited("device-relay-child", "接棒人", Some(&code)).await;
    assert_eq!(s, 201);
    assert_eq!(child["inviter"], json!({"nickname": "火炬手"}));
    let (s, again) =
        app.join_invited("device-relay-child", "接棒人", Some(child["relay_code"].as_str().unwrap())).await;
    assert_eq!((s, &again["inviter"]), (200, &json!({"nickname": "火炬手"})), "a re-join never changes the inviter");
    // Oneself, unknown, malformed, over-long and foreign codes are ignored, not errors.
    let (_, me_again) = app.join_invited("device-relay-root", "火炬手", Some(&code)).await;
    assert_eq!(me_again["inviter"], Value::Null);
    let (s, self_first) = app.join_invited("device-relay-solo", "独行", Some("0000000000")).await;
    assert_eq!((s, &self_first["inviter"]), (201, &Value::Null));
    for (i, bad) in ["", "abc", "<script>", &"7".repeat(10_000), "   ", "ilo0ILO0ab"].iter().enumerate() {
        let (s, j) = app.join_invited(&format!("device-relay-bad-{i}"), "路人", Some(bad)).await;
        assert!(s == 201 || s == 413, "{bad:?}: {s} {j}");
        if s == 201 {
            assert_eq!(j["inviter"], Value::Null, "{bad:?}");
        }
    }

    // Shares are recorded by channel; unknown channels are refused.
    let root_token = root["token"].as_str().unwrap();
    for channel in ["wechat_moments", "qr"] {
        let r = app.post("/api/v1/shares", &json!({"channel": channel}), Some(root_token)).await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    app.post("/api/v1/shares", &json!({"channel": "weibo"}), Some(root_token)).await.problem(400, "invalid_channel");
    app.post("/api/v1/shares", &json!({"channel": "qr"}), None).await.problem(401, "unauthorized");

    // Relay stats, privately; collective relay counts publicly.
    let grand = app.join_invited("device-relay-grand", "三棒", Some(child["relay_code"].as_str().unwrap())).await.1;
    app.settle().await;
    let mine = app.relay_of(root_token).await;
    assert_eq!(
        (mine["direct"].as_u64(), mine["descendants"].as_u64(), mine["depth"].as_u64()),
        (Some(1), Some(2), Some(0))
    );
    assert_eq!(mine["recent"], json!(["接棒人"]));
    assert_eq!(mine["chain"], json!([]));
    let g = app.relay_of(grand["token"].as_str().unwrap()).await;
    assert_eq!((g["depth"].as_u64(), &g["chain"]), (Some(2), &json!(["接棒人", "火炬手"])));
    let info = app.get("/api/v1/campaigns/demo", None).await.json();
    assert_eq!(info["stats"]["relayed"], 2);
    let regions = app.get("/api/v1/campaigns/demo/leaderboards/regions?limit=1", None).await.json();
    assert_eq!(
        (regions["entries"][0]["id"].as_str(), regions["entries"][0]["relayed"].as_u64()),
        (Some("hetang"), Some(2))
    );
    // The individual relay board stays off (WeChat's rules forbid rewarding invites).
    app.get("/api/v1/campaigns/demo/leaderboards/relay", None).await.problem(404, "board_disabled");
    // The poster carries the share link.
    let poster = app.get("/api/v1/me/poster.svg", Some(root_token)).await;
    assert_eq!((poster.status, poster.header("content-type")), (200, Some("image/svg+xml")));
    let printed = format!("{} {}", code[..5].to_uppercase(), code[5..].to_uppercase());
    assert!(poster.text().contains(&printed), "the poster prints the code as {printed}");
}

/// A whole school joins through one code at once: every join is attributed once.
async fn a_flood_through_one_code(hot: Hot, sql: Sql) {
    let app = std::sync::Arc::new(TestApp::spawn(hot, sql).await);
    let (_, teacher) = app.join_invited("device-flood-teacher", "老师", None).await;
    let code = teacher["relay_code"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (app, code) = (app.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            let (s, j) = app.join_invited(&format!("device-flood-{i:04}"), &format!("学生{i}"), Some(&code)).await;
            assert_eq!((s, &j["inviter"]["nickname"]), (201, &json!("老师")));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    app.settle().await;
    let mine = app.relay_of(teacher["token"].as_str().unwrap()).await;
    assert_eq!((mine["direct"].as_u64(), mine["descendants"].as_u64()), (Some(200), Some(200)));
    assert_eq!(mine["recent"].as_array().unwrap().len(), 10);
}

on_both_stacks!(codes_links_and_attribution, a_flood_through_one_code, codes_of_another_campaign_are_ignored);

/// A campaign that turns the individual relay board on ranks people by direct joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_board_where_a_campaign_turns_it_on() {
    let app = TestApp::spawn(Hot::Embedded, Sql::Sqlite).await;
    let mut doc = baton::demo::doc();
    doc.rules.relay_board = true;
    app.services.db.put_campaign(&doc).await.unwrap();
    app.services.reload_campaigns().await.unwrap();
    let (_, a) = app.join_invited("device-board-a", "甲", None).await;
    let (_, b) = app.join_invited("device-board-b", "乙", None).await;
    for i in 0..3 {
        app.join_invited(&format!("device-board-a{i}"), &format!("甲{i}"), a["relay_code"].as_str()).await;
    }
    let (_, b0) = app.join_invited("device-board-b0", "乙0", b["relay_code"].as_str()).await;
    app.join_invited("device-board-b00", "乙00", b0["relay_code"].as_str()).await;
    app.settle().await;
    let board = app.get("/api/v1/campaigns/demo/leaderboards/relay", None).await.json();
    assert_eq!(board["total"], 3);
    let rows: Vec<(String, u64, u64)> = board["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_owned(), e["value"].as_u64().unwrap(), e["relayed"].as_u64().unwrap()))
        .collect();
    assert_eq!(rows, [("甲".to_owned(), 3, 3), ("乙".to_owned(), 1, 2), ("乙0".to_owned(), 1, 1)]);
    let mine =
        app.get("/api/v1/campaigns/demo/leaderboards/relay?around=me", Some(b["token"].as_str().unwrap())).await.json();
    assert_eq!(mine["me"]["rank"], 2);
}

/// A code from another campaign is ignored: attribution never crosses campaigns.
async fn codes_of_another_campaign_are_ignored(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let mut other = baton::demo::doc();
    other.id = baton_core::ids::CampaignId::parse("other").unwrap();
    app.services.db.put_campaign(&other).await.unwrap();
    app.services.reload_campaigns().await.unwrap();
    let r = app
        .post(
            "/api/v1/campaigns/other/participants",
            &json!({"device_id": "device-other-001", "region_id": "hetang-yuetang", "nickname": "他乡"}),
            None,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let foreign = r.json()["relay_code"].as_str().unwrap().to_owned();
    let (s, j) = app.join_invited("device-demo-001", "本地", Some(&foreign)).await;
    assert_eq!((s, &j["inviter"]), (201, &Value::Null));
    // The short link of the other campaign leads to that campaign.
    assert_eq!(
        app.get(&format!("/r/{foreign}"), None).await.header("location"),
        Some(format!("/c/other?invite={foreign}").as_str())
    );
    app.settle().await;
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["stats"]["relayed"], 0);
}
