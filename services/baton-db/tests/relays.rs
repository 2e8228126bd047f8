//! The relay suite: the share chains stored from join, share and click events, the totals
//! rolled up exactly once (checked against a naive recount of the tree), joins that arrive
//! before their inviters', a chain 10,000 deep, and the reads for a participant's relay and
//! the relay board. Every case runs on both engines, like `tests/events.rs`.

#[macro_use]
mod common;

use baton_core::Millis;
use baton_core::campaign::CampaignDoc;
use baton_core::events::{Event, EventBody, ShareChannel};
use baton_core::ids::{CampaignId, ParticipantId, PlaceId};
use baton_core::relay::RelayCode;
use baton_db::{Applied, Db, RelayStats, RolledUp};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::time::Instant;

on_both_engines!(
    relay_events_are_projected,
    a_clashing_relay_code_does_not_stop_the_batch,
    roll_up_counts_a_small_tree,
    replaying_or_rolling_up_again_changes_nothing,
    joins_before_their_inviters_wait_and_count_once,
    concurrent_roll_ups_count_each_join_once,
    a_chain_10000_deep_converges,
    relay_stats_chain_and_recent,
    relay_board_ranks_direct_then_descendants_then_id,
);

/// 2026-06-01T00:00:00Z.
const T0: Millis = 1_780_272_000_000;

fn doc(id: &str) -> CampaignDoc {
    serde_json::from_value(json!({
        "format": 1, "id": id, "title": "全民禁毒网络接力大赛", "description": "",
        "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-10T23:59:59.999Z",
        "rules": {"questions_per_attempt": 1, "seconds_per_question": 20, "attempts_per_day": 3,
                  "time_zone": "Asia/Shanghai", "points_per_question": 10, "quotas": {}},
        "categories": [{"id": "law", "name": "法律"}],
        "regions": [{"id": "city", "name": "市", "level": "city"}],
        "units": [],
        "questions": [
            {"id": "law-1", "kind": "single", "category": "law", "difficulty": 1, "stem": "毒品是指？",
             "options": ["鸦片等", "烟草", "酒"], "answer": [0], "explanation": "刑法第357条。", "source": "刑法"}]
    }))
    .expect("the test campaign parses")
}

async fn campaign(db: &Db, id: &str) -> CampaignId {
    db.put_campaign(&doc(id)).await.unwrap();
    cid(id)
}

fn cid(s: &str) -> CampaignId {
    CampaignId::parse(s).unwrap()
}
fn pid(s: &str) -> ParticipantId {
    ParticipantId::parse(s).unwrap()
}
/// Participant `i`'s id.
fn p(i: usize) -> ParticipantId {
    pid(&format!("p{i:05}"))
}
/// Participant `i`'s nickname.
fn nick(i: usize) -> String {
    format!("选手{i}")
}
/// Participant `i`'s relay code: its number, zero-padded.
fn code(i: usize) -> RelayCode {
    RelayCode::parse(&format!("{i:010}")).unwrap()
}

/// A forest: `parent[i]` is participant `i`'s inviter (always an earlier participant), `None`
/// for an origin.
#[derive(Clone)]
struct Forest {
    parent: Vec<Option<usize>>,
}

impl Forest {
    /// `n` participants; about one in eight is an origin, the others pick an earlier inviter,
    /// favouring recent ones so that chains get deep.
    fn random(n: usize, seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut parent = Vec::with_capacity(n);
        for i in 0..n {
            if i == 0 || rng.random_range(0..8) == 0 {
                parent.push(None);
            } else {
                let back = rng.random_range(1..=i.min(6));
                parent.push(Some(if rng.random_bool(0.5) { i - back } else { rng.random_range(0..i) }));
            }
        }
        Forest { parent }
    }

    fn chain(n: usize) -> Self {
        Forest { parent: (0..n).map(|i| i.checked_sub(1)).collect() }
    }

    fn depth(&self, i: usize) -> u32 {
        let mut d = 0;
        let mut cur = i;
        while let Some(up) = self.parent[cur] {
            d += 1;
            cur = up;
        }
        d
    }

