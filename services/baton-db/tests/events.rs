//! The event suite: events stored once and applied to the projections, whatever the order and
//! batching; the rebuild reads; the CSV exports. Every case runs on both engines, like
//! `tests/storage.rs`: SQLite in a temp dir ([`baton_testkit::TestSqlite`]) and PostgreSQL in a
//! fresh database ([`baton_testkit::TestPg`]).

#[macro_use]
mod common;

use baton_core::Millis;
use baton_core::campaign::{Campaign, CampaignDoc, QuestionKind};
use baton_core::draw::DrawnQuestion;
use baton_core::events::{Event, EventBody, LeaderResultWire, ShareChannel};
use baton_core::ids::{AttemptId, CampaignId, ParticipantId, PlaceId, QuestionId, UnitId};
use baton_core::leader::LeaderResult;
use baton_core::relay::RelayCode;
use baton_core::scoring::{Judged, Totals};
use baton_db::{
    Applied, Db, DbError, ExportKind, ParticipantRow, RebuiltAttempt, RebuiltParticipant, RelayStats, RelayTotals,
};
use baton_db::{Counts, QuestionCounts};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

on_both_engines!(
    events_build_the_projections,
    applying_again_changes_nothing,
    overlapping_batches_apply_each_event_once,
    any_order_and_batching_gives_the_same_state,
    concurrent_archivers_apply_each_event_once,
    events_page_in_time_order,
    unknown_campaigns_and_forged_events_are_refused,
    join_events_complete_participants_stored_before,
    rebuild_reads_what_the_events_said,
    export_participants_csv,
    export_results_csv,
    export_units_csv,
    exports_stream_and_report_progress,
    throughput_of_5000_events,
    tallies_count_each_event_once_where_it_belongs,
);

// ---------------------------------------------------------------------------------------------
// The story: a small campaign and the events of seven participants.

/// 2026-06-01T00:00:00Z.
const T0: Millis = 1_780_272_000_000;
const S: Millis = 1_000;
const DAY1: i32 = 20_605;
const DAY2: i32 = 20_606;

/// A city with two counties (one with a township and a comma in its name), three units (one
/// named like a formula, one with quotes) and a small question bank.
fn doc(id: &str) -> CampaignDoc {
    serde_json::from_value(json!({
        "format": 1, "id": id, "title": "全民禁毒网络接力大赛", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 3, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {}},
        "categories": [{"id": "law", "name": "法律"}, {"id": "harm", "name": "危害"}],
        "regions": [{"id": "city", "name": "市", "level": "city", "children": [
            {"id": "north", "name": "北区,老城", "level": "county", "children": [
                {"id": "north-1", "name": "一街道", "level": "township"}]},
            {"id": "south", "name": "南县", "level": "county"}]}],
        "units": [
            {"id": "school-1", "name": "第一中学", "region_id": "north-1", "kind": "school", "target": 3},
            {"id": "plant", "name": "电厂 \"东\"", "region_id": "south", "kind": "company"},
            {"id": "office", "name": "=cmd", "region_id": "city", "kind": "government", "target": 4}],
        "questions": [
            {"id": "law-1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草", "酒"], "answer": [0], "explanation": "刑法第357条。", "source": "刑法"},
            {"id": "law-2", "kind": "judge", "category": "law", "difficulty": 2, "stem": "吸毒违法。",
             "options": ["正确", "错误"], "answer": [0], "explanation": "治安管理处罚法。", "source": "治安管理处罚法"},
            {"id": "harm-1", "kind": "multi", "category": "harm", "difficulty": 3, "stem": "危害有？",
             "options": ["伤身", "败家", "祸害社会", "无"], "answer": [0, 1, 2], "explanation": "三害。", "source": "宣传册"}]
    }))
    .expect("the test campaign parses")
}

fn campaign(id: &str) -> Campaign {
    Campaign::from_doc(doc(id)).expect("the test campaign is valid")
}

fn cid(s: &str) -> CampaignId {
    CampaignId::parse(s).unwrap()
}
fn pid(s: &str) -> ParticipantId {
    ParticipantId::parse(s).unwrap()
}
fn aid(s: &str) -> AttemptId {
    AttemptId::parse(s).unwrap()
}
fn place(s: &str) -> PlaceId {
    PlaceId::parse(s).unwrap()
}
/// A participant's relay code: its number, zero-padded.
fn code(p: &str) -> RelayCode {
    RelayCode::parse(&format!("{:0>10}", p.trim_start_matches('p'))).unwrap()
}

fn drawn() -> Vec<DrawnQuestion> {
    vec![
        DrawnQuestion {
            id: QuestionId::parse("law-1").unwrap(),
            kind: QuestionKind::Single,
            perm: vec![1, 0, 2],
            correct_mask: 2,
            points: 10,
        },
        DrawnQuestion {
            id: QuestionId::parse("law-2").unwrap(),
            kind: QuestionKind::Judge,
            perm: vec![0, 1],
            correct_mask: 1,
            points: 10,
        },
        DrawnQuestion {
            id: QuestionId::parse("harm-1").unwrap(),
            kind: QuestionKind::Multi,
            perm: vec![0, 1, 2, 3],
            correct_mask: 7,
            points: 10,
        },
    ]
}

/// Builds the events of one campaign.
struct Story {
    campaign: Campaign,
    events: Vec<Event>,
}

impl Story {
    fn new(id: &str) -> Self {
        Story { campaign: campaign(id), events: Vec::new() }
    }

    fn push(&mut self, at: Millis, body: EventBody) {
        self.events.push(Event::new(self.campaign.id().clone(), at, body));
    }

    fn join(&mut self, p: &str, region: &str, unit: Option<&str>, nickname: &str, at: Millis) {
        self.join_via(p, region, unit, nickname, at, None);
    }

