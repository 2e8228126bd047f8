//! The behaviour every hot store must show, written once.
//!
//! Each case is an `async fn(&dyn HotStore)` that panics on a violation. [`conformance_suite!`]
//! turns the whole list into `#[tokio::test]`s for one store; `tests/conformance.rs` runs it
//! for the embedded store and for Redis (a throwaway `redis-server`). Each case works in its own
//! campaign, so cases can share a store and run in parallel.

use crate::*;
use baton_core::campaign::QuestionKind;
use baton_core::draw::DrawnQuestion;
use baton_core::events::{Event, EventBody, ShareChannel};
use baton_core::relay::{CodeOwner, RelayCode};
use baton_core::scoring::GRACE_MS;
use std::sync::atomic::{AtomicU32, Ordering};

/// Seconds per question in these cases, in ms.
pub const LIMIT: Millis = 20_000;
/// A fixed "now" (2026-06-10T00:00:00Z).
pub const T0: Millis = 1_781_049_600_000;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A campaign id no other case uses (in this process or another run against the same Redis).
pub fn fresh_campaign() -> CampaignId {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nonce: u32 = rand_nonce();
    CampaignId::parse(&format!("conf-{nonce:08x}-{n}")).expect("valid id")
}

fn rand_nonce() -> u32 {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970");
    t.subsec_nanos() ^ (std::process::id() << 12)
}

pub fn pid(c: &CampaignId, device: &str) -> ParticipantId {
    ParticipantId::for_device(c, device)
}

fn place(s: &str) -> PlaceId {
    PlaceId::parse(s).unwrap()
}

fn q(id: &str, kind: QuestionKind, perm: Vec<u8>, correct_mask: u32) -> DrawnQuestion {
    DrawnQuestion { id: QuestionId::parse(id).unwrap(), kind, perm, correct_mask, points: 10 }
}

/// A three-question attempt started at `now`: q0 single (answer 1), q1 multi (answers 0 and
/// 2), q2 true/false (answer 0).
pub fn attempt(p: &ParticipantId, id: &str, now: Millis) -> AttemptState {
    let questions = vec![
        q("q0", QuestionKind::Single, vec![2, 0, 1], 0b010),
        q("q1", QuestionKind::Multi, vec![3, 1, 0, 2], 0b101),
        q("q2", QuestionKind::Judge, vec![0, 1], 0b01),
    ];
    AttemptState {
        id: AttemptId::parse(id).unwrap(),
        participant: p.clone(),
        started_at: now,
        expires_at: baton_core::scoring::attempt_expires(now, questions.len(), LIMIT),
        limit_ms: LIMIT,
        answers: vec![None; questions.len()],
        questions,
        cursor: now,
        finished: None,
    }
}

/// A relay code made from a device name (unique per device in these cases).
pub fn code_of(device: &str) -> RelayCode {
    let h = device.bytes().fold(7u64, |h, b| h.wrapping_mul(131).wrapping_add(u64::from(b)));
    RelayCode::parse(&format!("{:010}", h % 10_000_000_000)).expect("digits make a code")
}

pub async fn join(s: &dyn HotStore, c: &CampaignId, device: &str, region: &str, unit: Option<&str>) -> JoinOutcome {
    join_via(s, c, device, region, unit, None).await
}

/// Joins with an inviter already attributed.
pub async fn join_via(
    s: &dyn HotStore,
    c: &CampaignId,
    device: &str,
    region: &str,
    unit: Option<&str>,
    inviter: Option<CodeOwner>,
) -> JoinOutcome {
    s.join(JoinCmd {
        campaign: c.clone(),
        participant: pid(c, device),
        region: place(region),
        unit: unit.map(|u| UnitId::parse(u).unwrap()),
        places: match region {
            "t1" => vec![place("t1"), place("c1"), place("city")],
            "c2" => vec![place("c2"), place("city")],
            other => vec![place(other)],
        },
        nickname: Nickname::parse(&format!("nick-{device}")).unwrap(),
        now: T0,
        relay_code: code_of(device),
        inviter,
        client: Some(format!("client-{device}")),
    })
    .await
    .unwrap()
}

pub async fn start(
    s: &dyn HotStore,
    c: &CampaignId,
    p: &ParticipantId,
    id: &str,
    now: Millis,
    day: i32,
) -> StartOutcome {
    s.start_attempt(StartCmd {
        campaign: c.clone(),
        participant: p.clone(),
        attempt: attempt(p, id, now),
        day,
        per_day: 2,
    })
    .await
    .unwrap()
}

pub async fn answer(
    s: &dyn HotStore,
    c: &CampaignId,
    p: &ParticipantId,
    a: &str,
    question: &str,
    mask: u32,
    now: Millis,
) -> AnswerOutcome {
    s.answer(AnswerCmd {
        campaign: c.clone(),
        participant: p.clone(),
        attempt: AttemptId::parse(a).unwrap(),
        question: QuestionId::parse(question).unwrap(),
        choice_mask: mask,
        now,
    })
    .await
    .unwrap()
}

pub async fn finish(s: &dyn HotStore, c: &CampaignId, p: &ParticipantId, a: &str, now: Millis) -> FinishOutcome {
    s.finish(FinishCmd { campaign: c.clone(), participant: p.clone(), attempt: AttemptId::parse(a).unwrap(), now })
        .await
        .unwrap()
}

fn finished_of(o: FinishOutcome) -> (Finished, LeaderResult, bool) {
    match o {
        FinishOutcome::Finished { finished, best, newly } => (finished, best, newly),
        other => panic!("expected a finish, got {other:?}"),
    }
}

