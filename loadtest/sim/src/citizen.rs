//! A citizen's journey, and what the citizens share: the places they live in, the relay links
//! passed around, what they learned about the questions, and the ledger of what Baton
//! acknowledged to them.
//!
//! A journey: (a relayed citizen first opens the share link) open the campaign page, join
//! (district, unit, nickname; through the link's invite code if relayed), start an attempt,
//! answer each question after a human pause, finish, look at the ranks, maybe pass the baton
//! (share), maybe play once more. Every answer is checked against what came before (the running
//! score, the finish's score and best), and what Baton acknowledged goes into the [`Ledger`] so
//! that SQL can be checked against it afterwards.

use crate::http::{Failed, Http};
use rand::Rng;
use rand::seq::IteratorRandom;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// How citizens behave. Times are in campaign time (divided by the run's speed).
#[derive(Debug, Clone)]
pub struct Behavior {
    /// Of the citizens arriving outside a flash crowd, the share who come through a friend's
    /// relay link (when anyone's link is out there).
    pub relayed: f64,
    /// The share of finishers who pass the baton.
    pub share: f64,
    /// Friends recruited per shared link: geometric with this mean.
    pub recruits_mean: f64,
    /// Median seconds to read and answer a question (log-normal, σ = 0.5, within the limit).
    pub think_s: f64,
    /// The chance a citizen knows the answer to a question someone has already learned.
    pub knows: f64,
    /// The chance a citizen leaves an attempt half-way and never finishes it.
    pub abandon: f64,
    /// The chance a finisher plays another attempt.
    pub again: f64,
}

impl Default for Behavior {
    fn default() -> Self {
        Self { relayed: 0.5, share: 0.6, recruits_mean: 1.6, think_s: 6.0, knows: 0.6, abandon: 0.02, again: 0.1 }
    }
}

/// A place a citizen can join at: a township, its county, and the units under it.
#[derive(Debug, Clone)]
pub struct Home {
    pub township: String,
    pub county: String,
    pub units: Vec<String>,
}

/// Reads the campaign's townships (places without children) and units from its page.
pub fn homes_of(campaign: &Value) -> Vec<Home> {
    fn walk(place: &Value, county: Option<&str>, out: &mut Vec<Home>) {
        let id = place["id"].as_str().unwrap_or_default();
        let county = if place["level"] == "county" { Some(id) } else { county };
        let children = place["children"].as_array().map(Vec::as_slice).unwrap_or_default();
        if children.is_empty() {
            out.push(Home { township: id.into(), county: county.unwrap_or(id).into(), units: Vec::new() });
        }
        for c in children {
            walk(c, county, out);
        }
    }
    let mut out = Vec::new();
    for root in campaign["regions"].as_array().into_iter().flatten() {
        walk(root, None, &mut out);
    }
    for u in campaign["units"].as_array().into_iter().flatten() {
        let region = u["region_id"].as_str().unwrap_or_default();
        if let Some(h) = out.iter_mut().find(|h| h.township == region) {
            h.units.push(u["id"].as_str().unwrap_or_default().into());
        }
    }
    out
}

/// What Baton acknowledged to one participant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acked {
    /// Answers acknowledged with `200`, over all attempts.
    pub answers: u64,
    /// The sum of their points.
    pub points: i64,
    /// The best finish score reported, if any attempt finished.
    pub best: Option<i64>,
}

/// What Baton acknowledged to every participant of a run, by participant id.
#[derive(Default)]
pub struct Ledger {
    pub participants: Mutex<HashMap<String, Acked>>,
}

impl Ledger {
    fn update(&self, pid: &str, f: impl FnOnce(&mut Acked)) {
        f(self.participants.lock().expect("ledger lock").entry(pid.to_owned()).or_default());
    }

