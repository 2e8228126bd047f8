//! How the Redis store lays out a participant, where it matters for memory: the hash stays a
//! compact listpack even when the places' ids are long, and a hash written in the layout
//! before (the aggregate counters as one comma-separated field) still counts where it should.

use baton_core::ids::{CampaignId, Nickname, PlaceId, UnitId};
use baton_core::relay::RelayCode;
use baton_hot::conformance::{T0, answer, fresh_campaign, pid, start};
use baton_hot::keys::Keys;
use baton_hot::redis::RedisStore;
use baton_hot::{HotStore, JoinCmd, RestoredParticipant};
use baton_testkit::TestRedis;

/// A township four levels down, with ids as long as real ones get (pinyin of long names).
const PLACES: [&str; 4] =
    ["xinjiang-tianshan-laiqiaoyang-dongpu", "xinjiang-tianshan-laiqiaoyang", "xinjiang-tianshan", "xinjiang"];
const UNIT: &str = "u-xinjiang-tianshan-dongpu-hospital";

fn join_cmd(c: &CampaignId, device: &str) -> JoinCmd {
    JoinCmd {
        campaign: c.clone(),
        participant: pid(c, device),
        region: PlaceId::parse(PLACES[0]).unwrap(),
        unit: Some(UnitId::parse(UNIT).unwrap()),
        places: PLACES.iter().map(|p| PlaceId::parse(p).unwrap()).collect(),
        nickname: Nickname::parse("长长的昵称也可以").unwrap(),
        now: T0,
        relay_code: RelayCode::parse(&format!("{:010}", device.len() * 7919)).unwrap(),
        inviter: None,
        client: None,
    }
}

async fn redis_conn(r: &TestRedis) -> redis::aio::MultiplexedConnection {
    redis::Client::open(r.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
}

async fn encoding(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> String {
    redis::cmd("OBJECT").arg("ENCODING").arg(key).query_async(conn).await.unwrap()
}

/// Plays one attempt to its finish; its score is the participant's first best.
async fn play(s: &dyn HotStore, c: &CampaignId, device: &str, attempt: &str) -> u64 {
    let p = pid(c, device);
    start(s, c, &p, attempt, T0 + 1_000, 10).await;
    answer(s, c, &p, attempt, "q0", 0b010, T0 + 2_000).await;
    let done = s
        .finish(baton_hot::FinishCmd {
            campaign: c.clone(),
            participant: p,
            attempt: baton_core::ids::AttemptId::parse(attempt).unwrap(),
            now: T0 + 3_000,
        })
        .await
        .unwrap();
    match done {
        baton_hot::FinishOutcome::Finished { best, newly: true, .. } => best.score,
        other => panic!("expected a first best, got {other:?}"),
    }
}

#[tokio::test]
async fn a_participant_hash_stays_a_listpack_and_old_hashes_still_count() {
    let r = TestRedis::start().await;
    let store = RedisStore::connect(r.url(), r.key_prefix(), 1).await.unwrap();
    let keys = Keys::new(r.key_prefix(), 1);
    let mut conn = redis_conn(&r).await;
    let limit: (String, i64) =
        redis::cmd("CONFIG").arg("GET").arg("hash-max-listpack-value").query_async(&mut conn).await.unwrap();
    assert!(limit.1 >= 64, "this test needs Redis's default hash-max-listpack-value (64), not {}", limit.1);
    let c = fresh_campaign();

    // A join: every field short enough for a listpack, though the list of places is not.
    store.join(join_cmd(&c, "dev-new")).await.unwrap();
    let key = keys.participant(&c, &pid(&c, "dev-new"));
    assert_eq!(encoding(&mut conn, &key).await, "listpack");
    let score = play(&store, &c, "dev-new", "a1").await;
    assert!(score > 0);

    // A participant put back by a rebuild: the same.
    let restored = store.participant(&c, &pid(&c, "dev-new")).await.unwrap().unwrap();
    let c2 = fresh_campaign();
    let mut state = restored.clone();
    state.id = pid(&c2, "dev-new");
    let places = PLACES.iter().map(|p| PlaceId::parse(p).unwrap()).collect();
    store.restore_participant(&c2, RestoredParticipant { state, places }).await.unwrap();
    assert_eq!(encoding(&mut conn, &keys.participant(&c2, &pid(&c2, "dev-new"))).await, "listpack");
    let agg = store.aggregates(&c2).await.unwrap();
    for p in PLACES {
        assert_eq!(agg.places[&PlaceId::parse(p).unwrap()].participants, 1, "{p}");
    }

    // A hash in the earlier layout (the counters' names in one field 'aggs'): its best still
    // counts towards every place and the unit.
    store.join(join_cmd(&c, "dev-old")).await.unwrap();
    let old = keys.participant(&c, &pid(&c, "dev-old"));
    let fields: Vec<String> = PLACES.iter().map(|p| format!("p:{p}")).chain([format!("u:{UNIT}")]).collect();
    let _: () = redis::cmd("HDEL").arg(&old).arg(&["g1", "g2", "g3", "g4", "g5"]).query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("HSET").arg(&old).arg("aggs").arg(fields.join(",")).query_async(&mut conn).await.unwrap();
    let second = play(&store, &c, "dev-old", "b1").await;
    let agg = store.aggregates(&c).await.unwrap();
    for p in PLACES {
        let a = &agg.places[&PlaceId::parse(p).unwrap()];
        assert_eq!((a.participants, a.best_count, a.best_sum), (2, 2, score + second), "{p}");
    }
    let u = &agg.units[&UnitId::parse(UNIT).unwrap()];
    assert_eq!((u.participants, u.best_count, u.best_sum), (2, 2, score + second));
}
