//! The console's figures end to end on both stacks: the overview, the time series, the
//! breakdown by region and unit, question statistics and relay analytics, for the whole
//! campaign and for a region-limited viewer; the live feed with its samples, resuming after
//! `Last-Event-ID`, and ending when the token expires.

use baton_e2e::*;
use serde_json::{Value, json};

on_both_stacks!(figures_count_what_happened_within_the_scope, the_live_feed_samples_resumes_and_expires);

/// Three participants: 甲 (月塘街道, a community unit; ten right), 乙 (through 甲's link, four
/// right) and 丙 (醴陵, none right), each answering every question in 3 s; 甲 shares twice.
/// Ends 90 s after [`NOON`].
async fn story(app: &TestApp) -> (Joined, Joined, Joined) {
    let a = app.join_at("device-fig-a", "甲", "hetang-yuetang", Some("u-hetang-yuanjiawan-community")).await;
    app.play(&a, 10, 3000).await;
    let code = app.get("/api/v1/me", Some(&a.token)).await.json()["relay_code"].as_str().unwrap().to_owned();
    for channel in ["wechat_friend", "wechat_moments"] {
        assert_eq!(app.post("/api/v1/shares", &json!({"channel": channel}), Some(&a.token)).await.status, 204);
    }
    let (s, b) = app.join_invited("device-fig-b", "乙", Some(&code)).await;
    assert_eq!(s, 201);
    let b = Joined { id: b["participant_id"].as_str().unwrap().into(), token: b["token"].as_str().unwrap().into() };
    app.play(&b, 4, 3000).await;
    let c = app.join_at("device-fig-c", "丙", "liling-lailongmen", None).await;
    app.play(&c, 0, 3000).await;
    app.settle().await;
    (a, b, c)
}

fn row<'a>(rows: &'a Value, id: &str) -> &'a Value {
    rows["rows"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no row {id}: {rows}"))
}

