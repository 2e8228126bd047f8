//! Rate limits: keyed first by the participant (the token's subject) and the device, by the
//! client's address only loosely — a school or an office behind one NAT address is hundreds of
//! honest people, and a limit that locks a school out is an outage. `docs/limits.md` lists every
//! limit, its default and how limits add up across pods.
//!
//! Each limit ([`Limit`]) is a GCRA rate ([`Rate`]: so many per period, with a burst) enforced
//! by a `governor` keyed limiter in this process. Keys are hashed to a `u64` with a per-process
//! random key, so a key costs the same few bytes whatever the client sent and nobody can aim
//! collisions at someone else's key. Keyed state grows with every new key; [`Limiter::sweep`]
//! (run every [`SWEEP_EVERY`] by [`Limiter::run_sweeper`], which `baton serve` starts) drops
//! the keys whose state is back to fresh (`retain_recent`) and gives the memory back
//! (`shrink_to_fit`). A refusal is `429 rate_limited` with an integer `Retry-After`
//! ([`rate_limited`]) and counts in `baton_rate_limited_total{limiter}`.
//!
//! These limits are per pod: behind a load balancer that spreads requests over N pods, each pod
//! lets a key through at the configured rate, so the effective limit is up to N times it. That
//! is the point of keeping them local (no network round trip on the answer path) and why they
//! are generous. Limits that must hold across pods live in the hot store instead: the console's
//! failed-login counts (`baton_console::throttle`) and joins through one relay code
//! ([`Limiter::relay_code_window`], a fixed window counted with `HotStore::shared_incr`).

use crate::Problem;
use crate::client::{TrustedProxies, network};
use crate::metrics::RateLimited;
use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use governor::clock::{Clock as GovernorClock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use std::fmt;
use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

/// How often `baton serve` sweeps stale keys out of the keyed limiters.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// The limits enforced in this process, each with its own keyed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Joins per client network (IPv4 address or IPv6 /64): loose, for whole schools.
    JoinIp,
    /// Joins per campaign and `device_id`.
    JoinDevice,
    /// Attempt starts (and resumes) per participant.
    Start,
    /// Answers per participant.
    Answer,
    /// Shares recorded per participant.
    Share,
    /// Console logins per client network, in addition to the failed-login counts shared by
    /// every pod.
    LoginIp,
}

impl Limit {
    pub const ALL: [Limit; 6] =
        [Limit::JoinIp, Limit::JoinDevice, Limit::Start, Limit::Answer, Limit::Share, Limit::LoginIp];

    /// The name in configuration (`--rate-limits`), problem details and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Limit::JoinIp => "join_ip",
            Limit::JoinDevice => "join_device",
            Limit::Start => "start",
            Limit::Answer => "answer",
            Limit::Share => "share",
            Limit::LoginIp => "login_ip",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::JoinIp => "Too many joins from this network right now",
            Limit::JoinDevice => "Too many joins from this device",
            Limit::Start => "Too many attempts started in a short time",
            Limit::Answer => "Answers are arriving too fast",
            Limit::Share => "Too many shares recorded in a short time",
            Limit::LoginIp => "Too many logins from this address",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A rate: `count` per `per` on average, with bursts of up to `burst` at once. Written
/// `COUNT/PERIOD[:BURST]`, e.g. `600/60s:300`, `5/s:20`, `500/1h` (the burst defaults to the
/// count); periods in `ms`, `s`, `m` or `h`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
    pub burst: NonZeroU32,
}