pub async fn join_is_idempotent(s: &dyn HotStore) {
    let c = fresh_campaign();
    let JoinOutcome::Created(first) = join(s, &c, "dev-a", "t1", Some("u1")).await else {
        panic!("first join creates")
    };
    assert_eq!(first.nickname, "nick-dev-a");
    assert_eq!((first.best, first.open_attempt.clone()), (None, None));
    // Joining again changes nothing, whatever the second call says.
    let again = s
        .join(JoinCmd {
            campaign: c.clone(),
            participant: first.id.clone(),
            region: place("c2"),
            unit: None,
            places: vec![place("c2"), place("city")],
            nickname: Nickname::parse("other").unwrap(),
            now: T0 + 5,
            relay_code: code_of("something else"),
            inviter: Some(CodeOwner { campaign: c.clone(), participant: pid(&c, "dev-z"), depth: 0 }),
            client: None,
        })
        .await
        .unwrap();
    assert_eq!(again, JoinOutcome::Existing(first.clone()));
    assert_eq!(s.participant(&c, &first.id).await.unwrap(), Some(first));
    join(s, &c, "dev-b", "c2", None).await;
    let agg = s.aggregates(&c).await.unwrap();
    assert_eq!(agg.participants, 2);
    assert_eq!(agg.places[&place("city")].participants, 2);
    assert_eq!(agg.places[&place("c1")].participants, 1);
    assert_eq!(agg.places[&place("t1")].participants, 1);
    assert_eq!(agg.places[&place("c2")].participants, 1);
    assert_eq!(agg.units[&UnitId::parse("u1").unwrap()].participants, 1);
    assert_eq!(s.participant(&c, &pid(&c, "nobody")).await.unwrap(), None);
}

pub async fn attempts_resume_and_respect_the_daily_limit(s: &dyn HotStore) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    assert_eq!(start(s, &c, &p, "a1", T0, 10).await, StartOutcome::NoParticipant);
    join(s, &c, "dev-a", "t1", None).await;
    let StartOutcome::Started(a1) = start(s, &c, &p, "a1", T0, 10).await else { panic!("starts") };
    assert_eq!(a1, attempt(&p, "a1", T0));
    // A reload: the open attempt comes back, answers and all, instead of a new one.
    answer(s, &c, &p, "a1", "q0", 0b010, T0 + 1_000).await;
    let StartOutcome::Resumed(r) = start(s, &c, &p, "a2", T0 + 2_000, 10).await else { panic!("resumes") };
    assert_eq!(r.id.as_str(), "a1");
    assert_eq!(r.answers[0].map(|j| j.points), Some(10));
    assert_eq!(r.cursor, T0 + 1_000);
    assert_eq!(Some(r.clone()), s.attempt(&c, &p, &r.id).await.unwrap());
    let st = s.participant(&c, &p).await.unwrap().unwrap();
    assert_eq!((st.open_attempt.as_ref().map(AttemptId::as_str), st.attempts_left(10, 2)), (Some("a1"), 1));
    finish(s, &c, &p, "a1", T0 + 3_000).await;
    assert!(matches!(start(s, &c, &p, "a2", T0 + 4_000, 10).await, StartOutcome::Started(_)));
    finish(s, &c, &p, "a2", T0 + 5_000).await;
    assert_eq!(start(s, &c, &p, "a3", T0 + 6_000, 10).await, StartOutcome::Exhausted);
    assert_eq!(s.participant(&c, &p).await.unwrap().unwrap().attempts_left(10, 2), 0);
    // The next campaign day allows attempts again.
    assert!(matches!(start(s, &c, &p, "a3", T0 + 86_400_000, 11).await, StartOutcome::Started(_)));
    assert_eq!(s.participant(&c, &p).await.unwrap().unwrap().attempts_left(11, 2), 1);
}

pub async fn answers_are_judged_once(s: &dyn HotStore) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    join(s, &c, "dev-a", "t1", None).await;
    start(s, &c, &p, "a1", T0, 10).await;
    let first = answer(s, &c, &p, "a1", "q1", 0b101, T0 + 4_000).await;
    let AnswerOutcome::Judged(Answered { index: 1, correct_mask: 0b101, judged }) = first else {
        panic!("judged: {first:?}")
    };
    let answered = Answered { index: 1, correct_mask: 0b101, judged };
    assert_eq!(
        (judged.correct, judged.points, judged.timed_out, judged.elapsed_ms, judged.attempt_score),
        (true, 10, false, 4_000, 10)
    );
    // The same answer again: the first judgement, unchanged (even later).
    assert_eq!(answer(s, &c, &p, "a1", "q1", 0b101, T0 + 9_000).await, AnswerOutcome::Repeat(answered));
    // A different answer to an answered question.
    assert_eq!(answer(s, &c, &p, "a1", "q1", 0b001, T0 + 9_000).await, AnswerOutcome::Conflict(answered));
    // Partly right is wrong; the clock runs from the previous answer.
    let AnswerOutcome::Judged(Answered { index: 0, correct_mask: 0b010, judged: wrong }) =
        answer(s, &c, &p, "a1", "q0", 0b001, T0 + 7_000).await
    else {
        panic!()
    };
    assert_eq!((wrong.correct, wrong.points, wrong.elapsed_ms, wrong.attempt_score), (false, 0, 3_000, 10));
    assert_eq!(answer(s, &c, &p, "a1", "nope", 1, T0 + 8_000).await, AnswerOutcome::NotInAttempt);
    assert_eq!(answer(s, &c, &p, "zz", "q2", 1, T0 + 8_000).await, AnswerOutcome::AttemptNotFound);
    // Someone else's attempt does not exist for me.
    let other = pid(&c, "dev-b");
    join(s, &c, "dev-b", "t1", None).await;
    assert_eq!(answer(s, &c, &other, "a1", "q2", 1, T0 + 8_000).await, AnswerOutcome::AttemptNotFound);
    assert_eq!(s.attempt(&c, &other, &AttemptId::parse("a1").unwrap()).await.unwrap(), None);
    let a = s.attempt(&c, &p, &AttemptId::parse("a1").unwrap()).await.unwrap().unwrap();
    assert_eq!(a.answers, vec![Some(wrong), Some(judged), None]);
}

