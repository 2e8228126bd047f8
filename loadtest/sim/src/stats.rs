//! Latency histograms, counts per request kind, and the per-second time series.

use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Buckets 1 % wide from 1 µs up: bucket `i` holds values below `1.01^(i+1)` µs. 2,000 buckets
/// reach past 7 minutes.
const BUCKETS: usize = 2_000;

/// A latency histogram with 1 % resolution.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_us: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self { counts: vec![0; BUCKETS], total: 0, max_us: 0 }
    }
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let us = d.as_micros().max(1) as u64;
        let i = ((us as f64).ln() / 1.01f64.ln()) as usize;
        self.counts[i.min(BUCKETS - 1)] += 1;
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max_us = self.max_us.max(other.max_us);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0–1) in milliseconds: the upper edge of its bucket, at most the
    /// largest value seen. `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let edge = 1.01f64.powi(i as i32 + 1).min(self.max_us as f64);
                return Some(edge / 1000.0);
            }
        }
        Some(self.max_us as f64 / 1000.0)
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us as f64 / 1000.0
    }
}

/// What happened to one kind of request.
#[derive(Default, Clone)]
pub struct KindStats {
    pub latency: Histogram,
    pub errors: u64,
    /// Error statuses (0 = no response: connection error or timeout) and how often.
    pub statuses: BTreeMap<u16, u64>,
}

/// The summary of one kind, as reported.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KindSummary {
    pub count: u64,
    pub errors: u64,
    pub per_second: f64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: f64,
    pub error_statuses: BTreeMap<u16, u64>,
}

impl KindStats {
    pub fn summary(&self, seconds: f64) -> KindSummary {
        let h = &self.latency;
        KindSummary {
            count: h.count(),
            errors: self.errors,
            per_second: h.count() as f64 / seconds.max(1e-9),
            p50_ms: h.quantile_ms(0.50),
            p90_ms: h.quantile_ms(0.90),
            p99_ms: h.quantile_ms(0.99),
            max_ms: h.max_ms(),
            error_statuses: self.statuses.clone(),
        }
    }
}

/// One second of the run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Second {
    pub second: u64,
    pub campaign_hour: f64,
    pub requests: u64,
    pub errors: u64,
    pub joins: u64,
    pub answers: u64,
    pub finishes: u64,
    pub board_reads: u64,
    pub active_journeys: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub archiver_backlog: Option<f64>,
    pub archiver_lag_s: Option<f64>,
}

/// The window the peak is looked for in, in seconds of the run (at 1000× a campaign's 2.8
/// hours; a flash crowd's first minutes at 500×).
pub const PEAK_WINDOW_S: u64 = 10;

/// The kinds of participant request (the console's and the live stream's are counted apart).
pub const PARTICIPANT_KINDS: [&str; 8] = ["click", "page", "join", "start", "answer", "finish", "board", "share"];

#[derive(Default)]
struct Window {
    latency: Histogram,
    requests: u64,
    errors: u64,
    by_kind: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
struct Inner {
    kinds: BTreeMap<&'static str, KindStats>,
    window: Window,
    seconds: Vec<Second>,
    /// Participant requests' latency by [`PEAK_WINDOW_S`] window of the run and kind, to find
    /// the peak.
    windows: Vec<BTreeMap<&'static str, Histogram>>,
}

/// Everything measured, shared by every task of a run.
pub struct Stats {
    began: Instant,
    inner: Mutex<Inner>,
}

impl Default for Stats {
    fn default() -> Self {
        Self { began: Instant::now(), inner: Mutex::default() }
    }
}

impl Stats {
    pub fn began(&self) -> Instant {
        self.began
    }

    /// Records one request of `kind`: its latency, and the error status if it failed (0 for
    /// no response).
    pub fn record(&self, kind: &'static str, latency: Duration, error: Option<u16>) {
        let mut g = self.inner.lock().expect("stats lock");
        let k = g.kinds.entry(kind).or_default();
        k.latency.record(latency);
        if let Some(status) = error {
            k.errors += 1;
            *k.statuses.entry(status).or_default() += 1;
        }
        if PARTICIPANT_KINDS.contains(&kind) {
            let window = (self.began.elapsed().as_secs() / PEAK_WINDOW_S) as usize;
            if g.windows.len() <= window {
                g.windows.resize_with(window + 1, BTreeMap::new);
            }
            g.windows[window].entry(kind).or_default().record(latency);
            let w = &mut g.window;
            w.latency.record(latency);
            w.requests += 1;
            w.errors += u64::from(error.is_some());
            *w.by_kind.entry(kind).or_default() += 1;
        }
    }

