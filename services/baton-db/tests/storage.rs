//! The storage suite: every case is written once, as an async fn taking a migrated [`Db`] (and
//! its URL, for cases that open a second connection), and runs on both engines: SQLite in a
//! temp dir ([`TestSqlite`]) and PostgreSQL in a fresh database ([`TestPg`]).

#[macro_use]
mod common;

use baton_core::campaign::{CampaignDoc, QuestionKind, UnitKind};
use baton_core::ids::{CampaignId, ParticipantId, PlaceId, UnitId};
use baton_db::{Db, DbError, Engine, ParticipantRow, PutOutcome};
use baton_testkit::{TestPg, TestSqlite};
use serde_json::json;

on_both_engines!(
    migrate_twice_is_a_no_op,
    campaign_round_trips,
    update_replaces_pieces_and_fields,
    update_keeps_participants_of_removed_places,
    big_campaigns_round_trip,
    concurrent_puts_leave_one_whole_document,
    participants_are_written_once,
    participants_page_in_join_order,
    participants_need_their_campaign,
    signing_key_is_created_once,
    racing_processes_agree_on_the_signing_key,
    the_operator_is_warned_of_a_server_without_autovacuum,
);

/// A small campaign: a city with two counties (one with a township), two units, four questions
/// of three kinds in two categories, and quotas.
fn sample(id: &str) -> CampaignDoc {
    serde_json::from_value(json!({
        "format": 1, "id": id, "title": "全民禁毒网络接力大赛", "description": "十天，全市。",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 3, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {"law": 1}},
        "categories": [{"id": "law", "name": "法律"}, {"id": "harm", "name": "危害"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "target": 2500000, "children": [
            {"id": "north", "name": "北区", "level": "county", "target": 800000, "children": [
                {"id": "north-1", "name": "一街道", "level": "township"}]},
            {"id": "south", "name": "南县", "level": "county"}]}],
        "units": [
            {"id": "school-1", "name": "第一中学", "region_id": "north-1", "kind": "school", "target": 1200},
            {"id": "plant", "name": "电厂", "region_id": "south", "kind": "company"}],
        "questions": [
            {"id": "law-1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草", "酒"], "answer": [0], "explanation": "刑法第357条。", "source": "刑法"},
            {"id": "law-2", "kind": "judge", "category": "law", "difficulty": 2, "stem": "吸毒违法。",
             "options": ["正确", "错误"], "answer": [0], "explanation": "治安管理处罚法。", "source": "治安管理处罚法",
             "en": {"stem": "Drug use is punished.", "options": ["True", "False"], "explanation": "Public Security Administration Punishments Law."}},
            {"id": "harm-1", "kind": "multi", "category": "harm", "difficulty": 3, "stem": "危害有？",
             "options": ["伤身", "败家", "祸害社会", "无"], "answer": [0, 1, 2], "explanation": "三害。", "source": "宣传册"},
            {"id": "harm-2", "kind": "single", "category": "harm", "difficulty": 1, "stem": "新型毒品？",
             "options": ["冰毒", "大米"], "answer": [0], "explanation": "冰毒是合成毒品。", "source": "宣传册"}]
    }))
    .expect("the sample campaign parses")
}

fn cid(s: &str) -> CampaignId {
    CampaignId::parse(s).unwrap()
}

fn participant(campaign: &str, id: &str, region: &str, inviter: Option<&str>, joined_at_ms: i64) -> ParticipantRow {
    ParticipantRow {
        campaign_id: cid(campaign),
        id: ParticipantId::parse(id).unwrap(),
        region_id: PlaceId::parse(region).unwrap(),
        unit_id: Some(UnitId::parse("school-1").unwrap()),
        nickname: format!("小{id}"),
        inviter_id: inviter.map(|i| ParticipantId::parse(i).unwrap()),
        joined_at_ms,
    }
}

async fn migrate_twice_is_a_no_op(db: &Db, url: &str) {
    db.put_campaign(&sample("demo")).await.unwrap();
    db.migrate().await.unwrap();
    // A second process migrating the same database changes nothing either.
    let other = Db::connect(url).await.unwrap();
    other.migrate().await.unwrap();
    assert_eq!(other.campaign(&cid("demo")).await.unwrap(), Some(sample("demo")));
    other.close().await;
}

