//! The anti-cheat suite: the archiver's signals flag exactly the suspicious participants, with
//! their evidence, whatever the order and batching of events and however often they are
//! applied; a newcomer to a flagged group costs the same however big the group; flagged
//! participants page and scope for the console; hiding is recorded. Every case runs on both
//! engines.

#[macro_use]
mod common;

use baton_core::Millis;
use baton_core::anticheat::Reason;
use baton_core::campaign::{CampaignDoc, QuestionKind};
use baton_core::draw::DrawnQuestion;
use baton_core::events::{Event, EventBody, LeaderResultWire};
use baton_core::ids::{AttemptId, CampaignId, ParticipantId, PlaceId, QuestionId};
use baton_core::scoring::{Judged, Totals};
use baton_db::{Db, Engine, Flagged};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::Connection;

on_both_engines!(
    signals_flag_exactly_the_suspicious,
    flags_do_not_depend_on_order_or_batching,
    flagged_participants_page_and_scope_and_hiding_is_recorded,
    a_newcomer_to_a_flagged_group_writes_its_own_flags_only,
);

/// 2026-06-01T00:00:00Z.
const T0: Millis = 1_780_272_000_000;
const LIMIT: Millis = 20_000;

/// A city with two counties and a bank of five single-choice questions and a true/false one.
fn doc(id: &str) -> CampaignDoc {
    let single = |n: u32| {
        json!({"id": format!("law-{n}"), "kind": "single", "category": "law", "difficulty": 1,
               "stem": format!("问题{n}？"), "options": ["甲", "乙", "丙"], "answer": [0],
               "explanation": "解释。", "source": "刑法"})
    };
    let mut questions: Vec<serde_json::Value> = (1..=5).map(single).collect();
    questions.push(json!({"id": "judge-1", "kind": "judge", "category": "law", "difficulty": 1,
        "stem": "吸毒违法。", "options": ["正确", "错误"], "answer": [0], "explanation": "是。", "source": "法"}));
    serde_json::from_value(json!({
        "format": 1, "id": id, "title": "接力", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 5, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {}},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "north", "name": "北区", "level": "county"},
            {"id": "south", "name": "南县", "level": "county"}]}],
        "units": [],
        "questions": questions
    }))
    .expect("the test campaign parses")
}

fn pid(s: &str) -> ParticipantId {
    ParticipantId::parse(s).unwrap()
}

/// The drawn questions of every attempt: four single-choice questions and the true/false one.
fn drawn(kinds: &[QuestionKind]) -> Vec<DrawnQuestion> {
    kinds
        .iter()
        .enumerate()
        .map(|(i, &kind)| DrawnQuestion {
            id: QuestionId::parse(&match kind {
                QuestionKind::Judge => "judge-1".to_owned(),
                _ => format!("law-{}", i + 1),
            })
            .unwrap(),
            kind,
            perm: if kind == QuestionKind::Judge { vec![0, 1] } else { vec![0, 1, 2] },
            correct_mask: 1,
            points: 10,
        })
        .collect()
}

const KINDS: [QuestionKind; 5] =
    [QuestionKind::Single, QuestionKind::Single, QuestionKind::Single, QuestionKind::Single, QuestionKind::Judge];

struct Story {
    id: CampaignId,
    events: Vec<Event>,
}

impl Story {
    fn push(&mut self, at: Millis, body: EventBody) {
        self.events.push(Event::new(self.id.clone(), at, body));
    }

    fn join(&mut self, p: &str, region: &str, client: Option<&str>) {
        self.push(
            T0,
            EventBody::Joined {
                participant: pid(p),
                region: PlaceId::parse(region).unwrap(),
                unit: None,
                nickname: format!("选手{p}"),
                places: vec![PlaceId::parse(region).unwrap(), PlaceId::parse("city").unwrap()],
                relay_code: None,
                inviter: None,
                depth: 0,
                client: client.map(str::to_owned),
            },
        );
    }