    /// Participant `i`'s join event, `i` seconds after T0.
    fn join(&self, c: &CampaignId, i: usize) -> Event {
        Event::new(
            c.clone(),
            T0 + i as Millis * 1_000,
            EventBody::Joined {
                participant: p(i),
                region: PlaceId::parse("city").unwrap(),
                unit: None,
                nickname: nick(i),
                places: vec![PlaceId::parse("city").unwrap()],
                relay_code: Some(code(i)),
                inviter: self.parent[i].map(p),
                depth: self.depth(i),
                client: None,
            },
        )
    }

    fn joins(&self, c: &CampaignId) -> Vec<Event> {
        (0..self.parent.len()).map(|i| self.join(c, i)).collect()
    }

    /// The totals counted the slow way: (direct, descendants) per participant.
    fn naive(&self) -> Vec<(u64, u64)> {
        let mut out = vec![(0, 0); self.parent.len()];
        for i in 0..self.parent.len() {
            if let Some(up) = self.parent[i] {
                out[up].0 += 1;
            }
            let mut cur = i;
            while let Some(up) = self.parent[cur] {
                out[up].1 += 1;
                cur = up;
            }
        }
        out
    }
}

/// Rolls up in batches of `limit` until a call counts nothing; returns the calls' results.
async fn roll_up_all(db: &Db, c: &CampaignId, limit: u32) -> Vec<RolledUp> {
    let mut calls = Vec::new();
    loop {
        let r = db.roll_up_relays(c, limit).await.unwrap();
        calls.push(r);
        if r.joins == 0 {
            return calls;
        }
        assert!(calls.len() < 100_000, "the roll-up does not converge");
    }
}

