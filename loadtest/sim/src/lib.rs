//! Baton's campaign simulator.
//!
//! It plays a campaign against a running Baton over HTTP, as its users would: citizens arrive
//! on the seed campaign's curve ([`shape`]), each playing a whole journey with human pauses
//! ([`citizen`]); relayed citizens come through links that earlier citizens shared, so relay
//! chains grow as a branching process; organizers hold the live stream open and poll the
//! console ([`organizer`]). Time is compressed by a speed factor: at 500× the ten days take
//! 29 minutes, and a citizen's six seconds on a question take 12 ms.
//!
//! The model is open: citizens arrive on schedule whether or not Baton keeps up (up to a cap on
//! journeys in flight, past which arrivals wait and the wait is reported as start lag), so a
//! slow server shows up as latency and lag instead of being hidden by a slower load generator.
//!
//! [`run`] returns a [`Report`]: throughput, latency percentiles and errors per request kind,
//! the peak (the busiest 10 seconds), the live stream, the relay chains, and every contradiction between
//! Baton's answers found on the way. [`check`] compares SQL with what Baton acknowledged;
//! [`bench`] measures rates against the machine's ceiling.

pub mod bench;
pub mod check;
pub mod citizen;
pub mod http;
pub mod organizer;
pub mod shape;
pub mod stats;

use citizen::{Behavior, World};
use serde::Serialize;
use shape::Shape;
use stats::{KindSummary, Stats};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};

/// A simulation run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Baton's base URL, e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    pub campaign: String,
    pub shape: Shape,
    /// The window of campaign minutes to play (the whole campaign: `0..shape.minutes()`).
    pub from_minute: u64,
    pub to_minute: u64,
    /// Campaign seconds per real second.
    pub speed: f64,
    pub behavior: Behavior,
    /// Organizers on the dashboard, each logging in as `organizer_login` (`user:password`).
    pub organizers: u32,
    pub organizer_login: Option<String>,
    /// How often (real time) each organizer's dashboard polls the console.
    pub console_poll: Duration,
    /// Journeys in flight at most; later arrivals wait (and the wait is reported).
    pub max_active: usize,
    /// An archiver's `/metrics`, scraped every second for its backlog and lag.
    pub archiver_metrics: Option<String>,
    /// Makes device ids unique to this run.
    pub tag: String,
    pub timeout: Duration,
    /// Prints a progress line to stderr every this often (none if zero).
    pub progress_every: Duration,
}

/// Thresholds a run must meet.
#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    /// p99 of every participant request kind, over the run and at its peak (busiest 10 s).
    pub max_p99_ms: Option<f64>,
    /// Failed requests over all requests.
    pub max_error_rate: Option<f64>,
    /// The archiver's lag, at every scrape.
    pub max_archiver_lag_s: Option<f64>,
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub campaign: String,
    pub speed: f64,
    pub campaign_hours: (f64, f64),
    pub wall_s: f64,
    pub arrivals: u64,
    pub participants: u64,
    pub journeys_done: u64,
    pub journeys_failed: u64,
    pub relayed_joins: u64,
    /// Joins by relay depth (0 = came on their own).
    pub depths: Vec<u64>,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    pub kinds: BTreeMap<String, KindSummary>,
    /// The highest 10-second rolling mean of participant requests/s and of answers/s.
    pub peak_requests_per_s: f64,
    pub peak_answers_per_s: f64,
    /// The peak: the run's busiest 10 seconds (seconds from its start) and their participant
    /// latency by kind.
    pub peak_window: Option<(u64, u64)>,
    pub peak_window_requests: u64,
    pub peak_window_kinds: BTreeMap<String, KindSummary>,
    /// How late arrivals started their journey (waiting for a free slot or a busy generator).
    pub start_lag_p99_ms: Option<f64>,
    pub start_lag_max_ms: f64,
    pub archiver_lag_max_s: Option<f64>,
    pub archiver_backlog_max: Option<f64>,
    pub live: organizer::LiveSeen,
    pub violations: u64,
    pub violation_examples: Vec<String>,
    /// Thresholds not met (empty: the run passed).
    pub failed_thresholds: Vec<String>,
}

