//! Organizers on the live dashboard: each logs in, holds the live stream open, and polls the
//! console's figures the way the dashboard does.

use crate::http::Http;
use reqwest::Method;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What the organizers saw of the live stream.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct LiveSeen {
    /// Streams opened (one per organizer, again after a drop).
    pub opened: u64,
    pub overview_events: u64,
    pub sample_events: u64,
    /// The longest wait between two `overview` events on one stream, in ms.
    pub longest_gap_ms: u64,
}

/// Runs one organizer until `stop` turns true: after `delay`, logs in with `login`
/// (`user:password`; again after a `429`, as the console's login page does), keeps
/// `…/live` open, and every `poll` real seconds reads the overview, the breakdown by region, the
/// weakest questions, the relay analytics and the joins time series (kind `console`).
pub async fn organizer(
    http: Http,
    campaign: String,
    login: String,
    delay: Duration,
    poll: Duration,
    seen: Arc<Mutex<LiveSeen>>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let (user, password) = login.split_once(':').ok_or_else(|| anyhow::anyhow!("--organizer wants user:password"))?;
    let agent = "Mozilla/5.0 (X11; Linux x86_64) baton-sim organizer";
    let body = json!({"username": user, "password": password});
    tokio::time::sleep(delay).await;
    let mut tries = 0;
    let token = loop {
        tries += 1;
        match http.call("console", Method::POST, "/api/v1/console/login", agent, None, Some(&body), &[200]).await {
            Ok(r) => break r.json["token"].as_str().unwrap_or_default().to_owned(),
            Err(e) if e.status == 429 && tries < 5 => tokio::time::sleep(Duration::from_secs(1)).await,
            Err(e) => anyhow::bail!("organizer login: {e}"),
        }
    };
    let base = format!("/api/v1/console/campaigns/{campaign}");
    let live = tokio::spawn(hold_live(http.clone(), format!("{base}/live"), token.clone(), seen, stop.clone()));
    let paths = [
        format!("{base}/overview"),
        format!("{base}/breakdown?by=region"),
        format!("{base}/questions"),
        format!("{base}/relay"),
        format!("{base}/timeseries?metric=joins&step=3600"),
    ];
    loop {
        for p in &paths {
            // An error is counted; the dashboard polls again next time.
            let _ = http.send("console", Method::GET, p, agent, Some(&token), None, &[200]).await;
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
    }
    live.abort();
    Ok(())
}

/// Holds the live stream open, reopening it when it drops, and counts its events.
async fn hold_live(
    http: Http,
    path: String,
    token: String,
    seen: Arc<Mutex<LiveSeen>>,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let t0 = Instant::now();
        let resp = http
            .client
            .get(format!("{}{path}", http.base))
            .bearer_auth(&token)
            .header("accept", "text/event-stream")
            .timeout(Duration::from_secs(24 * 3600))
            .send()
            .await;
        let mut resp = match resp {
            Ok(r) if r.status().is_success() => {
                http.stats.record("live", t0.elapsed(), None);
                r
            }
            Ok(r) => {
                http.stats.record("live", t0.elapsed(), Some(r.status().as_u16()));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(_) => {
                http.stats.record("live", t0.elapsed(), Some(0));
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        seen.lock().expect("live lock").opened += 1;
        let mut buf = String::new();
        let mut last_overview = Instant::now();
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c,
                _ = stop.changed() => return,
            };
            let Ok(Some(chunk)) = chunk else { break };
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                let kind = event.lines().find_map(|l| l.strip_prefix("event:")).map(str::trim).unwrap_or("message");
                let mut s = seen.lock().expect("live lock");
                match kind {
                    "overview" => {
                        s.overview_events += 1;
                        s.longest_gap_ms = s.longest_gap_ms.max(last_overview.elapsed().as_millis() as u64);
                        last_overview = Instant::now();
                    }
                    "join" | "finish" => s.sample_events += 1,
                    _ => {}
                }
            }
        }
    }
}