/// Every participant's (direct, descendants) as stored, by participant number: the relay
/// board read to its end, cross-checked with `relay_stats`.
async fn stored_totals(db: &Db, c: &CampaignId, n: usize) -> Vec<(u64, u64)> {
    let mut out = vec![(0, 0); n];
    let mut offset = 0;
    loop {
        let page = db.top_relayers(c, 7, offset).await.unwrap();
        if page.is_empty() {
            break;
        }
        for (id, nickname, direct, descendants) in &page {
            let i: usize = id.as_str()[1..].parse().unwrap();
            assert_eq!(nickname, &nick(i));
            out[i] = (*direct, *descendants);
        }
        offset += page.len() as u64;
    }
    for (i, &(direct, descendants)) in out.iter().enumerate() {
        let s = db.relay_stats(c, &p(i)).await.unwrap().unwrap();
        assert_eq!((s.direct, s.descendants), (direct, descendants), "relay_stats of p{i}");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Projections.

async fn relay_events_are_projected(db: &Db, _url: &str) {
    let c = campaign(db, "demo").await;
    let f = Forest { parent: vec![None, Some(0), Some(1), Some(0)] };
    let mut events = f.joins(&c);
    // A join written before relays existed: no code, no inviter, depth 0.
    let old = r#"{"v":1,"id":"j:old","campaign":"demo","at":1,"kind":"joined","participant":"old","region":"city","unit":null,"nickname":"老","places":["city"]}"#;
    events.push(Event::from_json(old).unwrap());
    let shares = [
        (0, ShareChannel::WechatFriend),
        (0, ShareChannel::WechatMoments),
        (0, ShareChannel::Qr),
        (1, ShareChannel::WechatFriend),
        (9, ShareChannel::Other),
    ];
    for (k, (i, channel)) in shares.into_iter().enumerate() {
        events.push(Event::new(
            c.clone(),
            T0 + k as Millis,
            EventBody::Shared { participant: p(i), channel, n: k as u64 },
        ));
    }
    for n in 0..5 {
        events.push(Event::new(c.clone(), T0 + n as Millis, EventBody::Clicked { participant: p(n as usize % 2), n }));
    }
    let total = events.len();
    assert_eq!(db.apply_events(&events).await.unwrap(), Applied { new: total, duplicates: 0 });

    let ps = db.rebuild_participants(&c, None, 100).await.unwrap();
    let got: Vec<(String, Option<String>, Option<String>, u32)> = ps
        .iter()
        .map(|r| {
            (
                r.id.to_string(),
                r.relay_code.as_ref().map(|c| c.to_string()),
                r.inviter.as_ref().map(|i| i.to_string()),
                r.depth,
            )
        })
        .collect();
    let row = |id: &str, code: Option<&str>, inviter: Option<&str>, depth| {
        (id.to_owned(), code.map(str::to_owned), inviter.map(str::to_owned), depth)
    };
    assert_eq!(
        got,
        [
            row("old", None, None, 0),
            row("p00000", Some("0000000000"), None, 0),
            row("p00001", Some("0000000001"), Some("p00000"), 1),
            row("p00002", Some("0000000002"), Some("p00001"), 2),
            row("p00003", Some("0000000003"), Some("p00000"), 1),
        ]
    );
    assert_eq!(db.participant(&c, &p(2)).await.unwrap().unwrap().inviter_id, Some(p(1)));

    let totals = db.relay_totals(&c).await.unwrap();
    assert_eq!(totals.relayed_joins, 3);
    assert_eq!(totals.uncounted_joins, 3);
    assert_eq!(totals.clicks, 5);
    let by_channel: Vec<(&str, u64)> = totals.shares_by_channel.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    assert_eq!(by_channel, [("wechat_friend", 2), ("wechat_moments", 1), ("link", 0), ("qr", 1), ("other", 1)]);

    // Applying everything again is all duplicates and changes nothing.
    assert_eq!(db.apply_events(&events).await.unwrap(), Applied { new: 0, duplicates: total });
    assert_eq!(db.relay_totals(&c).await.unwrap(), totals);
    assert_eq!(db.rebuild_participants(&c, None, 100).await.unwrap(), ps);

    // Another campaign sees none of it.
    let other = campaign(db, "other").await;
    let empty = db.relay_totals(&other).await.unwrap();
    assert_eq!((empty.relayed_joins, empty.clicks), (0, 0));
    assert!(empty.shares_by_channel.iter().all(|(_, n)| *n == 0));
    assert_eq!(empty.shares_by_channel.len(), ShareChannel::ALL.len());
}

/// A relay code given to two participants (a bug upstream) must not fail the batch, nor every
/// retry of it: the first keeps it.
async fn a_clashing_relay_code_does_not_stop_the_batch(db: &Db, _url: &str) {
    let c = campaign(db, "demo").await;
    let f = Forest { parent: vec![None, Some(0), None, None] };
    let mut joins = f.joins(&c);
    // p2 brings p0's code, stored already; p3 brings p1's, given earlier in the same batch.
    for (j, taken) in [(2, 0), (3, 1)] {
        if let EventBody::Joined { relay_code, .. } = &mut joins[j].body {
            *relay_code = Some(code(taken));
        }
    }
    db.apply_events(&joins[..1]).await.unwrap();
    let mut batch = joins[1..].to_vec();
    batch.reverse();
    assert_eq!(db.apply_events(&batch).await.unwrap().new, 3);
    let codes: Vec<Option<String>> = db
        .rebuild_participants(&c, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.relay_code.map(|c| c.to_string()))
        .collect();
    assert_eq!(codes, [Some(code(0).to_string()), Some(code(1).to_string()), None, None]);

    // The same code in another campaign is another code.
    let other = campaign(db, "other").await;
    db.apply_events(&[f.join(&other, 0)]).await.unwrap();
    assert_eq!(db.rebuild_participants(&other, None, 1).await.unwrap()[0].relay_code, Some(code(0)));
}

// ---------------------------------------------------------------------------------------------
// The roll-up.

async fn roll_up_counts_a_small_tree(db: &Db, _url: &str) {
    let c = campaign(db, "demo").await;
    let f = Forest::random(300, 11);
    let expected = f.naive();
    assert!((0..300).map(|i| f.depth(i)).max().unwrap() >= 8, "the tree has deep chains");
    // Joins in a random order and random batches: some children before their inviters.
    let mut joins = f.joins(&c);
    joins.shuffle(&mut StdRng::seed_from_u64(3));
    let mut rng = StdRng::seed_from_u64(4);
    let mut rest = &joins[..];
    while !rest.is_empty() {
        let (batch, tail) = rest.split_at(rng.random_range(1..=40).min(rest.len()));
        db.apply_events(batch).await.unwrap();
        rest = tail;
    }
    let relayed = f.parent.iter().filter(|p| p.is_some()).count();
    let calls = roll_up_all(db, &c, 17).await;
    assert_eq!(calls.iter().map(|r| r.joins).sum::<usize>(), relayed);
    assert!(calls.iter().all(|r| r.waiting == 0), "every chain is stored: {calls:?}");
    assert_eq!(stored_totals(db, &c, 300).await, expected);
    assert_eq!(db.relay_totals(&c).await.unwrap().uncounted_joins, 0);

    // A second campaign with the same tree rolled up in one call agrees, and the first is
    // untouched by it.
    let c2 = campaign(db, "again").await;
    db.apply_events(&f.joins(&c2)).await.unwrap();
    let one = db.roll_up_relays(&c2, 10_000).await.unwrap();
    assert_eq!((one.joins, one.waiting), (relayed, 0));
    assert_eq!(one.touched, expected.iter().filter(|&&(d, s)| d > 0 || s > 0).count());
    assert_eq!(stored_totals(db, &c2, 300).await, expected);
    assert_eq!(stored_totals(db, &c, 300).await, expected);
}

async fn replaying_or_rolling_up_again_changes_nothing(db: &Db, _url: &str) {
    let c = campaign(db, "demo").await;
    let f = Forest::random(120, 5);
    let expected = f.naive();
    let joins = f.joins(&c);
    // Half the joins, counted; then everything (half of it again), counted.
    db.apply_events(&joins[..60]).await.unwrap();
    roll_up_all(db, &c, 25).await;
    let half = Forest { parent: f.parent[..60].to_vec() };
    assert_eq!(stored_totals(db, &c, 60).await, half.naive());
    assert_eq!(db.apply_events(&joins).await.unwrap(), Applied { new: 60, duplicates: 60 });
    roll_up_all(db, &c, 25).await;
    assert_eq!(stored_totals(db, &c, 120).await, expected);

    // Again: nothing to count, and replaying every join changes nothing.
    assert_eq!(db.roll_up_relays(&c, 1_000).await.unwrap(), RolledUp::default());
    assert_eq!(db.apply_events(&joins).await.unwrap(), Applied { new: 0, duplicates: 120 });
    for batch in joins.chunks(7).rev() {
        db.apply_events(batch).await.unwrap();
    }
    assert_eq!(db.roll_up_relays(&c, 1_000).await.unwrap(), RolledUp::default());
    assert_eq!(stored_totals(db, &c, 120).await, expected);
    assert_eq!(db.roll_up_relays(&c, 0).await.unwrap(), RolledUp::default());
}

/// r ← a ← b ← c, and r ← d: the joins of b and c arrive first, then a's, then r's and d's.
/// Nothing is counted until a join's whole chain is stored, and then exactly once.
async fn joins_before_their_inviters_wait_and_count_once(db: &Db, _url: &str) {
    let c = campaign(db, "demo").await;
    let f = Forest { parent: vec![None, Some(0), Some(1), Some(2), Some(0)] };
    let joins = f.joins(&c);
    let (r, a, b, cc, d) = (&joins[0], &joins[1], &joins[2], &joins[3], &joins[4]);

    db.apply_events(&[cc.clone(), b.clone()]).await.unwrap();
    // b's inviter is missing: not taken. c's inviter (b) is stored, but b's is not: c waits.
    assert_eq!(db.roll_up_relays(&c, 10).await.unwrap(), RolledUp { joins: 0, touched: 0, waiting: 1 });
    db.apply_events(std::slice::from_ref(a)).await.unwrap();
    // a's inviter (r) is missing; b and c wait for it.
    assert_eq!(db.roll_up_relays(&c, 10).await.unwrap(), RolledUp { joins: 0, touched: 0, waiting: 2 });
    assert!(db.top_relayers(&c, 10, 0).await.unwrap().is_empty());
    assert_eq!(db.relay_totals(&c).await.unwrap().uncounted_joins, 3);
    // The chain is visible as far as it is stored.
    assert_eq!(db.relay_stats(&c, &p(3)).await.unwrap().unwrap().chain, [nick(2), nick(1)]);

    db.apply_events(&[d.clone(), r.clone()]).await.unwrap();
    assert_eq!(db.roll_up_relays(&c, 10).await.unwrap(), RolledUp { joins: 4, touched: 3, waiting: 0 });
    assert_eq!(db.roll_up_relays(&c, 10).await.unwrap(), RolledUp::default());
    assert_eq!(stored_totals(db, &c, 5).await, [(2, 4), (1, 2), (1, 1), (0, 0), (0, 0)]);
    assert_eq!(stored_totals(db, &c, 5).await, f.naive());
    let s = db.relay_stats(&c, &p(3)).await.unwrap().unwrap();
    assert_eq!((s.depth, s.chain), (3, vec![nick(2), nick(1), nick(0)]));

    // Shuffled single joins, rolling up after each: the same totals, whatever the order.
    let big = Forest::random(80, 9);
    let c2 = campaign(db, "shuffled").await;
    let mut joins = big.joins(&c2);
    joins.shuffle(&mut StdRng::seed_from_u64(10));
    let mut counted = 0;
    for j in &joins {
        db.apply_events(std::slice::from_ref(j)).await.unwrap();
        counted += db.roll_up_relays(&c2, 3).await.unwrap().joins;
    }
    counted += roll_up_all(db, &c2, 3).await.iter().map(|r| r.joins).sum::<usize>();
    assert_eq!(counted, big.parent.iter().filter(|p| p.is_some()).count());
    assert_eq!(stored_totals(db, &c2, 80).await, big.naive());
}

/// Workers with pools of their own (as other processes would be) rolling up at once while the
/// joins arrive: each join is counted exactly once.
async fn concurrent_roll_ups_count_each_join_once(db: &Db, url: &str) {
    let c = campaign(db, "demo").await;
    let f = Forest::random(600, 21);
    let joins = f.joins(&c);
    db.apply_events(&joins[..200]).await.unwrap();
    let mut workers = Vec::new();
    for w in 0..4u32 {
        let db = Db::connect(url).await.unwrap();
        let c = c.clone();
        workers.push(tokio::spawn(async move {
            let mut counted = 0;
            let mut idle = 0;
            while idle < 20 {
                let r = db.roll_up_relays(&c, 9 + w).await.unwrap();
                counted += r.joins;
                idle = if r.joins == 0 { idle + 1 } else { 0 };
                tokio::task::yield_now().await;
            }
            db.close().await;
            counted
        }));
    }
    for batch in joins[200..].chunks(50) {
        db.apply_events(batch).await.unwrap();
    }
    let mut counted = 0;
    for w in workers {
        counted += w.await.unwrap();
    }
    counted += roll_up_all(db, &c, 50).await.iter().map(|r| r.joins).sum::<usize>();
    assert_eq!(counted, f.parent.iter().filter(|p| p.is_some()).count());
    assert_eq!(stored_totals(db, &c, 600).await, f.naive());
}

/// A chain 10,000 deep, its joins applied in batches of 500, rolled up in batches of 1,000
/// (each batch's time printed, never asserted).
async fn a_chain_10000_deep_converges(db: &Db, _url: &str) {
    const N: usize = 10_000;
    let engine = db.engine().as_str();
    let c = campaign(db, "deep").await;
    let f = Forest::chain(N);
    let joins = f.joins(&c);
    let started = Instant::now();
    for batch in joins.chunks(500) {
        db.apply_events(batch).await.unwrap();
    }
    println!("CHAIN {engine}: {N} joins applied in batches of 500 in {:?}", started.elapsed());
    let mut total = 0;
    let mut batch = 0;
    loop {
        let started = Instant::now();
        let r = db.roll_up_relays(&c, 1_000).await.unwrap();
        let took = started.elapsed();
        batch += 1;
        println!(
            "CHAIN {engine}: roll-up batch {batch}: {} joins, {} counts touched, {} waiting, {took:?}",
            r.joins, r.touched, r.waiting
        );
        if r.joins == 0 {
            break;
        }
        assert_eq!(r.waiting, 0);
        total += r.joins;
    }
    assert_eq!(total, N - 1);
    assert_eq!(batch, 11, "ten full batches, then an empty one");

    let root = db.relay_stats(&c, &p(0)).await.unwrap().unwrap();
    assert_eq!((root.direct, root.descendants, root.depth), (1, 9_999, 0));
    assert_eq!(root.recent, [nick(1)]);
    assert!(root.chain.is_empty());
    let leaf = db.relay_stats(&c, &p(N - 1)).await.unwrap().unwrap();
    assert_eq!((leaf.direct, leaf.descendants, leaf.depth), (0, 0, 9_999));
    let nearest: Vec<String> = (N - 21..N - 1).rev().map(nick).collect();
    assert_eq!(leaf.chain, nearest, "20 ancestors, nearest first");
    let mid = db.relay_stats(&c, &p(5_000)).await.unwrap().unwrap();
    assert_eq!((mid.direct, mid.descendants, mid.depth), (1, 4_999, 5_000));
    let top = db.top_relayers(&c, 3, 0).await.unwrap();
    assert_eq!(top, [(p(0), nick(0), 1, 9_999), (p(1), nick(1), 1, 9_998), (p(2), nick(2), 1, 9_997)]);
}

// ---------------------------------------------------------------------------------------------
// Reads.

async fn relay_stats_chain_and_recent(db: &Db, _url: &str) {
    let c = campaign(db, "demo").await;
    // p0 invites p1…p15 (joining one second apart, p14 and p15 at the same moment); p15 heads
    // a chain 30 deep (p16…p45).
    let mut parent: Vec<Option<usize>> = vec![None];
    parent.extend((1..=15).map(|_| Some(0)));
    parent.extend((16..46).map(|i| Some(i - 1)));
    let f = Forest { parent };
    let mut joins = f.joins(&c);
    joins[15].at = joins[14].at;
    joins.reverse();
    db.apply_events(&joins).await.unwrap();
    roll_up_all(db, &c, 1_000).await;

    let root = db.relay_stats(&c, &p(0)).await.unwrap().unwrap();
    // Newest first; p14 and p15 tie on time, the id decides (higher first).
    let recent: Vec<String> = (6..=15).rev().map(nick).collect();
    assert_eq!(root, RelayStats { direct: 15, descendants: 45, depth: 0, chain: vec![], recent });

    let deep = db.relay_stats(&c, &p(45)).await.unwrap().unwrap();
    assert_eq!(deep.depth, 31);
    assert_eq!(deep.chain.len(), 20);
    assert_eq!(deep.chain, (25..45).rev().map(nick).collect::<Vec<_>>(), "nearest first");
    let shallow = db.relay_stats(&c, &p(17)).await.unwrap().unwrap();
    assert_eq!(shallow.chain, [nick(16), nick(15), nick(0)]);
    assert_eq!((shallow.direct, shallow.descendants, shallow.recent), (1, 28, vec![nick(18)]));

    assert_eq!(db.relay_stats(&c, &pid("nobody")).await.unwrap(), None);
}

async fn relay_board_ranks_direct_then_descendants_then_id(db: &Db, _url: &str) {
    let c = campaign(db, "demo").await;
    // Origins p0, p1, p2, p3. p0 and p1 have 2 direct each, p1 more below; p2 and p3 have
    // one direct and the same below, so the id decides.
    let parent = vec![
        None,
        None,
        None,
        None,
        Some(0), // 4
        Some(0), // 5
        Some(1), // 6
        Some(1), // 7
        Some(6), // 8
        Some(2), // 9
        Some(3), // 10
    ];
    let f = Forest { parent };
    db.apply_events(&f.joins(&c)).await.unwrap();
    roll_up_all(db, &c, 4).await;
    let board = db.top_relayers(&c, 100, 0).await.unwrap();
    let got: Vec<(usize, u64, u64)> =
        board.iter().map(|(id, _, d, s)| (id.as_str()[1..].parse().unwrap(), *d, *s)).collect();
    assert_eq!(got, [(1, 2, 3), (0, 2, 2), (2, 1, 1), (3, 1, 1), (6, 1, 1)]);
    assert_eq!(board[0].1, nick(1));
    // Pages.
    let page: Vec<ParticipantId> = db.top_relayers(&c, 2, 2).await.unwrap().into_iter().map(|r| r.0).collect();
    assert_eq!(page, [p(2), p(3)]);
    assert!(db.top_relayers(&c, 2, 5).await.unwrap().is_empty());
    assert!(db.top_relayers(&c, 0, 0).await.unwrap().is_empty());
    let other = campaign(db, "other").await;
    assert!(db.top_relayers(&other, 10, 0).await.unwrap().is_empty());
}
