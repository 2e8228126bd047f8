//! Rates at full speed: the same HTTP client first against a trivial actix-web route (the
//! ceiling of this machine and this client), then through Baton's hot path phase by phase —
//! joins, starts, answers, finishes, leaderboard reads — with a fixed number of requests in
//! flight and no pauses. Each rate is reported with its p50/p99 and as a ratio of the ceiling.

use crate::citizen::homes_of;
use crate::http::{Failed, Http};
use crate::stats::Stats;
use rand::Rng;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub base_url: String,
    pub campaign: String,
    /// Participants joined (and attempts played) by the phases.
    pub participants: usize,
    /// Requests in flight.
    pub concurrency: usize,
    /// A trivial route to measure the ceiling on (`baton-sim ceiling`), and how many requests.
    pub ceiling_url: Option<String>,
    pub ceiling_requests: usize,
    pub tag: String,
    /// Stop after the starts and write the attempts' answers to make, one `token attempt
    /// question` line each (question by question across attempts), for another load generator
    /// (`loadtest/answers.lua`).
    pub answers_file: Option<std::path::PathBuf>,
}

/// One phase's rate.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// `per_second` over the ceiling's, when the ceiling was measured.
    pub ratio: Option<f64>,
}

impl Phase {
    pub fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
        format!(
            "BENCH phase={} requests={} errors={} seconds={:.2} per_second={:.0} p50_ms={} p99_ms={} ratio={}",
            self.name,
            self.requests,
            self.errors,
            self.seconds,
            self.per_second,
            ms(self.p50_ms),
            ms(self.p99_ms),
            self.ratio.map(|r| format!("{r:.3}")).unwrap_or_else(|| "-".into())
        )
    }
}

/// Runs `work(i)` for `i in 0..n` with `concurrency` at a time; `kind` names the requests
/// `work` makes (counted in `stats`).
async fn phase<F, Fut>(
    name: &str,
    kind: &'static str,
    stats: Arc<Stats>,
    n: usize,
    concurrency: usize,
    work: F,
) -> Phase
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), Failed>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let work = Arc::new(work);
    let t0 = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, work) = (next.clone(), work.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let _ = work(i).await;
                }
            })
        })
        .collect();
    for w in workers {
        w.await.expect("a bench worker");
    }
    let seconds = t0.elapsed().as_secs_f64();
    let k = stats.kinds().get(kind).cloned().unwrap_or_default();
    let s = k.summary(seconds);
    let p = Phase {
        name: name.into(),
        requests: s.count,
        errors: s.errors,
        seconds,
        per_second: s.count as f64 / seconds,
        p50_ms: s.p50_ms,
        p99_ms: s.p99_ms,
        ratio: None,
    };
    eprintln!("{}", p.line());
    p
}

struct Player {
    token: String,
    county: String,
    attempt: OnceLock<(String, Vec<Value>)>,
}