pub async fn late_answers_time_out(s: &dyn HotStore) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    join(s, &c, "dev-a", "t1", None).await;
    start(s, &c, &p, "a1", T0, 10).await;
    // Within the grace it still counts, with its time capped at the limit.
    let AnswerOutcome::Judged(Answered { judged, .. }) =
        answer(s, &c, &p, "a1", "q0", 0b010, T0 + LIMIT + GRACE_MS).await
    else {
        panic!()
    };
    assert_eq!((judged.correct, judged.timed_out, judged.elapsed_ms), (true, false, LIMIT as u64));
    // Past the limit and the grace: wrong, no points, flagged.
    let late = T0 + LIMIT + GRACE_MS + LIMIT + GRACE_MS + 1;
    let AnswerOutcome::Judged(Answered { judged, .. }) = answer(s, &c, &p, "a1", "q1", 0b101, late).await else {
        panic!()
    };
    assert_eq!((judged.correct, judged.points, judged.timed_out, judged.attempt_score), (false, 0, true, 10));
    // The next question's clock started when that one ran out, not at the late answer.
    let a = s.attempt(&c, &p, &AttemptId::parse("a1").unwrap()).await.unwrap().unwrap();
    assert_eq!(a.cursor, T0 + LIMIT + GRACE_MS + LIMIT);
    // Past the attempt's expiry it takes no answer at all: nothing stored, no event.
    let expired = a.expires_at + 1;
    assert_eq!(answer(s, &c, &p, "a1", "q2", 0b01, expired).await, AnswerOutcome::AttemptFinished);
    let after = s.attempt(&c, &p, &AttemptId::parse("a1").unwrap()).await.unwrap().unwrap();
    assert_eq!((after.cursor, after.answers.iter().flatten().count()), (a.cursor, 2));
}

pub async fn finishing_totals_once(s: &dyn HotStore) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    join(s, &c, "dev-a", "t1", Some("u1")).await;
    start(s, &c, &p, "a1", T0, 10).await;
    answer(s, &c, &p, "a1", "q0", 0b010, T0 + 5_000).await;
    answer(s, &c, &p, "a1", "q1", 0b100, T0 + 6_500).await;
    let (f, best, newly) = finished_of(finish(s, &c, &p, "a1", T0 + 7_000).await);
    assert!(newly);
    assert_eq!(f.totals, Totals { score: 10, correct_count: 1, total_ms: 5_000 + 1_500 + LIMIT as u64 });
    assert_eq!(f.reached_at, T0 + 7_000);
    assert_eq!(best, LeaderResult { score: 10, total_ms: f.totals.total_ms, reached_ms: T0 + 7_000 });
    // Again: the same result, not closed twice.
    assert_eq!(finish(s, &c, &p, "a1", T0 + 9_000).await, FinishOutcome::Finished { finished: f, best, newly: false });
    assert_eq!(answer(s, &c, &p, "a1", "q2", 0b01, T0 + 9_000).await, AnswerOutcome::AttemptFinished);
    assert!(matches!(answer(s, &c, &p, "a1", "q0", 0b010, T0 + 9_000).await, AnswerOutcome::Repeat(_)));
    assert_eq!(finish(s, &c, &p, "zz", T0).await, FinishOutcome::AttemptNotFound);
    let st = s.participant(&c, &p).await.unwrap().unwrap();
    assert_eq!((st.best, st.open_attempt), (Some(best), None));
    let agg = s.aggregates(&c).await.unwrap();
    for key in [place("t1"), place("c1"), place("city")] {
        assert_eq!((agg.places[&key].best_sum, agg.places[&key].best_count), (10, 1), "{key}");
    }
    assert_eq!(agg.units[&UnitId::parse("u1").unwrap()].best_sum, 10);
}

pub async fn the_best_attempt_counts(s: &dyn HotStore) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    join(s, &c, "dev-a", "t1", None).await;
    // First: one right, slow.
    start(s, &c, &p, "a1", T0, 10).await;
    answer(s, &c, &p, "a1", "q0", 0b010, T0 + 9_000).await;
    let (_, b1, _) = finished_of(finish(s, &c, &p, "a1", T0 + 10_000).await);
    // Second: all three right: better.
    let t = T0 + 100_000;
    start(s, &c, &p, "a2", t, 10).await;
    answer(s, &c, &p, "a2", "q0", 0b010, t + 1_000).await;
    answer(s, &c, &p, "a2", "q1", 0b101, t + 2_000).await;
    answer(s, &c, &p, "a2", "q2", 0b01, t + 3_000).await;
    let (f2, b2, _) = finished_of(finish(s, &c, &p, "a2", t + 3_000).await);
    assert_eq!(f2.totals, Totals { score: 30, correct_count: 3, total_ms: 3_000 });
    assert_eq!(b2, LeaderResult { score: 30, total_ms: 3_000, reached_ms: t + 3_000 });
    assert!(b2.score > b1.score);
    // Third, next day: the same score but slower does not replace the best.
    let t = T0 + 86_400_000;
    start(s, &c, &p, "a3", t, 11).await;
    answer(s, &c, &p, "a3", "q0", 0b010, t + 1_000).await;
    answer(s, &c, &p, "a3", "q1", 0b101, t + 2_000).await;
    answer(s, &c, &p, "a3", "q2", 0b01, t + 4_000).await;
    let (_, b3, _) = finished_of(finish(s, &c, &p, "a3", t + 4_000).await);
    assert_eq!(b3, b2);
    let agg = s.aggregates(&c).await.unwrap();
    assert_eq!((agg.places[&place("city")].best_sum, agg.places[&place("city")].best_count), (30, 1));
}