    /// A join through `inviter`'s link (one level below it). Everybody gets a relay code but p4,
    /// whose join reads like one written before relays existed.
    fn join_via(
        &mut self,
        p: &str,
        region: &str,
        unit: Option<&str>,
        nickname: &str,
        at: Millis,
        inviter: Option<&str>,
    ) {
        // Regions the campaign no longer has count only towards themselves.
        let places = match self.campaign.place(&place(region)) {
            Some(_) => self.campaign.ancestors(&place(region)),
            None => vec![place(region)],
        };
        let depth = inviter.map_or(0, |i| self.depth(i) + 1);
        self.push(
            at,
            EventBody::Joined {
                participant: pid(p),
                region: place(region),
                unit: unit.map(|u| UnitId::parse(u).unwrap()),
                nickname: nickname.into(),
                places,
                relay_code: (p != "p4").then(|| code(p)),
                inviter: inviter.map(pid),
                depth,
                client: None,
            },
        );
    }

    fn depth(&self, p: &str) -> u32 {
        self.events
            .iter()
            .find_map(|e| match &e.body {
                EventBody::Joined { participant, depth, .. } if participant.as_str() == p => Some(*depth),
                _ => None,
            })
            .expect("the inviter joined first")
    }

    fn start(&mut self, p: &str, a: &str, day: i32, at: Millis) {
        self.push(
            at,
            EventBody::AttemptStarted {
                participant: pid(p),
                attempt: aid(a),
                expires_at: at + 3 * 22 * S,
                limit_ms: 20 * S,
                day,
                questions: drawn(),
            },
        );
    }

    /// An answer to question `index`, `elapsed` ms after the previous one (the cursor).
    fn answer(&mut self, p: &str, a: &str, index: u32, judged: Judged, cursor: Millis) {
        let question = drawn()[index as usize].id.clone();
        self.push(
            cursor,
            EventBody::Answered { participant: pid(p), attempt: aid(a), question, index, judged, cursor },
        );
    }

    fn finish(&mut self, p: &str, a: &str, totals: Totals, reached_at: Millis, best: LeaderResult) {
        self.push(
            reached_at,
            EventBody::AttemptFinished {
                participant: pid(p),
                attempt: aid(a),
                totals,
                reached_at,
                best: LeaderResultWire::from(best),
            },
        );
    }

    /// A whole attempt: answers with these (correct, elapsed) from `start`, then the finish.
    fn attempt(&mut self, p: &str, a: &str, day: i32, start: Millis, answers: &[(bool, u64)], best: LeaderResult) {
        self.start(p, a, day, start);
        let (totals, cursor) = self.answers(p, a, start, answers);
        self.finish(p, a, totals, cursor, best);
    }

    fn answers(&mut self, p: &str, a: &str, start: Millis, answers: &[(bool, u64)]) -> (Totals, Millis) {
        let mut t = Totals { score: 0, correct_count: 0, total_ms: 0 };
        let mut cursor = start;
        for (i, &(correct, elapsed)) in answers.iter().enumerate() {
            let points = if correct { 10 } else { 0 };
            t.score += u64::from(points);
            t.correct_count += u32::from(correct);
            t.total_ms += elapsed;
            cursor += elapsed as Millis;
            let judged = Judged {
                choice_mask: if correct { drawn()[i].correct_mask } else { 1 << 3 },
                correct,
                points,
                timed_out: elapsed >= 20_000,
                elapsed_ms: elapsed,
                attempt_score: t.score,
            };
            self.answer(p, a, i as u32, judged, cursor);
        }
        (t, cursor)
    }
}

fn best(score: u64, total_ms: u64, reached_ms: Millis) -> LeaderResult {
    LeaderResult { score, total_ms, reached_ms }
}

/// Seven participants: two improving over two days, a tie on score and time (reached decides),
/// an exact tie (the id decides), an open attempt, nobody's attempt, and a participant of a
/// region and unit the campaign no longer has. Nicknames try CSV escaping and formulas.
fn story(id: &str) -> Story {
    let mut s = Story::new(id);
    s.join("p1", "north-1", Some("school-1"), "小明", T0);
    s.join_via("p2", "south", Some("plant"), "=1+2", T0 + 5 * S, Some("p1"));
    s.join_via("p3", "city", None, "Tom, \"T\"", T0 + 6 * S, Some("p2"));
    s.join("p4", "north", None, "-dash", T0 + 7 * S);
    s.join_via("p5", "north-1", Some("school-1"), "@at", T0 + 8 * S, Some("p1"));
    s.join("p6", "south", Some("plant"), "\tTab", T0 + 9 * S);
    s.join("p7", "gone-town", Some("gone"), "老王\r\n换行", T0 + 10 * S);
    // p1 shares its link twice (once before p2 joins) and it is opened three times; p3 shares
    // once, and its link is opened before its join is stored anywhere.
    s.push(T0 + S, EventBody::Shared { participant: pid("p1"), channel: ShareChannel::WechatFriend, n: 1 });
    s.push(T0 + 9 * S, EventBody::Shared { participant: pid("p1"), channel: ShareChannel::WechatMoments, n: 2 });
    for n in 1..=3 {
        s.push(T0 + (1 + n as i64) * S, EventBody::Clicked { participant: pid("p1"), n });
    }
    s.push(T0 + 7 * S, EventBody::Shared { participant: pid("p3"), channel: ShareChannel::WechatFriend, n: 1 });
    s.push(T0 + 7 * S, EventBody::Clicked { participant: pid("p3"), n: 1 });
    // p1: 20 points on day 1, 30 on day 2.
    s.attempt("p1", "a1", DAY1, T0 + 10 * S, &[(true, 3000), (true, 2000), (false, 4000)], best(20, 9000, T0 + 19 * S));
    let day2 = T0 + 90_000 * S;
    s.attempt("p1", "a2", DAY2, day2, &[(true, 5000), (true, 4000), (true, 3000)], best(30, 12_000, day2 + 12 * S));
    // p2: as good as p1, reached later.
    let b1 = day2 + 100 * S;
    s.attempt("p2", "b1", DAY2, b1, &[(true, 4000), (true, 4000), (true, 4000)], best(30, 12_000, b1 + 12 * S));
    // p3: one answer, then nothing (yet).
    s.start("p3", "c1", DAY2, day2 + 200 * S);
    s.answers("p3", "c1", day2 + 200 * S, &[(true, 2000)]);
    // p5 and p6: the same result at the same moment.
    let reached = T0 + 300 * S;
    for (p, a) in [("p5", "e1"), ("p6", "f1")] {
        let start = reached - 25_999;
        s.attempt(p, a, DAY1, start, &[(true, 5000), (false, 20_000), (false, 999)], best(10, 25_999, reached));
    }
    s
}