/// A PostgreSQL server without autovacuum gets a warning naming the setting (the tables a
/// campaign grows would keep no statistics); one with it, and SQLite, get none.
async fn the_operator_is_warned_of_a_server_without_autovacuum(db: &Db, url: &str) {
    let warnings = db.server_warnings().await;
    match db.engine() {
        Engine::Sqlite => assert!(warnings.is_empty(), "{warnings:?}"),
        Engine::Postgres => {
            // What the server says, read on a connection of the test's own.
            let pool = sqlx::AnyPool::connect(url).await.unwrap();
            let (setting,): (String,) = sqlx::query_as("SHOW autovacuum").fetch_one(&pool).await.unwrap();
            pool.close().await;
            if setting == "off" {
                assert_eq!(warnings.len(), 1, "{warnings:?}");
                assert!(warnings[0].contains("autovacuum is off") && warnings[0].contains("VACUUM (ANALYZE)"));
            } else {
                assert!(warnings.is_empty(), "autovacuum is {setting}: {warnings:?}");
            }
        }
    }
}

async fn campaign_round_trips(db: &Db, _url: &str) {
    assert_eq!(db.campaign(&cid("demo")).await.unwrap(), None);
    assert!(db.campaign_ids().await.unwrap().is_empty());
    let doc = sample("demo");
    assert_eq!(db.put_campaign(&doc).await.unwrap(), PutOutcome::Created);
    assert_eq!(db.put_campaign(&sample("other")).await.unwrap(), PutOutcome::Created);
    assert_eq!(db.campaign(&cid("demo")).await.unwrap(), Some(doc));
    assert_eq!(db.campaign_ids().await.unwrap(), [cid("demo"), cid("other")]);
}

async fn update_replaces_pieces_and_fields(db: &Db, _url: &str) {
    db.put_campaign(&sample("demo")).await.unwrap();
    db.put_campaign(&sample("other")).await.unwrap();

    let mut doc = sample("demo");
    doc.title = "第二届".into();
    doc.description = String::new();
    doc.ends_at = "2026-06-20T00:00:00Z".parse().unwrap();
    doc.rules.attempts_per_day = 5;
    doc.rules.quotas.clear();
    doc.categories.reverse();
    doc.questions.remove(1); // law-2 dropped
    doc.questions.swap(0, 2); // new order
    doc.questions[1].stem = "危害有哪些？".into();
    doc.questions[1].answer = vec![0, 2];
    doc.units.remove(0); // school-1 dropped
    doc.units[0].kind = UnitKind::Government;
    doc.units[0].target = Some(40);
    doc.regions[0].children.swap(0, 1); // children keep their new order
    doc.regions[0].children[1].children.clear(); // north-1 dropped
    doc.regions[0].target = None;
    assert_eq!(db.put_campaign(&doc).await.unwrap(), PutOutcome::Updated);

    let got = db.campaign(&cid("demo")).await.unwrap().unwrap();
    assert_eq!(got, doc);
    assert_eq!(got.questions.len(), 3);
    assert!(got.questions.iter().all(|q| q.id.as_str() != "law-2"));
    assert_eq!(got.questions[0].kind, QuestionKind::Single);
    // Another campaign's pieces are untouched.
    assert_eq!(db.campaign(&cid("other")).await.unwrap(), Some(sample("other")));
}

async fn update_keeps_participants_of_removed_places(db: &Db, _url: &str) {
    db.put_campaign(&sample("demo")).await.unwrap();
    let p = participant("demo", "p1", "north-1", None, 1);
    db.put_participant(&p).await.unwrap();
    let mut doc = sample("demo");
    doc.regions[0].children[0].children.clear();
    doc.units.remove(0);
    assert_eq!(db.put_campaign(&doc).await.unwrap(), PutOutcome::Updated);
    assert_eq!(db.participant(&cid("demo"), &p.id).await.unwrap(), Some(p));
    assert_eq!(db.campaign(&cid("demo")).await.unwrap(), Some(doc));
}

