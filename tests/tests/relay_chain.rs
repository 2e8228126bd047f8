//! A chain 10,000 deep, in its own test binary so that no other test shares the machine while
//! join times are measured.

use baton_e2e::*;
use std::time::Duration;

/// A chain 10,000 deep: joining costs the same at the bottom as at the top (printed), and the
/// totals, rolled up off the join path, converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_ten_thousand_deep() {
    const DEPTH: usize = 10_000;
    // 10,000 joins from one address in seconds is a flood the per-network join limit stops;
    // this test measures joins, so that limit is off (and so is the per-code one: every code
    // here brings one join).
    let app = TestApp::spawn_with(Hot::Embedded, Sql::Sqlite, |c| {
        c.limits.set(baton_http::limits::Limit::JoinIp, None);
        c.limits.relay_code = None;
    })
    .await;
    let (_, first) = app.join_invited("device-chain-00000", "链0", None).await;
    let root_token = first["token"].as_str().unwrap().to_owned();
    let mut code = first["relay_code"].as_str().unwrap().to_owned();
    let mut timings = Vec::with_capacity(DEPTH);
    let mut last = first;
    for i in 1..DEPTH {
        let t = std::time::Instant::now();
        let (s, j) = app.join_invited(&format!("device-chain-{i:05}"), &format!("链{i}"), Some(&code)).await;
        timings.push(t.elapsed());
        assert_eq!(s, 201);
        code = j["relay_code"].as_str().unwrap().to_owned();
        last = j;
        if i % 2_500 == 0 {
            // Roll up while the chain grows, as the worker does.
            baton_relay::worker::roll_up_all(&app.services.db, &app.services.campaigns).await.unwrap();
        }
    }
    let mean = |d: &[Duration]| d.iter().sum::<Duration>() / d.len() as u32;
    let (head, tail) = (mean(&timings[..500]), mean(&timings[timings.len() - 500..]));
    println!(
        "join through a relay code: mean {:?} at depth 1-500, {:?} at depth {}-{} (ratio {:.2})",
        head,
        tail,
        DEPTH - 500,
        DEPTH - 1,
        tail.as_secs_f64() / head.as_secs_f64()
    );
    baton_relay::worker::roll_up_all(&app.services.db, &app.services.campaigns).await.unwrap();
    let root = app.relay_of(&root_token).await;
    assert_eq!((root["direct"].as_u64(), root["descendants"].as_u64()), (Some(1), Some(DEPTH as u64 - 1)));
    let leaf = app.relay_of(last["token"].as_str().unwrap()).await;
    assert_eq!(leaf["depth"].as_u64(), Some(DEPTH as u64 - 1));
    let chain: Vec<&str> = leaf["chain"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(chain.len(), 20);
    assert_eq!((chain[0], chain[19]), (format!("链{}", DEPTH - 2).as_str(), format!("链{}", DEPTH - 21).as_str()));
}