    /// The ledger as CSV: `participant_id,answers,points,best` (best empty if none).
    pub fn csv(&self) -> String {
        let g = self.participants.lock().expect("ledger lock");
        let mut rows: Vec<_> = g.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = String::from("participant_id,answers,points,best\n");
        for (id, a) in rows {
            out.push_str(&format!(
                "{id},{},{},{}\n",
                a.answers,
                a.points,
                a.best.map(|b| b.to_string()).unwrap_or_default()
            ));
        }
        out
    }
}

/// A relay link out there, with the friends it will still bring.
struct Link {
    code: String,
    recruits: u32,
    depth: u32,
}

/// What the citizens of a run share.
pub struct World {
    pub campaign: String,
    pub homes: Vec<Home>,
    /// The counties of `homes`, in order: the n-th flash crowd comes from the n-th (cycling).
    pub counties: Vec<String>,
    /// The campaign's daily attempt limit: a citizen plays again only within it (a run at speed
    /// fits in one real day).
    pub attempts_per_day: u32,
    pub behavior: Behavior,
    /// Campaign seconds per real second.
    pub speed: f64,
    pub tag: String,
    pub ledger: Ledger,
    links: Mutex<Vec<Link>>,
    /// Right choices learned from answers, by question id.
    learned: Mutex<HashMap<String, Vec<u64>>>,
    /// Joins by relay depth (0 = came on their own).
    pub depths: Mutex<Vec<u64>>,
    /// Broken promises: responses that contradict earlier ones (the first few, and how many).
    pub violations: Mutex<(u64, Vec<String>)>,
    pub journeys_done: AtomicU64,
    pub journeys_failed: AtomicU64,
}

impl World {
    pub fn new(campaign: &Value, behavior: Behavior, speed: f64, tag: &str) -> Self {
        let homes = homes_of(campaign);
        let mut counties: Vec<String> = homes.iter().map(|h| h.county.clone()).collect();
        counties.dedup();
        Self {
            campaign: campaign["id"].as_str().unwrap_or_default().into(),
            homes,
            counties,
            attempts_per_day: campaign["rules"]["attempts_per_day"].as_u64().map_or(1, |n| n as u32),
            behavior,
            speed,
            tag: tag.into(),
            ledger: Ledger::default(),
            links: Mutex::default(),
            learned: Mutex::default(),
            depths: Mutex::default(),
            violations: Mutex::default(),
            journeys_done: AtomicU64::new(0),
            journeys_failed: AtomicU64::new(0),
        }
    }

    fn violation(&self, what: String) {
        let mut g = self.violations.lock().expect("violations lock");
        g.0 += 1;
        if g.1.len() < 20 {
            g.1.push(what);
        }
    }

    /// Takes a friend's link for a relayed citizen, if any is out there.
    fn take_link(&self) -> Option<(String, u32)> {
        let mut links = self.links.lock().expect("links lock");
        if links.is_empty() {
            return None;
        }
        let i = rand::rng().random_range(0..links.len());
        let l = &mut links[i];
        let got = (l.code.clone(), l.depth);
        l.recruits -= 1;
        if l.recruits == 0 {
            links.swap_remove(i);
        }
        Some(got)
    }

    fn pass_baton(&self, code: String, depth: u32) {
        // Geometric recruits with the configured mean: P(k) = (1-p)^k p, mean (1-p)/p.
        let p = 1.0 / (1.0 + self.behavior.recruits_mean);
        let mut rng = rand::rng();
        let mut recruits = 0;
        while rng.random::<f64>() > p && recruits < 1000 {
            recruits += 1;
        }
        if recruits > 0 {
            self.links.lock().expect("links lock").push(Link { code, recruits, depth });
        }
    }

    async fn pause(&self, campaign_seconds: f64) {
        let real = campaign_seconds / self.speed;
        if real >= 0.001 {
            tokio::time::sleep(Duration::from_secs_f64(real)).await;
        }
    }
}

/// A human pause: log-normal around `median` seconds, σ = 0.5.
fn human(median: f64) -> f64 {
    let mut rng = rand::rng();
    // Box–Muller for a standard normal.
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-12), rng.random());
    let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    median * (0.5 * z).exp()
}