    /// One attempt of `p`: answers taking `times` ms each (`None`: not answered; a time over
    /// the limit times out), finished unless `open`.
    fn attempt(&mut self, p: &str, a: &str, times: &[Option<Millis>], open: bool) {
        let (participant, attempt) = (pid(p), AttemptId::parse(a).unwrap());
        let questions = drawn(&KINDS);
        self.push(
            T0,
            EventBody::AttemptStarted {
                participant: participant.clone(),
                attempt: attempt.clone(),
                expires_at: T0 + 5 * LIMIT,
                limit_ms: LIMIT,
                day: 20_605,
                questions: questions.clone(),
            },
        );
        let (mut cursor, mut score, mut total) = (T0, 0u64, 0u64);
        for (i, t) in times.iter().enumerate() {
            let Some(t) = *t else {
                total += LIMIT as u64;
                continue;
            };
            let timed_out = t > LIMIT;
            let elapsed = t.min(LIMIT) as u64;
            let points = if timed_out { 0 } else { 10 };
            score += u64::from(points);
            total += elapsed;
            cursor += t.min(LIMIT);
            self.push(
                cursor,
                EventBody::Answered {
                    participant: participant.clone(),
                    attempt: attempt.clone(),
                    question: questions[i].id.clone(),
                    index: i as u32,
                    judged: Judged {
                        choice_mask: 1,
                        correct: !timed_out,
                        points,
                        timed_out,
                        elapsed_ms: elapsed,
                        attempt_score: score,
                    },
                    cursor,
                },
            );
        }
        if !open {
            self.push(
                cursor + 1,
                EventBody::AttemptFinished {
                    participant,
                    attempt,
                    totals: Totals { score, correct_count: (score / 10) as u32, total_ms: total },
                    reached_at: cursor + 1,
                    best: LeaderResultWire { score, total_ms: total, reached_ms: cursor + 1 },
                },
            );
        }
    }
}

/// The story: three bots answering everything in 200 ms (fast and identical), a fourth that
/// leaves its attempt open (fast, but no print), a fifth that stops early; honest players, one
/// of them quick on the true/false question only; two people with the same timing (a pair is
/// not a crowd); a phone farm of ten device ids behind one client, and a school of nine.
fn story(id: &str) -> Story {
    let mut s = Story { id: CampaignId::parse(id).unwrap(), events: Vec::new() };
    let bot = [Some(200); 5];
    for b in ["bot1", "bot2", "bot3"] {
        s.join(b, "north", Some("fp-bots"));
        s.attempt(b, "a1", &bot, false);
    }
    s.join("bot4", "north", Some("fp-bots"));
    s.attempt("bot4", "a1", &bot, true);
    s.join("bot5", "south", None);
    s.attempt("bot5", "a1", &[Some(200), Some(250), Some(230), Some(210), None], false);
    s.join("honest", "south", Some("fp-honest"));
    s.attempt("honest", "a1", &[Some(3_200), Some(4_100), Some(2_500), Some(5_300), Some(3_900)], false);
    // Four quick single-choice answers and a true/false one read in 700 ms: not a reader's floor.
    s.join("quick", "south", Some("fp-quick"));
    s.attempt("quick", "a1", &[Some(800), Some(900), Some(700), Some(950), Some(700)], false);
    s.attempt("quick", "a2", &[Some(2_000), Some(21_000), Some(2_000), Some(2_000), Some(2_000)], false);
    for t in ["twin1", "twin2"] {
        s.join(t, "north", None);
        s.attempt(t, "a1", &[Some(3_510), Some(4_120), Some(2_550), Some(5_330), Some(3_990)], false);
    }
    // The same twin played twice with the same timing: still two participants.
    s.attempt("twin1", "a2", &[Some(3_520), Some(4_110), Some(2_540), Some(5_390), Some(3_910)], false);
    for i in 0..10 {
        s.join(&format!("farm{i}"), "south", Some("fp-farm"));
    }
    for i in 0..9 {
        s.join(&format!("pupil{i}"), "north", Some("fp-school"));
    }
    s
}

fn expected() -> Vec<(String, String, i64)> {
    let mut out = Vec::new();
    for b in ["bot1", "bot2", "bot3"] {
        out.push((b.to_owned(), "fast_answers".to_owned(), 5));
        out.push((b.to_owned(), "same_timing".to_owned(), 3));
    }
    out.push(("bot4".to_owned(), "fast_answers".to_owned(), 5));
    for i in 0..10 {
        out.push((format!("farm{i}"), "shared_device".to_owned(), 10));
    }
    out.sort();
    out
}

async fn stored(db: &Db, id: &str) -> Story {
    db.put_campaign(&doc(id)).await.unwrap();
    story(id)
}

