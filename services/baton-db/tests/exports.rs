//! The export suite's filters and masking: exports limited to a subtree of places (what a
//! region-limited console viewer downloads) hold exactly that subtree's participants, results
//! and units, still streamed from SQL; results keep the campaign-wide rank; nicknames never
//! carry a phone number. Every case runs on both engines, like `tests/events.rs`.

#[macro_use]
mod common;

use baton_core::Millis;
use baton_core::campaign::{Campaign, CampaignDoc, QuestionKind};
use baton_core::draw::DrawnQuestion;
use baton_core::events::{Event, EventBody, LeaderResultWire};
use baton_core::ids::{AttemptId, CampaignId, ParticipantId, PlaceId, QuestionId, UnitId};
use baton_core::leader::LeaderResult;
use baton_core::scoring::Totals;
use baton_db::Db;
use baton_db::export::{ExportFilter, ExportKind};
use serde_json::json;

on_both_engines!(
    a_filter_keeps_only_its_places,
    results_keep_the_campaign_wide_rank,
    units_of_the_places_with_all_their_participants,
    the_whole_campaign_is_the_unfiltered_export,
    phone_numbers_in_nicknames_are_masked,
    filtered_exports_stream,
);

/// 2026-06-01T00:00:00Z.
const T0: Millis = 1_780_272_000_000;
const S: Millis = 1_000;
const BOM: &str = "\u{feff}";

/// city → north (north-1, north-2), south (south-1); a unit at north-1, one at north, one at
/// south-1.
fn doc(id: &str) -> CampaignDoc {
    serde_json::from_value(json!({
        "format": 1, "id": id, "title": "全民禁毒网络接力大赛", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {}},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "north", "name": "北区", "level": "county", "children": [
                {"id": "north-1", "name": "一街道", "level": "township"},
                {"id": "north-2", "name": "二街道", "level": "township"}]},
            {"id": "south", "name": "南县", "level": "county", "children": [
                {"id": "south-1", "name": "三街道", "level": "township"}]}]}],
        "units": [
            {"id": "school-1", "name": "第一中学", "region_id": "north-1", "kind": "school", "target": 4},
            {"id": "office", "name": "北区政府", "region_id": "north", "kind": "government"},
            {"id": "plant", "name": "电厂", "region_id": "south-1", "kind": "company", "target": 10}],
        "questions": [
            {"id": "law-1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草"], "answer": [0], "explanation": "刑法。", "source": "刑法"}]
    }))
    .expect("the test campaign parses")
}

fn place(s: &str) -> PlaceId {
    PlaceId::parse(s).unwrap()
}

fn places(ids: &[&str]) -> Vec<PlaceId> {
    ids.iter().map(|s| place(s)).collect()
}

/// The events of one campaign.
struct Story {
    campaign: Campaign,
    events: Vec<Event>,
}

impl Story {
    fn new(id: &str) -> Self {
        Story { campaign: Campaign::from_doc(doc(id)).expect("the test campaign is valid"), events: Vec::new() }
    }

    fn id(&self) -> CampaignId {
        self.campaign.id().clone()
    }

    fn join(&mut self, p: &str, region: &str, unit: Option<&str>, nickname: &str, at: Millis) {
        let places = match self.campaign.place(&place(region)) {
            Some(_) => self.campaign.ancestors(&place(region)),
            None => vec![place(region)],
        };
        let body = EventBody::Joined {
            participant: ParticipantId::parse(p).unwrap(),
            region: place(region),
            unit: unit.map(|u| UnitId::parse(u).unwrap()),
            nickname: nickname.into(),
            places,
            relay_code: None,
            inviter: None,
            depth: 0,
            client: None,
        };
        self.events.push(Event::new(self.id(), at, body));
    }