async fn stored(db: &Db, id: &str) -> Story {
    let s = story(id);
    db.put_campaign(s.campaign.doc()).await.unwrap();
    s
}

/// Everything the projections and the log say about a campaign, with the campaign id left out
/// so that campaigns fed the same events in different ways compare equal.
#[derive(Debug, PartialEq)]
struct Snapshot {
    count: i64,
    events: Vec<(String, Millis, String)>,
    participants: Vec<RebuiltParticipant>,
    day1: Vec<RebuiltAttempt>,
    day2: Vec<RebuiltAttempt>,
    exports: Vec<String>,
    relays: RelayTotals,
    relay_stats: Vec<Option<RelayStats>>,
    tallies: Tallies,
}

/// The console's counters of a campaign: in all, per minute, per question and per chain
/// depth, for the whole campaign and each place (one it no longer has included).
#[derive(Debug, PartialEq)]
struct Tallies {
    totals: Vec<Counts>,
    minutes: Vec<Vec<(Millis, Counts)>>,
    questions: Vec<BTreeMap<String, QuestionCounts>>,
    depths: Vec<Vec<(u32, u64)>>,
}

const TALLY_PLACES: [Option<&str>; 7] =
    [None, Some("city"), Some("north"), Some("north-1"), Some("south"), Some("gone-town"), Some("atlantis")];

async fn tallies(db: &Db, id: &CampaignId) -> Tallies {
    let mut t = Tallies { totals: vec![], minutes: vec![], questions: vec![], depths: vec![] };
    for p in TALLY_PLACES.map(|p| p.map(place)) {
        t.totals.push(db.tally_totals(id, p.as_ref()).await.unwrap());
        t.minutes.push(db.tally_minutes(id, p.as_ref(), i64::MIN, i64::MAX).await.unwrap());
        t.questions.push(db.tally_questions(id, p.as_ref()).await.unwrap());
        t.depths.push(db.tally_depths(id, p.as_ref()).await.unwrap());
    }
    t
}

async fn snapshot(db: &Db, c: &Campaign) -> Snapshot {
    let id = c.id();
    let mut events = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = db.events(id, after.as_deref(), 7).await.unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        events.extend(page.into_iter().map(|e| (e.id.clone(), e.at, format!("{:?}", e.body))));
    }
    let mut exports = Vec::new();
    for kind in ExportKind::ALL {
        exports.push(export(db, kind, c).await);
    }
    Snapshot {
        count: db.event_count(id).await.unwrap(),
        events,
        participants: all_participants(db, id, 3).await,
        day1: db.rebuild_attempts(id, DAY1).await.unwrap(),
        day2: db.rebuild_attempts(id, DAY2).await.unwrap(),
        exports,
        relays: db.relay_totals(id).await.unwrap(),
        relay_stats: relay_stats(db, id).await,
        tallies: tallies(db, id).await,
    }
}

/// The relay of p1…p7 and of someone who never joined.
async fn relay_stats(db: &Db, id: &CampaignId) -> Vec<Option<RelayStats>> {
    let mut out = Vec::new();
    for p in ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8"] {
        out.push(db.relay_stats(id, &pid(p)).await.unwrap());
    }
    out
}

async fn all_participants(db: &Db, id: &CampaignId, page: u32) -> Vec<RebuiltParticipant> {
    let mut all: Vec<RebuiltParticipant> = Vec::new();
    loop {
        let got = db.rebuild_participants(id, all.last().map(|p| &p.id), page).await.unwrap();
        if got.is_empty() {
            return all;
        }
        assert!(got.len() <= page as usize);
        all.extend(got);
    }
}

