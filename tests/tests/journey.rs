//! The citizen's journey end to end, over HTTP, on the embedded store with SQLite and on Redis
//! with PostgreSQL: join, a timed attempt that survives a reload, learning after each answer,
//! finishing, honest ranks and leaderboards.

use baton_e2e::*;
use serde_json::{Value, json};
use std::collections::HashSet;

async fn a_whole_journey(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let info = app.get("/api/v1/campaigns/demo", None).await.json();
    assert_eq!(info["status"], "live");
    assert_eq!(info["rules"]["questions_per_attempt"], 10);
    assert_eq!(info["rules"]["time_zone"], "Asia/Shanghai");
    assert_eq!(info["regions"][0]["name"], "株洲市");
    assert_eq!(info["regions"][0]["children"].as_array().unwrap().len(), 9);
    assert_eq!(info["stats"]["participants"], 0);

    // Join; joining again from the same device is the same participant with a fresh token.
    let body = json!({"device_id": "3f2b6c1e-0000-4c2e-9b7a-000000000001", "region_id": "hetang-yuetang", "nickname": " 小明 "});
    let first = app.post("/api/v1/campaigns/demo/participants", &body, None).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let joined = first.json();
    assert_eq!(joined["inviter"], Value::Null);
    let again = app.post("/api/v1/campaigns/demo/participants", &json!({"device_id": "3f2b6c1e-0000-4c2e-9b7a-000000000001", "region_id": "lusong-jianning", "nickname": "别人"}), None).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["participant_id"], joined["participant_id"]);
    let me = Joined {
        id: joined["participant_id"].as_str().unwrap().into(),
        token: again.json()["token"].as_str().unwrap().into(),
    };
    let profile = app.get("/api/v1/me", Some(&me.token)).await.json();
    assert_eq!((profile["nickname"].as_str(), profile["region_id"].as_str()), (Some("小明"), Some("hetang-yuetang")));
    assert_eq!(profile["attempts_left_today"], 3);
    assert_eq!(profile["best_score"], Value::Null);
    // The first token stays valid too.
    assert_eq!(app.get("/api/v1/me", Some(joined["token"].as_str().unwrap())).await.status, 200);
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["stats"]["participants"], 1);

    // Start; a reload (start again, or fetch the attempt) resumes the same attempt.
    let started =
        app.raw("POST", "/api/v1/attempts", &[("Authorization", &format!("Bearer {}", me.token))], b"{}").await;
    assert_eq!(started.status, 201, "{}", started.text());
    let attempt = started.json();
    let aid = attempt["attempt_id"].as_str().unwrap().to_owned();
    let questions = attempt["questions"].as_array().unwrap().clone();
    assert_eq!(questions.len(), 10);
    assert_eq!(attempt["status"], "open");
    assert_eq!(attempt["seconds_per_question"], 20);
    let ids: HashSet<&str> = questions.iter().map(|q| q["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 10, "no question twice");
    // The draw honours the category quotas.
    for (prefix, quota) in
        [("law-", 2), ("drugs-", 2), ("refuse-", 2), ("treatment-", 1), ("history-", 1), ("youth-", 1)]
    {
        assert!(ids.iter().filter(|i| i.starts_with(prefix)).count() >= quota, "{prefix} in {ids:?}");
    }
    app.clock.advance(3_000);
    let q0 = &questions[0];
    let right = app.right_choice(q0);
    let r = app.answer(&me, &aid, q0["id"].as_str().unwrap(), &right).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let a0 = r.json();
    assert_eq!(
        (a0["correct"].as_bool(), a0["points"].as_u64(), a0["attempt_score"].as_u64()),
        (Some(true), Some(10), Some(10))
    );
    assert_eq!(a0["correct_choice"], json!(right));
    assert!(a0["explanation"].as_str().unwrap().chars().count() > 10);
    assert!(!a0["source"].as_str().unwrap().is_empty());
    assert_eq!(a0["timed_out"], false);
    // The same answer again: the first response, byte for byte, even later.
    app.clock.advance(5_000);
    let resent = app.answer(&me, &aid, q0["id"].as_str().unwrap(), &right).await;
    assert_eq!((resent.status, resent.body.clone()), (200, r.body.clone()));
    // A different answer to it: 409.
    let other = app.wrong_choice(q0);
    app.answer(&me, &aid, q0["id"].as_str().unwrap(), &other).await.problem(409, "already_answered");

    let resumed = app.start(&me).await;
    assert_eq!(resumed["attempt_id"], aid.as_str());
    assert_eq!(resumed["questions"], {
        let mut qs = questions.clone();
        qs[0]["answer"] = a0.clone();
        Value::Array(qs)
    });
    let fetched = app.get(&format!("/api/v1/attempts/{aid}"), Some(&me.token)).await.json();
    assert_eq!(fetched, resumed);
    assert_eq!(app.get("/api/v1/me", Some(&me.token)).await.json()["open_attempt_id"], aid.as_str());

    // The rest: four right, five wrong.
    for (i, q) in questions.iter().enumerate().skip(1) {
        app.clock.advance(2_000);
        let choice = if i < 5 { app.right_choice(q) } else { app.wrong_choice(q) };
        let a = app.answer(&me, &aid, q["id"].as_str().unwrap(), &choice).await.json();
        assert_eq!(a["correct"], i < 5, "{q}");
        assert_eq!(a["correct_choice"], json!(app.right_choice(q)));
    }
    let done = app.finish(&me, &aid).await;
    assert_eq!(
        (done["score"].as_u64(), done["correct_count"].as_u64(), done["best_score"].as_u64()),
        (Some(50), Some(5), Some(50))
    );
    // 3 s for the first answer (resends do not move the clock of the next), 2 s for each of
    // the other nine... measured from the previous answer.
    assert_eq!(done["total_seconds"], 3.0 + 5.0 + 2.0 + 8.0 * 2.0);
    assert_eq!(done["rank"], json!({"global": 1, "region": 1, "unit": null}));
    assert_eq!(done["percentile"], 0.0);
    // Finishing again changes nothing.
    assert_eq!(app.finish(&me, &aid).await, done);
    let after = app.get(&format!("/api/v1/attempts/{aid}"), Some(&me.token)).await.json();
    assert_eq!(after["status"], "finished");
    assert_eq!(after["result"]["score"], 50);
    let board = app.get("/api/v1/campaigns/demo/leaderboards/score", None).await.json();
    assert_eq!(board["total"], 1);
    assert_eq!(board["entries"][0], json!({"rank": 1, "id": me.id, "name": "小明", "value": 50, "seconds": 26.0}));
    let profile = app.get("/api/v1/me", Some(&me.token)).await.json();
    assert_eq!((profile["best_score"].as_u64(), profile["attempts_left_today"].as_u64()), (Some(50), Some(2)));
    assert_eq!(profile["open_attempt_id"], Value::Null);
}

/// Correct answers and explanations never reach a client before it answered that question —
/// for every kind of question, in the start answer, the resumed attempt and the fetched one.
async fn answers_stay_hidden_until_answered(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let campaign = app.services.campaigns.get(&baton_core::ids::CampaignId::parse("demo").unwrap()).unwrap();
    let mut kinds_seen = HashSet::new();
    for n in 0..30 {
        if kinds_seen.len() == 3 {
            break;
        }
        let who = app.join(&format!("device-hidden-{n:04}"), &format!("读者{n}")).await;
        let attempt = app.start(&who).await;
        let aid = attempt["attempt_id"].as_str().unwrap().to_owned();
        let views = [
            app.raw("POST", "/api/v1/attempts", &[("Authorization", &format!("Bearer {}", who.token))], b"")
                .await
                .text(),
            app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await.text(),
            attempt.to_string(),
        ];
        let questions = attempt["questions"].as_array().unwrap();
        for q in questions {
            let bank =
                campaign.question(&baton_core::ids::QuestionId::parse(q["id"].as_str().unwrap()).unwrap()).unwrap();
            kinds_seen.insert(q["kind"].as_str().unwrap().to_owned());
            for v in &views {
                assert!(!v.contains(&bank.explanation), "explanation of {} leaked: {v}", bank.id);
                // No field that belongs to a judged answer (a source's text may well appear in
                // another question's stem, so the fields are what is checked).
                for field in ["\"correct", "\"explanation\"", "\"source\"", "\"points\""] {
                    assert!(!v.contains(field), "{field} leaked before answering: {v}");
                }
            }
            assert_eq!(q["answer"], Value::Null);
        }
        // Answer the first question: now (and only for it) the answer shows.
        let q0 = &questions[0];
        app.answer(&who, &aid, q0["id"].as_str().unwrap(), &app.right_choice(q0)).await;
        let after = app.get(&format!("/api/v1/attempts/{aid}"), Some(&who.token)).await.json();
        assert_eq!(after["questions"][0]["answer"]["correct"], true);
        for (i, q) in after["questions"].as_array().unwrap().iter().enumerate().skip(1) {
            assert_eq!(q["answer"], Value::Null, "question {i}");
            let bank =
                campaign.question(&baton_core::ids::QuestionId::parse(q["id"].as_str().unwrap()).unwrap()).unwrap();
            assert!(!after.to_string().contains(&bank.explanation));
        }
    }
    assert_eq!(kinds_seen, HashSet::from(["single".to_owned(), "multi".to_owned(), "judge".to_owned()]));
}

/// Time is server time: late answers count as wrong, the daily limit turns at midnight in
/// Shanghai, and attempts start only while the campaign runs.
async fn time_rules(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let me = app.join("device-time-0001", "守时").await;
    let a = app.start(&me).await;
    let aid = a["attempt_id"].as_str().unwrap().to_owned();
    let q = &a["questions"][0];
    assert_eq!(a["question_deadline"], "2026-06-10T04:00:20.000Z");
    app.clock.advance(20_000 + 2_000 + 1);
    let late = app.answer(&me, &aid, q["id"].as_str().unwrap(), &app.right_choice(q)).await.json();
    assert_eq!(
        (late["correct"].as_bool(), late["points"].as_u64(), late["timed_out"].as_bool()),
        (Some(false), Some(0), Some(true))
    );
    assert_eq!(late["correct_choice"], json!(app.right_choice(q)), "a late answer still teaches");
    // Walk away: the attempt expires; starting again closes it (unanswered count as wrong)
    // and starts a new one.
    app.clock.advance(10 * 22_000);
    let expired = app.get(&format!("/api/v1/attempts/{aid}"), Some(&me.token)).await.json();
    assert_eq!(expired["status"], "expired");
    let next = app.start(&me).await;
    assert_ne!(next["attempt_id"], aid.as_str());
    let closed = app.get(&format!("/api/v1/attempts/{aid}"), Some(&me.token)).await.json();
    assert_eq!((closed["status"].as_str(), closed["result"]["score"].as_u64()), (Some("finished"), Some(0)));
    app.finish(&me, next["attempt_id"].as_str().unwrap()).await;
    // Third and last attempt of the day.
    app.play(&me, 1, 1_000).await;
    app.raw("POST", "/api/v1/attempts", &[("Authorization", &format!("Bearer {}", me.token))], b"")
        .await
        .problem(409, "attempts_exhausted");
    assert_eq!(app.get("/api/v1/me", Some(&me.token)).await.json()["attempts_left_today"], 0);
    // 23:59 in Shanghai is still the same day; 00:00 is the next.
    app.clock.set(NOON + 12 * 3_600_000 - 60_000);
    app.raw("POST", "/api/v1/attempts", &[("Authorization", &format!("Bearer {}", me.token))], b"")
        .await
        .problem(409, "attempts_exhausted");
    app.clock.set(NOON + 12 * 3_600_000);
    assert_eq!(app.get("/api/v1/me", Some(&me.token)).await.json()["attempts_left_today"], 3);
    app.start(&me).await;
    // Before the campaign starts, no attempts.
    app.clock.set(1_780_000_000_000 - 30 * 86_400_000);
    let early = app.join("device-time-0002", "早到").await;
    assert_eq!(app.get("/api/v1/campaigns/demo", None).await.json()["status"], "upcoming");
    app.raw("POST", "/api/v1/attempts", &[("Authorization", &format!("Bearer {}", early.token))], b"")
        .await
        .problem(409, "campaign_not_live");
}

/// The best attempt counts; ties break on total answering time, then on who got there first;
/// ranks come per county and unit, with a percentile.
async fn ranks_are_honest(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    // Four in 荷塘区 (two in one unit), one in 醴陵市.
    let unit = "u-hetang-yuanjiawan-community";
    let unit_place = app.services.campaigns.get(&baton_core::ids::CampaignId::parse("demo").unwrap()).unwrap();
    let unit_region = unit_place.unit(&baton_core::ids::UnitId::parse(unit).unwrap()).map(|u| u.region_id.to_string());
    let unit_region = unit_region.expect("the demo has this unit");
    let a = app.join_at("device-rank-000a", "甲", &unit_region, Some(unit)).await;
    let b = app.join_at("device-rank-000b", "乙", &unit_region, Some(unit)).await;
    let c = app.join("device-rank-000c", "丙").await;
    let d = app.join("device-rank-000d", "丁").await;
    let e = app.join_at("device-rank-000e", "戊", "liling-lailongmen", None).await;

    let fa = app.play(&a, 8, 1_000).await; // 80 points, 10 s
    let fb = app.play(&b, 8, 1_500).await; // 80 points, 15 s: behind a on time
    let fc = app.play(&c, 9, 3_000).await; // 90 points
    let fd = app.play(&d, 8, 1_000).await; // like a, but later: behind a
    let fe = app.play(&e, 3, 1_000).await;
    assert_eq!((fa["score"].as_u64(), fc["score"].as_u64()), (Some(80), Some(90)));
    assert_eq!(fc["rank"]["global"], 1);
    assert_eq!(fe["rank"], json!({"global": 5, "region": 1, "unit": null}));
    // A slower equal score ranks below; an equal score and time reached later ranks below.
    let board = app.get("/api/v1/campaigns/demo/leaderboards/score", None).await.json();
    let order: Vec<&str> = board["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(order, ["丙", "甲", "丁", "乙", "戊"]);
    assert_eq!(board["total"], 5);
    assert_eq!(board["entries"][1]["seconds"], 10.0);
    // Ranks at the time of each finish.
    assert_eq!(fa["rank"], json!({"global": 1, "region": 1, "unit": 1}));
    assert_eq!(fb["rank"], json!({"global": 2, "region": 2, "unit": 2}));
    assert_eq!(fd["rank"]["global"], 3);
    assert_eq!(fd["percentile"], 25.0);
    // A worse second attempt does not lower a's best.
    let worse = app.play(&a, 2, 1_000).await;
    assert_eq!((worse["score"].as_u64(), worse["best_score"].as_u64()), (Some(20), Some(80)));
    assert_eq!(worse["rank"]["global"], 2);
    // County and unit boards.
    let hetang = app.get("/api/v1/campaigns/demo/leaderboards/score-region-hetang", None).await.json();
    assert_eq!(hetang["total"], 4);
    let township = app.get("/api/v1/campaigns/demo/leaderboards/score-region-hetang-yuetang", None).await.json();
    assert!(township["total"].as_u64().unwrap() >= 2);
    let unit_board = app.get(&format!("/api/v1/campaigns/demo/leaderboards/score-unit-{unit}"), None).await.json();
    let names: Vec<&str> =
        unit_board["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["甲", "乙"]);
    // Around me, with pages.
    let around = app.get("/api/v1/campaigns/demo/leaderboards/score?around=me&limit=3", Some(&d.token)).await.json();
    assert_eq!(around["me"]["rank"], 3);
    let ranks: Vec<u64> = around["entries"].as_array().unwrap().iter().map(|e| e["rank"].as_u64().unwrap()).collect();
    assert_eq!(ranks, [2, 3, 4]);
    let page = app.get("/api/v1/campaigns/demo/leaderboards/score?offset=3&limit=5", None).await.json();
    assert_eq!(page["entries"].as_array().unwrap().len(), 2);
    assert_eq!(page["entries"][0]["rank"], 4);
    // Collective boards: counties by participants, with targets, rates and average bests.
    let regions = app.get("/api/v1/campaigns/demo/leaderboards/regions?limit=2", None).await.json();
    assert_eq!(regions["total"], 9);
    assert_eq!(regions["entries"][0]["id"], "hetang");
    assert_eq!(regions["entries"][0]["value"], 4);
    assert_eq!(regions["entries"][0]["avg_best_score"], (80.0 + 80.0 + 90.0 + 80.0) / 4.0);
    assert_eq!(regions["entries"][1]["id"], "liling");
    let target = regions["entries"][0]["target"].as_f64().unwrap();
    assert_eq!(regions["entries"][0]["rate"], ((4.0 / target) * 1e6_f64).round() / 1e6);
    let units = app.get("/api/v1/campaigns/demo/leaderboards/units?around=me", Some(&b.token)).await.json();
    assert_eq!(units["me"]["id"], unit);
    assert_eq!(units["me"]["value"], 2);
    let info = app.get("/api/v1/campaigns/demo", None).await.json();
    assert_eq!(info["stats"]["participants"], 5);
}

/// Many participants answering at once: each attempt is judged per the rules, nothing is
/// scored twice, and the board counts everyone once.
async fn concurrent_participants(hot: Hot, sql: Sql) {
    let app = std::sync::Arc::new(TestApp::spawn(hot, sql).await);
    let mut tasks = Vec::new();
    for n in 0..16 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let who = app.join(&format!("device-crowd-{n:04}"), &format!("众{n}")).await;
            let a = app.start(&who).await;
            let aid = a["attempt_id"].as_str().unwrap().to_owned();
            let mut expect = 0;
            for (i, q) in a["questions"].as_array().unwrap().iter().enumerate() {
                let right = i % 2 == 0;
                let choice = if right { app.right_choice(q) } else { app.wrong_choice(q) };
                // Each answer sent twice at once: judged once.
                let (x, y) = tokio::join!(
                    app.answer(&who, &aid, q["id"].as_str().unwrap(), &choice),
                    app.answer(&who, &aid, q["id"].as_str().unwrap(), &choice)
                );
                assert_eq!((x.status, y.status), (200, 200));
                assert_eq!(x.body, y.body);
                expect += if right { 10 } else { 0 };
            }
            let f = app.finish(&who, &aid).await;
            assert_eq!(f["score"], expect);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let board = app.get("/api/v1/campaigns/demo/leaderboards/score?limit=100", None).await.json();
    assert_eq!(board["total"], 16);
    assert!(board["entries"].as_array().unwrap().iter().all(|e| e["value"] == 50));
}

/// The English interface gets the bank's translations (marked `lang: "en"`); the attempt and
/// the judgement are the same in both languages.
async fn english_is_served_where_translated(hot: Hot, sql: Sql) {
    let app = TestApp::spawn(hot, sql).await;
    let campaign = app.services.campaigns.get(&baton_core::ids::CampaignId::parse("demo").unwrap()).unwrap();
    let who = app.join("device-english-01", "Ann").await;
    let auth = format!("Bearer {}", who.token);
    let en = app.raw("POST", "/api/v1/attempts?lang=en", &[("Authorization", &auth)], b"").await.json();
    let aid = en["attempt_id"].as_str().unwrap().to_owned();
    let zh = app.get(&format!("/api/v1/attempts/{aid}?lang=zh"), Some(&who.token)).await.json();
    for (e, z) in en["questions"].as_array().unwrap().iter().zip(zh["questions"].as_array().unwrap()) {
        assert_eq!(e["id"], z["id"]);
        assert_eq!(z["lang"], "zh");
        let bank = campaign.question(&baton_core::ids::QuestionId::parse(e["id"].as_str().unwrap()).unwrap()).unwrap();
        assert_eq!(z["stem"], bank.stem.as_str());
        match &bank.en {
            Some(t) => {
                assert_eq!((e["lang"].as_str(), e["stem"].as_str()), (Some("en"), Some(t.stem.as_str())));
                // The same options in the same shuffled order, translated.
                for (eo, zo) in e["options"].as_array().unwrap().iter().zip(z["options"].as_array().unwrap()) {
                    let i = bank.options.iter().position(|o| o == zo.as_str().unwrap()).unwrap();
                    assert_eq!(eo.as_str().unwrap(), t.options[i]);
                }
            }
            None => assert_eq!(e, z),
        }
    }
    let q = &zh["questions"][0];
    let r = app
        .post(
            &format!("/api/v1/attempts/{aid}/answers?lang=en"),
            &json!({"question_id": q["id"], "choice": app.right_choice(q)}),
            Some(&who.token),
        )
        .await
        .json();
    let bank = campaign.question(&baton_core::ids::QuestionId::parse(q["id"].as_str().unwrap()).unwrap()).unwrap();
    let want = bank.en.as_ref().map_or(bank.explanation.as_str(), |t| t.explanation.as_str());
    assert_eq!((r["correct"].as_bool(), r["explanation"].as_str()), (Some(true), Some(want)));
    app.get(&format!("/api/v1/attempts/{aid}?lang=fr"), Some(&who.token)).await.problem(400, "invalid_query");
}

on_both_stacks!(
    english_is_served_where_translated,
    a_whole_journey,
    answers_stay_hidden_until_answered,
    time_rules,
    ranks_are_honest,
    concurrent_participants
);

/// The production shape at scale: Redis Cluster (three masters, three replicas) and PostgreSQL.
mod redis_cluster_postgres {
    use baton_e2e::{Hot, Sql};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_whole_journey() {
        super::a_whole_journey(Hot::RedisCluster, Sql::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ranks_are_honest() {
        super::ranks_are_honest(Hot::RedisCluster, Sql::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_participants() {
        super::concurrent_participants(Hot::RedisCluster, Sql::Postgres).await
    }
}