pub async fn an_expired_attempt_is_reported_and_closes_at_its_expiry(s: &dyn HotStore) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    join(s, &c, "dev-a", "t1", None).await;
    let StartOutcome::Started(a) = start(s, &c, &p, "a1", T0, 10).await else { panic!() };
    let later = a.expires_at + 60_000;
    assert_eq!(start(s, &c, &p, "a2", later, 10).await, StartOutcome::OpenExpired(a.id.clone()));
    let (f, _, _) = finished_of(finish(s, &c, &p, "a1", later).await);
    assert_eq!(f.reached_at, a.expires_at);
    assert_eq!(f.totals, Totals { score: 0, correct_count: 0, total_ms: 3 * LIMIT as u64 });
    assert!(matches!(start(s, &c, &p, "a2", later, 10).await, StartOutcome::Started(_)));
}

pub async fn concurrent_answers_are_judged_once(s: &dyn HotStore) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    join(s, &c, "dev-a", "t1", None).await;
    start(s, &c, &p, "a1", T0, 10).await;
    let tries = (0..40u32).map(|i| answer(s, &c, &p, "a1", "q0", 1 << (i % 3), T0 + 1_000 + Millis::from(i)));
    let outcomes = futures_join_all(tries).await;
    let judged: Vec<_> = outcomes.iter().filter(|o| matches!(o, AnswerOutcome::Judged(_))).collect();
    assert_eq!(judged.len(), 1, "{outcomes:?}");
    let AnswerOutcome::Judged(Answered { judged: first, .. }) = judged[0] else { unreachable!() };
    for o in &outcomes {
        match o {
            AnswerOutcome::Judged(_) => {}
            AnswerOutcome::Repeat(a) | AnswerOutcome::Conflict(a) => assert_eq!(&a.judged, first),
            other => panic!("{other:?}"),
        }
    }
    let a = s.attempt(&c, &p, &AttemptId::parse("a1").unwrap()).await.unwrap().unwrap();
    assert_eq!(a.answers[0], Some(*first));
}

async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let handles: Vec<_> = fs.collect();
    let mut out = Vec::with_capacity(handles.len());
    // Poll them concurrently on this task.
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => done[i] = Some(v),
                    std::task::Poll::Pending => all = false,
                }
            }
        }
        if all { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    out.extend(done.into_iter().map(|d| d.expect("all done")));
    out
}

/// A participant's rank and the board's size, as [`HotStore::page_around`] answers them.
async fn standing(s: &dyn HotStore, c: &CampaignId, b: &Board, p: &ParticipantId) -> HotResult<Option<Standing>> {
    Ok(s.page_around(c, b, p, 0).await?.map(|(rank, page)| Standing { rank, total: page.total }))
}

pub async fn leaderboards_order_and_never_lower(s: &dyn HotStore) {
    let c = fresh_campaign();
    let ids: Vec<ParticipantId> = (0..6).map(|i| pid(&c, &format!("dev-{i}"))).collect();
    for i in 0..6 {
        join(s, &c, &format!("dev-{i}"), "t1", None).await;
    }
    let region = Board::Region(place("c1"));
    let boards = [Board::Score, region.clone()];
    let keys = [500u64, 900, 700, 900, 100, 300];
    for (id, &k) in ids.iter().zip(&keys) {
        s.publish_best(&c, id, k, &boards).await.unwrap();
    }
    // Publishing a lower key changes nothing (ZADD GT); a higher one moves up.
    let st = s.publish_best(&c, &ids[1], 50, &boards).await.unwrap();
    assert_eq!(st.len(), 2);
    assert_eq!(st[0].total, 6);
    let top = s.board_page(&c, &Board::Score, 0, 10).await.unwrap();
    assert_eq!(top.total, 6);
    let got: Vec<u64> = top.entries.iter().map(|(_, k)| *k).collect();
    assert_eq!(got, vec![900, 900, 700, 500, 300, 100]);
    // Equal keys: participant id descending, as Redis orders equal scores.
    let (a, b) = (&top.entries[0].0, &top.entries[1].0);
    assert!(a > b);
    let mut tied = [ids[1].clone(), ids[3].clone()];
    tied.sort();
    assert_eq!(a, &tied[1]);
    // Ranks agree with the page; pages slice it.
    for (rank, (id, _)) in top.entries.iter().enumerate() {
        assert_eq!(standing(s, &c, &Board::Score, id).await.unwrap(), Some(Standing { rank: rank as u64, total: 6 }));
    }
    let page = s.board_page(&c, &region, 2, 2).await.unwrap();
    assert_eq!(page.entries, top.entries[2..4].to_vec());
    assert_eq!(s.board_page(&c, &Board::Score, 10, 5).await.unwrap(), BoardPage { entries: vec![], total: 6 });
    let up = s.publish_best(&c, &ids[4], 1_000, &boards).await.unwrap();
    assert_eq!(up, vec![Standing { rank: 0, total: 6 }; 2]);
    // Around a participant: from `limit / 2` above it, cut at the top and the bottom.
    let all = s.board_page(&c, &Board::Score, 0, 10).await.unwrap().entries;
    let around = |rank: usize, limit: u64| {
        let id = all[rank].0.clone();
        let c = c.clone();
        async move { s.page_around(&c, &Board::Score, &id, limit).await.unwrap() }
    };
    let page = |start: usize, end: usize| BoardPage { entries: all[start..end].to_vec(), total: 6 };
    assert_eq!(around(3, 2).await, Some((2, page(2, 4))));
    assert_eq!(around(3, 3).await, Some((2, page(2, 5))));
    assert_eq!(around(0, 4).await, Some((0, page(0, 4))), "at the top");
    assert_eq!(around(1, 5).await, Some((0, page(0, 5))));
    assert_eq!(around(5, 4).await, Some((3, page(3, 6))), "at the bottom");
    assert_eq!(around(4, 1).await, Some((4, page(4, 5))));
    assert_eq!(around(4, 0).await, Some((4, page(4, 4))), "no entries asked: the rank alone");
    assert_eq!(s.page_around(&c, &region, &all[2].0, 2).await.unwrap(), Some((1, page(1, 3))), "boards agree");
    let unit = Board::Unit(UnitId::parse("u9").unwrap());
    assert_eq!(s.page_around(&c, &unit, &ids[0], 5).await.unwrap(), None, "not on the board");
    assert_eq!(s.page_around(&c, &Board::Score, &pid(&c, "nobody"), 5).await.unwrap(), None);
    assert_eq!(standing(s, &c, &Board::Unit(UnitId::parse("u9").unwrap()), &ids[0]).await.unwrap(), None);
    assert_eq!(s.board_page(&c, &Board::Unit(UnitId::parse("u9").unwrap()), 0, 5).await.unwrap(), BoardPage::default());
    let names = s.nicknames(&c, &[ids[2].clone(), pid(&c, "nobody")]).await.unwrap();
    assert_eq!(names, vec![Some("nick-dev-2".to_owned()), None]);
    s.ping().await.unwrap();
}