/// Plays the configured window of the campaign and returns what it measured, with the world
/// (its ledger) and the per-second series.
pub async fn run(cfg: &RunConfig, limits: &Thresholds) -> anyhow::Result<(Report, Arc<World>, Vec<stats::Second>)> {
    let stats = Arc::new(Stats::default());
    let http = http::Http::new(&cfg.base_url, stats.clone(), cfg.timeout)?;
    let page = http
        .client
        .get(format!("{}/api/v1/campaigns/{}", http.base, cfg.campaign))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot reach Baton at {}: {e}", cfg.base_url))?;
    anyhow::ensure!(
        page.status().is_success(),
        "campaign {} at {}: {} (is it loaded, e.g. `baton serve --demo`?)",
        cfg.campaign,
        cfg.base_url,
        page.status()
    );
    let world = Arc::new(World::new(&page.json().await?, cfg.behavior.clone(), cfg.speed, &cfg.tag));
    anyhow::ensure!(!world.homes.is_empty(), "campaign {} has no places to join at", cfg.campaign);

    let (stop_tx, stop_rx) = watch::channel(false);
    let live = Arc::new(Mutex::new(organizer::LiveSeen::default()));
    let mut organizers = Vec::new();
    if cfg.organizers > 0 {
        let login =
            cfg.organizer_login.clone().ok_or_else(|| anyhow::anyhow!("organizers need --organizer user:password"))?;
        for i in 0..cfg.organizers {
            let (h, c, l, s, r) = (http.clone(), cfg.campaign.clone(), login.clone(), live.clone(), stop_rx.clone());
            // Organizers open the dashboard one after another, a second apart: logins of one
            // account are taken one at a time.
            let delay = Duration::from_secs(u64::from(i));
            organizers.push(tokio::spawn(organizer::organizer(h, c, l, delay, cfg.console_poll, s, r)));
        }
    }

    // The archiver's backlog and lag, scraped every second.
    let archiver = Arc::new(Mutex::new(None::<(f64, f64)>));
    let scraper = cfg.archiver_metrics.clone().map(|url| {
        let (a, client, mut stop) = (archiver.clone(), http.client.clone(), stop_rx.clone());
        tokio::spawn(async move {
            while !*stop.borrow() {
                if let Ok(r) = client.get(&url).send().await
                    && let Ok(text) = r.text().await
                {
                    *a.lock().expect("archiver lock") = archiver_figures(&text);
                }
                tokio::select! { _ = tokio::time::sleep(Duration::from_secs(1)) => {}, _ = stop.changed() => {} }
            }
        })
    });

    let active = Arc::new(AtomicU64::new(0));
    let arrived = Arc::new(AtomicU64::new(0));
    let slots = Arc::new(Semaphore::new(cfg.max_active));
    let began = stats.began();
    let window_start = cfg.from_minute as f64 * 60.0;
    let mut lag = stats::Histogram::default();
    let scheduled = cfg.shape.arrivals(cfg.from_minute, cfg.to_minute);
    let total_expected = cfg.shape.arrivals(cfg.from_minute, cfg.to_minute).count() as u64;
    // The per-second series and the progress lines go by the wall clock, in a task of their own:
    // when every slot is taken (a saturated server), arrivals wait for one, and the seconds must
    // still close one a second, each with the requests that ended in it.
    let ticker = {
        let (stats, world, active, arrived, archiver) =
            (stats.clone(), world.clone(), active.clone(), arrived.clone(), archiver.clone());
        let (speed, progress_every, mut stop) = (cfg.speed, cfg.progress_every, stop_rx.clone());
        tokio::spawn(async move {
            let mut seen: Vec<(f64, f64)> = Vec::new();
            let mut next_tick = began + Duration::from_secs(1);
            let mut next_progress = began + progress_every;
            let mut close = |at: Instant, seen: &mut Vec<(f64, f64)>| {
                let hour = (window_start + (at - began).as_secs_f64() * speed) / 3600.0;
                let a = *archiver.lock().expect("archiver lock");
                seen.extend(a);
                stats.tick(hour, active.load(Ordering::Relaxed), a);
                if !progress_every.is_zero() && at >= next_progress {
                    next_progress += progress_every;
                    progress(&stats, &world, arrived.load(Ordering::Relaxed), total_expected, window_start, speed, a);
                }
            };
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(next_tick.into()) => {}
                    _ = stop.changed() => break,
                }
                close(next_tick, &mut seen);
                next_tick += Duration::from_secs(1);
            }
            // The last, partial second.
            close(Instant::now(), &mut seen);
            seen
        })
    };
    for a in scheduled {
        let due = began + Duration::from_secs_f64((a.at - window_start).max(0.0) / cfg.speed);
        tokio::time::sleep_until(due.into()).await;
        let permit = slots.clone().acquire_owned().await.expect("the semaphore stays open");
        lag.record(Instant::now().saturating_duration_since(due));
        let n = arrived.fetch_add(1, Ordering::Relaxed) + 1;
        let (http, world, active) = (http.clone(), world.clone(), active.clone());
        active.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let ok = citizen::journey(&http, &world, n, a.flash).await.is_ok();
            let counter = if ok { &world.journeys_done } else { &world.journeys_failed };
            counter.fetch_add(1, Ordering::Relaxed);
            active.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    // Wait for the journeys in flight.
    let all = u32::try_from(cfg.max_active).unwrap_or(u32::MAX);
    drop(slots.acquire_many(all).await.expect("the semaphore stays open"));
    let wall_s = began.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let archiver_seen = ticker.await.map_err(|e| anyhow::anyhow!("the clock task: {e}"))?;
    let arrivals = arrived.load(Ordering::Relaxed);
    for o in organizers {
        match o.await {
            Ok(Err(e)) => eprintln!("organizer: {e}"),
            Err(e) => eprintln!("organizer task: {e}"),
            Ok(Ok(())) => {}
        }
    }
    if let Some(s) = scraper {
        s.abort();
    }

    let seconds = stats.seconds();
    let kinds: BTreeMap<String, KindSummary> =
        stats.kinds().iter().map(|(k, v)| ((*k).to_owned(), v.summary(wall_s))).collect();
    let requests = kinds.iter().filter(|(k, _)| k.as_str() != "live").map(|(_, v)| v.count).sum::<u64>();
    let errors = kinds.iter().filter(|(k, _)| k.as_str() != "live").map(|(_, v)| v.errors).sum::<u64>();
    let rolling = |f: fn(&stats::Second) -> u64| {
        seconds
            .windows(10.min(seconds.len()).max(1))
            .map(|w| w.iter().map(f).sum::<u64>() as f64 / w.len() as f64)
            .fold(0.0, f64::max)
    };
    let busiest = stats.peak_window();
    let w = stats::PEAK_WINDOW_S;
    let depths = world.depths.lock().expect("depths lock").clone();
    let (violations, violation_examples) = world.violations.lock().expect("violations lock").clone();
    let mut report = Report {
        campaign: cfg.campaign.clone(),
        speed: cfg.speed,
        campaign_hours: (cfg.from_minute as f64 / 60.0, cfg.to_minute.min(cfg.shape.minutes()) as f64 / 60.0),
        wall_s,
        arrivals,
        participants: world.ledger.participants.lock().expect("ledger lock").len() as u64,
        journeys_done: world.journeys_done.load(Ordering::Relaxed),
        journeys_failed: world.journeys_failed.load(Ordering::Relaxed),
        relayed_joins: depths.iter().skip(1).sum(),
        depths,
        requests,
        errors,
        error_rate: errors as f64 / requests.max(1) as f64,
        kinds,
        peak_requests_per_s: rolling(|s| s.requests),
        peak_answers_per_s: rolling(|s| s.answers),
        peak_window: busiest.as_ref().map(|b| (b.0 as u64 * w, (b.0 as u64 + 1) * w)),
        peak_window_requests: busiest.as_ref().map_or(0, |b| b.1.values().map(stats::Histogram::count).sum()),
        peak_window_kinds: busiest
            .map(|(_, m)| {
                m.iter()
                    .map(|(k, h)| {
                        let s = stats::KindStats { latency: h.clone(), ..Default::default() };
                        ((*k).to_owned(), s.summary(w as f64))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        start_lag_p99_ms: lag.quantile_ms(0.99),
        start_lag_max_ms: lag.max_ms(),
        archiver_lag_max_s: archiver_seen.iter().map(|a| a.1).reduce(f64::max),
        archiver_backlog_max: archiver_seen.iter().map(|a| a.0).reduce(f64::max),
        live: live.lock().expect("live lock").clone(),
        violations,
        violation_examples,
        failed_thresholds: Vec::new(),
    };
    report.failed_thresholds = judge(&report, limits);
    Ok((report, world, seconds))
}

/// The thresholds `r` misses, each said in a line. Contradictions in Baton's answers always
/// fail a run.
pub fn judge(r: &Report, limits: &Thresholds) -> Vec<String> {
    let mut failed = Vec::new();
    if r.violations > 0 {
        failed.push(format!(
            "{} responses contradicted earlier ones, e.g. {:?}",
            r.violations,
            r.violation_examples.first()
        ));
    }
    if let Some(max) = limits.max_p99_ms {
        for (scope, kinds) in [("the run", &r.kinds), ("the peak 10 s", &r.peak_window_kinds)] {
            for (k, s) in kinds.iter().filter(|(k, _)| stats::PARTICIPANT_KINDS.contains(&k.as_str())) {
                if let Some(p99) = s.p99_ms.filter(|p| *p > max) {
                    failed.push(format!("p99 of {k} over {scope} is {p99:.1} ms, above {max} ms"));
                }
            }
        }
    }
    if let Some(max) = limits.max_error_rate
        && r.error_rate > max
    {
        failed.push(format!(
            "{} of {} requests failed ({:.4} %), above {:.4} %",
            r.errors,
            r.requests,
            r.error_rate * 100.0,
            max * 100.0
        ));
    }
    if let (Some(max), Some(seen)) = (limits.max_archiver_lag_s, r.archiver_lag_max_s)
        && seen > max
    {
        failed.push(format!("the archiver fell {seen:.1} s behind, above {max} s"));
    }
    failed
}

/// `baton_archiver_backlog` and `baton_archiver_lag_seconds` from a Prometheus text page.
pub fn archiver_figures(text: &str) -> Option<(f64, f64)> {
    let value = |name: &str| {
        text.lines()
            .find(|l| l.split([' ', '{']).next() == Some(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
    };
    Some((value("baton_archiver_backlog")?, value("baton_archiver_lag_seconds")?))
}

fn progress(
    stats: &Stats,
    world: &World,
    arrivals: u64,
    expected: u64,
    window_start: f64,
    speed: f64,
    archiver: Option<(f64, f64)>,
) {
    let elapsed = stats.began().elapsed().as_secs_f64();
    let t = window_start + elapsed * speed;
    let rows = stats.seconds();
    let last: Vec<_> = rows.iter().rev().take(10).collect();
    let rps = last.iter().map(|s| s.requests).sum::<u64>() as f64 / last.len().max(1) as f64;
    let p99 = last.iter().filter_map(|s| s.p99_ms).fold(0.0, f64::max);
    let errors: u64 = rows.iter().map(|s| s.errors).sum();
    let arch = archiver.map(|(b, l)| format!(", archiver backlog {b:.0} lag {l:.1} s")).unwrap_or_default();
    eprintln!(
        "[{:>6.0} s] day {} {:02}:{:02}  arrived {arrivals}/{expected}  done {}  req/s {rps:.0}  p99 {p99:.1} ms  errors {errors}{arch}",
        elapsed,
        (t / 86_400.0) as u64 + 1,
        ((t % 86_400.0) / 3600.0) as u64,
        ((t % 3600.0) / 60.0) as u64,
        world.journeys_done.load(Ordering::Relaxed),
    );
}

/// Writes `report.json`, `timeseries.csv` and `ledger.csv` into `dir`.
pub fn write_outputs(
    dir: &std::path::Path,
    report: &Report,
    world: &World,
    seconds: &[stats::Second],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(report)?)?;
    std::fs::write(dir.join("timeseries.csv"), stats::seconds_csv(seconds))?;
    std::fs::write(dir.join("ledger.csv"), world.ledger.csv())?;
    Ok(())
}

/// The report as a table for people.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "campaign {} hours {:.1}–{:.1} at {}×: {:.0} s wall, {} arrivals, {} participants ({} relayed, deepest chain {}), {} journeys done, {} failed\n",
        r.campaign,
        r.campaign_hours.0,
        r.campaign_hours.1,
        r.speed,
        r.wall_s,
        r.arrivals,
        r.participants,
        r.relayed_joins,
        r.depths.len().saturating_sub(1),
        r.journeys_done,
        r.journeys_failed,
    );
    out.push_str(&format!(
        "{:<8} {:>10} {:>7} {:>9} {:>8} {:>8} {:>8} {:>9}\n",
        "kind", "count", "errors", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    ));
    let ms = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_else(|| "-".into());
    for (k, s) in &r.kinds {
        out.push_str(&format!(
            "{k:<8} {:>10} {:>7} {:>9.1} {:>8} {:>8} {:>8} {:>9.1}\n",
            s.count,
            s.errors,
            s.per_second,
            ms(s.p50_ms),
            ms(s.p90_ms),
            ms(s.p99_ms),
            s.max_ms
        ));
    }
    for (k, s) in r.kinds.iter().filter(|(_, s)| s.errors > 0) {
        let statuses: Vec<String> = s.error_statuses.iter().map(|(st, n)| format!("{n}× {st}")).collect();
        out.push_str(&format!("errors of {k}: {} (status 0: no response)\n", statuses.join(", ")));
    }
    if let Some((from, to)) = r.peak_window {
        out.push_str(&format!(
            "peak: seconds {from}–{to} of the run, {} participant requests ({:.0}/s); p99 by kind:",
            r.peak_window_requests,
            r.peak_window_requests as f64 / (to - from) as f64
        ));
        for (k, s) in &r.peak_window_kinds {
            out.push_str(&format!(" {k} {}", ms(s.p99_ms)));
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "highest 10-s mean: {:.0} requests/s, {:.0} answers/s; errors {} of {} ({:.4} %); start lag p99 {} ms, max {:.0} ms\n",
        r.peak_requests_per_s, r.peak_answers_per_s, r.errors, r.requests, r.error_rate * 100.0, ms(r.start_lag_p99_ms), r.start_lag_max_ms
    ));
    if let Some(l) = r.archiver_lag_max_s {
        out.push_str(&format!(
            "archiver: lag at most {l:.1} s, backlog at most {:.0} events\n",
            r.archiver_backlog_max.unwrap_or(0.0)
        ));
    }
    out.push_str(&format!(
        "live stream: {} opened, {} overview and {} sample events, longest gap between overviews {} ms\n",
        r.live.opened, r.live.overview_events, r.live.sample_events, r.live.longest_gap_ms
    ));
    out.push_str(&format!("contradictions: {}\n", r.violations));
    for v in &r.violation_examples {
        out.push_str(&format!("  {v}\n"));
    }
    if r.failed_thresholds.is_empty() {
        out.push_str("thresholds: all met\n");
    } else {
        for f in &r.failed_thresholds {
            out.push_str(&format!("THRESHOLD MISSED: {f}\n"));
        }
    }
    out
}