impl Rate {
    /// `count` per `per`, bursts of `burst`. Panics on zeros (for constants; parse input with
    /// [`Rate::parse`]).
    pub const fn new(count: u32, per: Duration, burst: u32) -> Self {
        let (Some(count), Some(burst)) = (NonZeroU32::new(count), NonZeroU32::new(burst)) else {
            panic!("a rate needs a count and a burst")
        };
        Rate { count, per, burst }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("rate {s:?}: {why} (write COUNT/PERIOD[:BURST], e.g. 600/60s:300)");
        let (rate, burst) = match s.trim().split_once(':') {
            Some((r, b)) => (r, Some(b)),
            None => (s.trim(), None),
        };
        let (count, per) = rate.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let count = count.trim().parse::<NonZeroU32>().map_err(|_| bad("the count is not a positive integer"))?;
        let per = parse_period(per.trim()).ok_or_else(|| bad("the period is not like 500ms, 1s, 60s, 10m or 1h"))?;
        let burst = match burst {
            None => count,
            Some(b) => b.trim().parse::<NonZeroU32>().map_err(|_| bad("the burst is not a positive integer"))?,
        };
        if per.as_nanos() < u128::from(count.get()) || per > Duration::from_secs(7 * 24 * 3600) {
            return Err(bad("the period is out of range"));
        }
        Ok(Rate { count, per, burst })
    }

    /// The `governor` quota: one more request every `per / count`, at most `burst` at once.
    pub fn quota(&self) -> Quota {
        Quota::with_period(self.per / self.count.get())
            .expect("a period is at least a nanosecond per request")
            .allow_burst(self.burst)
    }
}

fn parse_period(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = if n.is_empty() { 1 } else { n.parse().ok()? };
    let per = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.checked_mul(60)?),
        "h" => Duration::from_secs(n.checked_mul(3600)?),
        _ => return None,
    };
    (!per.is_zero()).then_some(per)
}

fn fmt_period(d: Duration) -> String {
    if d.subsec_nanos() != 0 { format!("{}ms", d.as_millis()) } else { format!("{}s", d.as_secs()) }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, fmt_period(self.per))?;
        if self.burst != self.count {
            write!(f, ":{}", self.burst)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A limit shared by every pod through the hot store: at most `count` in each fixed window of
/// `per`. Written `COUNT/PERIOD`, e.g. `500/1h`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Window {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.contains(':') {
            return Err(format!(
                "window {s:?}: a limit shared through the hot store has no burst (write COUNT/PERIOD)"
            ));
        }
        let r = Rate::parse(s)?;
        if r.per < Duration::from_secs(1) {
            return Err(format!("window {s:?}: the period must be at least 1s"));
        }
        Ok(Window { count: r.count, per: r.per })
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, fmt_period(self.per))
    }
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Every limit's rate; `None` turns a limit off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    rates: [Option<Rate>; 6],
    /// Joins through one relay code that are attributed to it, counted for every pod in the
    /// hot store; past it the invite code is ignored (the join itself succeeds).
    pub relay_code: Option<Window>,
}

impl Default for LimitsConfig {
    /// Generous enough for a school of 500 behind one address joining in a minute.
    fn default() -> Self {
        const MINUTE: Duration = Duration::from_secs(60);
        let mut c = LimitsConfig::off();
        c.set(Limit::JoinIp, Some(Rate::new(600, MINUTE, 300)));
        c.set(Limit::JoinDevice, Some(Rate::new(10, MINUTE, 10)));
        c.set(Limit::Start, Some(Rate::new(10, MINUTE, 10)));
        c.set(Limit::Answer, Some(Rate::new(5, Duration::from_secs(1), 20)));
        c.set(Limit::Share, Some(Rate::new(20, MINUTE, 20)));
        c.set(Limit::LoginIp, Some(Rate::new(60, MINUTE, 20)));
        c.relay_code = Some(Window { count: NonZeroU32::new(500).expect("not zero"), per: Duration::from_secs(3600) });
        c
    }
}

impl LimitsConfig {
    /// No limits at all.
    pub fn off() -> Self {
        LimitsConfig { rates: [None; 6], relay_code: None }
    }

    pub fn rate(&self, limit: Limit) -> Option<Rate> {
        self.rates[limit.index()]
    }

    pub fn set(&mut self, limit: Limit, rate: Option<Rate>) {
        self.rates[limit.index()] = rate;
    }