/// The leaderboard layout of [`hidden_participants_leave_the_boards_and_come_back`].
fn hiding_layout() -> baton_core::leader::LeaderLayout {
    baton_core::leader::LeaderLayout::new(30, 3 * LIMIT as u64, T0 - 86_400_000, T0 + 10 * 86_400_000)
        .expect("a layout")
}

/// The boards of [`hidden_participants_leave_the_boards_and_come_back`].
fn hiding_boards() -> [Board; 2] {
    [Board::Score, Board::Region(place("c1"))]
}

/// Plays attempt `attempt` of `p` from `at`: the first `right` of its three questions right,
/// each answered `each` ms after the previous; finishes it and publishes the best on
/// [`hiding_boards`]. Returns the best and the standings.
async fn play_and_publish(
    s: &dyn HotStore,
    c: &CampaignId,
    p: &ParticipantId,
    attempt: &str,
    right: usize,
    at: Millis,
    each: Millis,
) -> (LeaderResult, Vec<Standing>) {
    let (layout, boards) = (hiding_layout(), hiding_boards());
    assert!(matches!(start(s, c, p, attempt, at, 1).await, StartOutcome::Started(_)));
    let (right_masks, wrong_masks) = ([0b010, 0b101, 0b01], [0b001, 0b001, 0b10]);
    for i in 0..3 {
        let mask = if i < right { right_masks[i] } else { wrong_masks[i] };
        answer(s, c, p, attempt, &format!("q{i}"), mask, at + each * (i as Millis + 1)).await;
    }
    let (_, best, _) = finished_of(finish(s, c, p, attempt, at + each * 4).await);
    let standings = s.publish_best(c, p, layout.key(best), &boards).await.unwrap();
    (best, standings)
}

/// Hiding takes a participant off the boards (those below move up) and keeps it off whatever
/// it publishes, while it plays on, keeps its best and counts in the counters; showing it puts
/// its best back. Both are idempotent; unknown participants change nothing.
pub async fn hidden_participants_leave_the_boards_and_come_back(s: &dyn HotStore) {
    let c = fresh_campaign();
    let (layout, boards) = (hiding_layout(), hiding_boards());
    let devs = ["hide-a", "hide-b", "hide-c"];
    let ids: Vec<ParticipantId> = devs.iter().map(|d| pid(&c, d)).collect();
    for (i, d) in devs.iter().enumerate() {
        join(s, &c, d, "t1", None).await;
        play_and_publish(s, &c, &ids[i], "a1", 3 - i, T0, 1_000).await;
    }
    let order = |page: BoardPage| page.entries.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(order(s.board_page(&c, &Board::Score, 0, 10).await.unwrap()), ids);

    assert!(s.hide(&c, &ids[1], &boards).await.unwrap());
    assert!(s.hide(&c, &ids[1], &boards).await.unwrap(), "hiding twice is hiding once");
    assert!(!s.hide(&c, &pid(&c, "nobody"), &boards).await.unwrap());
    for b in &boards {
        let page = s.board_page(&c, b, 0, 10).await.unwrap();
        assert_eq!((order(page.clone()), page.total), (vec![ids[0].clone(), ids[2].clone()], 2), "{b:?}");
        assert_eq!(standing(s, &c, b, &ids[1]).await.unwrap(), None, "a hidden participant is off the board");
        assert_eq!(standing(s, &c, b, &ids[2]).await.unwrap(), Some(Standing { rank: 1, total: 2 }));
    }

    // Hidden, it plays on: a better attempt is ranked as if it stood there, and stays off.
    let (best, standings) = play_and_publish(s, &c, &ids[1], "a2", 3, T0 + 100_000, 100).await;
    assert_eq!(best.score, 30);
    assert_eq!(standings, vec![Standing { rank: 0, total: 3 }; 2]);
    assert_eq!(order(s.board_page(&c, &Board::Score, 0, 10).await.unwrap()), vec![ids[0].clone(), ids[2].clone()]);
    assert_eq!(s.participant(&c, &ids[1]).await.unwrap().unwrap().best, Some(best));
    let agg = s.aggregates(&c).await.unwrap();
    assert_eq!(agg.places[&place("c1")].best_count, 3, "a hidden participant still counts");
    assert_eq!(agg.places[&place("c1")].best_sum, 30 + 30 + 10);

    assert!(s.unhide(&c, &ids[1], &boards, &layout).await.unwrap());
    assert!(s.unhide(&c, &ids[1], &boards, &layout).await.unwrap(), "showing twice is showing once");
    assert!(!s.unhide(&c, &pid(&c, "nobody"), &boards, &layout).await.unwrap());
    for b in &boards {
        let page = s.board_page(&c, b, 0, 10).await.unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(page.entries[0], (ids[1].clone(), layout.key(best)), "{b:?}: back with its best");
        assert_eq!(standing(s, &c, b, &ids[2]).await.unwrap(), Some(Standing { rank: 2, total: 3 }));
    }
    // Shown again, a publish is an ordinary one.
    let again = s.publish_best(&c, &ids[1], layout.key(best), &boards).await.unwrap();
    assert_eq!(again, vec![Standing { rank: 0, total: 3 }; 2]);
    // A rebuild's clear forgets the mark (the record in SQL hides it again).
    s.clear_campaign(&c).await.unwrap();
    assert!(!s.hide(&c, &ids[1], &boards).await.unwrap());
}