async fn export(db: &Db, kind: ExportKind, c: &Campaign) -> String {
    let mut out = Vec::new();
    db.export(kind, c, &mut out, |_| {}).await.unwrap();
    String::from_utf8(out).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Applying events.

async fn events_build_the_projections(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    let n = s.events.len();
    assert_eq!(db.apply_events(&s.events).await.unwrap(), Applied { new: n, duplicates: 0 });
    assert_eq!(db.event_count(&cid("demo")).await.unwrap(), n as i64);
    assert_eq!(db.apply_events(&[]).await.unwrap(), Applied::default());

    // The join made the participant row (the older API reads it too).
    let p1 = db.participant(&cid("demo"), &pid("p1")).await.unwrap().unwrap();
    assert_eq!(
        p1,
        ParticipantRow {
            campaign_id: cid("demo"),
            id: pid("p1"),
            region_id: place("north-1"),
            unit_id: Some(UnitId::parse("school-1").unwrap()),
            nickname: "小明".into(),
            inviter_id: None,
            joined_at_ms: T0,
        }
    );
    let ps = all_participants(db, &cid("demo"), 100).await;
    assert_eq!(ps.len(), 7);
    assert_eq!(ps[0].places, [place("north-1"), place("north"), place("city")]);
    assert_eq!(ps[0].best, Some(best(30, 12_000, T0 + 90_012 * S)));
    assert_eq!(ps[2].best, None, "p3 has not finished");
    assert_eq!(ps[3].best, None, "p4 has no attempt");

    // The relay fields of the joins, and the shares and clicks.
    let relay: Vec<(&str, Option<&str>, Option<&str>, u32)> = ps
        .iter()
        .map(|p| {
            (
                p.id.as_str(),
                p.relay_code.as_ref().map(RelayCode::as_str),
                p.inviter.as_ref().map(|i| i.as_str()),
                p.depth,
            )
        })
        .collect();
    assert_eq!(
        relay,
        [
            ("p1", Some("0000000001"), None, 0),
            ("p2", Some("0000000002"), Some("p1"), 1),
            ("p3", Some("0000000003"), Some("p2"), 2),
            ("p4", None, None, 0),
            ("p5", Some("0000000005"), Some("p1"), 1),
            ("p6", Some("0000000006"), None, 0),
            ("p7", Some("0000000007"), None, 0),
        ]
    );
    assert_eq!(db.participant(&cid("demo"), &pid("p3")).await.unwrap().unwrap().inviter_id, Some(pid("p2")));
    let channels =
        |pairs: &[(&str, u64)]| -> Vec<(String, u64)> { pairs.iter().map(|(c, n)| (c.to_string(), *n)).collect() };
    assert_eq!(
        db.relay_totals(&cid("demo")).await.unwrap(),
        RelayTotals {
            relayed_joins: 3,
            uncounted_joins: 3,
            shares_by_channel: channels(&[
                ("wechat_friend", 2),
                ("wechat_moments", 1),
                ("link", 0),
                ("qr", 0),
                ("other", 0)
            ]),
            clicks: 4,
        }
    );
    // Before any roll-up: no totals yet, but the chain and the latest joiners already show.
    assert_eq!(
        db.relay_stats(&cid("demo"), &pid("p1")).await.unwrap(),
        Some(RelayStats {
            direct: 0,
            descendants: 0,
            depth: 0,
            chain: vec![],
            recent: vec!["@at".into(), "=1+2".into()]
        })
    );
    assert_eq!(
        db.relay_stats(&cid("demo"), &pid("p3")).await.unwrap(),
        Some(RelayStats {
            direct: 0,
            descendants: 0,
            depth: 2,
            chain: vec!["=1+2".into(), "小明".into()],
            recent: vec![]
        })
    );
    assert_eq!(db.relay_stats(&cid("demo"), &pid("nobody")).await.unwrap(), None);
    assert_eq!(db.relay_stats(&cid("other"), &pid("p1")).await.unwrap(), None);

    // Every event is stored as its JSON, exactly.
    let stored = db.events(&cid("demo"), None, 1000).await.unwrap();
    let mut expected = s.events.clone();
    expected.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    assert_eq!(stored, expected);
}

async fn applying_again_changes_nothing(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    let n = s.events.len();
    db.apply_events(&s.events).await.unwrap();
    let before = snapshot(db, &s.campaign).await;
    assert_eq!(db.apply_events(&s.events).await.unwrap(), Applied { new: 0, duplicates: n });
    assert_eq!(snapshot(db, &s.campaign).await, before);
    // Reversed, one by one: still nothing.
    for e in s.events.iter().rev() {
        assert_eq!(db.apply_events(std::slice::from_ref(e)).await.unwrap(), Applied { new: 0, duplicates: 1 });
    }
    assert_eq!(snapshot(db, &s.campaign).await, before);
}

async fn overlapping_batches_apply_each_event_once(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    let n = s.events.len();
    let (first, second) = (&s.events[..n * 2 / 3], &s.events[n / 3..]);
    let overlap = first.len() + second.len() - n;
    assert_eq!(db.apply_events(first).await.unwrap(), Applied { new: first.len(), duplicates: 0 });
    assert_eq!(db.apply_events(second).await.unwrap(), Applied { new: n - first.len(), duplicates: overlap });
    assert_eq!(db.event_count(&cid("demo")).await.unwrap(), n as i64);

    // A batch repeating an event is the same as the event once.
    let reference = stored(db, "reference").await;
    db.apply_events(&reference.events).await.unwrap();
    let t = stored(db, "twice").await;
    let mut doubled: Vec<Event> = t.events.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    doubled.rotate_left(5);
    assert_eq!(db.apply_events(&doubled).await.unwrap(), Applied { new: n, duplicates: n });
    assert_eq!(snapshot(db, &t.campaign).await, snapshot(db, &reference.campaign).await);
    assert_eq!(snapshot(db, &s.campaign).await, snapshot(db, &reference.campaign).await);
}

async fn any_order_and_batching_gives_the_same_state(db: &Db, _url: &str) {
    let reference = stored(db, "in-order").await;
    db.apply_events(&reference.events).await.unwrap();
    let expected = snapshot(db, &reference.campaign).await;
    assert_eq!(expected.count, reference.events.len() as i64);

    // Every event alone, newest first: answers before their attempt, finishes before their
    // join, and so on.
    let s = stored(db, "reversed").await;
    for e in s.events.iter().rev() {
        assert_eq!(db.apply_events(std::slice::from_ref(e)).await.unwrap().new, 1);
    }
    assert_eq!(snapshot(db, &s.campaign).await, expected, "applied newest first");

    // Shuffled into random batches, some overlapping, a few times.
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..4 {
        let s = stored(db, &format!("shuffled-{round}")).await;
        let mut events = s.events.clone();
        events.shuffle(&mut rng);
        let mut i = 0;
        while i < events.len() {
            let len = rng.random_range(1..=12);
            let back = if i > 0 { rng.random_range(0..=i.min(3)) } else { 0 };
            let batch = &events[i - back..(i + len).min(events.len())];
            db.apply_events(batch).await.unwrap();
            i += len;
        }
        assert_eq!(snapshot(db, &s.campaign).await, expected, "round {round}: {events:#?}");
    }
}

/// Archivers racing over the same events (another pool each, as other processes would be):
/// every event is new to exactly one of them, and the state is the same as in order.
async fn concurrent_archivers_apply_each_event_once(db: &Db, url: &str) {
    let reference = stored(db, "in-order").await;
    db.apply_events(&reference.events).await.unwrap();
    let s = stored(db, "raced").await;
    let mut tasks = Vec::new();
    for seed in 0..4 {
        let db = Db::connect(url).await.unwrap();
        let mut events = s.events.clone();
        events.shuffle(&mut StdRng::seed_from_u64(seed));
        tasks.push(tokio::spawn(async move {
            let mut new = 0;
            for batch in events.chunks(5) {
                new += db.apply_events(batch).await.unwrap().new;
            }
            db.close().await;
            new
        }));
    }
    let mut new = 0;
    for t in tasks {
        new += t.await.unwrap();
    }
    assert_eq!(new, s.events.len());
    assert_eq!(snapshot(db, &s.campaign).await, snapshot(db, &reference.campaign).await);
}

async fn events_page_in_time_order(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    db.apply_events(&s.events).await.unwrap();
    let mut expected = s.events.clone();
    expected.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    // p5's and p6's finishes share a time: the id orders them.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = db.events(&cid("demo"), after.as_deref(), 4).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 4);
        after = page.last().map(|e| e.id.clone());
        paged.extend(page);
    }
    assert_eq!(paged, expected);
    let err = db.events(&cid("demo"), Some("j:nobody"), 4).await.unwrap_err();
    assert!(matches!(&err, DbError::UnknownEvent { event_id, .. } if event_id == "j:nobody"), "{err:?}");
    assert!(db.events(&cid("other"), None, 4).await.unwrap().is_empty());
    assert_eq!(db.event_count(&cid("other")).await.unwrap(), 0);
}