const NAMES: [&str; 12] =
    ["王小明", "李静", "张伟", "刘芳芳", "陈子轩", "杨欣怡", "黄浩然", "赵雨桐", "吴一诺", "周晨阳", "Lily", "老陈"];

/// One citizen's journey. `n` numbers the citizen within the run; `flash` says it came with a
/// flash crowd (organic, at a township of one county). Errors end the journey (they are
/// counted where they happen).
pub async fn journey(http: &Http, world: &World, n: u64, flash: Option<usize>) -> Result<(), Failed> {
    let b = &world.behavior;
    let agent = format!("Mozilla/5.0 (Linux; Android 13; sim {}-{n}) MicroMessenger/8.0.47", world.tag);
    let cid = &world.campaign;
    let (home, unit, link) = {
        let mut rng = rand::rng();
        let home = match flash {
            // A flash crowd is one county's (the n-th flash's county, by the homes' order).
            Some(f) => {
                let county = &world.counties[f % world.counties.len()];
                world.homes.iter().filter(|h| &h.county == county).choose(&mut rng).expect("a county has homes")
            }
            None => &world.homes[rng.random_range(0..world.homes.len())],
        };
        let unit = (!home.units.is_empty() && rng.random::<f64>() < 0.7)
            .then(|| home.units[rng.random_range(0..home.units.len())].clone());
        let relayed = flash.is_none() && rng.random::<f64>() < b.relayed;
        (home, unit, relayed.then(|| world.take_link()).flatten())
    };
    if let Some((code, _)) = &link {
        http.send("click", Method::GET, &format!("/r/{code}"), &agent, None, None, &[302]).await?;
    }
    http.send("page", Method::GET, &format!("/api/v1/campaigns/{cid}"), &agent, None, None, &[200]).await?;
    world.pause(human(8.0)).await;
    let mut body = json!({
        "device_id": format!("sim-{}-{n}", world.tag),
        "region_id": home.township,
        "nickname": NAMES[(n % NAMES.len() as u64) as usize],
    });
    if let Some(u) = &unit {
        body["unit_id"] = json!(u);
    }
    if let Some((code, _)) = &link {
        body["invite_code"] = json!(code);
    }
    let joined = http
        .call("join", Method::POST, &format!("/api/v1/campaigns/{cid}/participants"), &agent, None, Some(&body), &[201])
        .await?
        .json;
    let token = joined["token"].as_str().unwrap_or_default().to_owned();
    let pid = joined["participant_id"].as_str().unwrap_or_default().to_owned();
    let code = joined["relay_code"].as_str().unwrap_or_default().to_owned();
    let depth = link.as_ref().map_or(0, |(_, d)| d + 1);
    {
        let mut d = world.depths.lock().expect("depths lock");
        if d.len() <= depth as usize {
            d.resize(depth as usize + 1, 0);
        }
        d[depth as usize] += 1;
    }
    if link.is_some() && joined["inviter"].is_null() {
        world.violation(format!("{pid} joined through a relay link but has no inviter"));
    }
    world.ledger.update(&pid, |_| {});
    world.pause(human(3.0)).await;

    let mut best: Option<i64> = None;
    for attempt_no in 1..=world.attempts_per_day {
        let mut attempt =
            http.call("start", Method::POST, "/api/v1/attempts", &agent, Some(&token), None, &[201]).await?.json;
        let aid = attempt["attempt_id"].as_str().unwrap_or_default().to_owned();
        let limit = attempt["seconds_per_question"].as_f64().unwrap_or(20.0);
        let questions = match attempt["questions"].take() {
            Value::Array(qs) => qs,
            _ => Vec::new(),
        };
        let mut sum = 0i64;
        let mut abandoned = false;
        for (i, q) in questions.iter().enumerate() {
            if i > 0 && rand::rng().random::<f64>() < b.abandon / questions.len() as f64 {
                abandoned = true;
                break;
            }
            world.pause(human(b.think_s).clamp(1.0, limit - 1.0)).await;
            let qid = q["id"].as_str().unwrap_or_default();
            let choice = choose(world, q);
            let r = http
                .call(
                    "answer",
                    Method::POST,
                    &format!("/api/v1/attempts/{aid}/answers"),
                    &agent,
                    Some(&token),
                    Some(&json!({"question_id": qid, "choice": choice})),
                    &[200],
                )
                .await?
                .json;
            let points = r["points"].as_i64().unwrap_or(0);
            sum += points;
            if r["attempt_score"].as_i64() != Some(sum) {
                world.violation(format!(
                    "{pid} {aid}: attempt_score {} after answers summing to {sum}",
                    r["attempt_score"]
                ));
            }
            if let Some(right) = r["correct_choice"].as_array() {
                let right: Vec<u64> = right.iter().filter_map(Value::as_u64).collect();
                world.learned.lock().expect("learned lock").entry(qid.to_owned()).or_insert(right);
            }
            world.ledger.update(&pid, |a| {
                a.answers += 1;
                a.points += points;
            });
        }
        if abandoned {
            break;
        }
        let f = http
            .call("finish", Method::POST, &format!("/api/v1/attempts/{aid}/finish"), &agent, Some(&token), None, &[200])
            .await?
            .json;
        let score = f["score"].as_i64().unwrap_or(-1);
        if score != sum {
            world.violation(format!("{pid} {aid}: finish score {score}, answers acknowledged {sum}"));
        }
        best = Some(best.map_or(score, |b| b.max(score)));
        if f["best_score"].as_i64() != best {
            world.violation(format!("{pid}: best_score {} after finishes with best {best:?}", f["best_score"]));
        }
        if f["rank"]["global"].as_u64().is_none_or(|r| r == 0) {
            world.violation(format!("{pid}: finish without a global rank: {}", f["rank"]));
        }
        world.ledger.update(&pid, |a| a.best = best);

        world.pause(human(4.0)).await;
        let board = format!("/api/v1/campaigns/{cid}/leaderboards");
        http.send("board", Method::GET, &format!("{board}/score?limit=20"), &agent, None, None, &[200]).await?;
        let around = format!("{board}/score-region-{}?around=me&limit=20", home.county);
        let mine = http.call("board", Method::GET, &around, &agent, Some(&token), None, &[200]).await?.json;
        if !mine["entries"].as_array().is_some_and(|e| e.iter().any(|e| e["id"] == pid.as_str())) {
            world.violation(format!("{pid} finished but is not on its county's board around itself"));
        }
        if rand::rng().random::<f64>() < b.share {
            world.pause(human(5.0)).await;
            let body = json!({"channel": "wechat_friend"});
            http.send("share", Method::POST, "/api/v1/shares", &agent, Some(&token), Some(&body), &[204]).await?;
            world.pass_baton(code.clone(), depth);
        }
        if attempt_no == world.attempts_per_day || rand::rng().random::<f64>() >= b.again {
            break;
        }
        world.pause(human(30.0)).await;
    }
    Ok(())
}

/// A citizen's choice: the right one if someone learned it and this citizen knows it,
/// otherwise a guess.
fn choose(world: &World, q: &Value) -> Vec<u64> {
    let mut rng = rand::rng();
    if rng.random::<f64>() < world.behavior.knows
        && let Some(right) = world.learned.lock().expect("learned lock").get(q["id"].as_str().unwrap_or_default())
    {
        return right.clone();
    }
    let n = q["options"].as_array().map_or(2, Vec::len).max(1) as u64;
    if q["kind"] == "multi" {
        let picked: Vec<u64> = (0..n).filter(|_| rng.random::<bool>()).collect();
        if !picked.is_empty() {
            return picked;
        }
    }
    vec![rng.random_range(0..n)]
}