/// Reads back the events a store emitted for a campaign.
#[async_trait]
pub trait EventProbe: Send + Sync {
    async fn events(&self, campaign: &CampaignId) -> Vec<Event>;
}

/// An [`EventSink`] that keeps events in memory, for testing the embedded store.
#[derive(Debug, Default)]
pub struct MemorySink(std::sync::Mutex<Vec<Event>>);

#[async_trait]
impl EventSink for MemorySink {
    async fn commit(&self, events: Vec<Event>) -> Result<(), String> {
        self.0.lock().expect("sink lock poisoned").extend(events);
        Ok(())
    }
}

#[async_trait]
impl EventProbe for MemorySink {
    async fn events(&self, campaign: &CampaignId) -> Vec<Event> {
        self.0.lock().expect("sink lock poisoned").iter().filter(|e| &e.campaign == campaign).cloned().collect()
    }
}

#[async_trait]
impl EventProbe for crate::redis::RedisStore {
    async fn events(&self, campaign: &CampaignId) -> Vec<Event> {
        self.stream_events(campaign).await.expect("reads the streams")
    }
}

/// Every change appends exactly one event, with the content of the change; a repeat or a
/// refusal appends none.
pub async fn every_change_is_one_event(s: &dyn HotStore, probe: &dyn EventProbe) {
    let c = fresh_campaign();
    let p = pid(&c, "dev-a");
    join(s, &c, "dev-a", "t1", Some("u1")).await;
    join(s, &c, "dev-a", "t1", Some("u1")).await;
    start(s, &c, &p, "a1", T0, 10).await;
    start(s, &c, &p, "a2", T0 + 10, 10).await; // resumes a1: no event
    answer(s, &c, &p, "a1", "q1", 0b101, T0 + 4_000).await;
    answer(s, &c, &p, "a1", "q1", 0b101, T0 + 5_000).await; // repeat
    answer(s, &c, &p, "a1", "q1", 0b001, T0 + 5_000).await; // conflict
    answer(s, &c, &p, "a1", "nope", 1, T0 + 5_000).await; // refused
    answer(s, &c, &p, "a1", "q0", 0b001, T0 + 6_000).await;
    finish(s, &c, &p, "a1", T0 + 7_000).await;
    finish(s, &c, &p, "a1", T0 + 8_000).await; // repeat
    let events = probe.events(&c).await;
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let want =
        [format!("j:{p}"), format!("s:{p}:a1"), format!("a:{p}:a1:q1"), format!("a:{p}:a1:q0"), format!("f:{p}:a1")];
    assert_eq!(ids, want.iter().map(String::as_str).collect::<Vec<_>>());
    for e in &events {
        assert_eq!((e.v, &e.campaign), (baton_core::events::VERSION, &c));
        assert_eq!(Event::from_json(&e.to_json()).as_ref(), Ok(e), "round trips");
    }
    assert_eq!(events[0].at, T0);
    let EventBody::Joined { places, unit, nickname, client, .. } = &events[0].body else { panic!("{:?}", events[0]) };
    assert_eq!((places.len(), unit.as_ref().map(UnitId::as_str), nickname.as_str()), (3, Some("u1"), "nick-dev-a"));
    assert_eq!(client.as_deref(), Some("client-dev-a"), "the join's client fingerprint is in its event");
    let EventBody::AttemptStarted { questions, day, expires_at, .. } = &events[1].body else { panic!() };
    assert_eq!(
        (questions, *day, *expires_at),
        (&attempt(&p, "a1", T0).questions, 10, attempt(&p, "a1", T0).expires_at)
    );
    let EventBody::Answered { index, judged, cursor, .. } = &events[2].body else { panic!() };
    assert_eq!((*index, judged.correct, judged.points, judged.elapsed_ms, *cursor), (1, true, 10, 4_000, T0 + 4_000));
    assert_eq!(events[2].at, T0 + 4_000);
    let EventBody::Answered { judged, .. } = &events[3].body else { panic!() };
    assert_eq!((judged.correct, judged.attempt_score), (false, 10));
    let EventBody::AttemptFinished { totals, reached_at, best, .. } = &events[4].body else { panic!() };
    assert_eq!((totals.score, totals.correct_count, *reached_at), (10, 1, T0 + 7_000));
    assert_eq!(
        LeaderResult::from(*best),
        LeaderResult { score: 10, total_ms: totals.total_ms, reached_ms: T0 + 7_000 }
    );
}