async fn unknown_campaigns_and_forged_events_are_refused(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    let ghost = story("ghost");
    let mut mixed = s.events[..3].to_vec();
    mixed.push(ghost.events[0].clone());
    let err = db.apply_events(&mixed).await.unwrap_err();
    assert!(matches!(&err, DbError::UnknownCampaign(c) if c.as_str() == "ghost"), "{err:?}");
    assert!(err.to_string().contains("import it first"), "{err}");
    // Nothing of the batch was written.
    assert_eq!(db.event_count(&cid("demo")).await.unwrap(), 0);
    assert!(db.participants(&cid("demo")).await.unwrap().is_empty());

    let mut forged = s.events[0].clone();
    forged.id = "j:someone-else".into();
    let err = db.apply_events(&[s.events[1].clone(), forged]).await.unwrap_err();
    assert!(matches!(err, DbError::Invalid(_)), "{err:?}");
    let mut future = s.events[0].clone();
    future.v = 2;
    assert!(matches!(db.apply_events(&[future]).await.unwrap_err(), DbError::Invalid(_)));
    assert_eq!(db.event_count(&cid("demo")).await.unwrap(), 0);

    // The same ids in two campaigns are two events.
    let other = stored(db, "other").await;
    assert_eq!(db.apply_events(&s.events[..1]).await.unwrap().new, 1);
    assert_eq!(db.apply_events(&other.events[..1]).await.unwrap().new, 1);
}

async fn join_events_complete_participants_stored_before(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    // Stored by the older API, without places; the join event keeps region and nickname.
    let row = ParticipantRow {
        campaign_id: cid("demo"),
        id: pid("p1"),
        region_id: place("south"),
        unit_id: None,
        nickname: "早到".into(),
        inviter_id: Some(pid("p0")),
        joined_at_ms: T0 - 1,
    };
    db.put_participant(&row).await.unwrap();
    db.apply_events(&s.events).await.unwrap();
    assert_eq!(db.participant(&cid("demo"), &pid("p1")).await.unwrap(), Some(row));
    let p1 = db.rebuild_participants(&cid("demo"), None, 1).await.unwrap().remove(0);
    assert_eq!(p1.places, [place("north-1"), place("north"), place("city")]);
    assert_eq!(p1.inviter, Some(pid("p0")));
    // The join event adds the relay code; the inviter and depth stay as first stored.
    assert_eq!(p1.relay_code, Some(code("p1")));
    assert_eq!(p1.depth, 0);
    assert_eq!(p1.best, Some(best(30, 12_000, T0 + 90_012 * S)));
}