async fn big_campaigns_round_trip(db: &Db, _url: &str) {
    // More rows than one insert batch holds, and a deep, wide tree.
    let mut doc = sample("big");
    let template = doc.units[0].clone();
    doc.units = (0..1500)
        .map(|i| {
            let mut u = template.clone();
            u.id = UnitId::parse(&format!("u-{i}")).unwrap();
            u.name = format!("单位{i}");
            u.target = (i % 3 != 0).then_some(i);
            u
        })
        .collect();
    let q = doc.questions[2].clone();
    doc.questions = (0..400)
        .map(|i| {
            let mut q = q.clone();
            q.id = baton_core::ids::QuestionId::parse(&format!("q-{i}")).unwrap();
            q.stem = format!("第{i}题");
            q
        })
        .collect();
    let township = doc.regions[0].children[0].children[0].clone();
    for (c, county) in doc.regions[0].children.iter_mut().enumerate() {
        county.children = (0..150)
            .map(|i| {
                let mut t = township.clone();
                t.id = PlaceId::parse(&format!("t-{c}-{i}")).unwrap();
                t
            })
            .collect();
    }
    assert_eq!(db.put_campaign(&doc).await.unwrap(), PutOutcome::Created);
    assert_eq!(db.campaign(&cid("big")).await.unwrap(), Some(doc.clone()));
    doc.units.truncate(10);
    assert_eq!(db.put_campaign(&doc).await.unwrap(), PutOutcome::Updated);
    assert_eq!(db.campaign(&cid("big")).await.unwrap(), Some(doc));
}