/// Clearing a campaign and restoring its participants and attempts gives back the same state:
/// participants, attempts mid-way, counters; and restoring emits no events.
pub async fn a_cleared_campaign_can_be_restored(s: &dyn HotStore, probe: &dyn EventProbe) {
    let c = fresh_campaign();
    let (a, b) = (pid(&c, "dev-a"), pid(&c, "dev-b"));
    join(s, &c, "dev-a", "t1", Some("u1")).await;
    join(s, &c, "dev-b", "c2", None).await;
    start(s, &c, &a, "a1", T0, 10).await;
    answer(s, &c, &a, "a1", "q0", 0b010, T0 + 1_000).await;
    finish(s, &c, &a, "a1", T0 + 2_000).await;
    start(s, &c, &a, "a2", T0 + 3_000, 10).await;
    answer(s, &c, &a, "a2", "q2", 0b01, T0 + 4_000).await;
    let before = (
        s.participant(&c, &a).await.unwrap().unwrap(),
        s.participant(&c, &b).await.unwrap().unwrap(),
        s.attempt(&c, &a, &AttemptId::parse("a1").unwrap()).await.unwrap().unwrap(),
        s.attempt(&c, &a, &AttemptId::parse("a2").unwrap()).await.unwrap().unwrap(),
        s.aggregates(&c).await.unwrap(),
    );
    s.publish_best(&c, &a, 77, &[Board::Score]).await.unwrap();
    let events = probe.events(&c).await.len();
    s.clear_campaign(&c).await.unwrap();
    assert_eq!(s.participant(&c, &a).await.unwrap(), None);
    assert_eq!(s.aggregates(&c).await.unwrap(), Aggregates::default());
    assert_eq!(s.totals(&c).await.unwrap(), Aggregates::default());
    assert_eq!(s.board_page(&c, &Board::Score, 0, 10).await.unwrap(), BoardPage::default());
    let places = |r: &str| match r {
        "t1" => vec![place("t1"), place("c1"), place("city")],
        _ => vec![place("c2"), place("city")],
    };
    for st in [&before.0, &before.1] {
        s.restore_participant(&c, RestoredParticipant { state: st.clone(), places: places(st.region.as_str()) })
            .await
            .unwrap();
    }
    s.restore_attempt(&c, before.2.clone()).await.unwrap();
    s.restore_attempt(&c, before.3.clone()).await.unwrap();
    let after = (
        s.participant(&c, &a).await.unwrap().unwrap(),
        s.participant(&c, &b).await.unwrap().unwrap(),
        s.attempt(&c, &a, &AttemptId::parse("a1").unwrap()).await.unwrap().unwrap(),
        s.attempt(&c, &a, &AttemptId::parse("a2").unwrap()).await.unwrap().unwrap(),
        s.aggregates(&c).await.unwrap(),
    );
    assert_eq!(after, before);
    assert_eq!(probe.events(&c).await.len(), events, "restoring emits no events");
    // The restored attempt carries on: the next answer is judged against its clock.
    let AnswerOutcome::Judged(Answered { judged, .. }) = answer(s, &c, &a, "a2", "q0", 0b010, T0 + 6_000).await else {
        panic!()
    };
    assert_eq!((judged.elapsed_ms, judged.attempt_score), (2_000, 20));
}

/// Relay codes, inviters and depths are fixed at join; relayed joins are counted per place and
/// unit; shares and link opens are counted and each is one event.
pub async fn relays_are_recorded(s: &dyn HotStore, probe: &dyn EventProbe) {
    let c = fresh_campaign();
    let JoinOutcome::Created(root) = join(s, &c, "dev-root", "t1", None).await else { panic!() };
    assert_eq!((root.relay_code.clone(), root.inviter.clone(), root.depth), (code_of("dev-root"), None, 0));
    let owner = CodeOwner { campaign: c.clone(), participant: root.id.clone(), depth: 0 };
    assert_eq!(s.register_code(&root.relay_code, &owner).await.unwrap(), owner);
    assert_eq!(s.register_code(&root.relay_code, &owner).await.unwrap(), owner, "idempotent");
    // A code already taken stays with its first owner.
    let thief = CodeOwner { campaign: c.clone(), participant: pid(&c, "dev-thief"), depth: 0 };
    assert_eq!(s.register_code(&root.relay_code, &thief).await.unwrap(), owner);
    assert_eq!(s.resolve_code(&root.relay_code).await.unwrap(), Some(owner.clone()));
    assert_eq!(s.resolve_code(&code_of("nobody")).await.unwrap(), None);

    let JoinOutcome::Created(child) = join_via(s, &c, "dev-child", "t1", Some("u1"), Some(owner.clone())).await else {
        panic!()
    };
    assert_eq!((child.inviter.as_ref(), child.depth), (Some(&root.id), 1));
    // A re-join never changes the inviter.
    let other = CodeOwner { campaign: c.clone(), participant: pid(&c, "dev-other"), depth: 4 };
    let JoinOutcome::Existing(again) = join_via(s, &c, "dev-child", "t1", Some("u1"), Some(other)).await else {
        panic!()
    };
    assert_eq!((again.inviter.as_ref(), again.depth), (Some(&root.id), 1));
    let grand = CodeOwner { campaign: c.clone(), participant: child.id.clone(), depth: 1 };
    let JoinOutcome::Created(g) = join_via(s, &c, "dev-grand", "c2", None, Some(grand)).await else { panic!() };
    assert_eq!(g.depth, 2);
    let agg = s.aggregates(&c).await.unwrap();
    assert_eq!((agg.participants, agg.relayed), (3, 2));
    assert_eq!(agg.places[&place("city")].relayed, 2);
    assert_eq!(agg.places[&place("t1")].relayed, 1);
    assert_eq!(agg.places[&place("c2")].relayed, 1);
    assert_eq!(agg.units[&UnitId::parse("u1").unwrap()].relayed, 1);

    assert_eq!(s.share(&c, &root.id, ShareChannel::WechatMoments, T0 + 10).await.unwrap(), Some(1));
    assert_eq!(s.share(&c, &root.id, ShareChannel::Qr, T0 + 11).await.unwrap(), Some(2));
    assert_eq!(s.share(&c, &pid(&c, "nobody"), ShareChannel::Qr, T0 + 11).await.unwrap(), None);
    s.click(&owner, T0 + 12).await.unwrap();
    let agg = s.aggregates(&c).await.unwrap();
    assert_eq!((agg.shares, agg.clicks), (2, 1));
    let totals = s.totals(&c).await.unwrap();
    assert_eq!((totals.participants, totals.relayed, totals.shares, totals.clicks), (3, 2, 2, 1));
    assert!(totals.places.is_empty() && totals.units.is_empty());
    // Each participant's events are in order; shards may interleave them, so compare sorted.
    let events = probe.events(&c).await;
    let mut kinds: Vec<(String, String)> = events.iter().map(|e| (e.body.kind().to_owned(), e.id.clone())).collect();
    kinds.sort();
    let (r, ch, gr) = (root.id.as_str(), child.id.as_str(), g.id.as_str());
    let mut want: Vec<(String, String)> = [
        ("joined", format!("j:{r}")),
        ("joined", format!("j:{ch}")),
        ("joined", format!("j:{gr}")),
        ("shared", format!("sh:{r}:1")),
        ("shared", format!("sh:{r}:2")),
        ("clicked", format!("c:{r}:1")),
    ]
    .into_iter()
    .map(|(k, id)| (k.to_owned(), id))
    .collect();
    want.sort();
    assert_eq!(kinds, want);
    let by_id = |id: String| events.iter().find(|e| e.id == id).expect("emitted").body.clone();
    let EventBody::Joined { inviter, depth, relay_code, .. } = by_id(format!("j:{ch}")) else { panic!() };
    assert_eq!((inviter.as_ref(), depth, relay_code.as_ref()), (Some(&root.id), 1, Some(&code_of("dev-child"))));
    let EventBody::Shared { channel, n, .. } = by_id(format!("sh:{r}:2")) else { panic!() };
    assert_eq!((channel, n), (ShareChannel::Qr, 2));
    // Restoring keeps the relay fields and the relayed counters.
    let before = (s.participant(&c, &child.id).await.unwrap().unwrap(), s.aggregates(&c).await.unwrap());
    s.clear_campaign(&c).await.unwrap();
    let places = |r: &str| match r {
        "t1" => vec![place("t1"), place("c1"), place("city")],
        _ => vec![place("c2"), place("city")],
    };
    for st in [&root, &child, &g] {
        s.restore_participant(&c, RestoredParticipant { state: st.clone(), places: places(st.region.as_str()) })
            .await
            .unwrap();
    }
    let after = (s.participant(&c, &child.id).await.unwrap().unwrap(), s.aggregates(&c).await.unwrap());
    assert_eq!(after.0, before.0);
    assert_eq!(
        (after.1.relayed, after.1.places.clone(), after.1.units.clone()),
        (before.1.relayed, before.1.places, before.1.units)
    );
}