    /// One attempt of `p` (id `a`) that scored `score` in `total_ms`, reached at `at`.
    fn attempt(&mut self, p: &str, a: &str, score: u64, total_ms: u64, at: Millis) {
        let participant = ParticipantId::parse(p).unwrap();
        let attempt = AttemptId::parse(a).unwrap();
        let start = at - total_ms as Millis;
        let questions = vec![DrawnQuestion {
            id: QuestionId::parse("law-1").unwrap(),
            kind: QuestionKind::Single,
            perm: vec![0, 1],
            correct_mask: 1,
            points: 10,
        }];
        let started = EventBody::AttemptStarted {
            participant: participant.clone(),
            attempt: attempt.clone(),
            expires_at: start + 22 * S,
            limit_ms: 20 * S,
            day: 20_605,
            questions,
        };
        self.events.push(Event::new(self.id(), start, started));
        let best = LeaderResult { score, total_ms, reached_ms: at };
        let finished = EventBody::AttemptFinished {
            participant,
            attempt,
            totals: Totals { score, correct_count: u32::try_from(score / 10).unwrap(), total_ms },
            reached_at: at,
            best: LeaderResultWire::from(best),
        };
        self.events.push(Event::new(self.id(), at, finished));
    }
}

/// Six participants:
/// - p1 at north-1 (school-1), 30 points in 10 s;
/// - p2 at south-1 (plant), 40 points: first of the campaign;
/// - p3 at north (school-1, which hangs below north), 20 points;
/// - p4 at north-2 without a unit, 30 points in 12 s (after p1), with a phone number for a name;
/// - p5 at the city (office), no result;
/// - p6 at a place the campaign no longer has, 10 points.
async fn stored(db: &Db, id: &str) -> Story {
    let mut s = Story::new(id);
    s.join("p1", "north-1", Some("school-1"), "小明", T0);
    s.join("p2", "south-1", Some("plant"), "南人", T0 + S);
    s.join("p3", "north", Some("school-1"), "北人", T0 + 2 * S);
    s.join("p4", "north-2", None, "张三13812345678", T0 + 3 * S);
    s.join("p5", "city", Some("office"), "市民", T0 + 4 * S);
    s.join("p6", "gone-town", Some("gone"), "旧人", T0 + 5 * S);
    s.attempt("p1", "a1", 30, 10_000, T0 + 100 * S);
    s.attempt("p2", "b1", 40, 15_000, T0 + 110 * S);
    s.attempt("p3", "c1", 20, 9_000, T0 + 120 * S);
    s.attempt("p4", "d1", 30, 12_000, T0 + 130 * S);
    s.attempt("p6", "f1", 10, 5_000, T0 + 140 * S);
    db.put_campaign(s.campaign.doc()).await.unwrap();
    db.apply_events(&s.events).await.unwrap();
    s
}

/// One export as text, and its row count.
async fn export(db: &Db, kind: ExportKind, c: &Campaign, filter: ExportFilter<'_>) -> (String, u64) {
    let mut out = Vec::new();
    let rows = db.export_filtered(kind, c, filter, &mut out, |_| {}).await.unwrap();
    (String::from_utf8(out).unwrap(), rows)
}

fn csv(lines: &[&str]) -> String {
    format!("{BOM}{}\r\n", lines.join("\r\n"))
}

async fn a_filter_keeps_only_its_places(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    let north = places(&["north", "north-1", "north-2"]);
    let header = "participant_id,nickname,county,region,unit,joined_at";
    let (text, rows) = export(db, ExportKind::Participants, &s.campaign, ExportFilter::within(&north)).await;
    assert_eq!(rows, 3);
    assert_eq!(
        text,
        csv(&[
            header,
            "p1,小明,北区,一街道,第一中学,2026-06-01T00:00:00.000Z",
            "p3,北人,北区,北区,第一中学,2026-06-01T00:00:02.000Z",
            "p4,张三138****5678,北区,二街道,,2026-06-01T00:00:03.000Z",
        ])
    );
    // A deeper filter; a filter of one place; one that matches nobody; an empty one.
    let (text, _) =
        export(db, ExportKind::Participants, &s.campaign, ExportFilter::within(&places(&["north-1"]))).await;
    assert_eq!(text, csv(&[header, "p1,小明,北区,一街道,第一中学,2026-06-01T00:00:00.000Z"]));
    let (text, _) =
        export(db, ExportKind::Participants, &s.campaign, ExportFilter::within(&places(&["south-1"]))).await;
    assert_eq!(text, csv(&[header, "p2,南人,南县,三街道,电厂,2026-06-01T00:00:01.000Z"]));
    for empty in [places(&["south"]), Vec::new()] {
        for kind in ExportKind::ALL {
            let (text, rows) = export(db, kind, &s.campaign, ExportFilter::within(&empty)).await;
            assert_eq!(rows, 0, "{kind} {empty:?}");
            assert_eq!(text.matches("\r\n").count(), 1, "{kind} {empty:?}: the header alone: {text}");
        }
    }
    // The whole tree lets everybody through but the participant of a place that is gone.
    let all: Vec<PlaceId> = s.campaign.places().map(|p| p.id.clone()).collect();
    let (text, rows) = export(db, ExportKind::Participants, &s.campaign, ExportFilter::within(&all)).await;
    assert_eq!(rows, 5);
    assert!(!text.contains("p6,"), "{text}");
    // Another campaign's participants never show.
    let other = stored(db, "other").await;
    let (text, rows) = export(db, ExportKind::Participants, &other.campaign, ExportFilter::within(&north)).await;
    assert_eq!(rows, 3, "{text}");
}