    /// Closes the current second: its counts and percentiles become a row of the time series.
    pub fn tick(&self, campaign_hour: f64, active_journeys: u64, archiver: Option<(f64, f64)>) {
        let mut g = self.inner.lock().expect("stats lock");
        let w = std::mem::take(&mut g.window);
        let second = g.seconds.len() as u64 + 1;
        let kind = |k: &str| w.by_kind.get(k).copied().unwrap_or(0);
        let row = Second {
            second,
            campaign_hour,
            requests: w.requests,
            errors: w.errors,
            joins: kind("join"),
            answers: kind("answer"),
            finishes: kind("finish"),
            board_reads: kind("board"),
            active_journeys,
            p50_ms: w.latency.quantile_ms(0.50),
            p99_ms: w.latency.quantile_ms(0.99),
            archiver_backlog: archiver.map(|a| a.0),
            archiver_lag_s: archiver.map(|a| a.1),
        };
        g.seconds.push(row);
    }

    pub fn kinds(&self) -> BTreeMap<&'static str, KindStats> {
        self.inner.lock().expect("stats lock").kinds.clone()
    }

    /// The [`PEAK_WINDOW_S`] window of the run (0-based) with the most participant requests, and
    /// its latency by kind.
    pub fn peak_window(&self) -> Option<(usize, BTreeMap<&'static str, Histogram>)> {
        let g = self.inner.lock().expect("stats lock");
        let total = |m: &BTreeMap<&'static str, Histogram>| m.values().map(Histogram::count).sum::<u64>();
        let (i, m) = g.windows.iter().enumerate().max_by_key(|(_, m)| total(m))?;
        Some((i, m.clone()))
    }

    pub fn seconds(&self) -> Vec<Second> {
        self.inner.lock().expect("stats lock").seconds.clone()
    }
}

/// The time series as CSV (`loadtest/plot.py` reads it).
pub fn seconds_csv(rows: &[Second]) -> String {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.3}")).unwrap_or_default();
    let mut out = String::from(
        "second,campaign_hour,requests,errors,joins,answers,finishes,board_reads,active_journeys,p50_ms,p99_ms,archiver_backlog,archiver_lag_s\n",
    );
    for r in rows {
        out.push_str(&format!(
            "{},{:.4},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.second,
            r.campaign_hour,
            r.requests,
            r.errors,
            r.joins,
            r.answers,
            r.finishes,
            r.board_reads,
            r.active_journeys,
            opt(r.p50_ms),
            opt(r.p99_ms),
            opt(r.archiver_backlog),
            opt(r.archiver_lag_s),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_one_percent() {
        let mut h = Histogram::default();
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((500.0..=505.0).contains(&p50), "{p50}");
        assert!((990.0..=1000.0).contains(&p99), "{p99}");
        assert_eq!(h.quantile_ms(1.0), Some(1000.0));
        assert_eq!(Histogram::default().quantile_ms(0.5), None);
    }

    #[test]
    fn a_second_counts_participant_requests_only() {
        let s = Stats::default();
        s.record("answer", Duration::from_millis(3), None);
        s.record("answer", Duration::from_millis(5), Some(503));
        s.record("console", Duration::from_millis(40), None);
        s.tick(1.5, 7, Some((10.0, 0.5)));
        let rows = s.seconds();
        assert_eq!((rows[0].requests, rows[0].errors, rows[0].answers, rows[0].active_journeys), (2, 1, 2, 7));
        let csv = seconds_csv(&rows);
        assert!(csv.lines().nth(1).unwrap().starts_with("1,1.5000,2,1,0,2,0,0,7,"), "{csv}");
        assert_eq!(s.kinds()["answer"].statuses.get(&503), Some(&1));
    }
}