async fn concurrent_puts_leave_one_whole_document(db: &Db, _url: &str) {
    let variants: Vec<CampaignDoc> = (0..4)
        .map(|i| {
            let mut d = sample("demo");
            d.title = format!("版本{i}");
            d.questions.truncate(i + 1);
            d
        })
        .collect();
    let tasks: Vec<_> = variants
        .iter()
        .cloned()
        .map(|d| {
            let db = db.clone();
            tokio::spawn(async move { db.put_campaign(&d).await })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap().unwrap() == PutOutcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1, "exactly one put creates the campaign");
    let got = db.campaign(&cid("demo")).await.unwrap().unwrap();
    assert!(variants.contains(&got), "a mix of puts was stored: {got:#?}");
}

async fn participants_are_written_once(db: &Db, _url: &str) {
    db.put_campaign(&sample("demo")).await.unwrap();
    let first = participant("demo", "p1", "north-1", None, 1_000);
    assert!(db.put_participant(&first).await.unwrap());
    // A replay with other values changes nothing: region and inviter are set once.
    let mut replay = participant("demo", "p1", "south", Some("p0"), 2_000);
    replay.unit_id = None;
    replay.nickname = "改名".into();
    assert!(!db.put_participant(&replay).await.unwrap());
    assert!(!db.put_participant(&first).await.unwrap());
    assert_eq!(db.participant(&cid("demo"), &first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(db.participants(&cid("demo")).await.unwrap(), std::slice::from_ref(&first));

    let invited = participant("demo", "p2", "south", Some("p1"), 500);
    let mut no_unit = participant("demo", "p3", "city", None, 1_000);
    no_unit.unit_id = None;
    assert!(db.put_participant(&invited).await.unwrap());
    assert!(db.put_participant(&no_unit).await.unwrap());
    assert_eq!(db.participants(&cid("demo")).await.unwrap(), [invited, first, no_unit]);
    assert_eq!(db.participant(&cid("demo"), &ParticipantId::parse("nobody").unwrap()).await.unwrap(), None);
    assert!(db.participants(&cid("other")).await.unwrap().is_empty());
}

async fn participants_page_in_join_order(db: &Db, _url: &str) {
    db.put_campaign(&sample("demo")).await.unwrap();
    db.put_campaign(&sample("other")).await.unwrap();
    let mut all = Vec::new();
    for i in 0..25 {
        // Many share a join time, so the order falls back to the id.
        let p = participant("demo", &format!("p{i:02}"), "south", None, i64::from(i / 4));
        db.put_participant(&p).await.unwrap();
        all.push(p);
    }
    db.put_participant(&participant("other", "x", "south", None, 0)).await.unwrap();
    all.sort_by(|a, b| (a.joined_at_ms, &a.id).cmp(&(b.joined_at_ms, &b.id)));
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = db.participants_page(&cid("demo"), after.as_ref(), 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 7);
        after = page.last().cloned();
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert_eq!(db.participants(&cid("demo")).await.unwrap(), all);
}

async fn participants_need_their_campaign(db: &Db, _url: &str) {
    let err = db.put_participant(&participant("ghost", "p1", "south", None, 1)).await.unwrap_err();
    assert!(matches!(&err, DbError::UnknownCampaign(c) if c.as_str() == "ghost"), "{err:?}");
    assert!(err.to_string().contains("import it first"), "{err}");
}

async fn signing_key_is_created_once(db: &Db, url: &str) {
    let (kid, secret) = db.signing_key().await.unwrap();
    assert!(kid.starts_with("k-") && kid.len() == 10, "{kid}");
    assert!(kid[2..].bytes().all(|b| b.is_ascii_hexdigit()), "{kid}");
    assert_eq!(secret.len(), 32);
    assert_eq!(db.signing_key().await.unwrap(), (kid.clone(), secret.clone()));
    // Another process (another pool) on the same database gets the same key.
    let other = Db::connect(url).await.unwrap();
    assert_eq!(other.signing_key().await.unwrap(), (kid, secret));
    other.close().await;
}

async fn racing_processes_agree_on_the_signing_key(_db: &Db, url: &str) {
    let mut dbs = Vec::new();
    for _ in 0..6 {
        dbs.push(Db::connect(url).await.unwrap());
    }
    let tasks: Vec<_> = dbs.iter().cloned().map(|db| tokio::spawn(async move { db.signing_key().await })).collect();
    let mut keys = Vec::new();
    for t in tasks {
        keys.push(t.await.unwrap().unwrap());
    }
    assert!(keys.windows(2).all(|w| w[0] == w[1]), "{keys:?}");
    for db in dbs {
        db.close().await;
    }
}

// Engine-specific cases.

#[tokio::test]
async fn sqlite_file_is_created_where_the_url_says() {
    let tmp = TestSqlite::new();
    let file = tmp.dir().join("nested/deeper/baton.db");
    assert!(!file.exists());
    // No `mode` in the URL: Db adds `mode=rwc`, and makes the missing directories.
    let db = Db::connect(&format!("sqlite://{}", file.display())).await.unwrap();
    db.migrate().await.unwrap();
    db.put_campaign(&sample("demo")).await.unwrap();
    assert!(file.is_file(), "no database file at {}", file.display());
    db.close().await;
    // And the data is in that file: a new connection reads it back.
    let again = Db::connect(&format!("sqlite://{}", file.display())).await.unwrap();
    assert_eq!(again.campaign_ids().await.unwrap(), [cid("demo")]);
    again.close().await;
}

#[tokio::test]
async fn sqlite_in_memory_is_one_database() {
    let db = Db::connect("sqlite::memory:").await.unwrap();
    assert_eq!(db.engine(), Engine::Sqlite);
    db.migrate().await.unwrap();
    db.put_campaign(&sample("demo")).await.unwrap();
    assert_eq!(db.campaign(&cid("demo")).await.unwrap(), Some(sample("demo")));
}

#[tokio::test]
async fn unreachable_postgres_is_explained_without_the_password() {
    let port = baton_testkit::free_port();
    let err = Db::connect(&format!("postgres://baton:hunter2@127.0.0.1:{port}/baton")).await.unwrap_err();
    let text = format!("{err} / {err:?}");
    assert!(matches!(err, DbError::Connect { .. }), "{text}");
    assert!(text.contains("is PostgreSQL running"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let err = Db::connect("mysql://root:pw@localhost/baton").await.unwrap_err();
    assert!(matches!(err, DbError::UnsupportedUrl { .. }), "{err:?}");
    assert!(err.to_string().contains("postgres://"), "{err}");
    assert!(!err.to_string().contains("pw@"), "{err}");
}

#[tokio::test]
async fn a_fresh_pg_database_migrates() {
    // TestPg is exercised by the suite above; this just pins that the two fixtures differ.
    let pg = TestPg::create().await;
    let db = Db::connect(pg.url()).await.unwrap();
    db.migrate().await.unwrap();
    assert_eq!(db.engine(), Engine::Postgres);
    db.close().await;
}