async fn signals_flag_exactly_the_suspicious(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    db.apply_events(&s.events).await.unwrap();
    assert_eq!(db.suspicions(&s.id).await.unwrap(), expected());

    // One more bot with the same timing: every member of the group now shows four.
    let mut more = Story { id: s.id.clone(), events: Vec::new() };
    more.join("bot6", "north", Some("fp-bots"));
    more.attempt("bot6", "a1", &[Some(200); 5], false);
    more.join("farm10", "south", Some("fp-farm"));
    // Questions the bank no longer has are held to the true/false floor (500 ms): five answers
    // in 700 ms are not fast (they would be under the 1,000 ms floor of the other kinds).
    let mut retired = Story { id: s.id.clone(), events: Vec::new() };
    retired.join("retiree", "south", None);
    retired.attempt("retiree", "a1", &[Some(700); 5], false);
    for e in retired.events {
        let mut body = e.body;
        if let EventBody::Answered { question, index, .. } = &mut body {
            *question = QuestionId::parse(&format!("gone-{index}")).unwrap();
        }
        more.push(e.at, body);
    }
    db.apply_events(&more.events).await.unwrap();
    let got = db.suspicions(&s.id).await.unwrap();
    assert!(!got.iter().any(|(p, _, _)| p == "retiree"), "{got:?}");
    for b in ["bot1", "bot2", "bot3", "bot6"] {
        assert!(got.contains(&(b.to_owned(), "same_timing".to_owned(), 4)), "{b}: {got:?}");
        assert!(got.contains(&(b.to_owned(), "fast_answers".to_owned(), 5)), "{b}: {got:?}");
    }
    for i in 0..=10 {
        assert!(got.contains(&(format!("farm{i}"), "shared_device".to_owned(), 11)), "farm{i}: {got:?}");
    }
    assert_eq!(got.len(), expected().len() + 2 + 1);
    // Another campaign's events flag nothing here.
    assert!(db.suspicions(&CampaignId::parse("other").unwrap()).await.unwrap().is_empty());
}

async fn flags_do_not_depend_on_order_or_batching(db: &Db, _url: &str) {
    // Newest first, one event at a time: answers before their attempt, finishes before answers,
    // a participant's flags before its join.
    let s = stored(db, "reversed").await;
    for e in s.events.iter().rev() {
        db.apply_events(std::slice::from_ref(e)).await.unwrap();
    }
    assert_eq!(db.suspicions(&s.id).await.unwrap(), expected(), "newest first");

    let mut rng = StdRng::seed_from_u64(11);
    for round in 0..3 {
        let s = stored(db, &format!("shuffled-{round}")).await;
        let mut events = s.events.clone();
        events.shuffle(&mut rng);
        let mut i = 0;
        while i < events.len() {
            let len = rng.random_range(1..=15);
            let back = if i > 0 { rng.random_range(0..=i.min(4)) } else { 0 };
            db.apply_events(&events[i - back..(i + len).min(events.len())]).await.unwrap();
            i += len;
        }
        assert_eq!(db.suspicions(&s.id).await.unwrap(), expected(), "round {round}");
        // Applying everything again changes nothing.
        assert_eq!(db.apply_events(&events).await.unwrap().new, 0);
        assert_eq!(db.suspicions(&s.id).await.unwrap(), expected(), "round {round}, again");
    }
}

async fn flagged_participants_page_and_scope_and_hiding_is_recorded(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    db.apply_events(&s.events).await.unwrap();
    let c = &s.id;
    let all = db.flagged(c, None, None, 100).await.unwrap();
    assert_eq!(all.next, None);
    assert_eq!(all.participants.len(), 14);
    let bot1 = &all.participants[0];
    assert_eq!(
        bot1,
        &Flagged {
            participant: pid("bot1"),
            nickname: Some("选手bot1".into()),
            region: Some(PlaceId::parse("north").unwrap()),
            reasons: vec![(Reason::FastAnswers, 5), (Reason::SameTiming, 3)],
            hidden: false,
        }
    );

    // Pages of five, in id order, without gaps or repeats.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = db.flagged(c, None, after.as_ref(), 5).await.unwrap();
        assert!(page.participants.len() <= 5);
        seen.extend(page.participants.iter().map(|f| f.participant.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, all.participants.iter().map(|f| f.participant.clone()).collect::<Vec<_>>());

    // Scoped to the north: the bots only.
    let north = [PlaceId::parse("north").unwrap()];
    let scoped = db.flagged(c, Some(&north), None, 100).await.unwrap();
    let ids: Vec<&str> = scoped.participants.iter().map(|f| f.participant.as_str()).collect();
    assert_eq!(ids, ["bot1", "bot2", "bot3", "bot4"]);
    assert!(db.flagged(c, Some(&[]), None, 100).await.unwrap().participants.is_empty());

    // Hiding is recorded once, shows in the list, and is undone.
    assert!(db.set_hidden(c, &pid("bot2"), true, "boss", T0).await.unwrap());
    assert!(!db.set_hidden(c, &pid("bot2"), true, "boss", T0 + 1).await.unwrap());
    assert_eq!(db.hidden_participants(c).await.unwrap(), vec![pid("bot2")]);
    let listed = db.flagged(c, Some(&north), None, 100).await.unwrap();
    assert_eq!(listed.participants.iter().map(|f| f.hidden).collect::<Vec<_>>(), [false, true, false, false]);
    assert!(db.set_hidden(c, &pid("bot2"), false, "boss", T0 + 2).await.unwrap());
    assert!(!db.set_hidden(c, &pid("bot2"), false, "boss", T0 + 3).await.unwrap());
    assert!(db.hidden_participants(c).await.unwrap().is_empty());
}

/// The tables whose row writes [`count_writes`] counts.
const WATCHED: [&str; 3] = ["suspicions", "client_groups", "timing_groups"];

/// Counts every row written (inserted, updated or deleted) in [`WATCHED`] from now on, by
/// triggers, into `writes (tbl, n)`; returns the connection that reads them.
async fn count_writes(db: &Db, url: &str) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut sql = String::from("CREATE TABLE writes (tbl TEXT PRIMARY KEY, n BIGINT NOT NULL);\n");
    for t in WATCHED {
        sql.push_str(&format!("INSERT INTO writes (tbl, n) VALUES ('{t}', 0);\n"));
    }
    match db.engine() {
        Engine::Postgres => {
            sql.push_str(
                "CREATE FUNCTION count_write() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN UPDATE writes SET n = n + 1 WHERE tbl = TG_TABLE_NAME; RETURN NULL; END $$;\n",
            );
            for t in WATCHED {
                sql.push_str(&format!(
                    "CREATE TRIGGER {t}_writes AFTER INSERT OR UPDATE OR DELETE ON {t} \
                     FOR EACH ROW EXECUTE FUNCTION count_write();\n"
                ));
            }
        }
        Engine::Sqlite => {
            for t in WATCHED {
                for op in ["INSERT", "UPDATE", "DELETE"] {
                    sql.push_str(&format!(
                        "CREATE TRIGGER {t}_{op} AFTER {op} ON {t} \
                         BEGIN UPDATE writes SET n = n + 1 WHERE tbl = '{t}'; END;\n"
                    ));
                }
            }
        }
    }
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
    conn
}