/// Shared values expire; a lease has one holder at a time and is released only by it.
pub async fn shared_values_and_leases(s: &dyn HotStore) {
    let name = format!("test:{}", fresh_campaign());
    assert_eq!(s.shared_get(&name).await.unwrap(), None);
    s.shared_set(&name, "token-1", 60_000).await.unwrap();
    assert_eq!(s.shared_get(&name).await.unwrap().as_deref(), Some("token-1"));
    s.shared_set(&name, "token-2", 60_000).await.unwrap();
    assert_eq!(s.shared_get(&name).await.unwrap().as_deref(), Some("token-2"));
    let short = format!("{name}:short");
    s.shared_set(&short, "gone soon", 30).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    assert_eq!(s.shared_get(&short).await.unwrap(), None, "expired");
    let lease = format!("{name}:lease");
    assert!(s.shared_lease(&lease, "pod-a", 60_000).await.unwrap());
    assert!(!s.shared_lease(&lease, "pod-b", 60_000).await.unwrap());
    s.shared_release(&lease, "pod-b").await.unwrap();
    assert!(!s.shared_lease(&lease, "pod-b", 60_000).await.unwrap(), "only the holder releases");
    s.shared_release(&lease, "pod-a").await.unwrap();
    assert!(s.shared_lease(&lease, "pod-b", 60_000).await.unwrap());
    let brief = format!("{name}:brief");
    assert!(s.shared_lease(&brief, "pod-a", 30).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(80)).await;
    assert!(s.shared_lease(&brief, "pod-b", 60_000).await.unwrap(), "an expired lease is free");
}

/// A shared counter counts every increment once, whoever makes it, and starts again from 1
/// once it has expired.
pub async fn shared_counters_count_once(s: &dyn HotStore) {
    let name = format!("test:{}:count", fresh_campaign());
    for want in 1..=3 {
        assert_eq!(s.shared_incr(&name, 60_000).await.unwrap(), want);
    }
    // Callers at the same moment (pods, in production) each get their own count.
    let four = |_: u8| async {
        let mut got = Vec::new();
        for _ in 0..10 {
            got.push(s.shared_incr(&name, 60_000).await.unwrap());
        }
        got
    };
    let (a, b, c, d) = tokio::join!(four(0), four(1), four(2), four(3));
    let mut all: Vec<u64> = [a, b, c, d].concat();
    all.sort_unstable();
    assert_eq!(all, (4..=43).collect::<Vec<u64>>());
    assert_eq!(s.shared_get(&name).await.unwrap().as_deref(), Some("43"));
    assert_eq!(s.shared_incr(&format!("{name}:other"), 60_000).await.unwrap(), 1, "counters are independent");
    // A later increment does not extend the counter's life.
    let brief = format!("{name}:brief");
    assert_eq!(s.shared_incr(&brief, 50).await.unwrap(), 1);
    assert_eq!(s.shared_incr(&brief, 60_000).await.unwrap(), 2);
    tokio::time::sleep(std::time::Duration::from_millis(120)).await;
    assert_eq!(s.shared_incr(&brief, 60_000).await.unwrap(), 1, "an expired counter starts again");
}

/// Every case, as `#[tokio::test]`s for the store `$make` builds. `$make` is an async block
/// that returns `(guard, Arc<dyn HotStore>, Arc<dyn EventProbe>)`; the guard lives as long as
/// the test.
#[macro_export]
macro_rules! conformance_suite {
    ($make:expr) => {
        $crate::conformance_suite!(@cases $make;
            join_is_idempotent,
            attempts_resume_and_respect_the_daily_limit,
            answers_are_judged_once,
            late_answers_time_out,
            finishing_totals_once,
            the_best_attempt_counts,
            an_expired_attempt_is_reported_and_closes_at_its_expiry,
            concurrent_answers_are_judged_once,
            leaderboards_order_and_never_lower,
            shared_values_and_leases,
            shared_counters_count_once,
            hidden_participants_leave_the_boards_and_come_back,
        );
        $crate::conformance_suite!(@probed $make;
            every_change_is_one_event,
            a_cleared_campaign_can_be_restored,
            relays_are_recorded,
        );
    };
    (@probed $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (_guard, store, probe) = $make;
                $crate::conformance::$case(&*store, &*probe).await;
            }
        )*
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (_guard, store, _probe) = $make;
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}