    /// Applies `NAME=RATE` or `NAME=off` entries over these limits (names as [`Limit::name`],
    /// and `relay_code`); a lone `off` turns every limit off, `default` restores the defaults.
    pub fn apply<S: AsRef<str>>(&mut self, entries: &[S]) -> Result<(), String> {
        for e in entries {
            let e = e.as_ref().trim();
            match e {
                "" => continue,
                "off" => *self = LimitsConfig::off(),
                "default" => *self = LimitsConfig::default(),
                _ => {
                    let (name, value) =
                        e.split_once('=').ok_or_else(|| format!("rate limit {e:?}: write NAME=RATE or NAME=off"))?;
                    let (name, value) = (name.trim(), value.trim());
                    if name == "relay_code" {
                        self.relay_code = if value == "off" { None } else { Some(Window::parse(value)?) };
                        continue;
                    }
                    let limit = Limit::ALL.into_iter().find(|l| l.name() == name).ok_or_else(|| {
                        let names: Vec<_> = Limit::ALL.iter().map(|l| l.name()).chain(["relay_code"]).collect();
                        format!("rate limit {name:?} is not one of {}", names.join(", "))
                    })?;
                    self.set(limit, if value == "off" { None } else { Some(Rate::parse(value)?) });
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for LimitsConfig {
    /// The form [`LimitsConfig::apply`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in Limit::ALL {
            match self.rate(l) {
                Some(r) => write!(f, "{}={r},", l.name())?,
                None => write!(f, "{}=off,", l.name())?,
            }
        }
        match self.relay_code {
            Some(w) => write!(f, "relay_code={w}"),
            None => write!(f, "relay_code=off"),
        }
    }
}

/// One limit's keyed state, on clock `C` (the monotonic clock; a fake one in tests).
pub(crate) struct Keyed<C: GovernorClock = MonotonicClock> {
    limiter: RateLimiter<u64, DashMapStateStore<u64>, C, NoOpMiddleware<C::Instant>>,
}

impl<C: GovernorClock> Keyed<C> {
    pub(crate) fn with_clock(rate: Rate, clock: C) -> Self {
        Keyed { limiter: RateLimiter::dashmap_with_clock(rate.quota(), clock) }
    }

    /// Lets `key` through, or says how long until it would be.
    pub(crate) fn check(&self, key: u64) -> Result<(), Duration> {
        self.limiter.check_key(&key).map_err(|not_until| not_until.wait_time_from(self.limiter.clock().now()))
    }

    /// Drops keys whose state is indistinguishable from a fresh key's and gives the memory
    /// back; returns the keys left.
    pub(crate) fn sweep(&self) -> usize {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.limiter.len()
    }

    pub(crate) fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// The process's rate limits (app data `web::Data<Limiter>`, shared by every role and worker).
/// Cheap to clone.
#[derive(Clone)]
pub struct Limiter(Arc<Inner>);

struct Inner {
    config: LimitsConfig,
    proxies: TrustedProxies,
    /// Indexed by [`Limit::index`]; `None` where the limit is off.
    keyed: Vec<Option<Keyed>>,
    /// Hashes keys to the `u64`s the keyed state holds (random per process).
    hasher: RandomState,
    refused: Option<RateLimited>,
}

impl Default for Limiter {
    /// No limits, no trusted proxies, no metrics.
    fn default() -> Self {
        Limiter::new(LimitsConfig::off(), TrustedProxies::default(), None)
    }
}

impl Limiter {
    /// Limits as `config` says; client addresses as `proxies` tell them; refusals counted in
    /// `refused` if given.
    pub fn new(config: LimitsConfig, proxies: TrustedProxies, refused: Option<RateLimited>) -> Self {
        let keyed = Limit::ALL.iter().map(|l| config.rate(*l).map(|r| Keyed::with_clock(r, MonotonicClock))).collect();
        Limiter(Arc::new(Inner { config, proxies, keyed, hasher: RandomState::new(), refused }))
    }

    pub fn config(&self) -> &LimitsConfig {
        &self.0.config
    }

    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.0.proxies
    }

    /// The client address of `req` (see [`TrustedProxies::client_ip`]).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        self.0.proxies.client_ip(req)
    }

    /// Lets one request of `key` through `limit`, or refuses it with `429 rate_limited`.
    /// Keys are values the server vouches for: a token's campaign and participant, a validated
    /// device id, a client network.
    pub fn check(&self, limit: Limit, key: impl Hash) -> Result<(), Problem> {
        let Some(keyed) = &self.0.keyed[limit.index()] else { return Ok(()) };
        keyed.check(self.0.hasher.hash_one(key)).map_err(|wait| {
            self.count_refusal(limit.name());
            rate_limited(limit, wait)
        })
    }

    /// [`Limiter::check`] keyed by the client's network (see [`network`]); a request with no
    /// known peer (only in-process tests) is let through.
    pub fn check_client(&self, limit: Limit, req: &HttpRequest) -> Result<(), Problem> {
        match self.client_ip(req) {
            Some(ip) => self.check(limit, network(ip)),
            None => Ok(()),
        }
    }

    /// Counts a refusal by a limit of `limiter`'s name in `baton_rate_limited_total`.
    pub fn count_refusal(&self, limiter: &'static str) {
        if let Some(m) = &self.0.refused {
            m.inc(limiter);
        }
    }

    /// Keys held by `limit` (0 when it is off).
    pub fn keys(&self, limit: Limit) -> usize {
        self.0.keyed[limit.index()].as_ref().map_or(0, Keyed::len)
    }

    /// Drops stale keys from every limit and gives their memory back; returns the keys left.
    pub fn sweep(&self) -> usize {
        self.0.keyed.iter().flatten().map(Keyed::sweep).sum()
    }

    /// Sweeps every `every`, forever (spawned by `baton serve`).
    pub async fn run_sweeper(self, every: Duration) {
        let mut tick = actix_web::rt::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let left = self.sweep();
            tracing::debug!(keys = left, "rate limit keys swept");
        }
    }

    /// The shared counter of joins attributed to relay code `code` in the window `now_ms` falls
    /// in, or `None` when that limit is off. `code` must be a validated relay code.
    pub fn relay_code_window(&self, code: &str, now_ms: i64) -> Option<SharedWindow> {
        let w = self.0.config.relay_code?;
        let per = i64::try_from(w.per.as_millis()).unwrap_or(i64::MAX).max(1);
        let n = now_ms.div_euclid(per);
        let ends = (n + 1).saturating_mul(per);
        Some(SharedWindow {
            name: format!("limits:relay_code:{code}:{n}"),
            // Kept a minute past the window's end, for clock skew between pods.
            ttl_ms: u64::try_from(ends - now_ms).unwrap_or(0) + 60_000,
            count: w.count.get(),
        })
    }
}

/// One window of a limit shared through the hot store: count with
/// `HotStore::shared_incr(name, ttl_ms)`, then ask [`SharedWindow::allows`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedWindow {
    pub name: String,
    pub ttl_ms: u64,
    count: u32,
}