async fn rebuild_reads_what_the_events_said(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    db.apply_events(&s.events).await.unwrap();
    let c = cid("demo");

    let ps = all_participants(db, &c, 2).await;
    let ids: Vec<&str> = ps.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    assert_eq!(
        ps[6],
        RebuiltParticipant {
            id: pid("p7"),
            region: place("gone-town"),
            unit: Some(UnitId::parse("gone").unwrap()),
            nickname: "老王\r\n换行".into(),
            inviter: None,
            relay_code: Some(code("p7")),
            depth: 0,
            places: vec![place("gone-town")],
            joined_at_ms: T0 + 10 * S,
            best: None,
        }
    );
    assert_eq!(ps[4].best, Some(best(10, 25_999, T0 + 300 * S)));
    assert_eq!(ps[1].best, Some(best(30, 12_000, T0 + 90_112 * S)));
    assert!(db.rebuild_participants(&c, Some(&pid("p7")), 10).await.unwrap().is_empty());

    // Day 1: p1's first attempt, p5's and p6's, and p3's open attempt (started on day 2).
    let day1 = db.rebuild_attempts(&c, DAY1).await.unwrap();
    let keys: Vec<(&str, &str)> = day1.iter().map(|a| (a.participant.as_str(), a.id.as_str())).collect();
    assert_eq!(keys, [("p1", "a1"), ("p3", "c1"), ("p5", "e1"), ("p6", "f1")]);
    let a1 = &day1[0];
    let judged = |choice_mask, correct, points, elapsed_ms, attempt_score| Judged {
        choice_mask,
        correct,
        points,
        timed_out: false,
        elapsed_ms,
        attempt_score,
    };
    assert_eq!(
        *a1,
        RebuiltAttempt {
            participant: pid("p1"),
            id: aid("a1"),
            day: DAY1,
            started_at: T0 + 10 * S,
            expires_at: T0 + 10 * S + 66 * S,
            limit_ms: 20 * S,
            questions: drawn(),
            answers: vec![
                Some(judged(2, true, 10, 3000, 10)),
                Some(judged(1, true, 10, 2000, 20)),
                Some(judged(8, false, 0, 4000, 20)),
            ],
            cursor: T0 + 19 * S,
            finished: Some((Totals { score: 20, correct_count: 2, total_ms: 9000 }, T0 + 19 * S)),
        }
    );
    let open = RebuiltAttempt {
        participant: pid("p3"),
        id: aid("c1"),
        day: DAY2,
        started_at: T0 + 90_200 * S,
        expires_at: T0 + 90_200 * S + 66 * S,
        limit_ms: 20 * S,
        questions: drawn(),
        answers: vec![Some(judged(2, true, 10, 2000, 10)), None, None],
        cursor: T0 + 90_202 * S,
        finished: None,
    };
    assert_eq!(day1[1], open);
    let timed_out = day1[2].answers[1].unwrap();
    assert!(timed_out.timed_out && !timed_out.correct && timed_out.elapsed_ms == 20_000, "{timed_out:?}");

    // Day 2: p1's second attempt, p2's, and p3's open one (once).
    let day2 = db.rebuild_attempts(&c, DAY2).await.unwrap();
    let keys: Vec<(&str, &str)> = day2.iter().map(|a| (a.participant.as_str(), a.id.as_str())).collect();
    assert_eq!(keys, [("p1", "a2"), ("p2", "b1"), ("p3", "c1")]);
    assert_eq!(day2[2], open);
    assert_eq!(day2[0].finished, Some((Totals { score: 30, correct_count: 3, total_ms: 12_000 }, T0 + 90_012 * S)));
    assert_eq!(day2[0].cursor, T0 + 90_012 * S);

    // Another day has only the open attempt; another campaign nothing.
    assert_eq!(db.rebuild_attempts(&c, DAY2 + 1).await.unwrap(), [open]);
    assert!(db.rebuild_attempts(&cid("other"), DAY1).await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Exports.

const BOM: &str = "\u{feff}";

async fn export_participants_csv(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    db.apply_events(&s.events).await.unwrap();
    let expected = [
        "participant_id,nickname,county,region,unit,joined_at",
        "p1,小明,\"北区,老城\",一街道,第一中学,2026-06-01T00:00:00.000Z",
        "p2,'=1+2,南县,南县,\"电厂 \"\"东\"\"\",2026-06-01T00:00:05.000Z",
        "p3,\"Tom, \"\"T\"\"\",,市,,2026-06-01T00:00:06.000Z",
        "p4,'-dash,\"北区,老城\",\"北区,老城\",,2026-06-01T00:00:07.000Z",
        "p5,'@at,\"北区,老城\",一街道,第一中学,2026-06-01T00:00:08.000Z",
        "p6,'\tTab,南县,南县,\"电厂 \"\"东\"\"\",2026-06-01T00:00:09.000Z",
        "p7,\"老王\r\n换行\",,gone-town,gone,2026-06-01T00:00:10.000Z",
    ];
    let mut out = Vec::new();
    let rows = db.export(ExportKind::Participants, &s.campaign, &mut out, |_| {}).await.unwrap();
    assert_eq!(rows, 7);
    assert_eq!(String::from_utf8(out).unwrap(), format!("{BOM}{}\r\n", expected.join("\r\n")));
}

async fn export_results_csv(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    db.apply_events(&s.events).await.unwrap();
    // Score desc, then time asc (p1 = p2), then reached asc (p1 first), then id desc (p6, p5).
    let expected = [
        "rank,participant_id,nickname,county,unit,best_score,best_seconds,reached_at,attempts",
        "1,p1,小明,\"北区,老城\",第一中学,30,12.000,2026-06-02T01:00:12.000Z,2",
        "2,p2,'=1+2,南县,\"电厂 \"\"东\"\"\",30,12.000,2026-06-02T01:01:52.000Z,1",
        "3,p6,'\tTab,南县,\"电厂 \"\"东\"\"\",10,25.999,2026-06-01T00:05:00.000Z,1",
        "4,p5,'@at,\"北区,老城\",第一中学,10,25.999,2026-06-01T00:05:00.000Z,1",
    ];
    let mut out = Vec::new();
    let rows = db.export(ExportKind::Results, &s.campaign, &mut out, |_| {}).await.unwrap();
    assert_eq!(rows, 4);
    assert_eq!(String::from_utf8(out).unwrap(), format!("{BOM}{}\r\n", expected.join("\r\n")));

    // Nobody finished: the header alone.
    let empty = stored(db, "empty").await;
    let mut out = Vec::new();
    assert_eq!(db.export(ExportKind::Results, &empty.campaign, &mut out, |_| {}).await.unwrap(), 0);
    assert_eq!(String::from_utf8(out).unwrap(), format!("{BOM}{}\r\n", expected[0]));
}

async fn export_units_csv(db: &Db, _url: &str) {
    let s = stored(db, "demo").await;
    db.apply_events(&s.events).await.unwrap();
    // The campaign's units in its order, then units it no longer has.
    let expected = [
        "unit_id,unit,county,region,target,participants,finished,rate,avg_best_score",
        "school-1,第一中学,\"北区,老城\",一街道,3,2,2,0.6667,20.0",
        "plant,\"电厂 \"\"东\"\"\",南县,南县,,2,2,,20.0",
        "office,'=cmd,,市,4,0,0,0.0000,",
        "gone,,,,,1,0,,",
    ];
    let mut out = Vec::new();
    let rows = db.export(ExportKind::Units, &s.campaign, &mut out, |_| {}).await.unwrap();
    assert_eq!(rows, 4);
    assert_eq!(String::from_utf8(out).unwrap(), format!("{BOM}{}\r\n", expected.join("\r\n")));

    assert_eq!("units".parse::<ExportKind>().unwrap(), ExportKind::Units);
    assert_eq!("participants".parse::<ExportKind>().unwrap(), ExportKind::Participants);
    assert_eq!("results".parse::<ExportKind>().unwrap(), ExportKind::Results);
    let err = "people".parse::<ExportKind>().unwrap_err();
    assert!(err.to_string().contains("participants, results or units"), "{err}");
}

async fn exports_stream_and_report_progress(db: &Db, _url: &str) {
    let s = stored(db, "big").await;
    let n = 25_000;
    let joins: Vec<Event> = (0..n)
        .map(|i| {
            Event::new(
                cid("big"),
                T0 + i,
                EventBody::Joined {
                    participant: pid(&format!("p{i:05}")),
                    region: place("south"),
                    unit: Some(UnitId::parse("plant").unwrap()),
                    nickname: format!("选手{i}"),
                    places: vec![place("south"), place("city")],
                    relay_code: None,
                    inviter: None,
                    depth: 0,
                    client: None,
                },
            )
        })
        .collect();
    for batch in joins.chunks(5_000) {
        db.apply_events(batch).await.unwrap();
    }
    // A small writer buffer is written through many times; progress every 10,000 rows.
    let (client, mut server) = tokio::io::duplex(4096);
    let reader = tokio::spawn(async move {
        let mut text = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut server, &mut text).await.unwrap();
        text
    });
    let mut calls = Vec::new();
    let rows = db.export(ExportKind::Participants, &s.campaign, client, |n| calls.push(n)).await.unwrap();
    assert_eq!(rows, n as u64);
    assert_eq!(calls, [10_000, 20_000]);
    let text = String::from_utf8(reader.await.unwrap()).unwrap();
    assert_eq!(text.lines().count(), n as usize + 1);
    assert!(
        text.ends_with("p24999,选手24999,南县,南县,\"电厂 \"\"东\"\"\",2026-06-01T00:00:24.999Z\r\n"),
        "{}",
        &text[text.len() - 200..]
    );

    let mut units = Vec::new();
    db.export(ExportKind::Units, &s.campaign, &mut units, |_| {}).await.unwrap();
    assert!(String::from_utf8(units).unwrap().contains("\r\nplant,\"电厂 \"\"东\"\"\",南县,南县,,25000,0,,\r\n"));
}

// ---------------------------------------------------------------------------------------------
// Throughput (printed, never asserted).

/// 5,000 events of 385 participants (join, start, ten answers, finish each): applied in one
/// call, then again (all duplicates), then another 5,000 in batches of 500.
async fn throughput_of_5000_events(db: &Db, _url: &str) {
    fn events(campaign: &str, n: usize) -> Vec<Event> {
        let c = cid(campaign);
        let questions: Vec<DrawnQuestion> = (0..10)
            .map(|i| DrawnQuestion {
                id: QuestionId::parse(&format!("q-{i}")).unwrap(),
                kind: QuestionKind::Single,
                perm: vec![2, 0, 3, 1],
                correct_mask: 4,
                points: 10,
            })
            .collect();
        let mut out = Vec::new();
        let mut p = 0;
        while out.len() < n {
            let participant = ParticipantId::for_device(&c, &format!("device-{p}"));
            let attempt = AttemptId::parse(&format!("a{p:06}")).unwrap();
            let at = T0 + p * 10 * S;
            out.push(Event::new(
                c.clone(),
                at,
                EventBody::Joined {
                    participant: participant.clone(),
                    region: place("north-1"),
                    unit: Some(UnitId::parse("school-1").unwrap()),
                    nickname: format!("选手{p}"),
                    places: vec![place("north-1"), place("north"), place("city")],
                    relay_code: None,
                    inviter: None,
                    depth: 0,
                    client: None,
                },
            ));
            out.push(Event::new(
                c.clone(),
                at,
                EventBody::AttemptStarted {
                    participant: participant.clone(),
                    attempt: attempt.clone(),
                    expires_at: at + 220 * S,
                    limit_ms: 20 * S,
                    day: DAY1,
                    questions: questions.clone(),
                },
            ));
            let mut score = 0;
            for (i, q) in questions.iter().enumerate() {
                let correct = (p + i as i64) % 3 != 0;
                score += if correct { 10 } else { 0 };
                let cursor = at + (i as i64 + 1) * 3 * S;
                out.push(Event::new(
                    c.clone(),
                    cursor,
                    EventBody::Answered {
                        participant: participant.clone(),
                        attempt: attempt.clone(),
                        question: q.id.clone(),
                        index: i as u32,
                        judged: Judged {
                            choice_mask: if correct { 4 } else { 1 },
                            correct,
                            points: if correct { 10 } else { 0 },
                            timed_out: false,
                            elapsed_ms: 3000,
                            attempt_score: score,
                        },
                        cursor,
                    },
                ));
            }
            let reached = at + 30 * S;
            out.push(Event::new(
                c.clone(),
                reached,
                EventBody::AttemptFinished {
                    participant,
                    attempt,
                    totals: Totals { score, correct_count: (score / 10) as u32, total_ms: 30_000 },
                    reached_at: reached,
                    best: LeaderResultWire { score, total_ms: 30_000, reached_ms: reached },
                },
            ));
            p += 1;
        }
        out.truncate(n);
        out
    }

    let engine = db.engine().as_str();
    for c in ["load", "load-2"] {
        db.put_campaign(&doc(c)).await.unwrap();
    }
    let batch = events("load", 5_000);
    let started = Instant::now();
    assert_eq!(db.apply_events(&batch).await.unwrap(), Applied { new: 5_000, duplicates: 0 });
    let one_call = started.elapsed();
    let started = Instant::now();
    assert_eq!(db.apply_events(&batch).await.unwrap(), Applied { new: 0, duplicates: 5_000 });
    let again = started.elapsed();
    let more = events("load-2", 5_000);
    let started = Instant::now();
    for b in more.chunks(500) {
        db.apply_events(b).await.unwrap();
    }
    let batches = started.elapsed();
    let rate = |d: std::time::Duration| (5_000.0 / d.as_secs_f64()).round();
    println!(
        "THROUGHPUT {engine}: 5000 new events in one call: {:?} ({} events/s); the same again (duplicates): {:?} \
         ({} events/s); 5000 in batches of 500: {:?} ({} events/s)",
        one_call,
        rate(one_call),
        again,
        rate(again),
        batches,
        rate(batches)
    );
    assert_eq!(db.event_count(&cid("load")).await.unwrap(), 5_000);
    let ps = db.rebuild_participants(&cid("load"), None, 1_000).await.unwrap();
    assert_eq!(ps.len(), 385);
    assert_eq!(ps.iter().filter(|p| p.best.is_some()).count(), 384, "every whole attempt was finished");
}

// ---------------------------------------------------------------------------------------------
// Tallies: the console's counters.

/// The story's counters, by hand: the whole campaign, a county and its township, and a place
/// the campaign no longer has; counted once however often the events arrive, and the same when
/// counted again from the log.
async fn tallies_count_each_event_once_where_it_belongs(db: &Db, _url: &str) {
    let s = stored(db, "tallied").await;
    let id = s.campaign.id().clone();
    db.apply_events(&s.events).await.unwrap();
    db.apply_events(&s.events).await.unwrap();
    let whole = db.tally_totals(&id, None).await.unwrap();
    let want = Counts {
        joins: 7,
        relayed: 3,
        attempts: 6,
        finishes: 5,
        answers: 16,
        correct: 11,
        timed_out: 2,
        answer_ms: 9000 + 12_000 + 12_000 + 2000 + 2 * 25_999,
        shares: 3,
        sharers: 2,
        clicks: 4,
    };
    assert_eq!(whole, want);
    // The city holds everybody but p7, whose place the campaign no longer has.
    let city = db.tally_totals(&id, Some(&place("city"))).await.unwrap();
    assert_eq!((city.joins, city.relayed, city.attempts, city.answers), (6, 3, 6, 16));
    // north: p1 (north-1), p4 (north), p5 (north-1).
    let north = db.tally_totals(&id, Some(&place("north"))).await.unwrap();
    assert_eq!((north.joins, north.relayed, north.attempts, north.finishes), (3, 1, 3, 3));
    assert_eq!((north.shares, north.sharers, north.clicks), (2, 1, 3));
    // north-1 is the same but for p4, who joined at north itself and did nothing else.
    let north_1 = db.tally_totals(&id, Some(&place("north-1"))).await.unwrap();
    assert_eq!(north_1, Counts { joins: 2, ..north });
    assert_eq!(db.tally_totals(&id, Some(&place("gone-town"))).await.unwrap().joins, 1);
    assert_eq!(db.tally_totals(&id, Some(&place("atlantis"))).await.unwrap(), Counts::default());

    // Minutes add up to the totals, and fall where the events happened.
    let minutes = db.tally_minutes(&id, None, i64::MIN, i64::MAX).await.unwrap();
    let mut sum = Counts::default();
    for (m, c) in &minutes {
        assert_eq!(m % 60_000, 0);
        for (a, b) in [(&mut sum.joins, c.joins), (&mut sum.answers, c.answers), (&mut sum.shares, c.shares)] {
            *a += b;
        }
    }
    assert_eq!((sum.joins, sum.answers, sum.shares), (7, 16, 3));
    assert_eq!(minutes[0].0, T0);
    assert_eq!(minutes[0].1.joins, 7, "everybody joined in the first minute");
    let first_hour = db.tally_minutes(&id, None, T0, T0 + 3_600_000).await.unwrap();
    assert!(first_hour.iter().all(|(m, _)| (T0..T0 + 3_600_000).contains(m)));
    assert!(first_hour.len() < minutes.len());

    // Questions (every attempt draws law-1, law-2, harm-1): law-1 answered in all six
    // attempts, always right; law-2 in the five that got that far, twice timed out.
    let q = db.tally_questions(&id, None).await.unwrap();
    let law_1 = q["law-1"];
    assert_eq!((law_1.answers, law_1.correct, law_1.timed_out), (6, 6, 0), "{q:?}");
    let law_2 = q["law-2"];
    assert_eq!((law_2.answers, law_2.correct, law_2.timed_out), (5, 3, 2), "{q:?}");
    assert_eq!((q["harm-1"].answers, q["harm-1"].correct), (5, 2), "{q:?}");
    let north_q = db.tally_questions(&id, Some(&place("north"))).await.unwrap();
    assert_eq!(north_q["law-1"].answers, 3, "p1 twice and p5");

    // Depths: four origins (p1, p4, p6, p7), p2 and p5 at 1, p3 at 2.
    assert_eq!(db.tally_depths(&id, None).await.unwrap(), vec![(0, 4), (1, 2), (2, 1)]);
    assert_eq!(db.tally_depths(&id, Some(&place("north"))).await.unwrap(), vec![(0, 2), (1, 1)]);

    // Counting again from the log gives the same rows.
    let before = tallies(db, &id).await;
    let mut seen = Vec::new();
    let counted = db.rebuild_tallies(&id, |n| seen.push(n)).await.unwrap();
    assert_eq!(counted, s.events.len() as u64);
    assert_eq!(seen.last(), Some(&counted));
    assert_eq!(tallies(db, &id).await, before);
}