async fn results_keep_the_campaign_wide_rank(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    let header = "rank,participant_id,nickname,county,unit,best_score,best_seconds,reached_at,attempts";
    let (whole, rows) = export(db, ExportKind::Results, &s.campaign, ExportFilter::ALL).await;
    assert_eq!(rows, 5);
    assert_eq!(
        whole,
        csv(&[
            header,
            "1,p2,南人,南县,电厂,40,15.000,2026-06-01T00:01:50.000Z,1",
            "2,p1,小明,北区,第一中学,30,10.000,2026-06-01T00:01:40.000Z,1",
            "3,p4,张三138****5678,北区,,30,12.000,2026-06-01T00:02:10.000Z,1",
            "4,p3,北人,北区,第一中学,20,9.000,2026-06-01T00:02:00.000Z,1",
            "5,p6,旧人,,gone,10,5.000,2026-06-01T00:02:20.000Z,1",
        ])
    );
    // Filtered: the same ranks as the whole campaign's (and the public boards'), plus the rank
    // within the filter.
    let north = places(&["north", "north-1", "north-2"]);
    let (text, rows) = export(db, ExportKind::Results, &s.campaign, ExportFilter::within(&north)).await;
    assert_eq!(rows, 3);
    assert_eq!(
        text,
        csv(&[
            &format!("{header},rank_in_region"),
            "2,p1,小明,北区,第一中学,30,10.000,2026-06-01T00:01:40.000Z,1,1",
            "3,p4,张三138****5678,北区,,30,12.000,2026-06-01T00:02:10.000Z,1,2",
            "4,p3,北人,北区,第一中学,20,9.000,2026-06-01T00:02:00.000Z,1,3",
        ])
    );
    let (text, _) = export(db, ExportKind::Results, &s.campaign, ExportFilter::within(&places(&["south-1"]))).await;
    assert_eq!(
        text,
        csv(&[&format!("{header},rank_in_region"), "1,p2,南人,南县,电厂,40,15.000,2026-06-01T00:01:50.000Z,1,1"])
    );
}

async fn units_of_the_places_with_all_their_participants(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    let header = "unit_id,unit,county,region,target,participants,finished,rate,avg_best_score";
    let (whole, rows) = export(db, ExportKind::Units, &s.campaign, ExportFilter::ALL).await;
    assert_eq!(rows, 4);
    assert_eq!(
        whole,
        csv(&[
            header,
            "school-1,第一中学,北区,一街道,4,2,2,0.5000,25.0",
            "office,北区政府,北区,北区,,1,0,,",
            "plant,电厂,南县,三街道,10,1,1,0.1000,40.0",
            "gone,,,,,1,1,,10.0",
        ])
    );
    // north: its units (in the campaign's order) with all their participants; not south's
    // plant, nor the unit that is gone.
    let north = places(&["north", "north-1", "north-2"]);
    let (text, rows) = export(db, ExportKind::Units, &s.campaign, ExportFilter::within(&north)).await;
    assert_eq!(rows, 2);
    assert_eq!(
        text,
        csv(&[header, "school-1,第一中学,北区,一街道,4,2,2,0.5000,25.0", "office,北区政府,北区,北区,,1,0,,"])
    );
    let (text, rows) = export(db, ExportKind::Units, &s.campaign, ExportFilter::within(&places(&["north-2"]))).await;
    assert_eq!((text, rows), (csv(&[header]), 0));
}