async fn writes(conn: &mut sqlx::AnyConnection) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT tbl, n FROM writes ORDER BY tbl").fetch_all(conn).await.unwrap()
}

/// Three hundred participants behind one client, with one timing between them, are all
/// flagged for both; one more then writes its own two flags and the two groups' sizes — not a
/// row for any of the three hundred — and every member shows the new size.
async fn a_newcomer_to_a_flagged_group_writes_its_own_flags_only(db: &Db, url: &str) {
    const N: usize = 300;
    const TIMES: [Option<Millis>; 5] = [Some(3_510), Some(4_120), Some(2_550), Some(5_330), Some(3_990)];
    db.put_campaign(&doc("crowd")).await.unwrap();
    let mut s = Story { id: CampaignId::parse("crowd").unwrap(), events: Vec::new() };
    for i in 0..N {
        let p = format!("farm{i:03}");
        s.join(&p, "south", Some("fp-farm"));
        s.attempt(&p, "a1", &TIMES, false);
    }
    for batch in s.events.chunks(250) {
        db.apply_events(batch).await.unwrap();
    }
    let flags = |n: usize| -> Vec<(String, String, i64)> {
        let mut out: Vec<(String, String, i64)> = (0..n)
            .flat_map(|i| ["same_timing", "shared_device"].map(|r| (format!("farm{i:03}"), r.to_owned(), n as i64)))
            .collect();
        out.sort();
        out
    };
    assert_eq!(db.suspicions(&s.id).await.unwrap(), flags(N));

    let mut conn = count_writes(db, url).await;
    let mut more = Story { id: s.id.clone(), events: Vec::new() };
    more.join("farm300", "south", Some("fp-farm"));
    more.attempt("farm300", "a1", &TIMES, false);
    db.apply_events(&more.events).await.unwrap();
    assert_eq!(
        writes(&mut conn).await,
        [("client_groups".to_owned(), 1), ("suspicions".to_owned(), 2), ("timing_groups".to_owned(), 1)],
        "the newcomer's two flags and its two groups' sizes"
    );
    assert_eq!(db.suspicions(&s.id).await.unwrap(), flags(N + 1));
    let page = db.flagged(&s.id, None, None, 3).await.unwrap();
    for f in &page.participants {
        assert_eq!(f.reasons, [(Reason::SameTiming, N as u64 + 1), (Reason::SharedDevice, N as u64 + 1)]);
    }

    // Stored again, it writes nothing.
    db.apply_events(&s.events).await.unwrap();
    db.apply_events(&more.events).await.unwrap();
    assert_eq!(
        writes(&mut conn).await,
        [("client_groups".to_owned(), 1), ("suspicions".to_owned(), 2), ("timing_groups".to_owned(), 1)]
    );
    conn.close().await.unwrap();
}