fn ids(rows: &Value) -> Vec<String> {
    rows["rows"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

async fn figures_count_what_happened_within_the_scope(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let admin = app.organizer("city-admin", "admin", None, None).await;
    let hetang = app.organizer("hetang-office", "viewer", Some("demo"), Some("hetang")).await;
    let liling = app.organizer("liling-office", "viewer", Some("demo"), Some("liling")).await;
    let (a, _, _) = story(&app).await;
    let base = "/api/v1/console/campaigns/demo";

    // The overview of the whole campaign.
    let o = app.get(&format!("{base}/overview"), Some(&admin)).await.json();
    assert_eq!(o["region_id"], Value::Null);
    for (k, v) in [
        ("participants", 3),
        ("relayed_joins", 1),
        ("attempts", 3),
        ("finishes", 3),
        ("answers", 30),
        ("shares", 2),
        ("sharers", 1),
        // 90 s after noon: the current minute's join and half of the minute before's two.
        ("joins_last_minute", 2),
        ("active_last_5m", 3),
    ] {
        assert_eq!(o[k], v, "{k}: {o}");
    }
    assert_eq!(o["correct_rate"], (14.0 / 30.0 * 1e6_f64).round() / 1e6, "{o}");
    assert_eq!(o["avg_seconds"], 3.0);
    // The city has no target of its own: its counties' add up.
    let target = 350_000 + 380_000 + 300_000 + 420_000 + 260_000 + 930_000 + 630_000 + 480_000 + 160_000;
    assert_eq!(o["target"], target);

    // A district office sees its district only, whatever it asks for.
    let o = app.get(&format!("{base}/overview"), Some(&hetang)).await.json();
    assert_eq!(
        (o["region_id"].as_str(), o["participants"].as_u64(), o["answers"].as_u64()),
        (Some("hetang"), Some(2), Some(20))
    );
    assert_eq!(
        (o["target"].as_u64(), o["relayed_joins"].as_u64(), o["shares"].as_u64()),
        (Some(350_000), Some(1), Some(2))
    );
    let o = app.get(&format!("{base}/overview"), Some(&liling)).await.json();
    assert_eq!((o["participants"].as_u64(), o["correct_rate"].as_f64()), (Some(1), Some(0.0)));
    let o = app.get(&format!("{base}/overview?region_id=hetang-yuetang"), Some(&hetang)).await.json();
    assert_eq!(o["participants"], 2);
    app.get(&format!("{base}/overview?region_id=liling"), Some(&hetang)).await.problem(403, "forbidden");
    app.get(&format!("{base}/overview?region_id=zhuzhou"), Some(&hetang)).await.problem(403, "forbidden");
    app.get(&format!("{base}/overview?region_id=atlantis"), Some(&admin)).await.problem(400, "invalid_region");
    app.get(&format!("{base}/overview?regionid=hetang"), Some(&admin)).await.problem(400, "invalid_query");
    app.get("/api/v1/console/campaigns/nowhere/overview", Some(&admin)).await.problem(404, "campaign_not_found");
    app.get("/api/v1/console/campaigns/nowhere/overview", Some(&hetang)).await.problem(403, "forbidden");

    // Breakdown by region: the tree in order, rolled up, against targets.
    let b = app.get(&format!("{base}/breakdown?by=region"), Some(&admin)).await.json();
    let all = ids(&b);
    assert_eq!(all.first().map(String::as_str), Some("zhuzhou"));
    assert_eq!(all.len(), 1 + 9 + 45, "every place: {all:?}");
    let city = row(&b, "zhuzhou");
    assert_eq!((city["participants"].as_u64(), city["relayed_joins"].as_u64()), (Some(3), Some(1)));
    assert_eq!(city["avg_best_score"], 46.7);
    let yuetang = row(&b, "hetang-yuetang");
    assert_eq!(yuetang["parent_id"], "hetang");
    assert_eq!(yuetang["level"], "township");
    assert_eq!((yuetang["participants"].as_u64(), yuetang["target"].as_u64()), (Some(2), Some(70_000)));
    assert_eq!(yuetang["rate"], 0.000029);
    assert_eq!(yuetang["avg_best_score"], 70.0);
    assert_eq!((yuetang["answers"].as_u64(), yuetang["shares"].as_u64()), (Some(20), Some(2)));
    assert_eq!(yuetang["correct_rate"], 0.7);
    assert_eq!(row(&b, "lusong")["participants"], 0);
    assert_eq!(row(&b, "lusong")["avg_best_score"], Value::Null);
    // The district office: its district and what lies under it.
    let b = app.get(&format!("{base}/breakdown?by=region"), Some(&hetang)).await.json();
    assert_eq!(
        ids(&b),
        ["hetang", "hetang-yuetang", "hetang-cigutang", "hetang-songjiaqiao", "hetang-guihua", "hetang-jinshan"]
    );
    assert_eq!(row(&b, "hetang")["parent_id"], "zhuzhou");
    let b = app.get(&format!("{base}/breakdown?by=region&region_id=liling"), Some(&admin)).await.json();
    assert_eq!(row(&b, "liling")["participants"], 1);
    assert!(ids(&b).iter().all(|id| id.starts_with("liling")), "{b}");
    app.get(&format!("{base}/breakdown?by=region&region_id=liling"), Some(&hetang)).await.problem(403, "forbidden");
    app.get(&format!("{base}/breakdown?by=place"), Some(&admin)).await.problem(400, "invalid_query");
    app.get(&format!("{base}/breakdown"), Some(&admin)).await.problem(400, "invalid_query");
    // By unit: only units within the scope.
    let u = app.get(&format!("{base}/breakdown?by=unit"), Some(&hetang)).await.json();
    assert!(!ids(&u).is_empty());
    assert!(
        u["rows"].as_array().unwrap().iter().all(|r| r["parent_id"].as_str().unwrap().starts_with("hetang-")),
        "{u}"
    );
    let unit = row(&u, "u-hetang-yuanjiawan-community");
    assert_eq!((unit["participants"].as_u64(), unit["target"].as_u64()), (Some(1), Some(2500)));
    assert_eq!(unit["avg_best_score"], 100.0);
    let u = app.get(&format!("{base}/breakdown?by=unit"), Some(&admin)).await.json();
    assert_eq!(ids(&u).len(), 26);

    // Questions, weakest first: the rates never go down, the unanswered come last.
    let q = app.get(&format!("{base}/questions"), Some(&admin)).await.json();
    let list = q["questions"].as_array().unwrap();
    assert_eq!(list.len(), 248);
    assert_eq!(list.iter().map(|x| x["answers"].as_u64().unwrap()).sum::<u64>(), 30);
    assert_eq!(list.iter().map(|x| x["correct"].as_u64().unwrap()).sum::<u64>(), 14);
    let answered: Vec<f64> = list.iter().filter_map(|x| x["correct_rate"].as_f64()).collect();
    assert!(answered.windows(2).all(|w| w[0] <= w[1]), "{answered:?}");
    let first_unanswered = list.iter().position(|x| x["answers"] == 0).unwrap();
    assert!(list[first_unanswered..].iter().all(|x| x["answers"] == 0));
    assert_eq!(answered.len(), first_unanswered);
    assert!(list[0]["stem"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(list[0]["avg_seconds"], 3.0);
    let cats = q["categories"].as_array().unwrap();
    assert_eq!(cats.len(), 6);
    assert_eq!(cats.iter().map(|c| c["answers"].as_u64().unwrap()).sum::<u64>(), 30);
    // 丙 answered ten questions wrong in 醴陵: that is all 醴陵 sees.
    let q = app.get(&format!("{base}/questions"), Some(&liling)).await.json();
    let list = q["questions"].as_array().unwrap();
    assert_eq!(list.iter().map(|x| x["answers"].as_u64().unwrap()).sum::<u64>(), 10);
    assert_eq!(list[0]["correct_rate"], 0.0);

    // Relay analytics: 甲 brought 乙; the public board is off, organizers see individuals.
    let r = app.get(&format!("{base}/relay"), Some(&admin)).await.json();
    assert_eq!(r["depth_histogram"], json!([{"depth": 0, "participants": 2}, {"depth": 1, "participants": 1}]));
    assert_eq!(
        (r["max_depth"].as_u64(), r["sharers"].as_u64(), r["relayed_joins"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(r["viral_coefficient"], 1.0);
    let top = r["top_relayers"].as_array().unwrap();
    assert_eq!(top.len(), 1);
    assert_eq!((top[0]["participant_id"].as_str(), top[0]["nickname"].as_str()), (Some(a.id.as_str()), Some("甲")));
    assert_eq!(
        (top[0]["rank"].as_u64(), top[0]["direct"].as_u64(), top[0]["region_id"].as_str()),
        (Some(1), Some(1), Some("hetang-yuetang"))
    );
    let r = app.get(&format!("{base}/relay"), Some(&liling)).await.json();
    assert_eq!(r["top_relayers"], json!([]));
    assert_eq!(r["depth_histogram"], json!([{"depth": 0, "participants": 1}]));
    assert_eq!(r["viral_coefficient"], Value::Null);
    app.get(&format!("{base}/relay?limit=0"), Some(&admin)).await.problem(400, "invalid_query");
    app.get("/api/v1/campaigns/demo/leaderboards/relay", None).await.problem(404, "board_disabled");

    // Time series: joins per minute (two in noon's minute, one in the next), and per day.
    let t = app.get(&format!("{base}/timeseries?metric=joins"), Some(&admin)).await.json();
    let points = t["points"].as_array().unwrap();
    assert_eq!(t["step"], 60);
    assert_eq!(t["total"], 3);
    assert_eq!(t["from"], "2026-06-01T00:00:00.000Z");
    let n = points.len();
    assert_eq!(n, 9 * 1440 + 4 * 60 + 2, "from the start to the minute in progress");
    assert_eq!(points[n - 2], json!({"at": "2026-06-10T04:00:00.000Z", "value": 2}));
    assert_eq!(points[n - 1], json!({"at": "2026-06-10T04:01:00.000Z", "value": 1}));
    let t = app.get(&format!("{base}/timeseries?metric=answers&step=86400"), Some(&admin)).await.json();
    assert_eq!(t["points"].as_array().unwrap().len(), 10);
    assert_eq!(t["points"][9], json!({"at": "2026-06-10T00:00:00.000Z", "value": 30}));
    let t = app.get(&format!("{base}/timeseries?metric=shares&step=3600"), Some(&hetang)).await.json();
    assert_eq!((t["total"].as_u64(), t["region_id"].as_str()), (Some(2), Some("hetang")));
    let t = app.get(&format!("{base}/timeseries?metric=joins&step=3600"), Some(&liling)).await.json();
    assert_eq!(t["total"], 1);
    for bad in ["metric=joins&step=61", "metric=joins&step=0", "metric=joins&step=172800", "metric=logins", "step=60"] {
        app.get(&format!("{base}/timeseries?{bad}"), Some(&admin)).await.problem(400, "invalid_query");
    }
}

async fn the_live_feed_samples_resumes_and_expires(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let admin = app.organizer("city-admin", "admin", None, None).await;
    let liling = app.organizer("liling-office", "viewer", Some("demo"), Some("liling")).await;
    let path = "/api/v1/console/campaigns/demo/live";

    // A new connection: the overview at once, carrying the watermark as its id.
    let mut feed = app.sse(path, &admin, None).await;
    assert_eq!(feed.status, 200);
    assert_eq!(
        feed.headers.iter().find(|(k, _)| k == "content-type").map(|(_, v)| v.as_str()),
        Some("text/event-stream")
    );
    let first = feed.tick().await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].json()["participants"], 0);
    let w1 = first[0].id.clone().expect("the overview carries the watermark");
    assert_eq!(w1, (NOON - 2000).to_string());
    // A second dashboard of the same scope, a moment later, is sent the same reading: the scope's
    // figures are read once however many watch them.
    let made = app.services.console.live_readings.made();
    let mut other = app.sse(path, &admin, None).await;
    let shared = other.tick().await;
    assert_eq!((shared.len(), shared[0].id.as_deref()), (1, Some(w1.as_str())), "{shared:?}");
    assert_eq!(shared[0].json(), first[0].json());
    assert_eq!(app.services.console.live_readings.made(), made, "no second reading");
    drop(other);

    // 丁 joins; once it is stored and the settling time has passed, a tick samples it and
    // counts it (ticks before that have nothing to sample).
    app.join_at("device-live-d", "丁", "hetang-yuetang", None).await;
    app.settle().await;
    app.clock.advance(2500);
    let mut tick = feed.tick().await;
    for _ in 0..5 {
        if tick.len() > 1 {
            break;
        }
        tick = feed.tick().await;
    }
    let kinds: Vec<&str> = tick.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(kinds, ["join", "overview"], "{tick:?}");
    assert_eq!((tick[0].json()["nickname"].as_str(), tick[0].json()["relayed"].as_bool()), (Some("丁"), Some(false)));
    assert_eq!(tick[1].json()["participants"], 1);
    let w2 = tick[1].id.clone().unwrap();
    assert_eq!(w2, (NOON + 500).to_string());
    // The overview events carry the overview endpoint's JSON.
    let mut live = tick[1].json();
    let mut now = app.get("/api/v1/console/campaigns/demo/overview", Some(&admin)).await.json();
    live["as_of"] = Value::Null;
    now["as_of"] = Value::Null;
    assert_eq!(live, now);
    drop(feed);

    // While nobody listens, 戊 joins in 醴陵 and plays.
    let e = app.join_at("device-live-e", "戊", "liling-lailongmen", None).await;
    app.play(&e, 3, 1000).await;
    app.settle().await;
    app.clock.advance(2500);

    // Resuming after the last id: 戊's join and finish, not 丁 again.
    let mut feed = app.sse(path, &admin, Some(&w2)).await;
    let tick = feed.tick().await;
    let got: Vec<(String, String)> =
        tick.iter().map(|e| (e.event.clone(), e.json()["nickname"].as_str().unwrap_or("").to_owned())).collect();
    assert_eq!(got, [("join".into(), "戊".into()), ("finish".into(), "戊".into()), ("overview".into(), String::new())]);
    assert_eq!(tick[1].json()["score"], 30);
    drop(feed);
    // Resuming from the first id: both.
    let mut feed = app.sse(path, &admin, Some(&w1)).await;
    let names: Vec<String> = feed
        .tick()
        .await
        .iter()
        .filter(|e| e.event == "join")
        .map(|e| e.json()["nickname"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["丁", "戊"]);
    drop(feed);
    // A region-limited viewer's feed samples its region only, and its overview is its region's.
    let mut feed = app.sse(path, &liling, Some(&w1)).await;
    let tick = feed.tick().await;
    let names: Vec<String> =
        tick.iter().filter(|e| e.event == "join").map(|e| e.json()["nickname"].as_str().unwrap().to_owned()).collect();
    assert_eq!(names, ["戊"]);
    assert_eq!(
        (tick.last().unwrap().json()["participants"].as_u64(), tick.last().unwrap().json()["region_id"].as_str()),
        (Some(1), Some("liling"))
    );

    // The stream ends when the organizer token expires.
    app.clock.advance(3 * 3600 * 1000);
    let mut ended = Vec::new();
    while let Some(e) = feed.next().await {
        ended.push(e.event);
    }
    assert_eq!(ended.last().map(String::as_str), Some("expired"), "{ended:?}");
    assert!(feed.ended);

    // Bad resumption ids, other scopes, no token.
    let r = app
        .raw("GET", path, &[("Authorization", &format!("Bearer {admin}")), ("Last-Event-ID", "yesterday")], b"")
        .await;
    r.problem(401, "unauthorized");
    let admin = app.organizer("city-admin-2", "admin", None, None).await;
    let r = app
        .raw("GET", path, &[("Authorization", &format!("Bearer {admin}")), ("Last-Event-ID", "yesterday")], b"")
        .await;
    r.problem(400, "invalid_last_event_id");
    app.get(&format!("{path}?region_id=hetang"), Some(&liling)).await.problem(401, "unauthorized");
    app.get(path, None).await.problem(401, "unauthorized");
}