async fn the_whole_campaign_is_the_unfiltered_export(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    for kind in ExportKind::ALL {
        let mut plain = Vec::new();
        let rows = db.export(kind, &s.campaign, &mut plain, |_| {}).await.unwrap();
        let (filtered, same_rows) = export(db, kind, &s.campaign, ExportFilter::default()).await;
        assert_eq!((String::from_utf8(plain).unwrap(), rows), (filtered, same_rows), "{kind}");
    }
}

async fn phone_numbers_in_nicknames_are_masked(db: &Db, _url: &str) {
    let mut s = Story::new("demo");
    let names = [
        ("q1", "张三13812345678", "张三138****5678"),
        ("q2", "138-1234-5678", "138-****-5678"),
        ("q3", "李１３９１２３４５６７８", "李１３９****５６７８"),
        ("q4", "座机22881234", "座机******34"),
        ("q5", "选手24999", "选手24999"),
    ];
    for (i, (p, nick, _)) in names.iter().enumerate() {
        s.join(p, "north-1", None, nick, T0 + i as Millis * S);
        s.attempt(p, &format!("a{i}"), 10, 5_000 + i as u64, T0 + 100 * S);
    }
    db.put_campaign(s.campaign.doc()).await.unwrap();
    db.apply_events(&s.events).await.unwrap();
    let north = places(&["north", "north-1"]);
    for filter in [ExportFilter::ALL, ExportFilter::within(&north)] {
        for kind in [ExportKind::Participants, ExportKind::Results] {
            let (text, rows) = export(db, kind, &s.campaign, filter).await;
            assert_eq!(rows, 5);
            for (_, raw, masked) in names {
                assert!(text.contains(&format!(",{masked},")), "{kind}: {masked} in {text}");
                if raw != masked {
                    assert!(!text.contains(raw), "{kind}: {raw} in {text}");
                }
            }
            for raw in ["13812345678", "1234-5678", "１２３４５６７８", "22881234"] {
                assert!(!text.contains(raw), "{kind}: {raw} in {text}");
            }
        }
    }
}

/// 24,000 participants, half of them in north: a filtered export streams through a small
/// pipe, reports progress, and holds exactly north's half.
async fn filtered_exports_stream(db: &Db, _url: &str) {
    let s = Story::new("big");
    db.put_campaign(s.campaign.doc()).await.unwrap();
    let n = 24_000;
    let joins: Vec<Event> = (0..n)
        .map(|i| {
            let region = if i % 2 == 0 { "north-1" } else { "south-1" };
            Event::new(
                s.id(),
                T0 + i,
                EventBody::Joined {
                    participant: ParticipantId::parse(&format!("p{i:05}")).unwrap(),
                    region: place(region),
                    unit: None,
                    nickname: format!("选手{i}"),
                    places: s.campaign.ancestors(&place(region)),
                    relay_code: None,
                    inviter: None,
                    depth: 0,
                    client: None,
                },
            )
        })
        .collect();
    for batch in joins.chunks(6_000) {
        db.apply_events(batch).await.unwrap();
    }
    let (client, mut server) = tokio::io::duplex(4096);
    let reader = tokio::spawn(async move {
        let mut text = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut server, &mut text).await.unwrap();
        text
    });
    let north = places(&["north", "north-1", "north-2"]);
    let mut calls = Vec::new();
    let rows = db
        .export_filtered(ExportKind::Participants, &s.campaign, ExportFilter::within(&north), client, |n| calls.push(n))
        .await
        .unwrap();
    assert_eq!(rows, n as u64 / 2);
    assert_eq!(calls, [10_000]);
    let text = String::from_utf8(reader.await.unwrap()).unwrap();
    assert_eq!(text.lines().count(), n as usize / 2 + 1);
    assert!(text.lines().skip(1).all(|l| l.contains(",北区,一街道,,")), "only north");
    assert!(
        text.ends_with("p23998,选手23998,北区,一街道,,2026-06-01T00:00:23.998Z\r\n"),
        "{}",
        &text[text.len() - 100..]
    );
}