/// Runs the phases; errors only when Baton cannot be reached or its campaign read.
pub async fn bench(cfg: &BenchConfig) -> anyhow::Result<Vec<Phase>> {
    let mut phases = Vec::new();
    let timeout = Duration::from_secs(30);
    if let Some(url) = &cfg.ceiling_url {
        let stats = Arc::new(Stats::default());
        let http = Http::new(url, stats.clone(), timeout)?;
        phases.push(
            phase("plain actix-web", "plain", stats, cfg.ceiling_requests, cfg.concurrency, move |_| {
                let http = http.clone();
                async move { http.send("plain", Method::GET, "/", "bench", None, None, &[200]).await.map(drop) }
            })
            .await,
        );
    }
    let fresh = || -> anyhow::Result<(Arc<Stats>, Http)> {
        let stats = Arc::new(Stats::default());
        Ok((stats.clone(), Http::new(&cfg.base_url, stats, timeout)?))
    };
    let (_, probe) = fresh()?;
    let page = probe
        .call("page", Method::GET, &format!("/api/v1/campaigns/{}", cfg.campaign), "bench", None, None, &[200])
        .await
        .map_err(|e| anyhow::anyhow!("campaign {} at {}: {e}", cfg.campaign, cfg.base_url))?;
    let homes = Arc::new(homes_of(&page.json));
    anyhow::ensure!(!homes.is_empty(), "campaign {} has no places", cfg.campaign);
    let n = cfg.participants;
    let players: Arc<Vec<OnceLock<Player>>> = Arc::new((0..n).map(|_| OnceLock::new()).collect());
    let cid = cfg.campaign.clone();
    let agent = |i: usize| format!("Mozilla/5.0 (Linux; Android 13; bench {}) MicroMessenger/8.0.47", i);

    let (stats, http) = fresh()?;
    let (p, tag) = (players.clone(), cfg.tag.clone());
    phases.push(
        phase("joins", "join", stats, n, cfg.concurrency, move |i| {
            let (http, p, homes, cid, tag) = (http.clone(), p.clone(), homes.clone(), cid.clone(), tag.clone());
            async move {
                let home = &homes[rand::rng().random_range(0..homes.len())];
                let body =
                    json!({"device_id": format!("bench-{tag}-{i}"), "region_id": home.township, "nickname": "测试"});
                let path = format!("/api/v1/campaigns/{cid}/participants");
                let r = http.call("join", Method::POST, &path, &agent(i), None, Some(&body), &[201]).await?;
                let token = r.json["token"].as_str().unwrap_or_default().to_owned();
                let _ = p[i].set(Player { token, county: home.county.clone(), attempt: OnceLock::new() });
                Ok(())
            }
        })
        .await,
    );

    let (stats, http) = fresh()?;
    let p = players.clone();
    phases.push(
        phase("starts", "start", stats, n, cfg.concurrency, move |i| {
            let (http, p) = (http.clone(), p.clone());
            async move {
                let Some(pl) = p[i].get() else { return Ok(()) };
                let r = http
                    .call("start", Method::POST, "/api/v1/attempts", &agent(i), Some(&pl.token), None, &[201])
                    .await?;
                let aid = r.json["attempt_id"].as_str().unwrap_or_default().to_owned();
                let _ = pl.attempt.set((aid, r.json["questions"].as_array().cloned().unwrap_or_default()));
                Ok(())
            }
        })
        .await,
    );

    if let Some(path) = &cfg.answers_file {
        let mut out = String::new();
        let attempts: Vec<(&Player, &(String, Vec<Value>))> =
            players.iter().filter_map(|p| p.get()).filter_map(|p| p.attempt.get().map(|a| (p, a))).collect();
        let most = attempts.iter().map(|(_, (_, qs))| qs.len()).max().unwrap_or(0);
        for k in 0..most {
            for (pl, (aid, qs)) in &attempts {
                if let Some(q) = qs.get(k) {
                    out.push_str(&format!("{} {aid} {}\n", pl.token, q["id"].as_str().unwrap_or_default()));
                }
            }
        }
        std::fs::write(path, out).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        return Ok(phases);
    }

    // Answers: one participant's answers in order, `concurrency` participants at a time.
    let (stats, http) = fresh()?;
    let p = players.clone();
    phases.push(
        phase("answers", "answer", stats, n, cfg.concurrency, move |i| {
            let (http, p) = (http.clone(), p.clone());
            async move {
                let Some((pl, (aid, qs))) = p[i].get().and_then(|pl| pl.attempt.get().map(|a| (pl, a))) else {
                    return Ok(());
                };
                for q in qs {
                    let body = json!({"question_id": q["id"], "choice": [0]});
                    let path = format!("/api/v1/attempts/{aid}/answers");
                    http.send("answer", Method::POST, &path, &agent(i), Some(&pl.token), Some(&body), &[200]).await?;
                }
                Ok(())
            }
        })
        .await,
    );

    let (stats, http) = fresh()?;
    let p = players.clone();
    phases.push(
        phase("finishes", "finish", stats, n, cfg.concurrency, move |i| {
            let (http, p) = (http.clone(), p.clone());
            async move {
                let Some((pl, (aid, _))) = p[i].get().and_then(|pl| pl.attempt.get().map(|a| (pl, a))) else {
                    return Ok(());
                };
                let path = format!("/api/v1/attempts/{aid}/finish");
                http.send("finish", Method::POST, &path, &agent(i), Some(&pl.token), None, &[200]).await.map(drop)
            }
        })
        .await,
    );

    // Board reads: the top 20 and one's own neighbourhood on the county board, in turn.
    let (stats, http) = fresh()?;
    let (p, cid) = (players.clone(), cfg.campaign.clone());
    phases.push(
        phase("leaderboard reads", "board", stats, n, cfg.concurrency, move |i| {
            let (http, p, cid) = (http.clone(), p.clone(), cid.clone());
            async move {
                let Some(pl) = p[i].get() else { return Ok(()) };
                let board = format!("/api/v1/campaigns/{cid}/leaderboards");
                if i % 2 == 0 {
                    http.send("board", Method::GET, &format!("{board}/score?limit=20"), &agent(i), None, None, &[200])
                        .await
                        .map(drop)
                } else {
                    let path = format!("{board}/score-region-{}?around=me&limit=20", pl.county);
                    http.send("board", Method::GET, &path, &agent(i), Some(&pl.token), None, &[200]).await.map(drop)
                }
            }
        })
        .await,
    );

    if let Some(ceiling) = phases.first().filter(|p| p.name == "plain actix-web").map(|p| p.per_second) {
        for p in phases.iter_mut().skip(1) {
            p.ratio = Some(p.per_second / ceiling);
        }
    }
    Ok(phases)
}

/// Serves `GET /` → `ok` with actix-web: the ceiling a Baton route is compared with.
pub async fn ceiling(listen: &str, workers: usize) -> std::io::Result<()> {
    use actix_web::{App, HttpResponse, HttpServer, web};
    HttpServer::new(|| App::new().route("/", web::get().to(|| async { HttpResponse::Ok().body("ok") })))
        .workers(workers)
        .bind(listen)?
        .run()
        .await
}