impl SharedWindow {
    /// Whether the `n`th event of the window is within the limit.
    pub fn allows(&self, n: u64) -> bool {
        n <= u64::from(self.count)
    }
}

/// `429 rate_limited` for `limit`, with `Retry-After` in whole seconds (rounded up, at least 1).
pub fn rate_limited(limit: Limit, wait: Duration) -> Problem {
    let secs = u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX).max(1);
    let when = match secs {
        120.. => format!("{} minutes", secs.div_ceil(60)),
        2.. => format!("{secs} seconds"),
        _ => "a second".to_owned(),
    };
    Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "Too many requests",
        format!("{} (limit {}). Please try again in {when}.", limit.what(), limit.name()),
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn rates_parse_and_print() {
        let r = Rate::parse("600/60s:300").unwrap();
        assert_eq!((r.count.get(), r.per, r.burst.get()), (600, Duration::from_secs(60), 300));
        assert_eq!(r.to_string(), "600/60s:300");
        assert_eq!(Rate::parse("5/s:20").unwrap(), Rate::new(5, Duration::from_secs(1), 20));
        assert_eq!(Rate::parse("10/1m").unwrap(), Rate::new(10, Duration::from_secs(60), 10));
        assert_eq!(Rate::parse(" 2 / 1h ").unwrap(), Rate::new(2, Duration::from_secs(3600), 2));
        assert_eq!(Rate::parse("3/250ms").unwrap().to_string(), "3/250ms");
        assert_eq!(Rate::parse("1/500ms").unwrap().quota().replenish_interval(), Duration::from_millis(500));
        for bad in ["", "600", "0/1s", "1/0s", "1/1x", "1/s:0", "-1/s", "a/s", "1/s:x", "1/9999h"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
        assert!(Window::parse("500/1h").is_ok());
        assert!(Window::parse("500/1h:10").is_err());
        assert!(Window::parse("5/100ms").is_err());
    }

    #[test]
    fn configuration_overrides_the_defaults() {
        let mut c = LimitsConfig::default();
        c.apply(&["answer=2/1h:2", " share = off ", "relay_code=3/10m"]).unwrap();
        assert_eq!(c.rate(Limit::Answer), Some(Rate::new(2, Duration::from_secs(3600), 2)));
        assert_eq!(c.rate(Limit::Share), None);
        assert_eq!(c.rate(Limit::JoinIp), LimitsConfig::default().rate(Limit::JoinIp));
        assert_eq!(c.relay_code.unwrap().to_string(), "3/600s");
        // What it prints reads back as the same configuration.
        let mut again = LimitsConfig::off();
        again.apply(&c.to_string().split(',').collect::<Vec<_>>()).unwrap();
        assert_eq!(again, c);
        c.apply(&["off"]).unwrap();
        assert_eq!(c, LimitsConfig::off());
        c.apply(&["default"]).unwrap();
        assert_eq!(c, LimitsConfig::default());
        for bad in ["nonsense=1/s", "answer", "answer=1", "relay_code=1/s:1"] {
            assert!(LimitsConfig::default().apply(&[bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_key_gets_its_burst_then_waits_and_others_are_not_affected() {
        let clock = FakeRelativeClock::default();
        let k = Keyed::with_clock(Rate::new(5, Duration::from_secs(1), 3), clock.clone());
        for _ in 0..3 {
            k.check(1).unwrap();
        }
        let wait = k.check(1).unwrap_err();
        assert_eq!(wait, Duration::from_millis(200));
        k.check(2).expect("another key has its own budget");
        clock.advance(Duration::from_millis(200));
        k.check(1).expect("one more after the replenish interval");
        assert!(k.check(1).is_err());
    }

    #[test]
    fn refusals_are_problems_with_whole_seconds() {
        let p = rate_limited(Limit::Answer, Duration::from_millis(200));
        assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(p.code, "rate_limited");
        let retry = |p: &Problem| p.headers.iter().find(|(k, _)| k == header::RETRY_AFTER).unwrap().1.clone();
        assert_eq!(retry(&p), "1");
        assert!(p.detail.contains("answer"), "{}", p.detail);
        assert_eq!(retry(&rate_limited(Limit::JoinIp, Duration::from_millis(1001))), "2");
        assert_eq!(retry(&rate_limited(Limit::JoinIp, Duration::ZERO)), "1");
        let long = rate_limited(Limit::Start, Duration::from_secs(1800));
        assert_eq!(retry(&long), "1800");
        assert!(long.detail.contains("30 minutes"), "{}", long.detail);
    }

    #[test]
    fn the_limiter_refuses_counts_and_keys_by_network() {
        let metrics = crate::metrics::Metrics::new();
        let mut config = LimitsConfig::off();
        config.set(Limit::JoinIp, Some(Rate::new(1, Duration::from_secs(3600), 1)));
        config.set(Limit::Answer, Some(Rate::new(1, Duration::from_secs(3600), 2)));
        let l = Limiter::new(config, TrustedProxies::default(), Some(RateLimited::register(&metrics.registry)));
        l.check(Limit::Answer, ("demo", "p1")).unwrap();
        l.check(Limit::Answer, ("demo", "p1")).unwrap();
        assert_eq!(l.check(Limit::Answer, ("demo", "p1")).unwrap_err().code, "rate_limited");
        l.check(Limit::Answer, ("demo", "p2")).unwrap();
        // Limits that are off let everything through and hold nothing.
        for _ in 0..100 {
            l.check(Limit::Share, ("demo", "p1")).unwrap();
        }
        assert_eq!(l.keys(Limit::Share), 0);
        // One IPv6 /64 is one client.
        let req =
            |peer: &str| actix_web::test::TestRequest::default().peer_addr(peer.parse().unwrap()).to_http_request();
        l.check_client(Limit::JoinIp, &req("[2001:db8:1:2::1]:1000")).unwrap();
        assert!(l.check_client(Limit::JoinIp, &req("[2001:db8:1:2::99]:1000")).is_err());
        l.check_client(Limit::JoinIp, &req("[2001:db8:1:3::1]:1000")).unwrap();
        l.check_client(Limit::JoinIp, &req("192.0.2.1:1000")).unwrap();
        assert!(l.check_client(Limit::JoinIp, &req("[::ffff:192.0.2.1]:1000")).is_err());
        let text = metrics.render();
        assert!(text.contains("baton_rate_limited_total{limiter=\"answer\"} 1\n"), "{text}");
        assert!(text.contains("baton_rate_limited_total{limiter=\"join_ip\"} 2\n"), "{text}");
    }

    #[test]
    fn relay_code_windows() {
        let l = Limiter::new(LimitsConfig::default(), TrustedProxies::default(), None);
        let hour = 3_600_000;
        let t = 1_781_064_000_000; // a whole hour
        let w = l.relay_code_window("7k3mz9qx2p", t + 10).unwrap();
        assert_eq!(w.name, format!("limits:relay_code:7k3mz9qx2p:{}", t / hour));
        assert_eq!(w.ttl_ms, (hour - 10) as u64 + 60_000);
        assert_eq!(l.relay_code_window("7k3mz9qx2p", t + hour - 1).unwrap().name, w.name);
        assert_ne!(l.relay_code_window("7k3mz9qx2p", t + hour).unwrap().name, w.name);
        assert!(w.allows(500));
        assert!(!w.allows(501));
        assert_eq!(Limiter::default().relay_code_window("7k3mz9qx2p", t), None);
    }

    /// Resident memory of this process, in MiB (Linux; 0 elsewhere).
    fn rss_mib() -> f64 {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
        pages * 4096.0 / (1024.0 * 1024.0)
    }

    /// A flood of a million distinct keys (say, forged device ids) grows the keyed state; once
    /// their time has passed, one sweep empties it and gives the table's memory back.
    #[test]
    fn a_million_keys_are_swept_away() {
        const KEYS: u64 = 1_000_000;
        let clock = FakeRelativeClock::default();
        let rate = LimitsConfig::default().rate(Limit::Answer).unwrap();
        let k = Keyed::with_clock(rate, clock.clone());
        let before = rss_mib();
        let hasher = RandomState::new();
        for i in 0..KEYS {
            k.check(hasher.hash_one(i)).expect("a new key is let through");
        }
        let full = rss_mib();
        assert_eq!(k.len() as u64, KEYS);
        // Keys seen moments ago are not stale yet: a sweep keeps them.
        clock.advance(Duration::from_millis(10));
        assert_eq!(k.sweep() as u64, KEYS);
        // Once a key's state is as good as new, the sweep drops it.
        clock.advance(rate.per);
        assert_eq!(k.sweep(), 0);
        let swept = rss_mib();
        println!(
            "{KEYS} keys: RSS {before:.1} MiB before, {full:.1} MiB with the keys, {swept:.1} MiB after the sweep"
        );
        // The table itself was given back (not just emptied).
        let table = k.limiter.into_state_store();
        assert!(table.capacity() < 1024, "capacity {} after shrink_to_fit", table.capacity());
    }
}
